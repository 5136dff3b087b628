extern alias Gen;

using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using ViTMAEGenerator = Gen::ViTMAE.Compiled.Generator.ViTMAEGenerator;

namespace ViTMAE.Compiled.Generator.Tests;

/// <summary>An additional file with item metadata, as MSBuild would hand it to the generator.</summary>
public sealed record ConfigItem(string Path, string Text, string? ClassName = null, string? Namespace = null, bool Marked = true, string? Resolutions = null);

/// <summary>Runs the generator in memory with the Roslyn driver, the way the compiler does.</summary>
public static class GeneratorHarness
{
    public const string RootNamespace = "Consumer";

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        string tpa = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        return tpa.Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "netstandard.dll" or "mscorlib.dll")
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .Append(MetadataReference.CreateFromFile(typeof(ViTMAE.Compiled.WeightSpec).Assembly.Location))
            .ToImmutableArray();
    });

    public static CSharpCompilation CreateCompilation(params string[] sources) =>
        CSharpCompilation.Create(
            "Consumer",
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(LanguageVersion.Latest), path: "Source" + i + ".cs")),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver CreateDriver(IEnumerable<ConfigItem> items, string rootNamespace = RootNamespace)
    {
        ConfigItem[] list = items.ToArray();
        var texts = list.Select(i => (AdditionalText)new InMemoryAdditionalText(i.Path, i.Text)).ToImmutableArray();
        var options = new TestOptionsProvider(list, rootNamespace);
        return CSharpGeneratorDriver.Create(
            new[] { new ViTMAEGenerator().AsSourceGenerator() },
            texts,
            new CSharpParseOptions(LanguageVersion.Latest),
            options,
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
    }

    /// <summary>Runs the generator once; returns the generated sources (hint → text) and diagnostics.</summary>
    public static GeneratorRunResult Run(params ConfigItem[] items)
    {
        GeneratorDriver driver = CreateDriver(items).RunGenerators(CreateCompilation("namespace Consumer { internal static class Anchor { } }"));
        return driver.GetRunResult().Results.Single();
    }

    /// <summary>
    /// Runs the generator and compiles its output with the runtime library; fails on any compiler diagnostic and on any
    /// generator diagnostic other than the config warnings a test expects (the allowedWarnings IDs of the overload).
    /// </summary>
    public static (CSharpCompilation Compilation, GeneratorRunResult Result) RunAndCompile(params ConfigItem[] items) => RunAndCompile(items, []);

    /// <inheritdoc cref="RunAndCompile(ConfigItem[])"/>
    public static (CSharpCompilation Compilation, GeneratorRunResult Result) RunAndCompile(ConfigItem[] items, string[] allowedWarnings)
    {
        CSharpCompilation input = CreateCompilation("namespace Consumer { internal static class Anchor { } }");
        GeneratorDriver driver = CreateDriver(items).RunGeneratorsAndUpdateCompilation(input, out Compilation output, out ImmutableArray<Diagnostic> generatorDiagnostics);
        Assert.Empty(generatorDiagnostics.Where(d => !(d.Severity == DiagnosticSeverity.Warning && allowedWarnings.Contains(d.Id))));
        var errors = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToArray();
        Assert.True(errors.Length == 0, "generated code does not compile cleanly:\n" + string.Join("\n", errors.Select(e => e.ToString())));
        return ((CSharpCompilation)output, driver.GetRunResult().Results.Single());
    }

    /// <summary>The repository root: the folder holding ViTMAE.Compiled.sln.</summary>
    public static string RepoRoot => ViTMAE.Compiled.TestSupport.RepoPaths.RepoRoot;

    /// <summary>../shared/golden beside the repository.</summary>
    public static string GoldenRoot => ViTMAE.Compiled.TestSupport.RepoPaths.GoldenRoot;

    public static string ReadGoldenConfig(string caseName) => File.ReadAllText(Path.Combine(GoldenRoot, caseName, "config.json"));

    public static string ReadBaseConfig() => File.ReadAllText(Path.Combine(RepoRoot, "samples", "configs", "vit-mae-base.json"));

    private sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(text);

        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }

    private sealed class TestOptionsProvider(IReadOnlyList<ConfigItem> items, string rootNamespace) : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions { get; } = new DictionaryOptions(new Dictionary<string, string>
        {
            ["build_property.RootNamespace"] = rootNamespace,
        });

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => new DictionaryOptions(new Dictionary<string, string>());

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile)
        {
            var values = new Dictionary<string, string>();
            ConfigItem? item = items.FirstOrDefault(i => i.Path == textFile.Path);
            if (item is { Marked: true })
            {
                values["build_metadata.AdditionalFiles.ViTMAEConfig"] = "true";
                if (item.ClassName != null)
                {
                    values["build_metadata.AdditionalFiles.ViTMAEClass"] = item.ClassName;
                }

                if (item.Resolutions != null)
                {
                    values["build_metadata.AdditionalFiles.ViTMAEResolutions"] = item.Resolutions;
                }

                if (item.Namespace != null)
                {
                    values["build_metadata.AdditionalFiles.ViTMAENamespace"] = item.Namespace;
                }
            }

            return new DictionaryOptions(values);
        }
    }

    private sealed class DictionaryOptions(Dictionary<string, string> values) : AnalyzerConfigOptions
    {
        public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) => values.TryGetValue(key, out value);
    }
}
