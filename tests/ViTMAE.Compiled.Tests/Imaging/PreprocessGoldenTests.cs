using System;
using System.IO;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Weights;
using Xunit.Abstractions;

namespace ViTMAE.Compiled.Tests.Imaging;

/// <summary>
/// The whole preprocessing pipeline against tensors produced by PIL 9.4 + Hugging Face's slow ViTImageProcessor
/// (<c>shared/golden/preprocess</c>). Every case, PNG and JPEG, must match bit for bit from the file.
/// </summary>
public sealed class PreprocessGoldenTests
{
    private readonly ITestOutputHelper _output;

    public PreprocessGoldenTests(ITestOutputHelper output) => _output = output;

    public static TheoryData<string> PngCases => new() { "rgb_gradient_300x200", "gray_160x120", "rgba_200x300" };

    public static TheoryData<string> AllCases => new() { "rgb_gradient_300x200", "gray_160x120", "rgba_200x300", "photo_640x480_q90" };

    [Theory]
    [MemberData(nameof(PngCases))]
    public void Png_decode_matches_PIL_convert_RGB_exactly(string name)
    {
        using var golden = SafeTensorsFile.Open(ImagingTestSupport.Preprocess(name + ".safetensors"));
        RgbImage image = ImageDecoder.Load(ImagingTestSupport.Preprocess(name + ".png"));
        TensorInfo info = golden.GetInfo("decoded_rgb_u8");
        Assert.Equal(info.Shape[0], image.Height);
        Assert.Equal(info.Shape[1], image.Width);
        AssertBytesEqual(golden.ReadUInt8("decoded_rgb_u8"), image.Pixels, "decoded_rgb_u8");
    }

    [Fact]
    public void Rgba_png_drops_alpha_without_compositing()
    {
        using var golden = SafeTensorsFile.Open(ImagingTestSupport.Preprocess("rgba_200x300.safetensors"));
        byte[] rgba = golden.ReadUInt8("decoded_rgba_u8");
        byte[] rgb = golden.ReadUInt8("decoded_rgb_u8");
        bool anyTranslucent = false;
        for (int i = 0; i < rgb.Length / 3; i++)
        {
            anyTranslucent |= rgba[(4 * i) + 3] != 255;
        }

        Assert.True(anyTranslucent, "the golden RGBA image should have some transparency");
        RgbImage dropped = RgbImage.FromRgba(200, 300, rgba);
        AssertBytesEqual(rgb, dropped.Pixels, "alpha dropped");
        AssertBytesEqual(rgb, ImageDecoder.Load(ImagingTestSupport.Preprocess("rgba_200x300.png")).Pixels, "decoded");
    }

    [Fact]
    public void Grey_png_is_replicated_into_three_channels()
    {
        using var golden = SafeTensorsFile.Open(ImagingTestSupport.Preprocess("gray_160x120.safetensors"));
        RgbImage replicated = RgbImage.FromGrey(160, 120, golden.ReadUInt8("decoded_l_u8"));
        AssertBytesEqual(golden.ReadUInt8("decoded_rgb_u8"), replicated.Pixels, "grey replicated");
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void Resize_and_normalise_from_PIL_pixels_match_exactly(string name)
    {
        // Starts from PIL's decoded pixels, so the JPEG case checks resize + normalise independently of the decoder.
        using var golden = SafeTensorsFile.Open(ImagingTestSupport.Preprocess(name + ".safetensors"));
        TensorInfo info = golden.GetInfo("decoded_rgb_u8");
        var decoded = new RgbImage((int)info.Shape[1], (int)info.Shape[0], golden.ReadUInt8("decoded_rgb_u8"));
        CheckPipeline(golden, decoded, name);
    }

    [Theory]
    [MemberData(nameof(PngCases))]
    public void Whole_pipeline_from_png_file_matches_exactly(string name)
    {
        using var golden = SafeTensorsFile.Open(ImagingTestSupport.Preprocess(name + ".safetensors"));
        RgbImage decoded = ImageDecoder.Load(ImagingTestSupport.Preprocess(name + ".png"));
        CheckPipeline(golden, decoded, name);
    }

    [Fact]
    public void PreprocessFiles_fills_one_batch_buffer_matching_golden()
    {
        string[] names = ["rgb_gradient_300x200", "gray_160x120", "rgba_200x300"];
        var paths = Array.ConvertAll(names, n => ImagingTestSupport.Preprocess(n + ".png"));
        var processor = new ImageProcessor();
        var batch = new float[names.Length * 3 * 224 * 224];
        processor.PreprocessFiles(paths, batch);
        for (int i = 0; i < names.Length; i++)
        {
            using var golden = SafeTensorsFile.Open(ImagingTestSupport.Preprocess(names[i] + ".safetensors"));
            AssertFloatsBitwiseEqual(golden.ReadFloat32("pixel_values"), batch.AsSpan(i * 3 * 224 * 224, 3 * 224 * 224), names[i]);
        }
    }

    [Fact]
    public void Jpeg_decode_matches_libjpeg_exactly()
    {
        // The JPEG decoder reproduces libjpeg-turbo 2.1.5 as PIL 9.4 drives it: PIL's decoded pixels byte for byte, so
        // the whole pipeline from the .jpg file is exact too.
        using var golden = SafeTensorsFile.Open(ImagingTestSupport.Preprocess("photo_640x480_q90.safetensors"));
        byte[] expected = golden.ReadUInt8("decoded_rgb_u8");
        RgbImage image = ImageDecoder.Load(ImagingTestSupport.Preprocess("photo_640x480_q90.jpg"));
        Assert.Equal(640, image.Width);
        Assert.Equal(480, image.Height);
        int maxDiff = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - image.Pixels[i]));
        }

        _output.WriteLine($"JPEG decode vs libjpeg: max |diff| = {maxDiff} levels");
        AssertBytesEqual(expected, image.Pixels, "decoded_rgb_u8");
        CheckPipeline(golden, image, "photo_640x480_q90");
    }

    private static void CheckPipeline(SafeTensorsFile golden, RgbImage decoded, string name)
    {
        // Bilinear (facebook/vit-mae-base's resample = 2).
        RgbImage resized = PilResize.Resize(decoded, 224, 224, PilResample.Bilinear);
        AssertBytesEqual(golden.ReadUInt8("resized_u8"), resized.Pixels, name + " resized_u8");
        var processor = new ImageProcessor();
        AssertBytesEqual(golden.ReadUInt8("resized_u8"), processor.Resize(decoded).Pixels, name + " processor.Resize");
        AssertFloatsBitwiseEqual(golden.ReadFloat32("pixel_values"), processor.Preprocess(decoded), name + " pixel_values");

        // Bicubic.
        RgbImage bicubic = PilResize.Resize(decoded, 224, 224, PilResample.Bicubic);
        AssertBytesEqual(golden.ReadUInt8("resized_u8_bicubic"), bicubic.Pixels, name + " resized_u8_bicubic");
        var bicubicProcessor = new ImageProcessor(new ImageProcessorSettings { Resample = PilResample.Bicubic });
        AssertFloatsBitwiseEqual(golden.ReadFloat32("pixel_values_bicubic"), bicubicProcessor.Preprocess(decoded), name + " pixel_values_bicubic");

        // Settings read from the golden meta.json's copy of facebook/vit-mae-base's preprocessor_config.json.
        using var meta = System.Text.Json.JsonDocument.Parse(File.ReadAllText(ImagingTestSupport.Preprocess("meta.json")));
        string configJson = meta.RootElement.GetProperty("preprocessor_config_facebook_vit_mae_base").GetRawText();
        var fromConfig = new ImageProcessor(ImageProcessorSettings.FromJson(configJson, "meta.json"));
        AssertFloatsBitwiseEqual(golden.ReadFloat32("pixel_values"), fromConfig.Preprocess(decoded), name + " pixel_values (from config)");
    }

    internal static void AssertBytesEqual(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int mismatches = 0, first = -1, maxDiff = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] != actual[i])
            {
                mismatches++;
                first = first < 0 ? i : first;
                maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
            }
        }

        Assert.True(
            mismatches == 0,
            $"{what}: {mismatches} of {expected.Length} bytes differ (max {maxDiff}); first at {first}: expected {(first >= 0 ? expected[first] : 0)}, got {(first >= 0 ? actual[first] : 0)}");
    }

    internal static void AssertFloatsBitwiseEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int mismatches = 0, first = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                mismatches++;
                first = first < 0 ? i : first;
            }
        }

        Assert.True(
            mismatches == 0,
            $"{what}: {mismatches} of {expected.Length} floats differ; first at {first}: expected {(first >= 0 ? expected[first] : 0):R}, got {(first >= 0 ? actual[first] : 0):R}");
    }
}
