using System;
using System.IO;
using System.Linq;
using ViTMAE.Compiled.Imaging;
using Xunit.Abstractions;

namespace ViTMAE.Compiled.Tests.Imaging;

/// <summary>Decoding to PIL <c>convert("RGB")</c> semantics, and the typed errors for bad input.</summary>
public sealed class ImageDecoderTests
{
    private readonly ITestOutputHelper _output;

    public ImageDecoderTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Grey_png_is_replicated()
    {
        byte[] png = ImagingTestSupport.Png(3, 2, colorType: 0, bitDepth: 8, [0, 100, 255, 7, 8, 9]);
        RgbImage image = ImageDecoder.Decode(png, "grey.png");
        Assert.Equal(new byte[] { 0, 0, 0, 100, 100, 100, 255, 255, 255, 7, 7, 7, 8, 8, 8, 9, 9, 9 }, image.Pixels);
    }

    [Fact]
    public void Low_bit_depth_grey_png_is_scaled_to_0_255()
    {
        // PIL unpacks L;2 and L;4 by scaling (×85, ×17) and mode 1 to 0/255; stb_image does the same.
        byte[] png2 = ImagingTestSupport.Png(4, 1, 0, 2, [0, 1, 2, 3]);
        Assert.Equal(new byte[] { 0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255 }, ImageDecoder.Decode(png2).Pixels);
        byte[] png1 = ImagingTestSupport.Png(3, 1, 0, 1, [1, 0, 1]);
        Assert.Equal(new byte[] { 255, 255, 255, 0, 0, 0, 255, 255, 255 }, ImageDecoder.Decode(png1).Pixels);
    }

    [Fact]
    public void Grey_alpha_and_rgba_png_drop_alpha()
    {
        byte[] la = ImagingTestSupport.Png(2, 1, colorType: 4, bitDepth: 8, [50, 0, 200, 128]);
        Assert.Equal(new byte[] { 50, 50, 50, 200, 200, 200 }, ImageDecoder.Decode(la).Pixels);
        byte[] rgba = ImagingTestSupport.Png(2, 1, colorType: 6, bitDepth: 8, [10, 20, 30, 0, 40, 50, 60, 255]);
        Assert.Equal(new byte[] { 10, 20, 30, 40, 50, 60 }, ImageDecoder.Decode(rgba).Pixels);
    }

    [Fact]
    public void Palette_png_takes_palette_colours_and_ignores_tRNS()
    {
        byte[] palette = [255, 0, 0, 0, 255, 0, 0, 0, 255];
        byte[] png = ImagingTestSupport.Png(3, 1, colorType: 3, bitDepth: 8, [2, 1, 0], palette, trns: [0, 0, 0]);
        Assert.Equal(new byte[] { 0, 0, 255, 0, 255, 0, 255, 0, 0 }, ImageDecoder.Decode(png).Pixels);
    }

    [Fact]
    public void Sixteen_bit_grey_png_is_clamped_like_PIL_convert_RGB()
    {
        // PIL opens 16-bit grey as mode I (I;16) and convert("RGB") clips each value to 0..255;
        // stb_image would keep the high byte (1, 1, 0, 255) instead.
        byte[] png = ImagingTestSupport.Png(4, 1, colorType: 0, bitDepth: 16, [300, 511, 200, 65535]);
        Assert.Equal(new byte[] { 255, 255, 255, 255, 255, 255, 200, 200, 200, 255, 255, 255 }, ImageDecoder.Decode(png, "grey16.png").Pixels);
    }

    [Fact]
    public void Sixteen_bit_rgb_png_keeps_the_high_byte_like_PIL()
    {
        byte[] png = ImagingTestSupport.Png(1, 1, colorType: 2, bitDepth: 16, [0x1234, 0xABCD, 0x00FF]);
        Assert.Equal(new byte[] { 0x12, 0xAB, 0x00 }, ImageDecoder.Decode(png).Pixels);
    }

    [Fact]
    public void One_by_one_png_decodes()
    {
        byte[] png = ImagingTestSupport.Png(1, 1, 2, 8, [1, 2, 3]);
        RgbImage image = ImageDecoder.Decode(png);
        Assert.Equal(1, image.Width);
        Assert.Equal(1, image.Height);
        Assert.Equal(new byte[] { 1, 2, 3 }, image.Pixels);
    }

    [Fact]
    public void Bmp_decodes()
    {
        byte[] rgb = ImagingTestSupport.RandomBytes(5 * 3 * 3, 11);
        RgbImage image = ImageDecoder.Decode(ImagingTestSupport.Bmp24(5, 3, rgb), "x.bmp");
        Assert.Equal(5, image.Width);
        Assert.Equal(3, image.Height);
        Assert.Equal(rgb, image.Pixels);
    }

    [Fact]
    public void Gif_takes_palette_colours_for_the_first_frame()
    {
        byte[] palette = Palette();
        byte[] indices = Enumerable.Range(0, 6 * 4).Select(i => (byte)(i * 7 % 256)).ToArray();
        RgbImage image = ImageDecoder.Decode(ImagingTestSupport.Gif(6, 4, palette, 0, 0, 6, 4, indices), "x.gif");
        for (int i = 0; i < indices.Length; i++)
        {
            Assert.Equal(palette.AsSpan(indices[i] * 3, 3).ToArray(), image.Pixels.AsSpan(i * 3, 3).ToArray());
        }
    }

    [Fact]
    public void Gif_transparency_and_background_are_ignored_like_PIL_P_to_RGB()
    {
        // Index 5 is transparent and index 9 the background colour. PIL's convert("RGB") of the P image shows palette
        // colour 5 for transparent pixels; pixels outside the 2×2 frame at (1, 1) are filled with the transparent index.
        byte[] palette = Palette();
        byte[] indices = [5, 1, 2, 5];
        byte[] gif = ImagingTestSupport.Gif(4, 3, palette, 1, 1, 2, 2, indices, transparentIndex: 5, backgroundIndex: 9);
        RgbImage image = ImageDecoder.Decode(gif, "t.gif");
        int[] expected =
        [
            5, 5, 5, 5,
            5, 5, 1, 5,
            5, 2, 5, 5,
        ];
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(palette.AsSpan(expected[i] * 3, 3).ToArray(), image.Pixels.AsSpan(i * 3, 3).ToArray());
        }

        // Without transparency the area outside the frame is palette entry 0.
        byte[] opaque = ImagingTestSupport.Gif(4, 3, palette, 1, 1, 2, 2, indices, backgroundIndex: 9);
        RgbImage image2 = ImageDecoder.Decode(opaque);
        Assert.Equal(palette.AsSpan(0, 3).ToArray(), image2.Pixels.AsSpan(0, 3).ToArray());
        Assert.Equal(palette.AsSpan(5 * 3, 3).ToArray(), image2.Pixels.AsSpan(((1 * 4) + 1) * 3, 3).ToArray());
    }

    [Fact]
    public void Missing_file_raises_ImageFileNotFoundException()
    {
        string path = Path.Combine(Path.GetTempPath(), "vitmae-no-such-image-" + Guid.NewGuid().ToString("N") + ".png");
        var ex = Assert.Throws<ImageFileNotFoundException>(() => ImageDecoder.Load(path));
        Assert.IsAssignableFrom<ViTMAEException>(ex);
        Assert.Equal(path, ex.FilePath);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_format_raises_UnsupportedImageFormatException()
    {
        var ex = Assert.Throws<UnsupportedImageFormatException>(() => ImageDecoder.Decode("hello, world"u8.ToArray(), "notes.txt"));
        Assert.Contains("notes.txt", ex.Message, StringComparison.Ordinal);
        Assert.Contains("PNG, JPEG, BMP or GIF", ex.Expected, StringComparison.Ordinal);
        Assert.Throws<UnsupportedImageFormatException>(() => ImageDecoder.Decode([], "empty.png"));
    }

    [Fact]
    public void Oversized_header_raises_ImageTooLargeException_before_decoding()
    {
        // A PNG header claiming 20000×10 with no real pixel data: rejected from the header alone. (The IHDR CRC must be
        // right: PIL, and so the decoder, reject a chunk with a bad CRC before looking at it.)
        byte[] png = ImagingTestSupport.PngFromChunks(("IHDR", ImagingTestSupport.Ihdr(20000, 10, 8, 0)), ("IDAT", ImagingTestSupport.Zlib([0, 0])), ("IEND", []));
        var ex = Assert.Throws<ImageTooLargeException>(() => ImageDecoder.Decode(png, "huge.png"));
        Assert.Equal(20000, ex.Width);
        var small = new ImageDecodeOptions { MaxSide = 100, MaxPixels = 50 };
        byte[] ok = ImagingTestSupport.Png(10, 6, 0, 8, new int[60]);
        Assert.Throws<ImageTooLargeException>(() => ImageDecoder.Decode(ok, "60px.png", small));
        Assert.Equal(10, ImageDecoder.Decode(ok, "60px.png").Width);
    }

    [Theory]
    [InlineData("rgb_gradient_300x200.png")]
    [InlineData("photo_640x480_q90.jpg")]
    public void Truncated_files_raise_ImageDecodeException(string file)
    {
        byte[] bytes = File.ReadAllBytes(ImagingTestSupport.Preprocess(file));
        int[] cuts = [0, 1, 2, 3, 5, 10, 20, 33, 50, 100, 400, bytes.Length / 3, bytes.Length / 2, bytes.Length - 100];
        foreach (int cut in cuts)
        {
            var ex = Assert.ThrowsAny<ImageDecodeException>(() => ImageDecoder.Decode(bytes[..cut], $"{file}[..{cut}]"));
            Assert.Contains($"{file}[..{cut}]", ex.Message, StringComparison.Ordinal);
        }

        // Cut inside the last chunk's CRC, without IEND: the JPEG lacks its EOI data; the PNG's image data is all there
        // and PIL 9.4 decodes it (it reads nothing after the image data), so the PNG decoder does too.
        byte[] cutEnd = bytes[..^13];
        if (file.EndsWith(".png", StringComparison.Ordinal))
        {
            Assert.Equal(ImageDecoder.Decode(bytes).Pixels, ImageDecoder.Decode(cutEnd).Pixels);
        }
        else
        {
            Assert.ThrowsAny<ImageDecodeException>(() => ImageDecoder.Decode(cutEnd, file));
        }
    }

    [Fact]
    public void Truncated_gif_and_bmp_raise_ImageDecodeException()
    {
        byte[] gif = ImagingTestSupport.Gif(6, 4, Palette(), 0, 0, 6, 4, new byte[24]);
        for (int cut = 6; cut < gif.Length - 1; cut += 37)
        {
            Assert.ThrowsAny<ImageDecodeException>(() => ImageDecoder.Decode(gif[..cut], "t.gif"));
        }

        byte[] bmp = ImagingTestSupport.Bmp24(5, 3, new byte[45]);
        foreach (int cut in new[] { 2, 20, 30, 54, bmp.Length - 1 })
        {
            Assert.ThrowsAny<ImageDecodeException>(() => ImageDecoder.Decode(bmp[..cut], "t.bmp"));
        }
    }

    [Fact]
    public void Corrupt_data_raises_ImageDecodeException()
    {
        // A PNG signature followed by garbage.
        byte[] png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, .. ImagingTestSupport.RandomBytes(200, 5)];
        Assert.ThrowsAny<ImageDecodeException>(() => ImageDecoder.Decode(png, "garbage.png"));

        // A valid PNG whose compressed image data is replaced by garbage.
        byte[] good = ImagingTestSupport.Png(8, 8, 2, 8, new int[8 * 8 * 3]);
        int idat = IndexOf(good, "IDAT"u8) + 4;
        int idatLength = (good[idat - 6] << 8) | good[idat - 5];
        byte[] bad = (byte[])good.Clone();
        ImagingTestSupport.RandomBytes(idatLength, 9).CopyTo(bad, idat);
        Assert.ThrowsAny<ImageDecodeException>(() => ImageDecoder.Decode(bad, "bad-idat.png"));

        // A JPEG whose quantisation-table segment has an impossible length (libjpeg skips APPn/COM segments with such
        // lengths, so the DQT segment is the one corrupted).
        byte[] jpeg = File.ReadAllBytes(ImagingTestSupport.Preprocess("photo_640x480_q90.jpg"));
        int dqt = JpegDecoderTests.IndexOfMarker(jpeg, 0xDB);
        jpeg[dqt + 2] = 0;
        jpeg[dqt + 3] = 1;
        var ex = Assert.ThrowsAny<ImageDecodeException>(() => ImageDecoder.Decode(jpeg, "bad.jpg"));
        Assert.Contains("segment length", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async System.Threading.Tasks.Task Corrupt_and_truncated_jpegs_never_hang()
    {
        // Truncated headers and corrupt bytes must end in a typed error or an image, never a hang (stb_image looped on some).
        byte[] jpeg = File.ReadAllBytes(ImagingTestSupport.Preprocess("photo_640x480_q90.jpg"));
        var worker = System.Threading.Tasks.Task.Run(() =>
        {
            for (int cut = 0; cut < 700; cut++)
            {
                Assert.ThrowsAny<ImageDecodeException>(() => ImageDecoder.Decode(jpeg[..cut]));
            }

            var rng = new Random(3);
            for (int k = 0; k < 100; k++)
            {
                byte[] c = (byte[])jpeg.Clone();
                c[rng.Next(600)] = (byte)rng.Next(256);
                try
                {
                    ImageDecoder.Decode(c);
                }
                catch (ImageDecodeException)
                {
                }
            }
        });
        // A hang shows up as a TimeoutException instead of a stuck test run.
        await worker.WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public void Png_missing_only_IEND_is_accepted_like_PIL()
    {
        byte[] png = ImagingTestSupport.Png(2, 2, 2, 8, Enumerable.Range(0, 12).ToArray());
        RgbImage full = ImageDecoder.Decode(png);
        RgbImage withoutEnd = ImageDecoder.Decode(png[..^12]);
        Assert.Equal(full.Pixels, withoutEnd.Pixels);
    }

    [Fact]
    public void Detects_formats_from_signatures()
    {
        Assert.Equal(ImageFormat.Png, ImageDecoder.DetectFormat(ImagingTestSupport.Png(1, 1, 0, 8, [0])));
        Assert.Equal(ImageFormat.Jpeg, ImageDecoder.DetectFormat([0xFF, 0xD8, 0xFF, 0xE0]));
        Assert.Equal(ImageFormat.Bmp, ImageDecoder.DetectFormat("BM...."u8));
        Assert.Equal(ImageFormat.Gif, ImageDecoder.DetectFormat("GIF89a"u8));
        Assert.Equal(ImageFormat.Unknown, ImageDecoder.DetectFormat("GIF90a"u8));
    }

    /// <summary>Bytes a decode may allocate beyond its budget: fixed-size tables (Huffman, palettes, zlib's buffers).</summary>
    private const long FixedAllocationSlack = 64 << 10;

    public static TheoryData<string> BudgetCases =>
        ["png-rgba16", "png-palette8", "png-grey1", "jpeg-baseline-640x480", "jpeg-progressive-640x480", "jpeg-multiscan", "gif", "bmp"];

    /// <summary>
    /// ImageDecodeOptions.MaxDecodedBytes counts what decoding really allocates: the budget a decoder computes from the
    /// header (which ImageTooLargeException reports) is what the decode then allocates, within the fixed-size tables, and
    /// one byte less is refused before anything sized by the image is allocated. (The stb-backed decoders passed the RGB
    /// size alone: a 16-bit RGBA PNG that fitted as RGB allocated several times the budget.)
    /// </summary>
    [Theory]
    [MemberData(nameof(BudgetCases))]
    public void The_decoded_bytes_budget_is_what_decoding_allocates(string kind)
    {
        byte[] file = BudgetFile(kind);

        // The smallest budget that decodes: a multi-scan JPEG adds its coefficients at the first scan, after the frame
        // header's check, so the reported need can grow once.
        long budget = 1;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                ImageDecoder.Decode(file, kind, new ImageDecodeOptions { MaxDecodedBytes = budget });
                break;
            }
            catch (ImageTooLargeException ex)
            {
                Assert.True(ex.DecodedBytes > budget && attempt < 3, $"{kind}: needs {ex.DecodedBytes} bytes at a budget of {budget}");
                budget = ex.DecodedBytes;
            }
        }

        var exact = new ImageDecodeOptions { MaxDecodedBytes = budget };
        long before = GC.GetAllocatedBytesForCurrentThread();
        RgbImage image = ImageDecoder.Decode(file, kind, exact);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        _output.WriteLine($"{kind}: {image.Width}×{image.Height}, budget {budget} bytes (RGB {(long)image.Width * image.Height * 3}), allocated {allocated}");
        Assert.True(allocated <= budget + FixedAllocationSlack, $"{kind}: {image.Width}×{image.Height} allocated {allocated} bytes, over its budget of {budget}");
        Assert.True(allocated >= (long)image.Width * image.Height * 3, $"{kind}: allocated {allocated} bytes, less than its RGB output");

        long refusedAllocation = GC.GetAllocatedBytesForCurrentThread();
        var refused = Assert.Throws<ImageTooLargeException>(() => ImageDecoder.Decode(file, kind, new ImageDecodeOptions { MaxDecodedBytes = budget - 1 }));
        refusedAllocation = GC.GetAllocatedBytesForCurrentThread() - refusedAllocation;
        Assert.Equal(budget, refused.DecodedBytes);
        Assert.Contains($"at most {budget - 1} bytes (ImageDecodeOptions.MaxDecodedBytes)", refused.Message, StringComparison.Ordinal);
        Assert.True(refusedAllocation < FixedAllocationSlack + (kind == "jpeg-multiscan" ? budget : 0), $"{kind}: refusing allocated {refusedAllocation} bytes");
    }

    private static byte[] BudgetFile(string kind)
    {
        var random = new Random(7);
        int[] Samples(int count, int max) => Enumerable.Range(0, count).Select(_ => random.Next(max + 1)).ToArray();
        return kind switch
        {
            "png-rgba16" => ImagingTestSupport.Png(512, 384, colorType: 6, bitDepth: 16, Samples(512 * 384 * 4, 65535)),
            "png-palette8" => ImagingTestSupport.Png(512, 384, colorType: 3, bitDepth: 8, Samples(512 * 384, 255), Palette()),
            "png-grey1" => ImagingTestSupport.Png(1024, 768, colorType: 0, bitDepth: 1, Samples(1024 * 768, 1)),
            "jpeg-baseline-640x480" => File.ReadAllBytes(ImagingTestSupport.Preprocess("photo_640x480_q90.jpg")),
            "jpeg-progressive-640x480" => JpegDecoderTests.Fixture("photo_progressive.jpg"),
            "jpeg-multiscan" => JpegDecoderTests.Fixture("seq3_35x27.jpg"),
            "gif" => ImagingTestSupport.Gif(512, 384, Palette(), 0, 0, 512, 384, Samples(512 * 384, 255).Select(v => (byte)v).ToArray()),
            "bmp" => ImagingTestSupport.Bmp24(512, 384, Samples(512 * 384 * 3, 255).Select(v => (byte)v).ToArray()),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    private static byte[] Palette()
    {
        var palette = new byte[768];
        for (int i = 0; i < 256; i++)
        {
            palette[3 * i] = (byte)i;
            palette[(3 * i) + 1] = (byte)(255 - i);
            palette[(3 * i) + 2] = (byte)(i * 37);
        }

        return palette;
    }

    private static int IndexOf(byte[] data, ReadOnlySpan<byte> value) => data.AsSpan().IndexOf(value);
}
