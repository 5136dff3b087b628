using System;
using System.Buffers.Binary;
using System.IO;
using System.Runtime.InteropServices;
using StbImageSharp;

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
/// <para>Pixel decoding is StbImageSharp's (a C# port of stb_image). On top of it this class makes the result agree
/// with PIL's <c>convert("RGB")</c>:</para>
/// <list type="bullet">
/// <item>grey (and grey+alpha) is replicated into R, G, B; alpha is dropped, never composited onto a background;</item>
/// <item>palette images take their palette colours; PNG <c>tRNS</c> transparency is ignored;</item>
/// <item>GIF: the first frame only, with its palette colours — transparency ignored (a transparent pixel shows the
/// palette colour of the transparent index, as in PIL) and pixels outside the first frame's rectangle take the
/// transparent index's colour if there is one, else palette entry 0 (PIL fills the canvas with that index). The
/// GIF's background colour is not used. (stb_image alone would return transparent black or the background
/// colour there, so the decoder hands stb a copy with transparency and background cleared.)</item>
/// <item>16-bit PNG: RGB, RGBA and grey+alpha keep the high byte of each sample (PIL's <c>RGB;16B</c>-style
/// unpackers do the same); <b>16-bit grey</b> opens in PIL as a 32-bit integer image and <c>convert("RGB")</c>
/// <b>clamps</b> each sample to 0–255 (so 300 becomes 255 and 200 stays 200). This decoder follows PIL (clamps),
/// not stb_image (which would keep the high byte): what matters is agreeing with the reference pipeline.</item>
/// <item>JPEG: stb_image's IDCT and chroma upsampling differ from libjpeg's (PIL's): expect differences of a few
/// levels per sample; everything after decoding is exact. CMYK/YCCK JPEGs are converted by stb, not PIL's formula.</item>
/// <item>EXIF orientation is not applied (neither does <c>Image.open</c>; HF's <c>load_image</c> helper does).</item>
/// </list>
/// <para>Before stb sees the data, the container is walked (PNG chunks, JPEG marker segments and entropy-coded
/// scans, GIF blocks of the first frame, BMP pixel-array size) so that truncated or malformed files raise
/// <see cref="ImageDecodeException"/> with a precise message — and because stb_image can loop forever on some
/// truncated JPEG headers. The header's size is checked against <see cref="ImageDecodeOptions"/> before any pixel
/// memory is allocated. PNG CRCs are not verified (PIL verifies them). A PNG that ends cleanly after its image
/// data but lacks the IEND chunk is accepted, as PIL accepts it.</para>
/// </remarks>
public static class ImageDecoder
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
    private static readonly byte[] PngIend = [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82];

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
    /// <param name="options">Size limits; <see cref="ImageDecodeOptions.Default"/> when null.</param>
    /// <exception cref="UnsupportedImageFormatException">Not PNG, JPEG, BMP or GIF, or an unsupported variant.</exception>
    /// <exception cref="ImageTooLargeException">The header declares a size over the limits.</exception>
    /// <exception cref="ImageDecodeException">The data is corrupt or truncated.</exception>
    public static RgbImage Decode(byte[] data, string? sourceName = null, ImageDecodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= ImageDecodeOptions.Default;
        ImageFormat format = DetectFormat(data);
        HeaderInfo header = format switch
        {
            ImageFormat.Png => WalkPng(data, sourceName),
            ImageFormat.Jpeg => WalkJpeg(data, sourceName),
            ImageFormat.Bmp => WalkBmp(data, sourceName),
            ImageFormat.Gif => WalkGif(data, sourceName),
            _ => throw new UnsupportedImageFormatException(
                sourceName,
                "a PNG, JPEG, BMP or GIF file",
                data.Length == 0 ? "an empty file" : $"data starting with {Hex(data.AsSpan(0, Math.Min(8, data.Length)))}"),
        };

        if (header.Width <= 0 || header.Height <= 0)
        {
            throw new ImageDecodeException(sourceName, $"a positive image size in the {format} header", $"{header.Width}×{header.Height}");
        }

        if (header.Width > options.MaxSide || header.Height > options.MaxSide || (long)header.Width * header.Height > options.MaxPixels)
        {
            throw new ImageTooLargeException(sourceName, header.Width, header.Height, options);
        }

        RgbImage image;
        try
        {
            image = format switch
            {
                ImageFormat.Png when header.Grey16 => DecodeGrey16Png(header.Data),
                ImageFormat.Gif => DecodeGif(header),
                _ => DecodeRgb(header.Data),
            };
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or ImageDecodeException))
        {
            string reason = string.IsNullOrEmpty(ex.Message) ? ex.GetType().Name : ex.Message;
            throw new ImageDecodeException(sourceName, $"valid {format} image data", $"data the decoder rejected ({reason})", ex);
        }

        if (image.Width != header.Width || image.Height != header.Height)
        {
            throw new ImageDecodeException(sourceName, $"a {header.Width}×{header.Height} image as the header says", $"{image.Width}×{image.Height} decoded");
        }

        return image;
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

    // ---------------------------------------------------------------- decoding

    private static RgbImage DecodeRgb(byte[] data)
    {
        ImageResult result = ImageResult.FromMemory(data, ColorComponents.RedGreenBlue);
        return new RgbImage(result.Width, result.Height, result.Data);
    }

    /// <summary>
    /// 16-bit grey PNG, PIL-style: the samples are read at full precision and clamped to 0–255 (PIL opens the file as
    /// mode I and <c>convert("RGB")</c> clips). stb_image's 16-bit loader is used through its public C-port entry
    /// point; StbImageSharp 2.30 allocates its result with <c>Marshal.AllocHGlobal</c>, so it is freed with
    /// <c>Marshal.FreeHGlobal</c>.
    /// </summary>
    private static unsafe RgbImage DecodeGrey16Png(byte[] data)
    {
        using var stream = new MemoryStream(data, writable: false);
        var context = new StbImage.stbi__context(stream);
        int x, y, comp;
        ushort* samples = StbImage.stbi__load_and_postprocess_16bit(context, &x, &y, &comp, 1);
        if (samples == null)
        {
            throw new InvalidOperationException(StbImage.stbi__g_failure_reason);
        }

        try
        {
            var image = new RgbImage(x, y);
            Span<byte> rgb = image.Pixels;
            var grey = new ReadOnlySpan<ushort>(samples, checked(x * y));
            for (int i = 0; i < grey.Length; i++)
            {
                byte v = grey[i] > 255 ? (byte)255 : (byte)grey[i];
                rgb[3 * i] = v;
                rgb[(3 * i) + 1] = v;
                rgb[(3 * i) + 2] = v;
            }

            return image;
        }
        finally
        {
            Marshal.FreeHGlobal((IntPtr)samples);
        }
    }

    /// <summary>
    /// GIF, first frame, PIL-style: stb decodes a copy whose transparency flags and background index are cleared, so
    /// that every pixel of the frame gets its palette colour; pixels outside the frame stay untouched (alpha 0) and
    /// get the colour PIL gives them.
    /// </summary>
    private static RgbImage DecodeGif(HeaderInfo header)
    {
        byte[] patched = (byte[])header.Data.Clone();
        patched[11] = 0; // background colour index: stb paints undrawn pixels with it when it is non-zero
        foreach (int offset in header.GifTransparencyFlagOffsets)
        {
            patched[offset] &= 0xFE;
        }

        ImageResult result = ImageResult.FromMemory(patched, ColorComponents.RedGreenBlueAlpha);
        byte[] rgba = result.Data;
        ReadOnlySpan<byte> palette = header.Data.AsSpan(header.GifPaletteOffset, header.GifPaletteEntries * 3);
        int fillIndex = header.GifTransparentIndex >= 0 ? header.GifTransparentIndex : 0;
        byte fr = 0, fg = 0, fb = 0;
        if (fillIndex < header.GifPaletteEntries)
        {
            fr = palette[3 * fillIndex];
            fg = palette[(3 * fillIndex) + 1];
            fb = palette[(3 * fillIndex) + 2];
        }

        var image = new RgbImage(result.Width, result.Height);
        Span<byte> rgb = image.Pixels;
        for (int i = 0, n = result.Width * result.Height; i < n; i++)
        {
            if (rgba[(4 * i) + 3] == 0)
            {
                rgb[3 * i] = fr;
                rgb[(3 * i) + 1] = fg;
                rgb[(3 * i) + 2] = fb;
            }
            else
            {
                rgb[3 * i] = rgba[4 * i];
                rgb[(3 * i) + 1] = rgba[(4 * i) + 1];
                rgb[(3 * i) + 2] = rgba[(4 * i) + 2];
            }
        }

        return image;
    }

    // ---------------------------------------------------------------- container walks

    private sealed class HeaderInfo
    {
        public HeaderInfo(byte[] data) => Data = data;

        public byte[] Data { get; set; }

        public int Width { get; set; }

        public int Height { get; set; }

        public bool Grey16 { get; set; }

        public int GifPaletteOffset { get; set; }

        public int GifPaletteEntries { get; set; }

        public int GifTransparentIndex { get; set; } = -1;

        public System.Collections.Generic.List<int> GifTransparencyFlagOffsets { get; } = [];
    }

    private static HeaderInfo WalkPng(byte[] data, string? name)
    {
        var info = new HeaderInfo(data);
        int pos = 8;
        bool first = true, sawIdat = false;
        while (true)
        {
            if (pos == data.Length && sawIdat)
            {
                // Ends cleanly after the image data without IEND: PIL accepts this; stb needs the IEND chunk.
                byte[] completed = new byte[data.Length + PngIend.Length];
                data.CopyTo(completed, 0);
                PngIend.CopyTo(completed, data.Length);
                info.Data = completed;
                break;
            }

            if (pos + 8 > data.Length)
            {
                throw Truncated(name, "PNG", "a complete PNG chunk header", pos, data.Length);
            }

            uint length = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(pos));
            ReadOnlySpan<byte> type = data.AsSpan(pos + 4, 4);
            string typeText = ChunkName(type);
            if (length > int.MaxValue)
            {
                throw new ImageDecodeException(name, "a PNG chunk length below 2^31", $"{length} for chunk '{typeText}' at byte {pos}");
            }

            if (first)
            {
                if (type.SequenceEqual("CgBI"u8))
                {
                    throw new UnsupportedImageFormatException(name, "a standard PNG", "an Apple CgBI ('crushed') PNG, which PIL cannot read either");
                }

                if (!type.SequenceEqual("IHDR"u8) || length != 13)
                {
                    throw new ImageDecodeException(name, "an IHDR chunk of 13 bytes first", $"'{typeText}' of {length} bytes");
                }
            }

            if (type.SequenceEqual("IEND"u8))
            {
                break;
            }

            long end = (long)pos + 12 + length;
            if (end > data.Length)
            {
                throw Truncated(name, "PNG", $"the whole '{typeText}' chunk ({length} bytes of data from byte {pos + 8})", pos, data.Length);
            }

            if (first)
            {
                ReadOnlySpan<byte> ihdr = data.AsSpan(pos + 8, 13);
                uint w = BinaryPrimitives.ReadUInt32BigEndian(ihdr);
                uint h = BinaryPrimitives.ReadUInt32BigEndian(ihdr[4..]);
                info.Width = (int)Math.Min(w, int.MaxValue);
                info.Height = (int)Math.Min(h, int.MaxValue);
                byte bitDepth = ihdr[8], colorType = ihdr[9];
                info.Grey16 = bitDepth == 16 && colorType == 0;
            }

            if (type.SequenceEqual("IDAT"u8))
            {
                sawIdat = true;
            }

            first = false;
            pos = (int)end;
        }

        if (!sawIdat)
        {
            throw new ImageDecodeException(name, "at least one IDAT chunk before IEND", "none");
        }

        return info;
    }

    private static HeaderInfo WalkJpeg(byte[] data, string? name)
    {
        var info = new HeaderInfo(data);
        int pos = 2;
        bool sawFrame = false, sawScan = false;
        while (true)
        {
            // Bytes other than 0xFF between segments: libjpeg skips them with a warning; so do we.
            while (pos < data.Length && data[pos] != 0xFF)
            {
                pos++;
            }

            while (pos < data.Length && data[pos] == 0xFF)
            {
                pos++; // fill bytes
            }

            if (pos >= data.Length)
            {
                throw Truncated(name, "JPEG", sawScan ? "the EOI marker after the scans" : "a complete JPEG header", pos, data.Length);
            }

            byte marker = data[pos++];
            if (marker == 0xD9)
            {
                break; // EOI
            }

            if (marker is (>= 0xD0 and <= 0xD7) or 0x01 or 0xD8)
            {
                continue; // stand-alone markers
            }

            if (pos + 2 > data.Length)
            {
                throw Truncated(name, "JPEG", $"the length of segment 0xFF{marker:X2}", pos, data.Length);
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(pos));
            if (length < 2)
            {
                throw new ImageDecodeException(name, "a JPEG segment length of at least 2", $"{length} in segment 0xFF{marker:X2} at byte {pos - 2}");
            }

            if (pos + length > data.Length)
            {
                throw Truncated(name, "JPEG", $"the whole 0xFF{marker:X2} segment ({length} bytes from byte {pos})", pos, data.Length);
            }

            bool isFrame = marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC;
            if (isFrame)
            {
                if (marker is not (0xC0 or 0xC1 or 0xC2))
                {
                    string kind = marker is >= 0xC9 ? "arithmetic-coded" : marker == 0xC3 ? "lossless" : "hierarchical";
                    throw new UnsupportedImageFormatException(name, "a baseline, extended or progressive Huffman JPEG", $"a {kind} JPEG (SOF 0xFF{marker:X2})");
                }

                if (length < 8)
                {
                    throw new ImageDecodeException(name, "a JPEG frame header of at least 8 bytes", $"{length}");
                }

                byte precision = data[pos + 2];
                if (precision != 8)
                {
                    throw new UnsupportedImageFormatException(name, "an 8-bit JPEG", $"{precision}-bit samples");
                }

                info.Height = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(pos + 3));
                info.Width = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(pos + 5));
                sawFrame = true;
            }

            pos += length;
            if (marker == 0xDA)
            {
                if (!sawFrame)
                {
                    throw new ImageDecodeException(name, "a frame header (SOF) before the first scan", "a scan (SOS) first");
                }

                sawScan = true;

                // Entropy-coded data runs to the next marker other than a stuffed 0xFF00 or a restart marker.
                while (true)
                {
                    int ff = data.AsSpan(pos).IndexOf((byte)0xFF);
                    if (ff < 0 || pos + ff + 1 >= data.Length)
                    {
                        throw Truncated(name, "JPEG", "the end of the entropy-coded scan and the EOI marker", data.Length, data.Length);
                    }

                    pos += ff;
                    byte next = data[pos + 1];
                    if (next == 0x00 || next == 0xFF || next is >= 0xD0 and <= 0xD7)
                    {
                        pos += next == 0xFF ? 1 : 2;
                        continue;
                    }

                    break;
                }
            }
        }

        if (!sawFrame || !sawScan)
        {
            throw new ImageDecodeException(name, "a JPEG with a frame header and at least one scan", sawFrame ? "no scan" : "no frame header");
        }

        return info;
    }

    private static HeaderInfo WalkBmp(byte[] data, string? name)
    {
        var info = new HeaderInfo(data);
        if (data.Length < 26)
        {
            throw Truncated(name, "BMP", "a complete BMP header", 0, data.Length);
        }

        uint offBits = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(10));
        uint dibSize = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(14));
        long width, height;
        int bpp;
        uint compression = 0;
        if (dibSize == 12)
        {
            width = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(18));
            height = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(20));
            bpp = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(24));
        }
        else if (dibSize is 40 or 52 or 56 or 108 or 124)
        {
            if (data.Length < 34)
            {
                throw Truncated(name, "BMP", "a complete BITMAPINFOHEADER", 14, data.Length);
            }

            width = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(18));
            height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(22)));
            bpp = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(28));
            compression = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(30));
        }
        else
        {
            throw new UnsupportedImageFormatException(name, "a BMP info header of 12, 40, 52, 56, 108 or 124 bytes", $"{dibSize} bytes");
        }

        if (compression is 1 or 2 or 4 or 5)
        {
            throw new UnsupportedImageFormatException(name, "an uncompressed or bit-field BMP", $"compression {compression} (RLE, JPEG or PNG inside BMP)");
        }

        if (bpp is not (1 or 4 or 8 or 16 or 24 or 32))
        {
            throw new UnsupportedImageFormatException(name, "1, 4, 8, 16, 24 or 32 bits per pixel", $"{bpp}");
        }

        info.Width = (int)Math.Clamp(width, int.MinValue, int.MaxValue);
        info.Height = (int)Math.Clamp(height, int.MinValue, int.MaxValue);
        if (width > 0 && height > 0)
        {
            long rowBytes = ((width * bpp) + 31) / 32 * 4;
            long needed = offBits + (rowBytes * height);
            if (needed > data.Length)
            {
                throw Truncated(name, "BMP", $"{rowBytes * height} bytes of pixels from byte {offBits}", data.Length, data.Length);
            }
        }

        return info;
    }

    private static HeaderInfo WalkGif(byte[] data, string? name)
    {
        var info = new HeaderInfo(data);
        if (data.Length < 13)
        {
            throw Truncated(name, "GIF", "a complete logical screen descriptor", 6, data.Length);
        }

        info.Width = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(6));
        info.Height = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(8));
        byte flags = data[10];
        int pos = 13;
        int globalOffset = -1, globalEntries = 0;
        if ((flags & 0x80) != 0)
        {
            globalEntries = 2 << (flags & 7);
            globalOffset = pos;
            pos += 3 * globalEntries;
        }

        int transparent = -1;
        while (true)
        {
            if (pos >= data.Length)
            {
                throw Truncated(name, "GIF", "an image descriptor for the first frame", pos, data.Length);
            }

            byte block = data[pos++];
            if (block == 0x21)
            {
                if (pos >= data.Length)
                {
                    throw Truncated(name, "GIF", "an extension label", pos, data.Length);
                }

                byte label = data[pos++];
                if (label == 0xF9 && pos + 5 <= data.Length && data[pos] >= 4)
                {
                    // Graphic control extension: the last one before the image governs its transparency.
                    bool hasTransparency = (data[pos + 1] & 1) != 0;
                    transparent = hasTransparency ? data[pos + 4] : -1;
                    if (hasTransparency)
                    {
                        info.GifTransparencyFlagOffsets.Add(pos + 1);
                    }
                }

                pos = SkipSubBlocks(data, pos, name);
            }
            else if (block == 0x2C)
            {
                if (pos + 9 > data.Length)
                {
                    throw Truncated(name, "GIF", "a complete image descriptor", pos, data.Length);
                }

                byte imageFlags = data[pos + 8];
                pos += 9;
                if ((imageFlags & 0x80) != 0)
                {
                    info.GifPaletteEntries = 2 << (imageFlags & 7);
                    info.GifPaletteOffset = pos;
                    pos += 3 * info.GifPaletteEntries;
                }
                else if (globalOffset >= 0)
                {
                    info.GifPaletteEntries = globalEntries;
                    info.GifPaletteOffset = globalOffset;
                }
                else
                {
                    throw new UnsupportedImageFormatException(name, "a GIF with a global or local colour table", "neither");
                }

                if (pos >= data.Length)
                {
                    throw Truncated(name, "GIF", "the LZW code size of the first frame", pos, data.Length);
                }

                pos = SkipSubBlocks(data, pos + 1, name);
                break;
            }
            else if (block == 0x3B)
            {
                throw new ImageDecodeException(name, "at least one frame in the GIF", "the trailer before any image");
            }
            else
            {
                throw new ImageDecodeException(name, "a GIF block (0x21 extension, 0x2C image or 0x3B trailer)", $"0x{block:X2} at byte {pos - 1}");
            }
        }

        info.GifTransparentIndex = transparent;
        return info;
    }

    private static int SkipSubBlocks(byte[] data, int pos, string? name)
    {
        while (true)
        {
            if (pos >= data.Length)
            {
                throw Truncated(name, "GIF", "the rest of a data sub-block chain", pos, data.Length);
            }

            int size = data[pos++];
            if (size == 0)
            {
                return pos;
            }

            pos += size;
        }
    }

    private static ImageDecodeException Truncated(string? name, string format, string expected, int at, int length) =>
        new(name, expected, $"a truncated {format} file (the data ends at byte {length}{(at < length ? $", reading at byte {at}" : string.Empty)})");

    private static string ChunkName(ReadOnlySpan<byte> type)
    {
        Span<char> chars = stackalloc char[4];
        for (int i = 0; i < 4; i++)
        {
            chars[i] = type[i] is >= 0x20 and < 0x7F ? (char)type[i] : '?';
        }

        return new string(chars);
    }

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);
}
