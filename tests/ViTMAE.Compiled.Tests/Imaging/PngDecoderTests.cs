using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using System.Linq;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Imaging.Codecs;
using Xunit.Abstractions;

namespace ViTMAE.Compiled.Tests.Imaging;

/// <summary>
/// The managed PNG decoder: PIL's colours for every colour type and bit depth, and bounded, typed behaviour on hostile
/// files (zlib bombs, empty streams, truncation, corruption). PIL's own results on files of every kind are checked in
/// <see cref="PilFixtureTests"/>.
/// </summary>
public sealed class PngDecoderTests
{
    private readonly ITestOutputHelper _output;

    public PngDecoderTests(ITestOutputHelper output) => _output = output;

    public static TheoryData<int, int> ColourTypesAndDepths => new()
    {
        { 0, 1 }, { 0, 2 }, { 0, 4 }, { 0, 8 }, { 0, 16 },
        { 2, 8 }, { 2, 16 },
        { 3, 1 }, { 3, 2 }, { 3, 4 }, { 3, 8 },
        { 4, 8 }, { 4, 16 },
        { 6, 8 }, { 6, 16 },
    };

    private static RgbImage Decode(byte[] data) => PngDecoder.Decode(data, "test.png", ImageDecodeOptions.Default);

    [Theory]
    [MemberData(nameof(ColourTypesAndDepths))]
    public void Every_colour_type_and_bit_depth_converts_like_PIL(int colorType, int depth)
    {
        int channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        const int W = 11, H = 5;
        var rng = new Random((colorType * 100) + depth);
        int max = (1 << depth) - 1;
        int[] samples = Enumerable.Range(0, W * H * channels).Select(_ => rng.Next(max + 1)).ToArray();
        byte[] palette = ImagingTestSupport.RandomBytes(3 * 10, depth); // 10 entries: larger indices show grey
        byte[] png = ImagingTestSupport.Png(W, H, colorType, depth, samples, colorType == 3 ? palette : null);
        byte[] pixels = Decode(png).Pixels;
        for (int i = 0; i < W * H; i++)
        {
            int s = samples[i * channels];
            byte r, g, b;
            if (colorType == 3)
            {
                (r, g, b) = s < 10 ? (palette[3 * s], palette[(3 * s) + 1], palette[(3 * s) + 2]) : ((byte)s, (byte)s, (byte)s);
            }
            else if (colorType is 0 or 4)
            {
                byte v = depth switch { 16 when colorType == 0 => (byte)Math.Min(s, 255), 16 => (byte)(s >> 8), _ => (byte)(s * 255 / max) };
                (r, g, b) = (v, v, v);
            }
            else
            {
                int shift = depth == 16 ? 8 : 0;
                (r, g, b) = ((byte)(s >> shift), (byte)(samples[(i * channels) + 1] >> shift), (byte)(samples[(i * channels) + 2] >> shift));
            }

            Assert.True(pixels[3 * i] == r && pixels[(3 * i) + 1] == g && pixels[(3 * i) + 2] == b, $"pixel {i}: ({pixels[3 * i]}, {pixels[(3 * i) + 1]}, {pixels[(3 * i) + 2]}) != ({r}, {g}, {b})");
        }
    }

    [Fact]
    public void Zlib_bomb_under_a_small_header_stops_at_the_image_size()
    {
        // ~1 MB of IDAT that would inflate to 1 GiB, under a 64×64 RGB header (12 KB of scanlines).
        byte[] bomb = ImagingTestSupport.ZlibZeros(1024);
        byte[] png = ImagingTestSupport.PngFromChunks(("IHDR", ImagingTestSupport.Ihdr(64, 64, 8, 2)), ("IDAT", bomb), ("IEND", []));
        Assert.InRange(png.Length, 500_000, 2_000_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var ex = Assert.Throws<ImageDecodeException>(() => Decode(png));
        clock.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        _output.WriteLine($"zlib bomb ({png.Length} bytes): {clock.Elapsed.TotalMilliseconds:F1} ms, {allocated} bytes allocated: {ex.Message}");
        Assert.Contains("decompression bomb", ex.Message, StringComparison.Ordinal);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
    }

    [Fact]
    public void Zlib_bomb_stream_decodes_when_the_header_is_honest_about_its_size()
    {
        // The same construction, 1 MiB of zeros as 1024 rows of (filter 0, 1023 grey zeros): the stream itself is fine.
        byte[] png = ImagingTestSupport.PngFromChunks(("IHDR", ImagingTestSupport.Ihdr(1023, 1024, 8, 0)), ("IDAT", ImagingTestSupport.ZlibZeros(1)), ("IEND", []));
        RgbImage image = Decode(png);
        Assert.Equal(1023, image.Width);
        Assert.True(image.Pixels.AsSpan().IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Huge_header_hits_the_decoded_bytes_budget_before_allocating()
    {
        // 8000×8000 RGBA16: the RGB output (192 MB) fits the 256 MiB budget, the 512 MB of scanlines do not.
        byte[] png = ImagingTestSupport.PngFromChunks(("IHDR", ImagingTestSupport.Ihdr(8000, 8000, 16, 6)), ("IDAT", ImagingTestSupport.ZlibZeros(1)), ("IEND", []));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<ImageTooLargeException>(() => Decode(png));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal((8000L * 8000 * 3) + (8000L * (1 + (8000 * 8))), ex.DecodedBytes);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");

        // Adam7 counts every pass's rows and filter bytes.
        Assert.Equal(PngDecoder.RawSize(8, 8, 8, interlaced: false) + 15 - 8, PngDecoder.RawSize(8, 8, 8, interlaced: true));
    }

    [Fact]
    public void Empty_zlib_IDAT_is_a_typed_decode_error()
    {
        byte[] empty = ImagingTestSupport.PngFromChunks(("IHDR", ImagingTestSupport.Ihdr(2, 2, 8, 2)), ("IDAT", []), ("IEND", []));
        var ex = Assert.Throws<ImageDecodeException>(() => Decode(empty));
        Assert.Null(ex.InnerException);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);

        // A valid zlib stream of nothing, and the public entry point, say the same.
        byte[] nothing = ImagingTestSupport.PngFromChunks(("IHDR", ImagingTestSupport.Ihdr(2, 2, 8, 2)), ("IDAT", ImagingTestSupport.Zlib([])), ("IEND", []));
        Assert.Throws<ImageDecodeException>(() => Decode(nothing));
        Assert.IsType<ImageDecodeException>(Record.Exception(() => ImageDecoder.Decode(empty, "empty-idat.png")));
    }

    [Fact]
    public void All_five_filters_and_Adam7_match_PIL()
    {
        // PIL-decoded fixtures with random filters per row, interlaced and not (see Fixtures/make_fixtures.py).
        int checkedFiles = 0;
        foreach (string path in Directory.GetFiles(PilFixtureTests.Directory, "png_c*_adam7_*.png").Concat(Directory.GetFiles(PilFixtureTests.Directory, "png_c*_flat_*.png")))
        {
            (int w, int h, byte[] rgb) = PilFixtureTests.Expected(path + ".rgb");
            RgbImage image = Decode(File.ReadAllBytes(path));
            Assert.Equal((w, h), (image.Width, image.Height));
            Assert.True(rgb.AsSpan().SequenceEqual(image.Pixels), Path.GetFileName(path));
            checkedFiles++;
        }

        Assert.Equal(15 * 4, checkedFiles);
    }

    [Fact]
    public void Crc_is_verified_before_the_image_data_only()
    {
        byte[] png = ImagingTestSupport.Png(3, 2, 2, 8, Enumerable.Range(0, 18).ToArray());
        byte[] badIhdr = (byte[])png.Clone();
        badIhdr[29] ^= 1;
        Assert.Contains("CRC", Assert.Throws<ImageDecodeException>(() => Decode(badIhdr)).Message, StringComparison.Ordinal);

        int idat = png.AsSpan().IndexOf("IDAT"u8);
        int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(idat - 4));
        byte[] badIdatCrc = (byte[])png.Clone();
        badIdatCrc[idat + 4 + length] ^= 1;
        byte[] badIendCrc = (byte[])png.Clone();
        badIendCrc[^1] ^= 1;
        Assert.Equal(Decode(png).Pixels, Decode(badIdatCrc).Pixels);
        Assert.Equal(Decode(png).Pixels, Decode(badIendCrc).Pixels);
    }

    [Fact]
    public void CgBI_is_unsupported_and_bad_headers_are_typed()
    {
        byte[] cgbi = ImagingTestSupport.PngFromChunks(("CgBI", [0x50, 0x00, 0x20, 0x06]), ("IHDR", ImagingTestSupport.Ihdr(1, 1, 8, 2)));
        Assert.Throws<UnsupportedImageFormatException>(() => Decode(cgbi));
        byte[] badDepth = ImagingTestSupport.PngFromChunks(("IHDR", ImagingTestSupport.Ihdr(1, 1, 16, 3)), ("IDAT", ImagingTestSupport.Zlib([0, 0, 0])));
        Assert.Contains("bit depth 16 with colour type 3", Assert.Throws<ImageDecodeException>(() => Decode(badDepth)).Message, StringComparison.Ordinal);
        byte[] zeroWidth = ImagingTestSupport.PngFromChunks(("IHDR", ImagingTestSupport.Ihdr(0, 1, 8, 2)), ("IDAT", ImagingTestSupport.Zlib([0])));
        Assert.Throws<ImageDecodeException>(() => Decode(zeroWidth));
        byte[] noIdat = ImagingTestSupport.PngFromChunks(("IHDR", ImagingTestSupport.Ihdr(1, 1, 8, 2)), ("IEND", []));
        Assert.Throws<ImageDecodeException>(() => Decode(noIdat));
    }

    [Fact]
    public void Truncation_at_every_byte_is_typed_or_the_same_image()
    {
        var rng = new Random(5);
        int[] samples = Enumerable.Range(0, 9 * 6 * 3).Select(_ => rng.Next(256)).ToArray();
        byte[] png = ImagingTestSupport.Png(9, 6, 2, 8, samples);
        ImagingTestSupport.TruncateEverywhere(Decode, png, "rgb.png");
        byte[] adam7 = File.ReadAllBytes(Path.Combine(PilFixtureTests.Directory, "png_c3_d4_adam7_13x7.png"));
        ImagingTestSupport.TruncateEverywhere(Decode, adam7, "adam7.png");
        byte[] split = File.ReadAllBytes(Path.Combine(PilFixtureTests.Directory, "png_split_idat.png"));
        ImagingTestSupport.TruncateEverywhere(Decode, split, "split.png");
    }

    [Fact]
    public void Random_corruption_is_typed_and_deterministic()
    {
        var clock = Stopwatch.StartNew();
        int decoded = 0;
        foreach (string file in new[] { "png_c2_d8_flat_13x7.png", "png_c3_d2_adam7_13x7.png", "png_c0_d16_adam7_13x7.png", "png_c6_d16_flat_13x7.png" })
        {
            byte[] png = File.ReadAllBytes(Path.Combine(PilFixtureTests.Directory, file));

            // Anywhere (the CRCs catch most header damage) ...
            decoded += ImagingTestSupport.FlipBits(Decode, png, 500, file.Length, file);

            // ... and with the CRCs of the chunks before the image data fixed up, so that damaged headers get parsed.
            decoded += ImagingTestSupport.FlipBits(Decode, png, 500, file.Length + 1, file + " (CRCs fixed)", FixCrcs);
        }

        _output.WriteLine($"4000 corrupt PNGs: {decoded} decoded, the rest typed errors, {clock.Elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public void Golden_pngs_decode_exactly_and_a_file_cut_after_its_image_data_too()
    {
        foreach (string name in new[] { "rgb_gradient_300x200", "gray_160x120", "rgba_200x300" })
        {
            using var golden = ViTMAE.Compiled.Weights.SafeTensorsFile.Open(ImagingTestSupport.Preprocess(name + ".safetensors"));
            byte[] expected = golden.ReadUInt8("decoded_rgb_u8");
            byte[] png = File.ReadAllBytes(ImagingTestSupport.Preprocess(name + ".png"));
            Assert.True(expected.AsSpan().SequenceEqual(Decode(png).Pixels), name);

            // Without IEND and the last byte of the IDAT CRC: PIL 9.4 decodes it (nothing after the image data is read).
            Assert.True(expected.AsSpan().SequenceEqual(Decode(png[..^13]).Pixels), name + " cut");
        }
    }

    /// <summary>Recomputes the CRC of every complete chunk before the first IDAT.</summary>
    private static void FixCrcs(byte[] png)
    {
        int pos = 8;
        while (pos + 12 <= png.Length)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos));
            if (png.AsSpan(pos + 4, 4).SequenceEqual("IDAT"u8) || length > (uint)(png.Length - pos - 12))
            {
                return;
            }

            BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(pos + 8 + (int)length), Crc32(png.AsSpan(pos + 4, (int)length + 4)));
            pos += 12 + (int)length;
        }
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
        }

        return ~crc;
    }
}
