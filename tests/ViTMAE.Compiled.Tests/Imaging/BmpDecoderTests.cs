using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Imaging.Codecs;
using Xunit.Abstractions;

namespace ViTMAE.Compiled.Tests.Imaging;

/// <summary>
/// The managed BMP decoder: header variants, bit depths and bit-field layouts, PIL's 16-bit scaling, and bounded,
/// typed behaviour on hostile files. PIL's own results on every variant are checked in <see cref="PilFixtureTests"/>.
/// </summary>
public sealed class BmpDecoderTests
{
    private readonly ITestOutputHelper _output;

    public BmpDecoderTests(ITestOutputHelper output) => _output = output;

    private static RgbImage Decode(byte[] data) => BmpDecoder.Decode(data, "test.bmp", ImageDecodeOptions.Default);

    /// <summary>
    /// A BMP with an info header of <paramref name="headerSize"/> bytes; <paramref name="masks"/> follow a 40-byte header
    /// and sit inside larger ones (from byte 40 of the header).
    /// </summary>
    private static byte[] Bmp(int width, int height, int bpp, byte[] pixels, int headerSize = 40, int compression = 0, uint[]? masks = null, byte[]? palette = null)
    {
        palette ??= [];
        int masksAfter = headerSize == 40 && masks is not null ? 4 * masks.Length : 0;
        int offset = 14 + headerSize + masksAfter + palette.Length;
        var b = new byte[offset + pixels.Length];
        b[0] = (byte)'B';
        b[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(2), b.Length);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(10), offset);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(14), headerSize);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(28), (short)bpp);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(30), compression);
        for (int i = 0; masks is not null && i < masks.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(54 + (4 * i)), masks[i]);
        }

        palette.CopyTo(b, 14 + headerSize + masksAfter);
        pixels.CopyTo(b, offset);
        return b;
    }

    [Fact]
    public void Sixteen_bit_channels_scale_like_PIL_not_by_bit_replication()
    {
        // 5-5-5 (the BI_RGB default): v·255/31 truncated, so 4 -> 32 (bit replication would give 33).
        ushort[] values = [0x0000, 0x1084, 0x7FFF, 0x7C00, 0x03E0, 0x001F];
        var pixels = new byte[16];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(pixels.AsSpan(2 * i), values[i]);
        }

        byte[] rgb = Decode(Bmp(6, 1, 16, pixels)).Pixels;
        Assert.Equal(new byte[] { 0, 0, 0, 32, 32, 32, 255, 255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255 }, rgb);

        // 5-6-5 bit fields: green has 6 bits (v·255/63).
        byte[] rgb565 = Decode(Bmp(6, 1, 16, pixels, compression: 3, masks: [0xF800, 0x7E0, 0x1F])).Pixels;
        Assert.Equal(new byte[] { 0, 0, 0, 16, 16, 32, 123, 255, 255, 123, 129, 0, 0, 125, 0, 0, 0, 255 }, rgb565);
    }

    [Fact]
    public void Adobe_52_and_56_byte_headers_read_their_masks()
    {
        // PIL 9.4 refuses these headers; this decoder reads them as the 40-byte header with the masks inside.
        byte[] px565 = [0x00, 0xF8, 0, 0]; // red, 5-6-5
        Assert.Equal(new byte[] { 255, 0, 0 }, Decode(Bmp(1, 1, 16, px565, headerSize: 52, compression: 3, masks: [0xF800, 0x7E0, 0x1F])).Pixels);
        byte[] pxRgba = [10, 20, 30, 40];
        Assert.Equal(new byte[] { 10, 20, 30 }, Decode(Bmp(1, 1, 32, pxRgba, headerSize: 56, compression: 3, masks: [0xFF, 0xFF00, 0xFF0000, 0xFF000000])).Pixels);
        Assert.Equal(new byte[] { 30, 20, 10 }, Decode(Bmp(1, 1, 32, pxRgba, headerSize: 56)).Pixels);
    }

    [Fact]
    public void Top_down_and_bottom_up_rows()
    {
        byte[] pixels = [1, 2, 3, 0, 4, 5, 6, 0]; // two 1-pixel rows, each padded to 4 bytes
        Assert.Equal(new byte[] { 6, 5, 4, 3, 2, 1 }, Decode(Bmp(1, 2, 24, pixels)).Pixels);
        Assert.Equal(new byte[] { 3, 2, 1, 6, 5, 4 }, Decode(Bmp(1, -2, 24, pixels)).Pixels);
    }

    [Fact]
    public void Palette_indices_past_the_palette_are_grey_like_PIL()
    {
        byte[] palette = [30, 20, 10, 0, 60, 50, 40, 0]; // BGRX
        byte[] b = Bmp(4, 1, 8, [0, 1, 2, 200], palette: palette);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(46), 2); // biClrUsed
        Assert.Equal(new byte[] { 10, 20, 30, 40, 50, 60, 2, 2, 2, 200, 200, 200 }, Decode(b).Pixels);
    }

    [Fact]
    public void Compressed_and_odd_variants_are_unsupported()
    {
        Assert.Throws<UnsupportedImageFormatException>(() => Decode(Bmp(4, 1, 8, [0, 0, 0, 0], compression: 1, palette: new byte[1024])));
        Assert.Throws<UnsupportedImageFormatException>(() => Decode(Bmp(4, 1, 4, [0, 0, 0, 0], compression: 2, palette: new byte[64])));
        Assert.Throws<UnsupportedImageFormatException>(() => Decode(Bmp(1, 1, 24, [0, 0, 0, 0], compression: 4)));
        Assert.Throws<UnsupportedImageFormatException>(() => Decode(Bmp(1, 1, 24, [0, 0, 0, 0], compression: 5)));
        Assert.Throws<UnsupportedImageFormatException>(() => Decode(Bmp(1, 1, 16, [0, 0, 0, 0], compression: 3, masks: [0xF00, 0xF0, 0xF])));
        Assert.Throws<UnsupportedImageFormatException>(() => Decode(Bmp(1, 1, 2, [0, 0, 0, 0], palette: new byte[16])));
        Assert.Throws<UnsupportedImageFormatException>(() => Decode(Bmp(1, 1, 24, [0, 0, 0, 0], headerSize: 44)));
    }

    [Fact]
    public void Huge_headers_are_refused_before_allocating()
    {
        byte[] wide = Bmp(1, 1, 24, new byte[4]);
        BinaryPrimitives.WriteInt32LittleEndian(wide.AsSpan(18), 20000);
        Assert.Equal(20000, Assert.Throws<ImageTooLargeException>(() => Decode(wide)).Width);
        byte[] negativeWidth = Bmp(1, 1, 24, new byte[4]);
        BinaryPrimitives.WriteInt32LittleEndian(negativeWidth.AsSpan(18), -1); // unsigned in PIL: 4294967295
        Assert.Throws<ImageTooLargeException>(() => Decode(negativeWidth));

        // 16000×6000 is under the side and pixel limits, but its 288 MB of RGB is over the 256 MiB budget.
        byte[] big = Bmp(16000, 6000, 24, new byte[4]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<ImageTooLargeException>(() => Decode(big));
        Assert.Equal(16000L * 6000 * 3, ex.DecodedBytes);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024);
    }

    [Fact]
    public void Truncation_at_every_byte_is_typed_or_the_same_image()
    {
        ImagingTestSupport.TruncateEverywhere(Decode, ImagingTestSupport.Bmp24(5, 3, ImagingTestSupport.RandomBytes(45, 4)), "24.bmp");
        foreach (string file in new[] { "bmp_4bpp.bmp", "bmp_32bpp_v124_rgba.bmp", "bmp_16bpp_565.bmp", "bmp_8bpp_core.bmp" })
        {
            ImagingTestSupport.TruncateEverywhere(Decode, File.ReadAllBytes(Path.Combine(PilFixtureTests.Directory, file)), file);
        }
    }

    [Fact]
    public void Random_corruption_is_typed_and_deterministic()
    {
        var clock = Stopwatch.StartNew();
        int decoded = 0;
        foreach (string file in new[] { "bmp_8bpp.bmp", "bmp_1bpp_core.bmp", "bmp_16bpp_565.bmp", "bmp_32bpp_v108_abgr.bmp" })
        {
            byte[] bmp = File.ReadAllBytes(Path.Combine(PilFixtureTests.Directory, file));
            decoded += ImagingTestSupport.FlipBits(Decode, bmp, 500, file.Length, file);

            // Headers only: sizes, depths, compression, masks, palette sizes and offsets.
            decoded += ImagingTestSupport.FlipBits(Decode, bmp, 500, file.Length + 1, file + " (header)", null, 0, 70);
        }

        _output.WriteLine($"4000 corrupt BMPs: {decoded} decoded, the rest typed errors, {clock.Elapsed.TotalMilliseconds:F0} ms");
    }
}
