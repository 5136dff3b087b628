using System;
using System.Buffers.Binary;
using System.IO;
using System.Runtime.InteropServices;
using StbImageSharp;

namespace ViTMAE.Compiled.Imaging.Codecs;

/// <summary>BMP (stb_image pixels behind a header and size check).</summary>
internal static class BmpDecoder
{
    /// <summary>Decodes <paramref name="data"/> (a whole BMP file) into RGB, checking the header against <paramref name="options"/> first.</summary>
    public static RgbImage Decode(byte[] data, string? name, ImageDecodeOptions options)
    {
        HeaderInfo header = Walk(data, name);
        Codec.CheckSize(name, "BMP", options, header.Width, header.Height, Codec.RgbBytes(header.Width, header.Height) + 0);
        RgbImage image = DecodeRgb(header.Data);
        if (image.Width != header.Width || image.Height != header.Height)
        {
            throw new ImageDecodeException(name, $"a {header.Width}×{header.Height} image as the header says", $"{image.Width}×{image.Height} decoded");
        }

        return image;
    }

    private static RgbImage DecodeRgb(byte[] data)
    {
        ImageResult result = ImageResult.FromMemory(data, ColorComponents.RedGreenBlue);
        return new RgbImage(result.Width, result.Height, result.Data);
    }
    private static HeaderInfo Walk(byte[] data, string? name)
    {
        var info = new HeaderInfo(data);
        if (data.Length < 26)
        {
            throw Codec.Truncated(name, "BMP", "a complete BMP header", 0, data.Length);
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
                throw Codec.Truncated(name, "BMP", "a complete BITMAPINFOHEADER", 14, data.Length);
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
                throw Codec.Truncated(name, "BMP", $"{rowBytes * height} bytes of pixels from byte {offBits}", data.Length, data.Length);
            }
        }

        return info;
    }

}
