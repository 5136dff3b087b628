using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Text;

namespace ViTMAE.Compiled.Tests.Imaging;

/// <summary>Paths to the shared golden files and small hand-made image encoders for decoder tests.</summary>
internal static class ImagingTestSupport
{
    /// <summary><c>../shared</c> beside the repository root.</summary>
    public static string SharedDirectory => ViTMAE.Compiled.TestSupport.RepoPaths.SharedRoot;

    public static string Preprocess(string file)
    {
        string path = Path.Combine(SharedDirectory, "golden", "preprocess", file);
        Assert.True(File.Exists(path), $"Golden file {path} is missing.");
        return path;
    }

    public static string NewTempDirectory()
    {
        string path = Path.Combine(Path.GetTempPath(), "vitmae-imaging-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    // ------------------------------------------------------------------ PNG

    /// <summary>
    /// A PNG with the given colour type (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA) and bit depth; <paramref name="samples"/>
    /// holds one value per sample (0..2^depth−1), row-major, channels interleaved. Filter type 0 on every row.
    /// </summary>
    public static byte[] Png(int width, int height, int colorType, int bitDepth, IReadOnlyList<int> samples, byte[]? palette = null, byte[]? trns = null)
    {
        int channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => throw new ArgumentOutOfRangeException(nameof(colorType)) };
        Assert.Equal(width * height * channels, samples.Count);
        int rowBits = width * channels * bitDepth;
        int rowBytes = (rowBits + 7) / 8;
        var raw = new byte[height * (rowBytes + 1)];
        for (int y = 0; y < height; y++)
        {
            int rowStart = (y * (rowBytes + 1)) + 1;
            for (int i = 0; i < width * channels; i++)
            {
                int v = samples[(y * width * channels) + i];
                int bit = i * bitDepth;
                if (bitDepth == 16)
                {
                    raw[rowStart + (2 * i)] = (byte)(v >> 8);
                    raw[rowStart + (2 * i) + 1] = (byte)v;
                }
                else if (bitDepth == 8)
                {
                    raw[rowStart + i] = (byte)v;
                }
                else
                {
                    raw[rowStart + (bit / 8)] |= (byte)(v << (8 - bitDepth - (bit % 8)));
                }
            }
        }

        using var output = new MemoryStream();
        output.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = (byte)bitDepth;
        ihdr[9] = (byte)colorType;
        Chunk(output, "IHDR", ihdr);
        if (palette is not null)
        {
            Chunk(output, "PLTE", palette);
        }

        if (trns is not null)
        {
            Chunk(output, "tRNS", trns);
        }

        Chunk(output, "IDAT", Zlib(raw));
        Chunk(output, "IEND", []);
        return output.ToArray();
    }

    /// <summary>A PNG signature followed by the given chunks (lengths and CRCs filled in).</summary>
    public static byte[] PngFromChunks(params (string Type, byte[] Data)[] chunks)
    {
        using var output = new MemoryStream();
        output.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        foreach ((string type, byte[] data) in chunks)
        {
            Chunk(output, type, data);
        }

        return output.ToArray();
    }

    /// <summary>An IHDR chunk's 13 bytes.</summary>
    public static byte[] Ihdr(int width, int height, int bitDepth, int colorType, int interlace = 0)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = (byte)bitDepth;
        ihdr[9] = (byte)colorType;
        ihdr[12] = (byte)interlace;
        return ihdr;
    }

    /// <summary>
    /// A zlib stream that inflates to <paramref name="mebibytes"/> MiB of zeros, built by repeating one byte-aligned
    /// deflate segment (about 1 KB per MiB), so that a gibibyte bomb costs a megabyte and no time to make.
    /// </summary>
    public static byte[] ZlibZeros(int mebibytes)
    {
        byte[] segment;
        using (var compressed = new MemoryStream())
        {
            using (var deflate = new DeflateStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                deflate.Write(new byte[1 << 20]);
                deflate.Flush(); // sync flush: the segment ends byte-aligned and does not end the stream
                segment = compressed.ToArray();
            }
        }

        using var output = new MemoryStream();
        output.Write([0x78, 0x9C]);
        for (int i = 0; i < mebibytes; i++)
        {
            output.Write(segment);
        }

        output.Write([0x03, 0x00]); // an empty final block
        long n = (long)mebibytes << 20;
        uint adler = (uint)(((n % 65521) << 16) | 1); // Adler-32 of n zeros
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, adler);
        output.Write(tail);
        return output.ToArray();
    }

    public static byte[] Zlib(byte[] data)
    {
        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            z.Write(data);
        }

        return compressed.ToArray();
    }

    private static void Chunk(Stream output, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        output.Write(length);
        byte[] typeAndData = [.. Encoding.ASCII.GetBytes(type), .. data];
        output.Write(typeAndData);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typeAndData));
        output.Write(crc);
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
            }
        }

        return ~crc;
    }

    // ------------------------------------------------------------------ GIF

    /// <summary>
    /// A single-frame GIF with a 256-entry global palette, a frame at (<paramref name="left"/>, <paramref name="top"/>)
    /// of <paramref name="frameWidth"/>×<paramref name="frameHeight"/> indices, and optionally a transparent index and a
    /// background index. LZW data uses 9-bit codes with a clear code every 200 pixels (valid, uncompressed-style).
    /// </summary>
    public static byte[] Gif(
        int width,
        int height,
        byte[] palette256,
        int left,
        int top,
        int frameWidth,
        int frameHeight,
        IReadOnlyList<byte> indices,
        int transparentIndex = -1,
        byte backgroundIndex = 0)
    {
        Assert.Equal(768, palette256.Length);
        Assert.Equal(frameWidth * frameHeight, indices.Count);
        using var o = new MemoryStream();
        o.Write("GIF89a"u8);
        WriteU16(o, width);
        WriteU16(o, height);
        o.WriteByte(0xF7); // global colour table, 8 bits colour resolution, 256 entries
        o.WriteByte(backgroundIndex);
        o.WriteByte(0);
        o.Write(palette256);
        if (transparentIndex >= 0)
        {
            o.Write([0x21, 0xF9, 4, 0x01, 0, 0, (byte)transparentIndex, 0]);
        }

        o.WriteByte(0x2C);
        WriteU16(o, left);
        WriteU16(o, top);
        WriteU16(o, frameWidth);
        WriteU16(o, frameHeight);
        o.WriteByte(0);
        o.WriteByte(8); // LZW minimum code size

        var codes = new List<int> { 256 };
        for (int i = 0; i < indices.Count; i++)
        {
            if (i > 0 && i % 200 == 0)
            {
                codes.Add(256);
            }

            codes.Add(indices[i]);
        }

        codes.Add(257);
        var packed = new List<byte>();
        int acc = 0, bits = 0;
        foreach (int code in codes)
        {
            acc |= code << bits;
            bits += 9;
            while (bits >= 8)
            {
                packed.Add((byte)acc);
                acc >>= 8;
                bits -= 8;
            }
        }

        if (bits > 0)
        {
            packed.Add((byte)acc);
        }

        for (int i = 0; i < packed.Count; i += 255)
        {
            int n = Math.Min(255, packed.Count - i);
            o.WriteByte((byte)n);
            for (int k = 0; k < n; k++)
            {
                o.WriteByte(packed[i + k]);
            }
        }

        o.WriteByte(0);
        o.WriteByte(0x3B);
        return o.ToArray();
    }

    private static void WriteU16(Stream s, int v)
    {
        s.WriteByte((byte)v);
        s.WriteByte((byte)(v >> 8));
    }

    // ------------------------------------------------------------------ BMP

    /// <summary>A 24-bit bottom-up BMP of an RGB image.</summary>
    public static byte[] Bmp24(int width, int height, byte[] rgb)
    {
        int rowBytes = ((width * 3) + 3) / 4 * 4;
        int dataSize = rowBytes * height;
        var b = new byte[54 + dataSize];
        b[0] = (byte)'B';
        b[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(2), b.Length);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(34), dataSize);
        for (int y = 0; y < height; y++)
        {
            int row = 54 + ((height - 1 - y) * rowBytes);
            for (int x = 0; x < width; x++)
            {
                int s = ((y * width) + x) * 3;
                b[row + (3 * x)] = rgb[s + 2];
                b[row + (3 * x) + 1] = rgb[s + 1];
                b[row + (3 * x) + 2] = rgb[s];
            }
        }

        return b;
    }

    // ------------------------------------------------------------------ robustness

    /// <summary>
    /// Decodes with <paramref name="decode"/> (a codec called directly, without <see cref="ViTMAE.Compiled.Imaging.ImageDecoder"/>'s
    /// catch-all) and describes the outcome: the size and a hash of the pixels, or the typed exception's type and message.
    /// Any exception that is not an <see cref="ViTMAE.Compiled.Imaging.ImageDecodeException"/> fails the test.
    /// </summary>
    public static string Outcome(Func<byte[], ViTMAE.Compiled.Imaging.RgbImage> decode, byte[] data, string what)
    {
        try
        {
            ViTMAE.Compiled.Imaging.RgbImage image = decode(data);
            return $"{image.Width}x{image.Height}:{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(image.Pixels))}";
        }
        catch (ViTMAE.Compiled.Imaging.ImageDecodeException ex)
        {
            return $"{ex.GetType().Name}:{ex.Message}";
        }
        catch (Exception ex)
        {
            Assert.Fail($"{what}: untyped {ex.GetType().Name}: {ex}");
            throw;
        }
    }

    /// <summary>
    /// Cuts <paramref name="data"/> at every length: each prefix must decode to the full image or fail with a typed
    /// error, never anything else.
    /// </summary>
    public static void TruncateEverywhere(Func<byte[], ViTMAE.Compiled.Imaging.RgbImage> decode, byte[] data, string what)
    {
        string full = Outcome(decode, data, what);
        Assert.DoesNotContain("Exception", full, StringComparison.Ordinal);
        for (int cut = 0; cut < data.Length; cut++)
        {
            string outcome = Outcome(decode, data[..cut], $"{what}[..{cut}]");
            Assert.True(outcome == full || outcome.StartsWith("Image", StringComparison.Ordinal) || outcome.StartsWith("Unsupported", StringComparison.Ordinal), $"{what}[..{cut}]: {outcome}");
        }
    }

    /// <summary>
    /// <paramref name="count"/> deterministic random corruptions of <paramref name="data"/> (1–4 bit flips or byte sets
    /// each, at bytes <paramref name="from"/> to <paramref name="to"/> (the end when negative)); every one decodes or fails
    /// typed, and decoding it twice gives the same outcome. Returns how many decoded.
    /// </summary>
    public static int FlipBits(Func<byte[], ViTMAE.Compiled.Imaging.RgbImage> decode, byte[] data, int count, int seed, string what, Action<byte[]>? fix = null, int from = 0, int to = -1)
    {
        var rng = new Random(seed);
        int decoded = 0;
        int end = to < 0 ? data.Length : Math.Min(to, data.Length);
        for (int k = 0; k < count; k++)
        {
            byte[] corrupt = (byte[])data.Clone();
            int edits = 1 + rng.Next(4);
            for (int e = 0; e < edits; e++)
            {
                int at = from + rng.Next(end - from);
                if (rng.Next(4) == 0)
                {
                    corrupt[at] = (byte)rng.Next(256);
                }
                else
                {
                    corrupt[at] ^= (byte)(1 << rng.Next(8));
                }
            }

            fix?.Invoke(corrupt);
            string first = Outcome(decode, corrupt, $"{what} #{k}");
            string second = Outcome(decode, (byte[])corrupt.Clone(), $"{what} #{k} again");
            Assert.Equal(first, second);
            if (!first.Contains("Exception", StringComparison.Ordinal))
            {
                decoded++;
            }
        }

        return decoded;
    }

    /// <summary>Deterministic pseudo-random bytes.</summary>
    public static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
