extern alias Gen;

using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using Steps = Gen::ViTMAE.Compiled.Generator.ViTMAEGenerator.Steps;

namespace ViTMAE.Compiled.Generator.Tests;

/// <summary>Unrelated edits must not re-run the generator's work: every tracked step stays Cached or Unchanged.</summary>
public class IncrementalTests
{
    private static readonly string[] TrackedSteps = { Steps.Targets, Steps.Parsed, Steps.ClassNames, Steps.Checked, Steps.Planned, Steps.Source };

    private static GeneratorDriver FirstRun(out CSharpCompilation compilation, params ConfigItem[] items)
    {
        compilation = GeneratorHarness.CreateCompilation("namespace Consumer { internal static class A { } }");
        return GeneratorHarness.CreateDriver(items).RunGenerators(compilation);
    }

    private static void AssertAllCached(GeneratorRunResult result)
    {
        foreach (string step in TrackedSteps)
        {
            Assert.True(result.TrackedSteps.ContainsKey(step), "step " + step + " did not run");
            foreach (IncrementalGeneratorRunStep run in result.TrackedSteps[step])
            {
                foreach ((object _, IncrementalStepRunReason reason) in run.Outputs)
                {
                    Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"step {step} output was {reason}");
                }
            }
        }
    }

    [Fact]
    public void Editing_an_unrelated_csharp_file_leaves_every_step_cached()
    {
        GeneratorDriver driver = FirstRun(out CSharpCompilation compilation, new ConfigItem("m/tiny.json", GeneratorHarness.ReadGoldenConfig("tiny-default")));
        SyntaxTree old = compilation.SyntaxTrees.First();
        CSharpCompilation edited = compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText("namespace Consumer { internal static class A { public static int X = 1; } }", (CSharpParseOptions)old.Options, old.FilePath));
        driver = driver.RunGenerators(edited);
        AssertAllCached(driver.GetRunResult().Results.Single());
    }

    [Fact]
    public void Editing_an_unrelated_additional_file_leaves_the_model_steps_cached()
    {
        var tiny = new ConfigItem("m/tiny.json", GeneratorHarness.ReadGoldenConfig("tiny-default"));
        var notes = new ConfigItem("m/notes.json", "{\"a\": 1}", Marked: false);
        GeneratorDriver driver = FirstRun(out CSharpCompilation compilation, tiny, notes);

        AdditionalText oldNotes = GetAdditionalText(driver, "m/notes.json");
        driver = driver.ReplaceAdditionalText(oldNotes, new Text("m/notes.json", "{\"a\": 2}"));
        driver = driver.RunGenerators(compilation);
        AssertAllCached(driver.GetRunResult().Results.Single());
    }

    [Fact]
    public void Editing_a_config_reruns_only_that_config()
    {
        var tiny = new ConfigItem("m/tiny.json", GeneratorHarness.ReadGoldenConfig("tiny-default"));
        var odd = new ConfigItem("m/odd.json", GeneratorHarness.ReadGoldenConfig("small-odd-default"));
        GeneratorDriver driver = FirstRun(out CSharpCompilation compilation, tiny, odd);

        string edited = GeneratorHarness.ReadGoldenConfig("small-odd-default").Replace("\"mask_ratio\": 0.6", "\"mask_ratio\": 0.5", StringComparison.Ordinal);
        driver = driver.ReplaceAdditionalText(GetAdditionalText(driver, "m/odd.json"), new Text("m/odd.json", edited));
        driver = driver.RunGenerators(compilation);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();

        var sourceReasons = result.TrackedSteps[Steps.Source].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.Contains(IncrementalStepRunReason.Modified, sourceReasons);
        Assert.Contains(sourceReasons, r => r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged);
        Assert.Contains("MaskRatio = 0.5;", result.GeneratedSources.Single(s => s.HintName.Contains("Odd", StringComparison.Ordinal)).SourceText.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Reformatting_a_config_rereads_it_but_the_spec_the_plan_and_the_source_stay_cached()
    {
        string text = GeneratorHarness.ReadGoldenConfig("tiny-default");
        GeneratorDriver driver = FirstRun(out CSharpCompilation compilation, new ConfigItem("m/tiny.json", text));
        string reformatted = "\n\n" + text.Replace(": ", ":   ", StringComparison.Ordinal) + "\n";
        driver = driver.ReplaceAdditionalText(GetAdditionalText(driver, "m/tiny.json"), new Text("m/tiny.json", reformatted));
        driver = driver.RunGenerators(compilation);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();

        IncrementalStepRunReason Reason(string step) => Assert.Single(result.TrackedSteps[step].SelectMany(s => s.Outputs)).Reason;
        Assert.Equal(IncrementalStepRunReason.Modified, Reason(Steps.Targets));   // the text changed
        Assert.Equal(IncrementalStepRunReason.Unchanged, Reason(Steps.Parsed));   // into the same spec
        Assert.True(Reason(Steps.Planned) is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged);
        Assert.True(Reason(Steps.Source) is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged);
    }

    [Fact]
    public void Editing_a_config_value_replans_and_reemits_it()
    {
        string text = GeneratorHarness.ReadGoldenConfig("tiny-default");
        GeneratorDriver driver = FirstRun(out CSharpCompilation compilation, new ConfigItem("m/tiny.json", text));
        driver = driver.ReplaceAdditionalText(GetAdditionalText(driver, "m/tiny.json"),
            new Text("m/tiny.json", text.Replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3", StringComparison.Ordinal)));
        driver = driver.RunGenerators(compilation);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        foreach (string step in new[] { Steps.Parsed, Steps.Planned, Steps.Source })
        {
            Assert.Equal(IncrementalStepRunReason.Modified, Assert.Single(result.TrackedSteps[step].SelectMany(s => s.Outputs)).Reason);
        }
    }

    [Fact]
    public void No_symbol_or_compilation_is_reachable_from_pipeline_models()
    {
        // Walk every type that flows between pipeline stages (the generator's nested records and the Model namespace).
        Assembly generator = typeof(Gen::ViTMAE.Compiled.Generator.ViTMAEGenerator).Assembly;
        var roots = generator.GetTypes().Where(t =>
            (t.DeclaringType == typeof(Gen::ViTMAE.Compiled.Generator.ViTMAEGenerator) && t.Name != nameof(Steps)) ||
            t.Namespace == "ViTMAE.Compiled.Generator.Model" ||
            t.Name is "DiagnosticInfo" or "ViTMAESpec" or "ConfigDiagnostic").ToList();
        Assert.Contains(roots, t => t.Name == "ParsedModel");
        Assert.Contains(roots, t => t.Name == "ViTMAEPlan");

        var forbidden = new[] { typeof(ISymbol), typeof(Compilation), typeof(SyntaxNode), typeof(SyntaxTree), typeof(SemanticModel), typeof(Location), typeof(AdditionalText), typeof(SourceText) };
        var seen = new HashSet<Type>();
        var queue = new Queue<(Type Type, string Path)>(roots.Select(r => (r, r.Name)));
        while (queue.Count > 0)
        {
            (Type type, string path) = queue.Dequeue();
            if (type.IsGenericType)
            {
                foreach (Type arg in type.GetGenericArguments())
                {
                    queue.Enqueue((arg, path + "<" + arg.Name + ">"));
                }
            }

            if (type.IsArray)
            {
                queue.Enqueue((type.GetElementType()!, path + "[]"));
                continue;
            }

            if (!seen.Add(type) || type.IsPrimitive || type == typeof(string) || type.IsEnum)
            {
                continue;
            }

            Assert.False(forbidden.Any(f => f.IsAssignableFrom(type)), "pipeline model reaches " + type.FullName + " via " + path);
            if (type.Assembly != generator)
            {
                continue;
            }

            foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            {
                queue.Enqueue((field.FieldType, path + "." + field.Name));
            }
        }
    }

    private static AdditionalText GetAdditionalText(GeneratorDriver driver, string path)
    {
        // The driver keeps the additional texts it was created with; find the one to replace.
        var field = driver.GetType().GetField("_state", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(driver)!;
        var texts = (ImmutableArray<AdditionalText>)field.GetType().GetField("AdditionalTexts", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)!.GetValue(field)!;
        return texts.Single(t => t.Path == path);
    }

    private sealed class Text(string path, string text) : AdditionalText
    {
        public override string Path { get; } = path;

        public override SourceText GetText(System.Threading.CancellationToken cancellationToken = default) => SourceText.From(text);
    }
}
