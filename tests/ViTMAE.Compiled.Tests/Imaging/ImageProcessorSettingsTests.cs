using System;
using ViTMAE.Compiled.Imaging;

namespace ViTMAE.Compiled.Tests.Imaging;

public sealed class ImageProcessorSettingsTests
{
    [Fact]
    public void Defaults_are_vit_mae_base()
    {
        ImageProcessorSettings s = ImageProcessorSettings.VitMaeBase;
        Assert.True(s.DoResize && s.DoRescale && s.DoNormalize);
        Assert.Equal((224, 224), (s.Height, s.Width));
        Assert.Equal(PilResample.Bilinear, s.Resample);
        Assert.Equal(1.0 / 255.0, s.RescaleFactor);
        Assert.Equal(new[] { 0.485, 0.456, 0.406 }, s.ImageMean);
        Assert.Equal(new[] { 0.229, 0.224, 0.225 }, s.ImageStd);
    }

    [Fact]
    public void Parses_a_full_hugging_face_config()
    {
        const string json = """
        {
          "do_normalize": true, "do_rescale": true, "do_resize": true,
          "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "ViTImageProcessor",
          "image_std": [0.5, 0.25, 0.125], "resample": 3, "rescale_factor": 0.00392156862745098,
          "size": {"height": 192, "width": 256}
        }
        """;
        ImageProcessorSettings s = ImageProcessorSettings.FromJson(json);
        Assert.Equal((192, 256), (s.Height, s.Width));
        Assert.Equal(PilResample.Bicubic, s.Resample);
        Assert.Equal(1.0 / 255.0, s.RescaleFactor);
        Assert.Equal(new[] { 0.5, 0.25, 0.125 }, s.ImageStd);
    }

    [Fact]
    public void Integer_size_means_square_and_missing_keys_keep_defaults()
    {
        ImageProcessorSettings s = ImageProcessorSettings.FromJson("""{"size": 96, "do_normalize": false}""");
        Assert.Equal((96, 96), (s.Height, s.Width));
        Assert.False(s.DoNormalize);
        Assert.Equal(PilResample.Bilinear, s.Resample);
    }

    [Theory]
    [InlineData("""{"size": {"shortest_edge": 224}}""", "shortest_edge")]
    [InlineData("""{"resample": 0}""", "NEAREST")]
    [InlineData("""{"image_mean": [0.5, 0.5]}""", "image_mean")]
    [InlineData("""{"image_std": [0.5, 0, 0.5]}""", "image_std")]
    [InlineData("""{"do_resize": "yes"}""", "do_resize")]
    [InlineData("""[1, 2]""", "object")]
    [InlineData("""{"size": """, "JSON")]
    public void Bad_configs_raise_PreprocessorConfigException(string json, string mentioned)
    {
        var ex = Assert.Throws<PreprocessorConfigException>(() => ImageProcessorSettings.FromJson(json, "preprocessor_config.json"));
        Assert.Contains(mentioned, ex.Message, StringComparison.Ordinal);
        Assert.Contains("preprocessor_config.json", ex.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<ViTMAEException>(ex);
    }

    // Fuzzing finding C1: {"\ud800":0} parsed, then TryGetProperty threw InvalidOperationException while comparing
    // names. Unpaired surrogate escapes anywhere (keys, values, nested) are refused first, with line and column.
    [Theory]
    [InlineData("""{"\ud800":0}""", "a property name at line 1, column 3", @"\ud800, a high surrogate, followed by the end of the string")]
    [InlineData("{\n  // a comment with \\ud800 is skipped\n  \"size\": {\"height\": 224, \"w\\udc00\": 1},\n}", "a property name at line 3, column 29", @"\udc00, a low surrogate with no high-surrogate escape before it")]
    [InlineData("""{"image_processor_type": "ViT\udbffImageProcessor"}""", "a string at line 1, column 30", @"\udbff, a high surrogate, followed by ""I""")]
    public void Unpaired_surrogate_escapes_raise_PreprocessorConfigException(string json, string where, string found)
    {
        var ex = Assert.Throws<PreprocessorConfigException>(() => ImageProcessorSettings.FromJson(json, "preprocessor_config.json"));
        Assert.Null(ex.InnerException);
        Assert.Equal("preprocessor_config.json", ex.ConfigSource);
        Assert.StartsWith("preprocessor_config.json: not valid JSON text: " + where + " holds an unpaired UTF-16 surrogate escape", ex.Message, StringComparison.Ordinal);
        Assert.Contains(@"expected a high-surrogate escape (\ud800-\udbff) followed by a low-surrogate one (\udc00-\udfff), found " + found, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unpaired_surrogate_in_the_text_itself_raises_PreprocessorConfigException()
    {
        // A string built in code (File.ReadAllText never returns one): System.Text.Json would throw ArgumentException.
        var ex = Assert.Throws<PreprocessorConfigException>(() => ImageProcessorSettings.FromJson("{\"a\ud800\": 1}", "built.json"));
        Assert.Equal("built.json: expected Unicode text, found an unpaired UTF-16 surrogate U+D800 at character 3", ex.Message);
        Assert.Throws<PreprocessorConfigException>(() => ImageProcessorSettings.FromJson("{\"a\": \"\udc00\ud800\"}"));
    }

    [Fact]
    public void Surrogate_pairs_are_accepted()
    {
        ImageProcessorSettings s = ImageProcessorSettings.FromJson("{\"note \\ud83d\\ude00\": \"\U0001F600\", \"size\": 32}");
        Assert.Equal((32, 32), (s.Height, s.Width));
    }

    [Fact]
    public void Processor_arithmetic_is_HF_float32_order()
    {
        // rescale: float32(uint8 * 1/255 in double); normalize: (x - float32(mean)) / float32(std) in float32.
        var processor = new ImageProcessor();
        for (int v = 0; v < 256; v++)
        {
            float rescaled = (float)(v * (1.0 / 255.0));
            Assert.Equal((rescaled - 0.456f) / 0.224f, processor.ValueOf(1, (byte)v));
        }

        var noRescale = new ImageProcessor(new ImageProcessorSettings { DoRescale = false });
        Assert.Equal((200f - 0.485f) / 0.229f, noRescale.ValueOf(0, 200));
        var nothing = new ImageProcessor(new ImageProcessorSettings { DoRescale = false, DoNormalize = false });
        Assert.Equal(200f, nothing.ValueOf(2, 200));
    }

    [Fact]
    public void Batch_without_resize_needs_equal_sizes_and_keeps_them()
    {
        var processor = new ImageProcessor(new ImageProcessorSettings { DoResize = false });
        var a = new RgbImage(5, 4);
        var b = new RgbImage(5, 4);
        float[] batch = processor.PreprocessBatch([a, b]);
        Assert.Equal(2 * 3 * 4 * 5, batch.Length);
        Assert.Throws<ArgumentException>(() => processor.PreprocessBatch([a, new RgbImage(4, 5)]));
        Assert.Throws<ArgumentException>(() => processor.PreprocessBatch([a, b], new float[10]));
    }
}
