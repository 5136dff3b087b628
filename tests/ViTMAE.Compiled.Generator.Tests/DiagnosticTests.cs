using System;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace ViTMAE.Compiled.Generator.Tests;

/// <summary>Every diagnostic: its ID, severity, and the line/column of the offending JSON value; no code for a bad file.</summary>
public class DiagnosticTests
{
    private const string Path = "models/bad.json";

    /// <summary>Runs the generator on <paramref name="json"/> and returns its single diagnostic, asserting no source was produced.</summary>
    private static Diagnostic Single(string json, string? className = null)
    {
        GeneratorRunResult result = GeneratorHarness.Run(new ConfigItem(Path, json, className));
        Assert.Empty(result.GeneratedSources);
        Assert.Null(result.Exception);
        Assert.True(result.Diagnostics.Length == 1, "expected one diagnostic, got:\n" + string.Join("\n", result.Diagnostics));
        Diagnostic d = result.Diagnostics[0];
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal(Path, d.Location.GetLineSpan().Path);
        return d;
    }

    /// <summary>1-based line and column of the diagnostic's start, as an editor shows it.</summary>
    private static (int Line, int Column) Position(Diagnostic d)
    {
        var start = d.Location.GetLineSpan().StartLinePosition;
        return (start.Line + 1, start.Character + 1);
    }

    [Theory]
    [InlineData("{\n  \"hidden_size\": 64,\n  \"num_hidden_layers\" 2\n}", 3, 23, "expected ':'")]
    [InlineData("{\n  \"hidden_size\": 64,\n}", 3, 1, "expected a property name")]
    [InlineData("{\n  \"hidden_size\": 64", 2, 20, "unexpected end of file")]
    [InlineData("", 1, 1, "empty")]
    [InlineData("{\"a\": 1} x", 1, 10, "after the end")]
    [InlineData("{\n  \"hidden_act\": \"gelu\n}", 2, 22, "control character")]
    [InlineData("[1, 2]", 1, 1, "must be a JSON object")]
    public void VMAE001_malformed_json(string json, int line, int column, string fragment)
    {
        Diagnostic d = Single(json);
        Assert.Equal("VMAE001", d.Id);
        Assert.Equal((line, column), Position(d));
        Assert.Contains(fragment, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\n  \"hidden_size\": \"768\"\n}", 2, 18, "hidden_size must be an integer, found a string (\"768\")")]
    [InlineData("{\n  \"hidden_size\": 768.5\n}", 2, 18, "hidden_size must be an integer, found a number (768.5)")]
    [InlineData("{\n  \"qkv_bias\": 1\n}", 2, 15, "qkv_bias must be true or false")]
    [InlineData("{\n  \"mask_ratio\": \"0.75\"\n}", 2, 17, "mask_ratio must be a number")]
    [InlineData("{\n  \"hidden_act\": null\n}", 2, 17, "hidden_act must be a string, found null")]
    [InlineData("{\n  \"image_size\": [224]\n}", 2, 17, "image_size must be an integer or an [height, width] pair")]
    [InlineData("{\n  \"patch_size\": [16, \"16\"]\n}", 2, 22, "patch_size item must be an integer")]
    public void VMAE002_wrong_value_type(string json, int line, int column, string message)
    {
        Diagnostic d = Single(json);
        Assert.Equal("VMAE002", d.Id);
        Assert.Equal((line, column), Position(d));
        Assert.StartsWith(message, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void VMAE003_model_type_is_not_vit_mae()
    {
        Diagnostic d = Single("{\n  \"model_type\": \"vit\",\n  \"hidden_size\": 768\n}");
        Assert.Equal("VMAE003", d.Id);
        Assert.Equal((2, 17), Position(d));
        Assert.Contains("\"vit\"", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void VMAE004_unknown_activation()
    {
        Diagnostic d = Single("{\n  \"hidden_act\": \"mish\"\n}");
        Assert.Equal("VMAE004", d.Id);
        Assert.Equal((2, 17), Position(d));
        Assert.Contains("gelu, gelu_new, relu, selu, gelu_fast, gelu_pytorch_tanh, quick_gelu, silu, swish", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\n  \"hidden_size\": 100,\n  \"num_attention_heads\": 8\n}", 2, "hidden_size 100 is not divisible by num_attention_heads 8")]
    [InlineData("{\n  \"decoder_num_attention_heads\": 3,\n  \"decoder_hidden_size\": 512\n}", 3, "decoder_hidden_size 512 is not divisible by decoder_num_attention_heads 3")]
    public void VMAE005_heads_do_not_divide(string json, int line, string message)
    {
        Diagnostic d = Single(json);
        Assert.Equal("VMAE005", d.Id);
        Assert.Equal(line, Position(d).Line);
        Assert.Equal(message, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void VMAE006_image_not_divisible_by_patch()
    {
        Diagnostic d = Single("{\n  \"image_size\": 225,\n  \"patch_size\": 16\n}");
        Assert.Equal("VMAE006", d.Id);
        Assert.Equal((2, 17), Position(d));
    }

    [Theory]
    [InlineData("{\n  \"num_hidden_layers\": 0\n}", "num_hidden_layers must be positive, found 0")]
    [InlineData("{\n  \"decoder_intermediate_size\": -5\n}", "decoder_intermediate_size must be positive, found -5")]
    [InlineData("{\n  \"patch_size\": 0\n}", "patch_size must be positive, found 0")]
    [InlineData("{\n  \"image_size\": [224, -224]\n}", "image_size must be positive, found -224")]
    public void VMAE007_non_positive_size(string json, string message)
    {
        Diagnostic d = Single(json);
        Assert.Equal("VMAE007", d.Id);
        Assert.Equal(2, Position(d).Line);
        Assert.Equal(message, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("{\n  \"mask_ratio\": 1.0\n}", "mask_ratio must be in [0, 1), found 1")]
    [InlineData("{\n  \"mask_ratio\": -0.1\n}", "mask_ratio must be in [0, 1), found -0.1")]
    [InlineData("{\n  \"mask_ratio\": NaN\n}", "mask_ratio must be in [0, 1), found NaN")]
    [InlineData("{\n  \"image_size\": 32,\n  \"patch_size\": 16,\n  \"mask_ratio\": 0.8\n}", "mask_ratio 0.8 keeps no patch: int(4 * (1 - 0.8)) = 0")]
    public void VMAE008_mask_ratio(string json, string message)
    {
        Diagnostic d = Single(json);
        Assert.Equal("VMAE008", d.Id);
        Assert.Equal(message, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(json.Split('\n').ToList().FindIndex(l => l.Contains("mask_ratio", StringComparison.Ordinal)) + 1, Position(d).Line);
    }

    [Theory]
    [InlineData("{\n  \"hidden_size\": 66,\n  \"num_attention_heads\": 6\n}", 2)]
    [InlineData("{\n  \"decoder_hidden_size\": 34,\n  \"decoder_num_attention_heads\": 2\n}", 2)]
    public void VMAE009_hidden_size_unusable_by_sincos(string json, int line)
    {
        Diagnostic d = Single(json);
        Assert.Equal("VMAE009", d.Id);
        Assert.Equal(line, Position(d).Line);
    }

    [Fact]
    public void VMAE010_duplicate_class_names()
    {
        string tiny = GeneratorHarness.ReadGoldenConfig("tiny-default");
        GeneratorRunResult result = GeneratorHarness.Run(
            new ConfigItem("b/model.json", tiny, ClassName: "Same"),
            new ConfigItem("a/model.json", tiny, ClassName: "Same"));
        Diagnostic d = Assert.Single(result.Diagnostics);
        Assert.Equal("VMAE010", d.Id);
        Assert.Equal("b/model.json", d.Location.GetLineSpan().Path); // the later path loses the name
        Assert.Contains("a/model.json", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Single(result.GeneratedSources); // the first keeps its class
    }

    [Theory]
    [InlineData("{\n  \"patch_size\": [16, 8]\n}", "not square")]
    [InlineData("{\n  \"image_size\": [224, 160],\n  \"patch_size\": 16\n}", "14x10 patch grid")]
    public void VMAE011_unsupported_geometry(string json, string fragment)
    {
        Diagnostic d = Single(json);
        Assert.Equal("VMAE011", d.Id);
        Assert.Equal(2, Position(d).Line);
        Assert.Contains(fragment, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void VMAE012_invalid_class_name_metadata()
    {
        GeneratorRunResult result = GeneratorHarness.Run(new ConfigItem("m.json", GeneratorHarness.ReadGoldenConfig("tiny-default"), ClassName: "class"));
        Diagnostic d = Assert.Single(result.Diagnostics);
        Assert.Equal("VMAE012", d.Id);
        Assert.Empty(result.GeneratedSources);
    }

    [Theory]
    [InlineData("{\n  \"layer_norm_eps\": 0\n}", "layer_norm_eps must be a positive finite number")]
    [InlineData("{\n  \"hidden_dropout_prob\": 1.5\n}", "hidden_dropout_prob must be a probability in [0, 1]")]
    public void VMAE013_value_out_of_range(string json, string fragment)
    {
        Diagnostic d = Single(json);
        Assert.Equal("VMAE013", d.Id);
        Assert.Equal(2, Position(d).Line);
        Assert.Contains(fragment, d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Theory]
    // The cases the hostile-input probe found: each wrapped a 32-bit size or failed deep inside the runtime.
    [InlineData("{\n  \"num_channels\": 1000000000\n}", "num_channels", "values per patch")]
    [InlineData("{\n  \"image_size\": 65536, \"patch_size\": 65536\n}", "patch_size", "values per patch")]
    [InlineData("{\n  \"image_size\": 92682, \"patch_size\": 1, \"num_channels\": 1\n}", "image_size", "patches per image has 8589953124 elements")]
    [InlineData("{\n  \"hidden_size\": 1000000, \"num_attention_heads\": 1\n}", "hidden_size", "elements, over the limit of 2147483591")]
    [InlineData("{\n  \"num_hidden_layers\": 10000\n}", "num_hidden_layers", "parameters, over the limit of 17179869184")]
    [InlineData("{\n  \"image_size\": 16000\n}", "image_size", "the activations of one image need up to")]
    public void VMAE014_model_too_large(string json, string key, string fragment)
    {
        Diagnostic d = Single(json);
        Assert.Equal("VMAE014", d.Id);
        Assert.Equal(2, Position(d).Line);
        string message = d.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(fragment, message, StringComparison.Ordinal);
        Assert.Contains("too large", message, StringComparison.Ordinal);
        Assert.Equal(key, KeyAt(json, d));
    }

    [Fact]
    public void VMAE014_a_declared_resolution_too_large_for_the_model()
    {
        GeneratorRunResult result = GeneratorHarness.Run(new ConfigItem("m.json", GeneratorHarness.ReadGoldenConfig("tiny-default"), Resolutions: "64x64;524288x524288"));
        Diagnostic d = Assert.Single(result.Diagnostics);
        Assert.Equal("VMAE014", d.Id);
        Assert.Contains("ViTMAEResolutions entry '524288x524288': the model is too large", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    /// <summary>The JSON key whose value the diagnostic points at.</summary>
    private static string KeyAt(string json, Diagnostic d)
    {
        int start = d.Location.SourceSpan.Start;
        int quoteEnd = json.LastIndexOf("\":", start, StringComparison.Ordinal);
        int quoteStart = json.LastIndexOf('"', quoteEnd - 1);
        return json.Substring(quoteStart + 1, quoteEnd - quoteStart - 1);
    }

    [Fact]
    public void Several_problems_are_all_reported()
    {
        GeneratorRunResult result = GeneratorHarness.Run(new ConfigItem(Path, "{\n  \"hidden_size\": \"x\",\n  \"qkv_bias\": \"yes\",\n  \"model_type\": \"bert\"\n}"));
        Assert.Equal(new[] { "VMAE002", "VMAE002", "VMAE003" }, result.Diagnostics.Select(d => d.Id).OrderBy(x => x, StringComparer.Ordinal));
        Assert.Empty(result.GeneratedSources);
    }

    [Fact]
    public void Unmarked_additional_files_are_ignored()
    {
        GeneratorRunResult result = GeneratorHarness.Run(new ConfigItem("notes.json", "not json at all", Marked: false));
        Assert.Empty(result.Diagnostics);
        Assert.Empty(result.GeneratedSources);
    }

    [Fact]
    public void Unknown_keys_are_ignored_and_defaults_apply()
    {
        (var compilation, GeneratorRunResult result) = GeneratorHarness.RunAndCompile(
            [new ConfigItem("models/minimal.json", "{ \"model_type\": \"vit_mae\", \"architectures\": [\"ViTMAEForPreTraining\"], \"torch_dtype\": \"float32\", \"anything\": {\"nested\": [1, 2, {\"x\": null}]} }")],
            ["VMAE015"]);
        // HF ignores the unknown key; the generator compiles the model too, with a warning at the key (VMAE015).
        Diagnostic warning = Assert.Single(result.Diagnostics);
        Assert.Equal(("VMAE015", DiagnosticSeverity.Warning), (warning.Id, warning.Severity));
        string text = Assert.Single(result.GeneratedSources).SourceText.ToString();
        Assert.Contains("public const int HiddenSize = 768;", text, StringComparison.Ordinal);
        Assert.Contains("public const int LenKeep = 49;", text, StringComparison.Ordinal);
        Assert.Contains("public sealed partial class Minimal", text, StringComparison.Ordinal);
        Assert.Contains("namespace Consumer", text, StringComparison.Ordinal);
        Assert.NotNull(compilation.GetTypeByMetadataName("Consumer.Minimal"));
    }

    [Fact]
    public void VMAE015_unknown_keys_warn_at_the_key_and_the_model_still_compiles()
    {
        const string json = "{\n  \"hidden_size\": 64,\n  \"num_hiden_layers\": 2,\n  \"my_note\": \"x\",\n  \"num_attention_heads\": 4,\n  \"intermediate_size\": 128,\n  \"decoder_hidden_size\": 32,\n  \"decoder_num_attention_heads\": 4,\n  \"decoder_intermediate_size\": 64,\n  \"image_size\": 32,\n  \"patch_size\": 8,\n  \"architectures\": [\"ViTMAEForPreTraining\"],\n  \"transformers_version\": \"4.56.0\",\n  \"torch_dtype\": \"float32\",\n  \"id2label\": {}\n}";
        GeneratorRunResult result = GeneratorHarness.Run(new ConfigItem(Path, json, "Typo"));
        Assert.Null(result.Exception);
        Assert.Single(result.GeneratedSources);
        Assert.All(result.Diagnostics, d => Assert.Equal(DiagnosticSeverity.Warning, d.Severity));
        Assert.Equal(["VMAE015", "VMAE015"], result.Diagnostics.Select(d => d.Id));

        Diagnostic typo = result.Diagnostics.Single(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture).Contains("num_hiden_layers", StringComparison.Ordinal));
        Assert.Equal((3, 3), Position(typo));
        Assert.Contains("did you mean 'num_hidden_layers'", typo.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        Diagnostic note = result.Diagnostics.Single(d => d != typo);
        Assert.Equal((4, 3), Position(note));
        Assert.DoesNotContain("did you mean", note.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        // The keys Hugging Face writes itself (architectures, transformers_version, torch_dtype, id2label, ...) are not flagged.
        Assert.DoesNotContain(result.Diagnostics, d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture).Contains("architectures", StringComparison.Ordinal));
    }

    [Fact]
    public void Unknown_keys_do_not_hide_errors_or_stop_the_runtime_parser()
    {
        GeneratorRunResult result = GeneratorHarness.Run(new ConfigItem(Path, "{\n  \"hidden_sise\": 64,\n  \"hidden_size\": \"64\"\n}", "Bad"));
        Assert.Empty(result.GeneratedSources);
        Assert.Equal(["VMAE002", "VMAE015"], result.Diagnostics.Select(d => d.Id).Order());

        ViTMAE.Compiled.Configuration.ViTMAESpec spec = ViTMAE.Compiled.Configuration.ViTMAESpec.Parse("{\"num_hiden_layers\": 2, \"hidden_size\": 64, \"num_attention_heads\": 4}");
        Assert.Equal(12, spec.NumHiddenLayers); // HF's behaviour: the misspelt key sets nothing
    }
}
