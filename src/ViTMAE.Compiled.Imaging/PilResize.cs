using System;
using System.Buffers;

namespace ViTMAE.Compiled.Imaging;

/// <summary>
/// PIL's resampling filters, numbered as <c>PIL.Image.Resampling</c> (and Hugging Face's <c>PILImageResampling</c>,
/// the <c>resample</c> key of <c>preprocessor_config.json</c>).
/// </summary>
public enum PilResample
{
    /// <summary>NEAREST (0). Not supported here: PIL runs it through an affine transform, not the resampler.</summary>
    Nearest = 0,

    /// <summary>LANCZOS (1), support 3.</summary>
    Lanczos = 1,

    /// <summary>BILINEAR (2), support 1: facebook/vit-mae-base's choice.</summary>
    Bilinear = 2,

    /// <summary>BICUBIC (3), support 2, Keys cubic with a = −0.5.</summary>
    Bicubic = 3,

    /// <summary>BOX (4), support 0.5.</summary>
    Box = 4,

    /// <summary>HAMMING (5), support 1.</summary>
    Hamming = 5,
}

/// <summary>
/// A port of Pillow's 8-bit resampler (<c>libImaging/Resample.c</c>: <c>ImagingResample</c>, <c>precompute_coeffs</c>,
/// <c>normalize_coeffs_8bpc</c>, <c>ImagingResampleHorizontal_8bpc</c>/<c>Vertical_8bpc</c>), so that
/// <c>Image.resize((w, h), resample)</c> is reproduced byte for byte.
/// </summary>
/// <remarks>
/// <para>
/// Hand-written because no .NET imaging library reproduces PIL's resampler: the result depends on PIL's exact choices —
/// a separable two-pass filter (horizontal first, when the width changes, with the intermediate image rounded to
/// uint8), a support widened by the downscale factor (antialiasing), window bounds rounded with C truncation,
/// coefficients normalised in double and then converted to fixed point with 22 fractional bits
/// (<c>PRECISION_BITS = 32 − 8 − 2</c>) rounding half away from zero, accumulation in 32-bit integers starting at
/// <c>1 &lt;&lt; 21</c>, and <c>clip8(sum &gt;&gt; 22)</c>. Any deviation (float weights, other rounding, a vertical-first
/// order) changes some output levels by one.
/// </para>
/// <para>
/// Every expression that feeds a coefficient keeps PIL's evaluation order and precision (the box edges are C
/// <c>float</c>s, everything else <c>double</c>), so the integer coefficient tables are identical. Channels are
/// resampled independently, as PIL does for its 1-, 3- and 4-band 8-bit images.
/// </para>
/// </remarks>
public static class PilResize
{
    /// <summary>PIL's <c>PRECISION_BITS</c>: 8 bits for the result, 2 for overflow of negative lobes, in an int32.</summary>
    public const int PrecisionBits = 32 - 8 - 2;

    /// <summary>Resizes an RGB image to <paramref name="width"/>×<paramref name="height"/> like <c>Image.resize</c>.</summary>
    public static RgbImage Resize(RgbImage source, int width, int height, PilResample filter)
    {
        ArgumentNullException.ThrowIfNull(source);
        var result = new RgbImage(width, height);
        Resize(source.Pixels, source.Width, source.Height, RgbImage.Channels, result.Pixels, width, height, filter);
        return result;
    }

    /// <summary>
    /// Resizes an interleaved 8-bit image of <paramref name="channels"/> bands (<c>[h, w, channels]</c>, row-major)
    /// into <paramref name="destination"/> (<c>[height, width, channels]</c>) like PIL's <c>Image.resize</c> with the
    /// default box (the whole image). Temporary buffers come from <see cref="ArrayPool{T}.Shared"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Bad sizes, spans of the wrong length, or <see cref="PilResample.Nearest"/>.</exception>
    public static void Resize(
        ReadOnlySpan<byte> source,
        int sourceWidth,
        int sourceHeight,
        int channels,
        Span<byte> destination,
        int width,
        int height,
        PilResample filter)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        if ((long)sourceWidth * sourceHeight * channels != source.Length)
        {
            throw new ArgumentException($"Source should hold {sourceHeight}×{sourceWidth}×{channels} bytes, holds {source.Length}.", nameof(source));
        }

        if ((long)width * height * channels != destination.Length)
        {
            throw new ArgumentException($"Destination should hold {height}×{width}×{channels} bytes, holds {destination.Length}.", nameof(destination));
        }

        Filter f = GetFilter(filter);

        // ImagingResampleInner with box = (0, 0, xsize_in, ysize_in), as Image.resize passes by default.
        bool needHorizontal = width != sourceWidth;
        bool needVertical = height != sourceHeight;
        if (!needHorizontal && !needVertical)
        {
            source.CopyTo(destination);
            return;
        }

        int[]? boundsVert = null, kkVert = null, boundsHoriz = null, kkHoriz = null;
        byte[]? temp = null;
        try
        {
            int ksizeVert = PrecomputeCoefficients(sourceHeight, 0f, sourceHeight, height, f, out boundsVert, out kkVert);

            // First and last source rows the vertical pass reads: the horizontal pass only produces those.
            int yboxFirst = boundsVert[0];
            int yboxLast = boundsVert[(height * 2) - 2] + boundsVert[(height * 2) - 1];

            ReadOnlySpan<byte> verticalInput = source;
            if (needHorizontal)
            {
                int ksizeHoriz = PrecomputeCoefficients(sourceWidth, 0f, sourceWidth, width, f, out boundsHoriz, out kkHoriz);
                for (int i = 0; i < height; i++)
                {
                    boundsVert[i * 2] -= yboxFirst;
                }

                int tempRows = yboxLast - yboxFirst;
                int tempLength = checked(width * tempRows * channels);
                Span<byte> tempSpan;
                if (needVertical)
                {
                    temp = ArrayPool<byte>.Shared.Rent(tempLength);
                    tempSpan = temp.AsSpan(0, tempLength);
                }
                else
                {
                    // Height unchanged: yboxFirst = 0 and tempRows = height, so the horizontal pass is the result.
                    tempSpan = destination;
                }

                ResampleHorizontal(source, sourceWidth, channels, yboxFirst, tempSpan, width, tempRows, ksizeHoriz, boundsHoriz, kkHoriz);
                verticalInput = tempSpan;
            }

            if (needVertical)
            {
                int rowWidth = needHorizontal ? width : sourceWidth;
                ResampleVertical(verticalInput, rowWidth, channels, destination, height, ksizeVert, boundsVert, kkVert);
            }
        }
        finally
        {
            Return(boundsVert);
            Return(kkVert);
            Return(boundsHoriz);
            Return(kkHoriz);
            if (temp is not null)
            {
                ArrayPool<byte>.Shared.Return(temp);
            }
        }
    }

    /// <summary>
    /// The fixed-point coefficients PIL uses along one axis: for each output index, the first source index, the
    /// number of taps and the taps (scaled by 2^22, rounded half away from zero). Exposed for tests and tools.
    /// </summary>
    /// <returns>The number of coefficient slots per output index (PIL's <c>ksize</c>).</returns>
    public static int ComputeCoefficients(int inSize, int outSize, PilResample filter, out int[] bounds, out int[] coefficients)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outSize);
        int ksize = PrecomputeCoefficients(inSize, 0f, inSize, outSize, GetFilter(filter), out int[] pooledBounds, out int[] pooledKk);
        try
        {
            bounds = pooledBounds.AsSpan(0, outSize * 2).ToArray();
            coefficients = pooledKk.AsSpan(0, outSize * ksize).ToArray();
            return ksize;
        }
        finally
        {
            Return(pooledBounds);
            Return(pooledKk);
        }
    }

    private static void Return(int[]? array)
    {
        if (array is not null)
        {
            ArrayPool<int>.Shared.Return(array);
        }
    }

    // ---- filters (Resample.c: box_filter … lanczos_filter, with the same constants and evaluation order) ----

    private enum Filter
    {
        Box,
        Bilinear,
        Hamming,
        Bicubic,
        Lanczos,
    }

    private static Filter GetFilter(PilResample filter) => filter switch
    {
        PilResample.Bilinear => Filter.Bilinear,
        PilResample.Bicubic => Filter.Bicubic,
        PilResample.Box => Filter.Box,
        PilResample.Hamming => Filter.Hamming,
        PilResample.Lanczos => Filter.Lanczos,
        PilResample.Nearest => throw new ArgumentException(
            "PIL resizes with NEAREST through an affine transform, not the resampler; it is not supported.", nameof(filter)),
        _ => throw new ArgumentException($"Unknown PIL resampling filter {(int)filter}.", nameof(filter)),
    };

    private static double Support(Filter f) => f switch
    {
        Filter.Box => 0.5,
        Filter.Bilinear => 1.0,
        Filter.Hamming => 1.0,
        Filter.Bicubic => 2.0,
        _ => 3.0,
    };

    private static double Evaluate(Filter f, double x)
    {
        switch (f)
        {
            case Filter.Box:
                return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
            case Filter.Bilinear:
                if (x < 0.0)
                {
                    x = -x;
                }

                return x < 1.0 ? 1.0 - x : 0.0;
            case Filter.Hamming:
                if (x < 0.0)
                {
                    x = -x;
                }

                if (x == 0.0)
                {
                    return 1.0;
                }

                if (x >= 1.0)
                {
                    return 0.0;
                }

                x *= Math.PI;

                // PIL writes the window's constants as C floats: 0.54f + 0.46f * cos(x), evaluated in double.
                return Math.Sin(x) / x * ((double)0.54f + ((double)0.46f * Math.Cos(x)));
            case Filter.Bicubic:
            {
                const double a = -0.5;
                if (x < 0.0)
                {
                    x = -x;
                }

                if (x < 1.0)
                {
                    return ((((a + 2.0) * x) - (a + 3.0)) * x * x) + 1;
                }

                if (x < 2.0)
                {
                    return ((((((x - 5) * x) + 8) * x) - 4) * a);
                }

                return 0.0;
            }

            default:
                return -3.0 <= x && x < 3.0 ? Sinc(x) * Sinc(x / 3) : 0.0;
        }
    }

    private static double Sinc(double x)
    {
        if (x == 0.0)
        {
            return 1.0;
        }

        x *= Math.PI;
        return Math.Sin(x) / x;
    }

    // ---- precompute_coeffs + normalize_coeffs_8bpc ----

    /// <summary>
    /// PIL's <c>precompute_coeffs</c> followed by <c>normalize_coeffs_8bpc</c>. <paramref name="in0"/> and
    /// <paramref name="in1"/> are the box edges, C floats in PIL. Arrays come from the shared pool.
    /// </summary>
    private static int PrecomputeCoefficients(int inSize, float in0, float in1, int outSize, Filter filter, out int[] bounds, out int[] kk)
    {
        // Prepare for horizontal stretch: the box width is a float difference, then divided in double.
        double scale = (double)(in1 - in0) / outSize;
        double filterscale = scale;
        if (filterscale < 1.0)
        {
            filterscale = 1.0;
        }

        // Support (length of the resampling filter), widened when downscaling: this is the antialiasing.
        double support = Support(filter) * filterscale;

        // Maximum number of coefficients per output sample.
        int ksize = ((int)Math.Ceiling(support) * 2) + 1;
        if (outSize > int.MaxValue / (ksize * sizeof(double)))
        {
            throw new ArgumentOutOfRangeException(nameof(outSize), $"Resampling {inSize} → {outSize} needs too many coefficients.");
        }

        bounds = ArrayPool<int>.Shared.Rent(outSize * 2);
        kk = ArrayPool<int>.Shared.Rent(outSize * ksize);
        double[]? pooled = null;
        Span<double> k = ksize <= 256 ? stackalloc double[ksize] : (pooled = ArrayPool<double>.Shared.Rent(ksize)).AsSpan(0, ksize);
        try
        {
            double ss = 1.0 / filterscale;
            for (int xx = 0; xx < outSize; xx++)
            {
                double center = in0 + ((xx + 0.5) * scale);
                double ww = 0.0;

                // (int) in C truncates toward zero; so does the C# cast.
                int xmin = (int)(center - support + 0.5);
                if (xmin < 0)
                {
                    xmin = 0;
                }

                int xmax = (int)(center + support + 0.5);
                if (xmax > inSize)
                {
                    xmax = inSize;
                }

                xmax -= xmin;
                int x;
                for (x = 0; x < xmax; x++)
                {
                    double w = Evaluate(filter, ((x + xmin) - center + 0.5) * ss);
                    k[x] = w;
                    ww += w;
                }

                for (x = 0; x < xmax; x++)
                {
                    if (ww != 0.0)
                    {
                        k[x] /= ww;
                    }
                }

                for (; x < ksize; x++)
                {
                    k[x] = 0;
                }

                bounds[xx * 2] = xmin;
                bounds[(xx * 2) + 1] = xmax;

                // normalize_coeffs_8bpc: round half away from zero into 22 fractional bits.
                Span<int> kInt = kk.AsSpan(xx * ksize, ksize);
                for (x = 0; x < ksize; x++)
                {
                    double v = k[x];
                    kInt[x] = v < 0
                        ? (int)(-0.5 + (v * (1 << PrecisionBits)))
                        : (int)(0.5 + (v * (1 << PrecisionBits)));
                }
            }
        }
        finally
        {
            if (pooled is not null)
            {
                ArrayPool<double>.Shared.Return(pooled);
            }
        }

        return ksize;
    }

    /// <summary>PIL's <c>clip8</c>: the accumulator shifted down by 22 bits, clamped to 0–255.</summary>
    private static byte Clip8(int sum)
    {
        int v = sum >> PrecisionBits;
        return v < 0 ? (byte)0 : v > 255 ? (byte)255 : (byte)v;
    }

    // ---- ImagingResampleHorizontal_8bpc / ImagingResampleVertical_8bpc ----

    private static void ResampleHorizontal(
        ReadOnlySpan<byte> input,
        int inWidth,
        int channels,
        int rowOffset,
        Span<byte> output,
        int outWidth,
        int outRows,
        int ksize,
        int[] bounds,
        int[] kk)
    {
        const int Half = 1 << (PrecisionBits - 1);
        int inStride = inWidth * channels;
        int outStride = outWidth * channels;
        for (int yy = 0; yy < outRows; yy++)
        {
            ReadOnlySpan<byte> inRow = input.Slice((yy + rowOffset) * inStride, inStride);
            Span<byte> outRow = output.Slice(yy * outStride, outStride);
            for (int xx = 0; xx < outWidth; xx++)
            {
                int xmin = bounds[xx * 2];
                int xmax = bounds[(xx * 2) + 1];
                ReadOnlySpan<int> k = kk.AsSpan(xx * ksize, xmax);
                ReadOnlySpan<byte> taps = inRow.Slice(xmin * channels, xmax * channels);
                if (channels == 3)
                {
                    int s0 = Half, s1 = Half, s2 = Half;
                    for (int x = 0; x < k.Length; x++)
                    {
                        int w = k[x];
                        s0 += taps[3 * x] * w;
                        s1 += taps[(3 * x) + 1] * w;
                        s2 += taps[(3 * x) + 2] * w;
                    }

                    outRow[3 * xx] = Clip8(s0);
                    outRow[(3 * xx) + 1] = Clip8(s1);
                    outRow[(3 * xx) + 2] = Clip8(s2);
                }
                else
                {
                    for (int c = 0; c < channels; c++)
                    {
                        int s = Half;
                        for (int x = 0; x < k.Length; x++)
                        {
                            s += taps[(x * channels) + c] * k[x];
                        }

                        outRow[(xx * channels) + c] = Clip8(s);
                    }
                }
            }
        }
    }

    private static void ResampleVertical(
        ReadOnlySpan<byte> input,
        int width,
        int channels,
        Span<byte> output,
        int outHeight,
        int ksize,
        int[] bounds,
        int[] kk)
    {
        const int Half = 1 << (PrecisionBits - 1);
        int stride = width * channels;
        for (int yy = 0; yy < outHeight; yy++)
        {
            int ymin = bounds[yy * 2];
            int ymax = bounds[(yy * 2) + 1];
            ReadOnlySpan<int> k = kk.AsSpan(yy * ksize, ymax);
            Span<byte> outRow = output.Slice(yy * stride, stride);
            for (int i = 0; i < stride; i++)
            {
                int s = Half;
                int offset = (ymin * stride) + i;
                for (int y = 0; y < k.Length; y++, offset += stride)
                {
                    s += input[offset] * k[y];
                }

                outRow[i] = Clip8(s);
            }
        }
    }
}
