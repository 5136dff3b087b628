using System;

namespace ViTMAE.Compiled.Imaging.Codecs;

/// <summary>What every format decoder shares: error messages and the size/budget check made before pixels are allocated.</summary>
internal static class Codec
{
    /// <summary>An <see cref="ImageDecodeException"/> for data that ends before <paramref name="expected"/>.</summary>
    public static ImageDecodeException Truncated(string? name, string format, string expected, int at, int length) =>
        new(name, expected, $"a truncated {format} file (the data ends at byte {length}{(at < length ? $", reading at byte {at}" : string.Empty)})");

    /// <summary>
    /// Checks a header's size against <paramref name="options"/> before anything is allocated: positive sides, the side and
    /// pixel limits, and <paramref name="decodedBytes"/> (the output pixels plus the format's own intermediate buffers)
    /// against <see cref="ImageDecodeOptions.MaxDecodedBytes"/>.
    /// </summary>
    public static void CheckSize(string? name, string format, ImageDecodeOptions options, long width, long height, long decodedBytes)
    {
        if (width <= 0 || height <= 0)
        {
            throw new ImageDecodeException(name, $"a positive image size in the {format} header", $"{width}×{height}");
        }

        int w = (int)Math.Min(width, int.MaxValue), h = (int)Math.Min(height, int.MaxValue);
        if (width > options.MaxSide || height > options.MaxSide || width * height > options.MaxPixels)
        {
            throw new ImageTooLargeException(name, w, h, options);
        }

        if (decodedBytes > options.MaxDecodedBytes)
        {
            throw new ImageTooLargeException(name, w, h, decodedBytes, options);
        }
    }

    /// <summary>Bytes of the RGB output of a <paramref name="width"/>×<paramref name="height"/> image.</summary>
    public static long RgbBytes(long width, long height) => width * height * 3;

    public static string ChunkName(ReadOnlySpan<byte> type)
    {
        Span<char> chars = stackalloc char[4];
        for (int i = 0; i < 4; i++)
        {
            chars[i] = type[i] is >= 0x20 and < 0x7F ? (char)type[i] : '?';
        }

        return new string(chars);
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);
}
