using System;
using System.Runtime.CompilerServices;
using System.Buffers.Binary;

namespace ViTMAE.Compiled.Imaging.Codecs;

/// <summary>
/// BMP decoder, written here rather than borrowed: stb_image (the previous decoder) allocates native memory we cannot
/// bound and scales 16-bit channels differently from PIL, and the BCL has no BMP decoder. Uncompressed and bit-field
/// BMPs only.
/// </summary>
/// <remarks>
/// <para>Behaviour follows PIL 9.4.0 (<c>BmpImagePlugin.py</c>, <c>Unpack.c</c>, <c>RawDecode.c</c>); each rule was
/// checked by running python3-pil 9.4.0 on hand-made files:</para>
/// <list type="bullet">
/// <item>Headers: BITMAPCOREHEADER (12 bytes: 16-bit unsigned sides, 3-byte palette entries, always bottom-up) and
/// the info headers of 40, 64 (OS/2 2.x, read as 40), 108 and 124 bytes; also 52 and 56 (the Adobe bit-field
/// headers), which PIL 9.4 refuses to open: here they are read as the 40-byte header with their masks inside.
/// Width is unsigned (a negative width is a huge image); the image is top-down only when the height's top byte is
/// 0xFF, and its height is then 2^32 − h, as in PIL.</item>
/// <item>Compression: BI_RGB, and BI_BITFIELDS with exactly the layouts PIL supports (16 bpp 5-6-5 and 5-5-5,
/// 24 bpp B-G-R, 32 bpp BGRX, XBGR, ABGR, RGBA, BGRA and all-zero masks = BGRA); other masks, RLE4/RLE8, JPEG and
/// PNG inside BMP are refused as unsupported (PIL decodes RLE; this decoder does not). The masks of a 40-byte
/// header follow it; larger headers hold them (alpha from 56 bytes on).</item>
/// <item>Bits per pixel: 1, 4, 8, 16, 24, 32 (2 is refused, as by PIL). 16-bit channels are scaled PIL's way,
/// v·255/31 and v·255/63 truncated (not bit replication); 32-bit BI_RGB ignores the fourth byte; alpha is dropped.</item>
/// <item>Palette (1/4/8 bpp): biClrUsed entries, or 2^bpp when it is 0 (always 2^bpp for the core header); more
/// than 256 is an error. Entries are read from just after the header (and masks), as many as the file holds. An
/// index past the palette is grey (i, i, i), because PIL's palettes start as a grey ramp. PIL's grey shortcut is
/// mirrored, including its quirks: a two-entry black/white palette makes PIL read the pixels as 1-bit ("1" mode),
/// and a palette whose entry i is (i, i, i) for every i makes it read them as 8-bit grey ("L" mode) — whatever the
/// file's bit depth, with the file's row stride (an 8-bit read wider than the stride is an error).</item>
/// <item>Pixel data starts at bfOffBits; 0 means right after the palette, and when bfOffBits points just past the
/// header of a palette image PIL adds 4 bytes per palette entry — both mirrored. Rows are padded to 4 bytes; the
/// whole padded pixel array must be present (PIL requires that when it memory-maps 8-bit files opened by path;
/// from memory it would accept a last row without its padding).</item>
/// </list>
/// </remarks>
internal static class BmpDecoder
{
    private const string Format = "BMP";

    private enum Layout
    {
        Indexed,
        Grey1,
        Grey8,
        Bgr15,
        Bgr16,
        Bytes24,
        Bytes32,
    }

    /// <summary>Decodes <paramref name="data"/> (a whole BMP file) into RGB, checking the header against <paramref name="options"/> first.</summary>
    public static RgbImage Decode(byte[] data, string? name, ImageDecodeOptions options)
    {
        if (data.Length < 18)
        {
            throw Codec.Truncated(name, Format, "a complete BMP file header", 0, data.Length);
        }

        long offset = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(10));
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(14));
        if (headerSize is not (12 or 40 or 52 or 56 or 64 or 108 or 124))
        {
            throw new UnsupportedImageFormatException(name, "a BMP info header of 12, 40, 52, 56, 64, 108 or 124 bytes", $"{headerSize} bytes");
        }

        if (data.Length < 14 + headerSize)
        {
            throw Codec.Truncated(name, Format, $"a complete {headerSize}-byte BMP info header", 14, data.Length);
        }

        long width, height;
        int bits;
        uint compression = 0, colors = 0;
        bool topDown = false;
        int paletteEntryBytes = 4;
        int pos = 14 + (int)headerSize;
        uint rMask = 0, gMask = 0, bMask = 0, aMask = 0;
        if (headerSize == 12)
        {
            width = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(18));
            height = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(20));
            bits = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(24));
            paletteEntryBytes = 3;
        }
        else
        {
            width = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(18));
            uint rawHeight = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(22));
            topDown = data[25] == 0xFF;
            height = topDown ? (1L << 32) - rawHeight : rawHeight;
            bits = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(28));
            compression = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(30));
            colors = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(46));
            if (compression == 3)
            {
                int maskAt = 54;
                if (headerSize == 40)
                {
                    if (data.Length < 66)
                    {
                        throw Codec.Truncated(name, Format, "the three bit-field masks after the BMP header", 54, data.Length);
                    }

                    pos = 66;
                }

                rMask = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(maskAt));
                gMask = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(maskAt + 4));
                bMask = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(maskAt + 8));
                aMask = headerSize >= 56 ? BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(maskAt + 12)) : 0;
            }
        }

        long paletteColors = colors != 0 ? colors : 1L << Math.Min(bits, 32);
        if (offset == 14 + headerSize && bits <= 8)
        {
            offset += 4 * paletteColors;
        }

        if (bits is not (1 or 4 or 8 or 16 or 24 or 32))
        {
            throw new UnsupportedImageFormatException(name, "1, 4, 8, 16, 24 or 32 bits per BMP pixel", $"{bits}");
        }

        Layout layout = bits switch { 16 => Layout.Bgr15, 24 => Layout.Bytes24, 32 => Layout.Bytes32, _ => Layout.Indexed };
        int r32 = 2, g32 = 1, b32 = 0; // byte positions of R, G, B in a 32-bit pixel (BGRX)
        if (compression == 3)
        {
            bool supported = true;
            if (bits == 32)
            {
                (r32, g32, b32, supported) = (rMask, gMask, bMask, aMask) switch
                {
                    (0xFF0000, 0xFF00, 0xFF, 0 or 0xFF000000) => (2, 1, 0, true),
                    (0xFF000000, 0xFF0000, 0xFF00, 0 or 0xFF) => (3, 2, 1, true),
                    (0xFF, 0xFF00, 0xFF0000, 0xFF000000) => (0, 1, 2, true),
                    (0, 0, 0, 0) => (2, 1, 0, true),
                    _ => (0, 0, 0, false),
                };
            }
            else if (bits == 24)
            {
                supported = (rMask, gMask, bMask) == (0xFF0000u, 0xFF00u, 0xFFu);
            }
            else if (bits == 16 && (rMask, gMask, bMask) == (0xF800u, 0x7E0u, 0x1Fu))
            {
                layout = Layout.Bgr16;
            }
            else
            {
                supported = bits == 16 && (rMask, gMask, bMask) == (0x7C00u, 0x3E0u, 0x1Fu);
            }

            if (!supported)
            {
                throw new UnsupportedImageFormatException(
                    name, "a BMP bit-field layout PIL supports", $"{bits} bpp with masks R {rMask:X8} G {gMask:X8} B {bMask:X8} A {aMask:X8}");
            }
        }
        else if (compression != 0)
        {
            string what = compression switch { 1 => "RLE8", 2 => "RLE4", 4 => "JPEG", 5 => "PNG", _ => $"compression {compression}" };
            throw new UnsupportedImageFormatException(name, "an uncompressed or bit-field BMP", $"{what} data");
        }

        byte[]? lut = null;
        if (layout == Layout.Indexed)
        {
            if (paletteColors > 256)
            {
                throw new ImageDecodeException(name, "a BMP palette of at most 256 entries", $"{paletteColors} entries");
            }

            int count = (int)paletteColors;
            var palette = data.AsSpan(pos, (int)Math.Min(paletteEntryBytes * (long)count, data.Length - pos));
            pos += palette.Length;
            layout = GreyShortcut(palette, count, paletteEntryBytes);
            if (layout == Layout.Indexed)
            {
                lut = MakeLut(palette, paletteEntryBytes);
            }
        }

        if (offset == 0)
        {
            offset = pos;
        }

        Codec.CheckSize(name, Format, options, width, height, Codec.RgbBytes(width, height));

        long stride = (((width * bits) + 31) >> 3) & ~3L;
        int readBits = layout switch { Layout.Grey1 => 1, Layout.Grey8 => 8, _ => bits };
        long rowBytes = ((width * readBits) + 7) / 8;
        if (rowBytes > stride)
        {
            throw new ImageDecodeException(name, $"BMP rows of at most {stride} bytes", $"PIL's grey reading of {bits}-bit pixels, which needs {rowBytes} bytes per row");
        }

        if (offset + (stride * height) > data.Length)
        {
            throw Codec.Truncated(name, Format, $"{stride * height} bytes of pixels from byte {offset}", (int)Math.Min(offset, data.Length), data.Length);
        }

        int w = (int)width, h = (int)height;
        var image = new RgbImage(w, h);
        byte[] rgb = image.Pixels;
        for (int r = 0; r < h; r++)
        {
            ReadOnlySpan<byte> row = data.AsSpan((int)(offset + (r * stride)), (int)rowBytes);
            int y = topDown ? r : h - 1 - r;
            Span<byte> output = rgb.AsSpan(y * w * 3, w * 3);
            ConvertRow(row, output, w, layout, bits, lut, r32, g32, b32);
        }

        return image;
    }

    /// <summary>
    /// PIL's test for a grey palette: with 2 entries, (0,0,0) and (255,255,255) read as 1-bit ("1"); otherwise entry i
    /// = (i,i,i) for every i read as 8-bit grey ("L"). A palette cut short by the end of the file is never grey.
    /// </summary>
    private static Layout GreyShortcut(ReadOnlySpan<byte> palette, int count, int entryBytes)
    {
        for (int i = 0; i < count; i++)
        {
            int v = count == 2 ? i * 255 : i;
            int at = i * entryBytes;
            if (at + 3 > palette.Length || palette[at] != v || palette[at + 1] != v || palette[at + 2] != v)
            {
                return Layout.Indexed;
            }
        }

        return count == 2 ? Layout.Grey1 : Layout.Grey8;
    }

    /// <summary>Index to RGB: the BGR(X) entries present, then grey (i, i, i) as PIL's palettes start.</summary>
    private static byte[] MakeLut(ReadOnlySpan<byte> palette, int entryBytes)
    {
        var lut = new byte[256 * 3];
        int entries = palette.Length / entryBytes;
        for (int i = 0; i < 256; i++)
        {
            if (i < entries)
            {
                lut[3 * i] = palette[(i * entryBytes) + 2];
                lut[(3 * i) + 1] = palette[(i * entryBytes) + 1];
                lut[(3 * i) + 2] = palette[i * entryBytes];
            }
            else
            {
                lut[3 * i] = (byte)i;
                lut[(3 * i) + 1] = (byte)i;
                lut[(3 * i) + 2] = (byte)i;
            }
        }

        return lut;
    }

    // Hot loops run once per image: compile them optimised at once rather than through tier 0 (seconds on large images).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ConvertRow(ReadOnlySpan<byte> row, Span<byte> rgb, int width, Layout layout, int bits, byte[]? lut, int r32, int g32, int b32)
    {
        switch (layout)
        {
            case Layout.Indexed:
                {
                    int mask = (1 << bits) - 1;
                    for (int x = 0; x < width; x++)
                    {
                        int bit = x * bits;
                        int v = bits == 8 ? row[x] : (row[bit >> 3] >> (8 - bits - (bit & 7))) & mask;
                        rgb[3 * x] = lut![3 * v];
                        rgb[(3 * x) + 1] = lut[(3 * v) + 1];
                        rgb[(3 * x) + 2] = lut[(3 * v) + 2];
                    }

                    break;
                }

            case Layout.Grey1:
            case Layout.Grey8:
                for (int x = 0; x < width; x++)
                {
                    byte v = layout == Layout.Grey8 ? row[x] : ((row[x >> 3] >> (7 - (x & 7))) & 1) != 0 ? (byte)255 : (byte)0;
                    rgb[3 * x] = v;
                    rgb[(3 * x) + 1] = v;
                    rgb[(3 * x) + 2] = v;
                }

                break;
            case Layout.Bgr15:
            case Layout.Bgr16:
                for (int x = 0; x < width; x++)
                {
                    int v = row[2 * x] | (row[(2 * x) + 1] << 8);
                    if (layout == Layout.Bgr15)
                    {
                        rgb[3 * x] = (byte)(((v >> 10) & 31) * 255 / 31);
                        rgb[(3 * x) + 1] = (byte)(((v >> 5) & 31) * 255 / 31);
                    }
                    else
                    {
                        rgb[3 * x] = (byte)(((v >> 11) & 31) * 255 / 31);
                        rgb[(3 * x) + 1] = (byte)(((v >> 5) & 63) * 255 / 63);
                    }

                    rgb[(3 * x) + 2] = (byte)((v & 31) * 255 / 31);
                }

                break;
            case Layout.Bytes24:
                for (int x = 0; x < width; x++)
                {
                    rgb[3 * x] = row[(3 * x) + 2];
                    rgb[(3 * x) + 1] = row[(3 * x) + 1];
                    rgb[(3 * x) + 2] = row[3 * x];
                }

                break;
            default:
                for (int x = 0; x < width; x++)
                {
                    rgb[3 * x] = row[(4 * x) + r32];
                    rgb[(3 * x) + 1] = row[(4 * x) + g32];
                    rgb[(3 * x) + 2] = row[(4 * x) + b32];
                }

                break;
        }
    }
}
