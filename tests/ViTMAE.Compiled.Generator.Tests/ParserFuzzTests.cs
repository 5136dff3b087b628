extern alias Gen;

using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using GenConfigDiagnostic = Gen::ViTMAE.Compiled.Configuration.ConfigDiagnostic;
using GenParser = Gen::ViTMAE.Compiled.Configuration.ViTMAEConfigParser;

namespace ViTMAE.Compiled.Generator.Tests;

/// <summary>Mutated configs never make the parser or the generator throw: they give diagnostics or a valid spec.</summary>
public class ParserFuzzTests
{
    private static readonly string[] Fragments = { "{", "}", "[", "]", ",", ":", "\"", "\\", "-", "1e999", "NaN", "null", "true", "0", "-1", "\n", "\u2212", "\uFEFF", " ", "\"hidden_size\"", "9999999999" };

    [Fact]
    public void Thousands_of_mutations_of_a_real_config_never_throw_and_always_point_inside_the_file()
    {
        string original = GeneratorHarness.ReadGoldenConfig("small-odd-default");
        var random = new Random(20261126);
        int valid = 0, invalid = 0;
        for (int i = 0; i < 3000; i++)
        {
            string text = Mutate(original, random, random.Next(1, 4));
            var diagnostics = new List<GenConfigDiagnostic>();
            var spec = GenParser.Parse(text, diagnostics);
            // Warnings (VMAE015: a mutated key name) do not stop the model; errors do.
            int errors = diagnostics.Count(d => !d.Id.Equals("VMAE015", StringComparison.Ordinal));
            Assert.True((spec is null) == (errors > 0), $"mutation {i}: a spec must come with no errors, and no spec with some");
            foreach (GenConfigDiagnostic d in diagnostics)
            {
                Assert.InRange(d.Span.Start, 0, text.Length);
                Assert.InRange(d.Span.Start + d.Span.Length, 0, text.Length);
                Assert.StartsWith("VMAE0", d.Id, StringComparison.Ordinal);
            }

            if (spec is null)
            {
                invalid++;
            }
            else
            {
                valid++;
            }
        }

        Assert.True(valid > 100 && invalid > 100, $"the mutations should hit both outcomes: {valid} valid, {invalid} invalid");
    }

    [Fact]
    public void The_generator_reports_diagnostics_for_mutated_configs_and_never_throws()
    {
        string original = GeneratorHarness.ReadGoldenConfig("tiny-default");
        var random = new Random(7);
        for (int i = 0; i < 150; i++)
        {
            string text = Mutate(original, random, random.Next(1, 3));
            GeneratorRunResult result = GeneratorHarness.Run(new ConfigItem("m/fuzz.json", text));
            Assert.Null(result.Exception);
            bool errors = result.Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);
            Assert.True(errors == result.GeneratedSources.IsEmpty, $"mutation {i}: either code or errors:\n{text}");
        }
    }

    private static string Mutate(string text, Random random, int edits)
    {
        var sb = new StringBuilder(text);
        for (int e = 0; e < edits && sb.Length > 0; e++)
        {
            int at = random.Next(sb.Length);
            switch (random.Next(3))
            {
                case 0:
                    sb.Remove(at, Math.Min(sb.Length - at, random.Next(1, 4)));
                    break;
                case 1:
                    sb.Insert(at, Fragments[random.Next(Fragments.Length)]);
                    break;
                default:
                    sb[at] = (char)random.Next(32, 127);
                    break;
            }
        }

        return sb.ToString();
    }
}
