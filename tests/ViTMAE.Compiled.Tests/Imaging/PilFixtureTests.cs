using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ViTMAE.Compiled.Imaging;

namespace ViTMAE.Compiled.Tests.Imaging;

/// <summary>
/// PNG, GIF and BMP files of every kind (colour types, bit depths, filters, interlacing, palettes, header variants,
/// LZW edge cases, malformed files) against what PIL 9.4.0 made of them: <c>Fixtures/NAME.rgb</c> holds the pixels of
/// <c>Image.open(NAME).convert("RGB")</c>, <c>Fixtures/NAME.err</c> PIL's exception. Made by
/// <c>Fixtures/make_fixtures.py</c> with Debian 12's python3-pil.
/// </summary>
public sealed class PilFixtureTests
{
    /// <summary>Files PIL decodes that this library refuses on purpose, and why.</summary>
    private static readonly Dictionary<string, string> Refused = new(StringComparer.Ordinal)
    {
        ["bmp_rle8.bmp"] = "RLE BMPs are unsupported here (PIL 9.4 decodes them)",

        // PIL's grey shortcut reads these 4-bit files as 8-bit rows wider than the row stride: opened by path it
        // memory-maps the file and reads past each row (and past the end of the file); from memory it raises "codec
        // configuration error". The decoder follows the second.
        ["bmp_4bpp_grey_ramp_quirk.bmp"] = "8-bit rows wider than the stride",
        ["bmp_4bpp_grey_ramp_quirk_too_wide.bmp"] = "8-bit rows wider than the stride",
    };

    public static string Directory => Path.Combine(ViTMAE.Compiled.TestSupport.RepoPaths.RepoRoot, "tests", "ViTMAE.Compiled.Tests", "Imaging", "Fixtures");

    public static TheoryData<string> Files
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (string path in System.IO.Directory.GetFiles(Directory).Where(p => p.EndsWith(".png", StringComparison.Ordinal) || p.EndsWith(".gif", StringComparison.Ordinal) || p.EndsWith(".bmp", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            {
                data.Add(Path.GetFileName(path));
            }

            return data;
        }
    }

    /// <summary>Width, height and pixels of a <c>.rgb</c> file.</summary>
    public static (int Width, int Height, byte[] Rgb) Expected(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        return (BinaryPrimitives.ReadInt32LittleEndian(bytes), BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4)), bytes[8..]);
    }

    [Fact]
    public void Fixtures_are_there()
    {
        int count = System.IO.Directory.GetFiles(Directory, "*.rgb").Length + System.IO.Directory.GetFiles(Directory, "*.err").Length;
        Assert.True(count > 150, $"{count} fixtures in {Directory}");
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Decodes_like_PIL_9_4(string file)
    {
        string path = Path.Combine(Directory, file);
        byte[] data = File.ReadAllBytes(path);
        if (File.Exists(path + ".rgb"))
        {
            if (Refused.TryGetValue(file, out string? why))
            {
                Assert.ThrowsAny<ImageDecodeException>(() => ImageDecoder.Decode(data, file));
                return;
            }

            (int w, int h, byte[] rgb) = Expected(path + ".rgb");
            RgbImage image = ImageDecoder.Decode(data, file);
            Assert.Equal((w, h), (image.Width, image.Height));
            int diff = rgb.AsSpan().CommonPrefixLength(image.Pixels);
            Assert.True(diff == rgb.Length, $"{file}: first difference at byte {diff} (pixel {diff / 3}): PIL {(diff < rgb.Length ? rgb[diff] : -1)}, decoded {(diff < rgb.Length ? image.Pixels[diff] : -1)}");
        }
        else
        {
            string pil = File.ReadAllText(path + ".err").Trim();
            Exception? ex = Record.Exception(() => ImageDecoder.Decode(data, file));
            Assert.True(ex is ImageDecodeException, $"{file}: PIL refuses it ({pil}); decoded: {ex?.ToString() ?? "no error"}");
            Assert.True(ex!.InnerException is null or InvalidDataException, $"{file}: {ex}");
        }
    }
}
