using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ViTMAE.Compiled.Configuration;

namespace ViTMAE.Compiled.Generator.Tests;

/// <summary>The shared parser (here through the runtime's public API) against every golden config.</summary>
public class ParserTests
{
    public static IEnumerable<object[]> GoldenCases() =>
        Directory.GetDirectories(GeneratorHarness.GoldenRoot)
            .Where(d => File.Exists(Path.Combine(d, "config.json")))
            .Select(d => new object[] { Path.GetFileName(d) })
            .OrderBy(c => (string)c[0], StringComparer.Ordinal);

    [Fact]
    public void Golden_folder_has_the_ten_model_cases() => Assert.Equal(10, GoldenCases().Count());

    [Theory]
    [MemberData(nameof(GoldenCases))]
    public void Parses_every_golden_config_and_agrees_with_meta_json(string caseName)
    {
        string dir = Path.Combine(GeneratorHarness.GoldenRoot, caseName);
        ViTMAESpec spec = ViTMAESpec.Load(dir);
        // meta.json was written by Python and holds "loss": NaN for the nomask cases, which System.Text.Json rejects.
        string metaText = File.ReadAllText(Path.Combine(dir, "meta.json")).Replace(": NaN", ": null", StringComparison.Ordinal);
        using var meta = System.Text.Json.JsonDocument.Parse(metaText);
        bool interpolated = meta.RootElement.GetProperty("interpolate_pos_encoding").GetBoolean();
        if (!interpolated)
        {
            Assert.Equal(meta.RootElement.GetProperty("num_patches").GetInt32(), spec.NumPatches);
            Assert.Equal(meta.RootElement.GetProperty("len_keep").GetInt32(), spec.LenKeep);
            var hw = meta.RootElement.GetProperty("image_hw");
            Assert.Equal(hw[0].GetInt32(), spec.ImageHeight);
            Assert.Equal(hw[1].GetInt32(), spec.ImageWidth);
        }

        // Every value agrees with the JSON file read by an independent parser.
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")));
        var c = config.RootElement;
        Assert.Equal(c.GetProperty("hidden_size").GetInt32(), spec.HiddenSize);
        Assert.Equal(c.GetProperty("num_hidden_layers").GetInt32(), spec.NumHiddenLayers);
        Assert.Equal(c.GetProperty("num_attention_heads").GetInt32(), spec.NumAttentionHeads);
        Assert.Equal(c.GetProperty("intermediate_size").GetInt32(), spec.IntermediateSize);
        Assert.Equal(c.GetProperty("hidden_act").GetString(), spec.HiddenAct);
        Assert.Equal(c.GetProperty("layer_norm_eps").GetDouble(), spec.LayerNormEps);
        Assert.Equal(c.GetProperty("patch_size").GetInt32(), spec.PatchSize);
        Assert.Equal(c.GetProperty("num_channels").GetInt32(), spec.NumChannels);
        Assert.Equal(c.GetProperty("qkv_bias").GetBoolean(), spec.QkvBias);
        Assert.Equal(c.GetProperty("decoder_num_attention_heads").GetInt32(), spec.DecoderNumAttentionHeads);
        Assert.Equal(c.GetProperty("decoder_hidden_size").GetInt32(), spec.DecoderHiddenSize);
        Assert.Equal(c.GetProperty("decoder_num_hidden_layers").GetInt32(), spec.DecoderNumHiddenLayers);
        Assert.Equal(c.GetProperty("decoder_intermediate_size").GetInt32(), spec.DecoderIntermediateSize);
        Assert.Equal(c.GetProperty("mask_ratio").GetDouble(), spec.MaskRatio);
        Assert.Equal(c.GetProperty("norm_pix_loss").GetBoolean(), spec.NormPixLoss);
        Assert.Equal(c.GetProperty("initializer_range").GetDouble(), spec.InitializerRange);
        Assert.Equal(c.GetProperty("hidden_dropout_prob").GetDouble(), spec.HiddenDropoutProb);
        Assert.Equal(c.GetProperty("attention_probs_dropout_prob").GetDouble(), spec.AttentionProbsDropoutProb);
    }

    [Fact]
    public void Empty_object_gives_hugging_face_defaults()
    {
        ViTMAESpec spec = ViTMAESpec.Parse("{}");
        Assert.Equal(new ViTMAESpec(), spec);
        Assert.Equal((768, 12, 12, 3072, "gelu"), (spec.HiddenSize, spec.NumHiddenLayers, spec.NumAttentionHeads, spec.IntermediateSize, spec.HiddenAct));
        Assert.Equal((0.0, 0.0, 0.02, 1e-12), (spec.HiddenDropoutProb, spec.AttentionProbsDropoutProb, spec.InitializerRange, spec.LayerNormEps));
        Assert.Equal((224, 224, 16, 3, true), (spec.ImageHeight, spec.ImageWidth, spec.PatchSize, spec.NumChannels, spec.QkvBias));
        Assert.Equal((16, 512, 8, 2048), (spec.DecoderNumAttentionHeads, spec.DecoderHiddenSize, spec.DecoderNumHiddenLayers, spec.DecoderIntermediateSize));
        Assert.Equal((0.75, false), (spec.MaskRatio, spec.NormPixLoss));
        Assert.Equal((196, 49), (spec.NumPatches, spec.LenKeep));
    }

    [Fact]
    public void Base_config_equals_defaults() => Assert.Equal(new ViTMAESpec(), ViTMAESpec.Load(Path.Combine(GeneratorHarness.RepoRoot, "samples", "configs", "vit-mae-base.json")));

    [Theory]
    [InlineData(100, 0.9, 9)]   // 100 * 0.09999999999999998 = 9.999999999999998 → 9, as HF computes it
    [InlineData(196, 0.75, 49)]
    [InlineData(9, 0.6, 3)]     // 9 * 0.4 = 3.6 → 3
    [InlineData(16, 0.0, 16)]
    [InlineData(49, 0.3, 34)]   // 49 * 0.7 = 34.3 → 34
    public void LenKeep_truncates_in_double_like_python(int patches, double ratio, int expected) =>
        Assert.Equal(expected, ViTMAESpec.KeptPatches(patches, ratio));

    [Fact]
    public void Pairs_for_image_and_patch_size()
    {
        ViTMAESpec spec = ViTMAESpec.Parse("{\"image_size\": [64, 64], \"patch_size\": [8, 8], \"hidden_size\": 32, \"num_attention_heads\": 4, \"decoder_hidden_size\": 16, \"decoder_num_attention_heads\": 4}");
        Assert.Equal((64, 64, 8, 64), (spec.ImageHeight, spec.ImageWidth, spec.PatchSize, spec.NumPatches));
    }

    [Fact]
    public void Runtime_parse_error_lists_every_problem_with_positions()
    {
        var ex = Assert.Throws<ViTMAEConfigException>(() => ViTMAESpec.Parse("{\n  \"hidden_act\": \"swish\",\n  \"qkv_bias\": 3\n}", "bad.json"));
        Assert.Single(ex.Diagnostics);
        Assert.Contains("VMAE002 (line 3, column 15)", ex.Message, StringComparison.Ordinal);
        Assert.StartsWith("bad.json: invalid ViTMAE config", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"num_channels\": 1000000000}", "values per patch")]
    [InlineData("{\"image_size\": 92682, \"patch_size\": 1}", "patches per image")]
    [InlineData("{\"hidden_size\": 1000000, \"num_attention_heads\": 1}", "elements, over the limit")]
    [InlineData("{\"num_hidden_layers\": 10000}", "parameters, over the limit")]
    public void Runtime_parse_refuses_absurd_sizes_with_the_size_and_the_limit(string json, string fragment)
    {
        var ex = Assert.Throws<ViTMAEConfigException>(() => ViTMAESpec.Parse(json, "huge.json"));
        ConfigDiagnostic d = Assert.Single(ex.Diagnostics);
        Assert.Equal("VMAE014", d.Id);
        Assert.Contains(fragment, ex.Message, StringComparison.Ordinal);
        Assert.Contains("too large", ex.Message, StringComparison.Ordinal);
    }

    // Fuzzing findings C2 and C3 (tests/ViTMAE.Compiled.Fuzz/regressions/config): accepted before VMAE014 existed, with
    // NumPatches (65537² = 4295098369) and PatchDim (65536² = 2^32) wrapped to 131073 and 0 in 32-bit arithmetic.
    [Theory]
    [InlineData("""{"image_size":65537,"patch_size":1,"mask_ratio":0.0}""", 15, "patches per image has 4295098369 elements, over the limit of 2147483591")]
    [InlineData("""{"image_size":65536,"patch_size":65536,"num_channels":1,"mask_ratio":0.0}""", 55, "values per patch (patch_size² × num_channels) has 4294967296 elements, over the limit of 2147483591")]
    public void Runtime_parse_refuses_sizes_that_overflow_int_at_the_key_that_sets_them(string json, int column, string fragment)
    {
        var ex = Assert.Throws<ViTMAEConfigException>(() => ViTMAESpec.Parse(json, "overflow.json"));
        ConfigDiagnostic d = Assert.Single(ex.Diagnostics);
        Assert.Equal(ConfigDiagnosticIds.ModelTooLarge, d.Id);
        Assert.Contains($"VMAE014 (line 1, column {column}): the model is too large: {fragment}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_strings_with_escapes_and_a_byte_order_mark()
    {
        ViTMAESpec spec = ViTMAESpec.Parse("\uFEFF{\"hidden_act\": \"gel\\u0075_new\", \"note\": \"a\\\"b\\\\c\\n\"}");
        Assert.Equal("gelu_new", spec.HiddenAct);
    }
}
