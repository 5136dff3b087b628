using System;
using System.IO;

namespace ViTMAE.Compiled.Imaging;

/// <summary>Container formats the decoder accepts.</summary>
public enum ImageFormat
{
    /// <summary>Not recognised.</summary>
    Unknown = 0,

    /// <summary>PNG (any bit depth and colour type; Adam7 interlacing included).</summary>
    Png,

    /// <summary>JPEG (baseline and progressive Huffman, 8-bit).</summary>
    Jpeg,

    /// <summary>Windows BMP (uncompressed or bit-field; no RLE).</summary>
    Bmp,

    /// <summary>GIF87a/GIF89a, first frame only.</summary>
    Gif,
}

/// <summary>
/// Decodes PNG, JPEG, BMP and GIF into an <see cref="RgbImage"/> the way Hugging Face's image processors see a file
/// after <c>PIL.Image.open(path).convert("RGB")</c>.
/// </summary>
/// <remarks>
/// <para>Every format is decoded by this library's own managed decoders (<c>Imaging/Codecs</c>), written to reproduce
/// PIL 9.4's results byte for byte (JPEG: libjpeg-turbo 2.1's integer IDCT, fancy upsampling and colour tables) and to
/// stay bounded on hostile files (sizes and decoded bytes checked from the header before anything is allocated; see
/// <see cref="ImageDecodeOptions"/>). The results agree with PIL's <c>convert("RGB")</c>:</para>
/// <list type="bullet">
/// <item>grey (and grey+alpha) is replicated into R, G, B; alpha is dropped, never composited onto a background;</item>
/// <item>palette images take their palette colours (PNG <c>tRNS</c> transparency is ignored); an index past the
/// palette, or a palette image without one, shows grey (i, i, i) as in PIL, whose palettes start as a grey ramp;</item>
/// <item>GIF: the first frame only, with its palette colours — transparency ignored (a transparent pixel shows the
/// palette colour of the transparent index, as in PIL) and pixels outside the first frame's rectangle take the
/// transparent index's colour if there is one, else palette entry 0 (PIL fills the canvas with that index). The
/// GIF's background colour is not used. The image is the logical screen, grown to hold a frame that reaches past
/// it, as PIL grows it.</item>
/// <item>16-bit PNG: RGB, RGBA and grey+alpha keep the high byte of each sample (PIL's <c>RGB;16B</c>-style
/// unpackers do the same); <b>16-bit grey</b> opens in PIL as a 32-bit integer image and <c>convert("RGB")</c>
/// <b>clamps</b> each sample to 0–255 (so 300 becomes 255 and 200 stays 200). This decoder follows PIL (clamps),
/// not stb_image (which would keep the high byte): what matters is agreeing with the reference pipeline.</item>
/// <item>BMP: 16-bit channels are scaled as PIL scales them (v·255/31, truncated); PIL's grey-palette shortcut is
/// mirrored. RLE and JPEG/PNG-in-BMP are refused as unsupported.</item>
/// <item>JPEG: baseline, extended and progressive Huffman, 8-bit, 1/3/4 components, any sampling; identical bytes to
/// PIL on libjpeg-turbo (its SIMD integer IDCT, fancy upsampling, YCbCr tables); CMYK/YCCK through PIL's inverted CMYK
/// and its <c>cmyk2rgb</c>; arithmetic-coded, lossless, hierarchical and 12-bit JPEGs are refused as unsupported.</item>
/// <item>EXIF orientation is not applied (neither does <c>Image.open</c>; HF's <c>load_image</c> helper does).</item>
/// </list>
/// <para>Every decoder checks the header's size against <see cref="ImageDecodeOptions"/> — including the budget of
/// decoded bytes (output plus intermediate buffers, such as PNG's filtered scanlines) — before allocating anything
/// sized by it, and raises only <see cref="ImageDecodeException"/> and its subtypes. PNG: CRCs of the chunks before
/// the image data are verified, as PIL verifies them; the zlib stream is inflated to the size the header implies and
/// a little past it, so a zlib bomb stops there; a PNG that ends cleanly after its image data but lacks the IEND
/// chunk is accepted, as PIL accepts it. The decoders' own remarks list the PIL rules each one follows and the few
/// places where it is stricter than PIL.</para>
/// </remarks>
public static class ImageDecoder
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Reads and decodes the image file at <paramref name="path"/>.</summary>
    /// <exception cref="ImageFileNotFoundException">The file does not exist or cannot be read.</exception>
    /// <exception cref="UnsupportedImageFormatException">Not PNG, JPEG, BMP or GIF, or an unsupported variant.</exception>
    /// <exception cref="ImageTooLargeException">The header declares a size over <paramref name="options"/>' limits.</exception>
    /// <exception cref="ImageDecodeException">The data is corrupt or truncated.</exception>
    public static RgbImage Load(string path, ImageDecodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] data;
        try
        {
            // Size first, without opening: a FIFO or a device reports 0 bytes, and opening or reading it can block forever.
            var file = new FileInfo(path);
            if (file.Exists && file.Length == 0)
            {
                throw new UnsupportedImageFormatException(path, "a PNG, JPEG, BMP or GIF file", "an empty file (a FIFO or a device reports 0 bytes too, and is not opened)");
            }

            data = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ImageFileNotFoundException(path, "no such file", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new ImageFileNotFoundException(path, $"a file that cannot be read ({ex.Message})", ex);
        }

        return Decode(data, path, options);
    }

    /// <summary>Decodes an encoded image held in memory.</summary>
    /// <param name="data">The encoded file contents.</param>
    /// <param name="sourceName">A name for error messages (e.g. the file or URL it came from).</param>
    /// <param name="options">Size limits and the decoded-bytes budget; <see cref="ImageDecodeOptions.Default"/> when null.</param>
    /// <exception cref="UnsupportedImageFormatException">Not PNG, JPEG, BMP or GIF, or an unsupported variant.</exception>
    /// <exception cref="ImageTooLargeException">The header declares a size over the limits, or decoding would need more memory than the budget.</exception>
    /// <exception cref="ImageDecodeException">The data is corrupt or truncated.</exception>
    public static RgbImage Decode(byte[] data, string? sourceName = null, ImageDecodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= ImageDecodeOptions.Default;
        ImageFormat format = DetectFormat(data);
        try
        {
            return format switch
            {
                ImageFormat.Png => Codecs.PngDecoder.Decode(data, sourceName, options),
                ImageFormat.Jpeg => Codecs.JpegDecoder.Decode(data, sourceName, options),
                ImageFormat.Bmp => Codecs.BmpDecoder.Decode(data, sourceName, options),
                ImageFormat.Gif => Codecs.GifDecoder.Decode(data, sourceName, options),
                _ => throw new UnsupportedImageFormatException(
                    sourceName,
                    "a PNG, JPEG, BMP or GIF file",
                    data.Length == 0 ? "an empty file" : $"data starting with {Codecs.Codec.Hex(data.AsSpan(0, Math.Min(8, data.Length)))}"),
            };
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or ImageDecodeException))
        {
            // Whatever a decoder throws on bad data becomes one typed error that names the file.
            string reason = string.IsNullOrEmpty(ex.Message) ? ex.GetType().Name : ex.Message;
            throw new ImageDecodeException(sourceName, $"valid {format} image data", $"data the decoder rejected ({reason})", ex);
        }
    }

    /// <summary>The format named by the first bytes (signature) of <paramref name="data"/>.</summary>
    public static ImageFormat DetectFormat(ReadOnlySpan<byte> data)
    {
        if (data.StartsWith(PngSignature))
        {
            return ImageFormat.Png;
        }

        if (data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        {
            return ImageFormat.Jpeg;
        }

        if (data.Length >= 2 && data[0] == (byte)'B' && data[1] == (byte)'M')
        {
            return ImageFormat.Bmp;
        }

        if (data.Length >= 6 && data[..3].SequenceEqual("GIF"u8) && (data[3..6].SequenceEqual("87a"u8) || data[3..6].SequenceEqual("89a"u8)))
        {
            return ImageFormat.Gif;
        }

        return ImageFormat.Unknown;
    }
}
