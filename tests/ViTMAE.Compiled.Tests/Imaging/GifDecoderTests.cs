using System;
using System.Diagnostics;
using System.IO;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Imaging.Codecs;
using Xunit.Abstractions;

namespace ViTMAE.Compiled.Tests.Imaging;

/// <summary>
/// The managed GIF decoder and its LZW: PIL's first-frame colours, the canvas rules, and bounded, typed behaviour on
/// hostile files. PIL's own results on LZW and block edge cases are checked in <see cref="PilFixtureTests"/>.
/// </summary>
public sealed class GifDecoderTests
{
    private readonly ITestOutputHelper _output;

    public GifDecoderTests(ITestOutputHelper output) => _output = output;

    private static RgbImage Decode(byte[] data) => GifDecoder.Decode(data, "test.gif", ImageDecodeOptions.Default);

    /// <summary>35 bytes: a 16384×6103 logical screen (300 MB of RGB) and one 1×1 frame.</summary>
    internal static byte[] ScreenBomb()
    {
        byte[] gif =
        [
            .. "GIF89a"u8, 0x00, 0x40, 0xD7, 0x17, 0x80, 0, 0, // 16384×6103, 2-entry global table
            0, 0, 0, 255, 255, 255,
            0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, // 1×1 frame at (0, 0)
            2, 2, 0x44, 0x01, 0, // LZW: clear, 0, end
            0x3B,
        ];
        Assert.Equal(35, gif.Length);
        return gif;
    }

    [Fact]
    public void Logical_screen_bomb_hits_the_budget_without_allocating()
    {
        byte[] gif = ScreenBomb();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var ex = Assert.Throws<ImageTooLargeException>(() => Decode(gif));
        clock.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        _output.WriteLine($"GIF screen bomb: {clock.Elapsed.TotalMilliseconds:F2} ms, {allocated} bytes allocated: {ex.Message}");
        Assert.Equal(16384L * 6103 * 3, ex.DecodedBytes);
        Assert.True(allocated < 64 * 1024, $"allocated {allocated} bytes");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");

        // With a budget that allows it, the same kind of file decodes: the screen filled with entry 0, the pixel drawn.
        byte[] small = (byte[])gif.Clone();
        small[6] = 3; // width 3
        small[7] = 0;
        RgbImage image = GifDecoder.Decode(small, "screen.gif", ImageDecodeOptions.Default);
        Assert.Equal((3, 6103), (image.Width, image.Height));
        Assert.True(image.Pixels.AsSpan().IndexOfAnyExcept((byte)0) < 0); // entry 0 and the drawn index 0 are black
    }

    [Fact]
    public void A_frame_past_the_screen_grows_the_image_like_PIL_and_is_size_checked()
    {
        byte[] palette = new byte[768];
        palette[3] = 200;
        byte[] gif = ImagingTestSupport.Gif(2, 2, palette, 1, 1, 2, 3, [1, 1, 1, 1, 1, 1]);
        RgbImage image = Decode(gif);
        Assert.Equal((3, 4), (image.Width, image.Height));
        Assert.Equal(0, image.Pixels[0]); // outside the frame: entry 0
        Assert.Equal(200, image.Pixels[((1 * 3) + 1) * 3]);

        byte[] far = ImagingTestSupport.Gif(10, 10, palette, 16000, 0, 1000, 1, new byte[1000]);
        Assert.Equal(17000, Assert.Throws<ImageTooLargeException>(() => Decode(far)).Width);
    }

    [Fact]
    public void Lzw_deferred_clear_and_long_streams_decode()
    {
        // 200×150 of noise: the table fills (4096 entries) many times; the builder clears every 200 codes, the PIL-made
        // fixture with a full table relies on the deferred clear.
        byte[] indices = ImagingTestSupport.RandomBytes(200 * 150, 8);
        byte[] palette = ImagingTestSupport.RandomBytes(768, 9);
        RgbImage image = Decode(ImagingTestSupport.Gif(200, 150, palette, 0, 0, 200, 150, indices));
        for (int i = 0; i < indices.Length; i++)
        {
            Assert.True(image.Pixels.AsSpan(3 * i, 3).SequenceEqual(palette.AsSpan(3 * indices[i], 3)), $"pixel {i}");
        }

        (int w, int h, byte[] rgb) = PilFixtureTests.Expected(Path.Combine(PilFixtureTests.Directory, "gif_table_full_deferred_clear.gif.rgb"));
        RgbImage full = Decode(File.ReadAllBytes(Path.Combine(PilFixtureTests.Directory, "gif_table_full_deferred_clear.gif")));
        Assert.Equal((w, h), (full.Width, full.Height));
        Assert.Equal(rgb, full.Pixels);
    }

    [Fact]
    public void Lzw_errors_are_typed()
    {
        foreach (string file in new[] { "gif_code_past_next.gif", "gif_first_code_not_literal.gif", "gif_early_end_code.gif", "gif_min_code_size_13.gif", "gif_zero_width_frame.gif" })
        {
            var ex = Assert.Throws<ImageDecodeException>(() => Decode(File.ReadAllBytes(Path.Combine(PilFixtureTests.Directory, file))));
            _output.WriteLine($"{file}: {ex.Message}");
        }
    }

    [Fact]
    public void Truncation_at_every_byte_is_typed_or_the_same_image()
    {
        byte[] palette = ImagingTestSupport.RandomBytes(768, 1);
        byte[] gif = ImagingTestSupport.Gif(7, 5, palette, 1, 1, 5, 3, ImagingTestSupport.RandomBytes(15, 2), transparentIndex: 4);
        ImagingTestSupport.TruncateEverywhere(Decode, gif, "framed.gif");
        foreach (string file in new[] { "gif_written_by_pil_interlaced.gif", "gif_local_palette.gif", "gif_extensions_and_junk.gif" })
        {
            ImagingTestSupport.TruncateEverywhere(Decode, File.ReadAllBytes(Path.Combine(PilFixtureTests.Directory, file)), file);
        }
    }

    [Fact]
    public void Random_corruption_is_typed_and_deterministic()
    {
        var clock = Stopwatch.StartNew();
        int decoded = 0;
        foreach (string file in new[] { "gif_written_by_pil_interlaced.gif", "gif_runs.gif", "gif_local_palette.gif", "gif_frame_inside_transparent.gif" })
        {
            byte[] gif = File.ReadAllBytes(Path.Combine(PilFixtureTests.Directory, file));
            decoded += ImagingTestSupport.FlipBits(Decode, gif, 500, file.Length, file);

            // The same number again around the frame descriptor (and its graphic control extension), where sizes and flags live.
            int descriptor = gif.AsSpan(13).IndexOf((byte)0x2C) + 13;
            decoded += ImagingTestSupport.FlipBits(Decode, gif, 500, file.Length + 1, file + " (descriptor)", null, Math.Max(0, descriptor - 8), descriptor + 12);
            decoded += ImagingTestSupport.FlipBits(Decode, gif, 100, file.Length + 2, file + " (screen)", null, 0, 13);
        }

        _output.WriteLine($"4400 corrupt GIFs: {decoded} decoded, the rest typed errors, {clock.Elapsed.TotalMilliseconds:F0} ms");
    }
}
