using System;
using System.Buffers.Binary;
using System.IO;
using System.Runtime.InteropServices;
using StbImageSharp;

namespace ViTMAE.Compiled.Imaging.Codecs;

/// <summary>GIF, first frame (stb_image pixels behind a block walk), PIL-style colours.</summary>
internal static class GifDecoder
{
    /// <summary>Decodes <paramref name="data"/> (a whole GIF file) into RGB, checking the header against <paramref name="options"/> first.</summary>
    public static RgbImage Decode(byte[] data, string? name, ImageDecodeOptions options)
    {
        HeaderInfo header = Walk(data, name);
        Codec.CheckSize(name, "GIF", options, header.Width, header.Height, Codec.RgbBytes(header.Width, header.Height) + 0);
        RgbImage image = DecodeFrame(header);
        if (image.Width != header.Width || image.Height != header.Height)
        {
            throw new ImageDecodeException(name, $"a {header.Width}×{header.Height} image as the header says", $"{image.Width}×{image.Height} decoded");
        }

        return image;
    }

    /// <summary>
    /// GIF, first frame, PIL-style: stb decodes a copy whose transparency flags and background index are cleared, so
    /// that every pixel of the frame gets its palette colour; pixels outside the frame stay untouched (alpha 0) and
    /// get the colour PIL gives them.
    /// </summary>
    private static RgbImage DecodeFrame(HeaderInfo header)
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

    private static HeaderInfo Walk(byte[] data, string? name)
    {
        var info = new HeaderInfo(data);
        if (data.Length < 13)
        {
            throw Codec.Truncated(name, "GIF", "a complete logical screen descriptor", 6, data.Length);
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
                throw Codec.Truncated(name, "GIF", "an image descriptor for the first frame", pos, data.Length);
            }

            byte block = data[pos++];
            if (block == 0x21)
            {
                if (pos >= data.Length)
                {
                    throw Codec.Truncated(name, "GIF", "an extension label", pos, data.Length);
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
                    throw Codec.Truncated(name, "GIF", "a complete image descriptor", pos, data.Length);
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
                    throw Codec.Truncated(name, "GIF", "the LZW code size of the first frame", pos, data.Length);
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
                throw Codec.Truncated(name, "GIF", "the rest of a data sub-block chain", pos, data.Length);
            }

            int size = data[pos++];
            if (size == 0)
            {
                return pos;
            }

            pos += size;
        }
    }

}
