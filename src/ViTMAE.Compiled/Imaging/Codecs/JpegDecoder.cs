using System;
using System.Buffers.Binary;
using System.IO;
using System.Runtime.InteropServices;
using StbImageSharp;

namespace ViTMAE.Compiled.Imaging.Codecs;

/// <summary>JPEG (stb_image pixels behind a validating marker walk).</summary>
internal static class JpegDecoder
{
    /// <summary>Decodes <paramref name="data"/> (a whole JPEG file) into RGB, checking the header against <paramref name="options"/> first.</summary>
    public static RgbImage Decode(byte[] data, string? name, ImageDecodeOptions options)
    {
        HeaderInfo header = Walk(data, name);
        Codec.CheckSize(name, "JPEG", options, header.Width, header.Height, Codec.RgbBytes(header.Width, header.Height) + 0);
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
                throw Codec.Truncated(name, "JPEG", sawScan ? "the EOI marker after the scans" : "a complete JPEG header", pos, data.Length);
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
                throw Codec.Truncated(name, "JPEG", $"the length of segment 0xFF{marker:X2}", pos, data.Length);
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(pos));
            if (length < 2)
            {
                throw new ImageDecodeException(name, "a JPEG segment length of at least 2", $"{length} in segment 0xFF{marker:X2} at byte {pos - 2}");
            }

            if (pos + length > data.Length)
            {
                throw Codec.Truncated(name, "JPEG", $"the whole 0xFF{marker:X2} segment ({length} bytes from byte {pos})", pos, data.Length);
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
                        throw Codec.Truncated(name, "JPEG", "the end of the entropy-coded scan and the EOI marker", data.Length, data.Length);
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

}
