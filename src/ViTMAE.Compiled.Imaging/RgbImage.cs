using System;

namespace ViTMAE.Compiled.Imaging;

/// <summary>
/// An 8-bit RGB image stored row-major as <c>[height, width, 3]</c> (channels last, R G B per pixel), the layout
/// of <c>numpy.asarray(PIL.Image.convert("RGB"))</c>.
/// </summary>
public sealed class RgbImage
{
    /// <summary>Wraps <paramref name="pixels"/> (not copied) as a <paramref name="width"/>×<paramref name="height"/> RGB image.</summary>
    /// <exception cref="ArgumentException">The sizes are not positive or <paramref name="pixels"/> is not exactly <c>height·width·3</c> bytes.</exception>
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if ((long)width * height * 3 != pixels.LongLength)
        {
            throw new ArgumentException($"A {width}×{height} RGB image needs {(long)width * height * 3} bytes, got {pixels.LongLength}.", nameof(pixels));
        }

        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>Creates a black image of the given size.</summary>
    public RgbImage(int width, int height)
        : this(width, height, new byte[checked(Math.Max(width, 1) * Math.Max(height, 1) * 3)])
    {
    }

    /// <summary>Number of channels: always 3.</summary>
    public const int Channels = 3;

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>The pixels, <c>[height, width, 3]</c> row-major.</summary>
    public byte[] Pixels { get; }

    /// <summary>The pixels as a span, <c>[height, width, 3]</c> row-major.</summary>
    public Span<byte> Span => Pixels;

    /// <summary>One row, <c>width·3</c> bytes.</summary>
    public Span<byte> Row(int y)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(y);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(y, Height);
        return Pixels.AsSpan(y * Width * 3, Width * 3);
    }

    /// <summary>The image with one byte per pixel replicated into R, G and B, as PIL's <c>convert("RGB")</c> does for mode L.</summary>
    public static RgbImage FromGrey(int width, int height, ReadOnlySpan<byte> grey)
    {
        if ((long)width * height != grey.Length)
        {
            throw new ArgumentException($"A {width}×{height} grey image needs {(long)width * height} bytes, got {grey.Length}.", nameof(grey));
        }

        var image = new RgbImage(width, height);
        Span<byte> rgb = image.Pixels;
        for (int i = 0; i < grey.Length; i++)
        {
            byte v = grey[i];
            rgb[3 * i] = v;
            rgb[(3 * i) + 1] = v;
            rgb[(3 * i) + 2] = v;
        }

        return image;
    }

    /// <summary>The image with the alpha byte of each RGBA pixel dropped (not composited), as PIL's <c>convert("RGB")</c> does.</summary>
    public static RgbImage FromRgba(int width, int height, ReadOnlySpan<byte> rgba)
    {
        if ((long)width * height * 4 != rgba.Length)
        {
            throw new ArgumentException($"A {width}×{height} RGBA image needs {(long)width * height * 4} bytes, got {rgba.Length}.", nameof(rgba));
        }

        var image = new RgbImage(width, height);
        Span<byte> rgb = image.Pixels;
        for (int i = 0, n = width * height; i < n; i++)
        {
            rgb[3 * i] = rgba[4 * i];
            rgb[(3 * i) + 1] = rgba[(4 * i) + 1];
            rgb[(3 * i) + 2] = rgba[(4 * i) + 2];
        }

        return image;
    }
}

/// <summary>Limits checked against an image's header before any pixel memory is allocated.</summary>
public sealed class ImageDecodeOptions
{
    /// <summary>Default budget of decoded bytes: 256 MiB (an 85-megapixel RGB image, or less when the format needs intermediate buffers).</summary>
    public const long DefaultMaxDecodedBytes = 256L << 20;

    /// <summary>Default limit per side: 16384 pixels.</summary>
    public const int DefaultMaxSide = 16384;

    /// <summary>Default limit on width·height: 100 megapixels.</summary>
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>The default limits (16384 per side, 100 MP).</summary>
    public static ImageDecodeOptions Default { get; } = new();

    /// <summary>Largest accepted width or height.</summary>
    public int MaxSide { get; init; } = DefaultMaxSide;

    /// <summary>Largest accepted width·height.</summary>
    public long MaxPixels { get; init; } = DefaultMaxPixels;

    /// <summary>
    /// Most bytes a decoder may allocate for one image: the RGB output (3 bytes a pixel) plus every buffer whose size
    /// depends on the image. PNG: the inflated, filtered scanlines (all passes of an Adam7 image). JPEG: each component's
    /// ring of three iMCU rows of samples and one upsampled row, and, for a progressive or multi-scan file, the DCT
    /// coefficients (2 bytes each, whole MCUs). GIF and BMP decode straight into the output. Computed from the header and
    /// checked before anything sized by it is allocated (a JPEG's coefficients again at its first scan, when a sequential
    /// file turns out to be multi-scan), so a small file that declares a huge image (a decompression bomb) is refused at
    /// once with <see cref="ImageTooLargeException"/>, whose <see cref="ImageTooLargeException.DecodedBytes"/> gives the
    /// amount. Not counted: the encoded file itself and fixed-size tables (Huffman tables, palettes, zlib's window: tens
    /// of kilobytes). Raise it for very large images.
    /// </summary>
    public long MaxDecodedBytes { get; init; } = DefaultMaxDecodedBytes;
}
