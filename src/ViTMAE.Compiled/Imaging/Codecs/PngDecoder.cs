using System;
using System.Buffers.Binary;
using System.IO;
using System.Runtime.InteropServices;
using StbImageSharp;

namespace ViTMAE.Compiled.Imaging.Codecs;

/// <summary>PNG (stb_image pixels behind a validating chunk walk).</summary>
internal static class PngDecoder
{
    /// <summary>Decodes <paramref name="data"/> (a whole PNG file) into RGB, checking the header against <paramref name="options"/> first.</summary>
    public static RgbImage Decode(byte[] data, string? name, ImageDecodeOptions options)
    {
        HeaderInfo header = Walk(data, name);
        Codec.CheckSize(name, "PNG", options, header.Width, header.Height, Codec.RgbBytes(header.Width, header.Height) + 0);
        RgbImage image = header.Grey16 ? DecodeGrey16(header.Data) : DecodeRgb(header.Data);
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
    /// <summary>
    /// 16-bit grey PNG, PIL-style: the samples are read at full precision and clamped to 0–255 (PIL opens the file as
    /// mode I and <c>convert("RGB")</c> clips). stb_image's 16-bit loader is used through its public C-port entry
    /// point; StbImageSharp 2.30 allocates its result with <c>Marshal.AllocHGlobal</c>, so it is freed with
    /// <c>Marshal.FreeHGlobal</c>.
    /// </summary>
    private static unsafe RgbImage DecodeGrey16(byte[] data)
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

    private static readonly byte[] PngIend = [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82];

    private static HeaderInfo Walk(byte[] data, string? name)
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
                throw Codec.Truncated(name, "PNG", "a complete PNG chunk header", pos, data.Length);
            }

            uint length = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(pos));
            ReadOnlySpan<byte> type = data.AsSpan(pos + 4, 4);
            string typeText = Codec.ChunkName(type);
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
                throw Codec.Truncated(name, "PNG", $"the whole '{typeText}' chunk ({length} bytes of data from byte {pos + 8})", pos, data.Length);
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

}
