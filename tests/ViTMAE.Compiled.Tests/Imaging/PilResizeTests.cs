using System;
using ViTMAE.Compiled.Imaging;

namespace ViTMAE.Compiled.Tests.Imaging;

/// <summary>
/// The PIL resampler port beyond the golden 224×224 downscales: hand-computed values, invariants, and agreement with a
/// deliberately plain double-precision re-implementation of the same algorithm for up-scaling and odd sizes.
/// </summary>
public sealed class PilResizeTests
{
    [Fact]
    public void Bilinear_upscale_of_two_pixels_matches_hand_computed_PIL_values()
    {
        // PIL: Image.frombytes("L", (2, 1), bytes([0, 255])).resize((4, 1), Image.BILINEAR) -> [0, 64, 191, 255].
        // Centres 0.25, 0.75, 1.25, 1.75; weights (1), (0.75, 0.25), (0.25, 0.75), (1); 63.75 -> 64, 191.25 -> 191.
        var dst = new byte[4];
        PilResize.Resize([0, 255], 2, 1, 1, dst, 4, 1, PilResample.Bilinear);
        Assert.Equal(new byte[] { 0, 64, 191, 255 }, dst);
    }

    [Fact]
    public void Bilinear_downscale_by_two_averages_pairs()
    {
        // Scale 2: support 2, taps at distance 0.5 and 1.5 with weights 0.75 and 0.25 (normalised).
        // Output 0 (centre 1.0): x=0 (w .75), x=1 (w .75), x=2 (w .25) -> (0*.75 + 100*.75 + 200*.25) / 1.75.
        var dst = new byte[2];
        PilResize.Resize([0, 100, 200, 250], 4, 1, 1, dst, 2, 1, PilResample.Bilinear);
        double expected0 = ((0 * 0.75) + (100 * 0.75) + (200 * 0.25)) / 1.75;
        double expected1 = ((100 * 0.25) + (200 * 0.75) + (250 * 0.75)) / 1.75;
        Assert.Equal((byte)Math.Round(expected0), dst[0]);
        Assert.Equal((byte)Math.Round(expected1), dst[1]);
    }

    [Theory]
    [InlineData(PilResample.Bilinear)]
    [InlineData(PilResample.Bicubic)]
    [InlineData(PilResample.Lanczos)]
    [InlineData(PilResample.Box)]
    [InlineData(PilResample.Hamming)]
    public void Constant_image_stays_constant(PilResample filter)
    {
        foreach ((int sw, int sh, int dw, int dh) in new[] { (37, 23, 224, 224), (300, 200, 224, 224), (5, 3, 7, 11), (1, 1, 224, 224), (640, 1, 3, 5) })
        {
            var src = new byte[sw * sh * 3];
            for (int i = 0; i < src.Length; i += 3)
            {
                src[i] = 17;
                src[i + 1] = 128;
                src[i + 2] = 255;
            }

            var dst = new byte[dw * dh * 3];
            PilResize.Resize(src, sw, sh, 3, dst, dw, dh, filter);
            for (int i = 0; i < dst.Length; i += 3)
            {
                Assert.True(dst[i] == 17 && dst[i + 1] == 128 && dst[i + 2] == 255, $"{filter} {sw}x{sh}->{dw}x{dh} pixel {i / 3}: {dst[i]},{dst[i + 1]},{dst[i + 2]}");
            }
        }
    }

    [Theory]
    [InlineData(PilResample.Bilinear)]
    [InlineData(PilResample.Bicubic)]
    public void Mirrored_input_gives_mirrored_output(PilResample filter)
    {
        // The filters and the window placement are symmetric, so resize commutes with a horizontal flip.
        const int sw = 53, sh = 31, dw = 224, dh = 97;
        byte[] src = ImagingTestSupport.RandomBytes(sw * sh, 7);
        byte[] flipped = new byte[src.Length];
        for (int y = 0; y < sh; y++)
        {
            for (int x = 0; x < sw; x++)
            {
                flipped[(y * sw) + x] = src[(y * sw) + (sw - 1 - x)];
            }
        }

        var a = new byte[dw * dh];
        var b = new byte[dw * dh];
        PilResize.Resize(src, sw, sh, 1, a, dw, dh, filter);
        PilResize.Resize(flipped, sw, sh, 1, b, dw, dh, filter);
        int mismatches = 0;
        for (int y = 0; y < dh; y++)
        {
            for (int x = 0; x < dw; x++)
            {
                mismatches += a[(y * dw) + x] != b[(y * dw) + (dw - 1 - x)] ? 1 : 0;
            }
        }

        // Floating-point window positions are not exactly mirror-symmetric; allow a rare off-by-rounding sample.
        Assert.True(mismatches <= dw * dh / 1000, $"{mismatches} mirrored samples differ");
    }

    [Fact]
    public void Same_size_is_a_copy()
    {
        byte[] src = ImagingTestSupport.RandomBytes(9 * 4 * 3, 3);
        var dst = new byte[src.Length];
        PilResize.Resize(src, 9, 4, 3, dst, 9, 4, PilResample.Bicubic);
        Assert.Equal(src, dst);
    }

    [Fact]
    public void One_by_one_image_fills_the_output()
    {
        RgbImage one = new(1, 1, [10, 20, 30]);
        foreach (PilResample filter in new[] { PilResample.Bilinear, PilResample.Bicubic })
        {
            RgbImage big = PilResize.Resize(one, 224, 224, filter);
            for (int i = 0; i < big.Pixels.Length; i += 3)
            {
                Assert.Equal((byte)10, big.Pixels[i]);
                Assert.Equal((byte)20, big.Pixels[i + 1]);
                Assert.Equal((byte)30, big.Pixels[i + 2]);
            }

            RgbImage back = PilResize.Resize(big, 1, 1, filter);
            Assert.Equal(new byte[] { 10, 20, 30 }, back.Pixels);
        }
    }

    [Theory]
    [InlineData(7, 5, 224, 224, PilResample.Bilinear)]
    [InlineData(7, 5, 224, 224, PilResample.Bicubic)]
    [InlineData(31, 17, 64, 91, PilResample.Bilinear)]
    [InlineData(31, 17, 64, 91, PilResample.Bicubic)]
    [InlineData(301, 199, 224, 224, PilResample.Bilinear)]
    [InlineData(301, 199, 224, 224, PilResample.Bicubic)]
    [InlineData(301, 199, 97, 13, PilResample.Bicubic)]
    [InlineData(3, 401, 224, 224, PilResample.Bilinear)]
    [InlineData(224, 100, 224, 224, PilResample.Bicubic)]
    [InlineData(100, 224, 224, 224, PilResample.Bilinear)]
    public void Agrees_with_plain_double_precision_reimplementation(int sw, int sh, int dw, int dh, PilResample filter)
    {
        byte[] src = ImagingTestSupport.RandomBytes(sw * sh * 3, sw + (31 * sh));
        var fast = new byte[dw * dh * 3];
        PilResize.Resize(src, sw, sh, 3, fast, dw, dh, filter);
        byte[] reference = ReferenceResize(src, sw, sh, 3, dw, dh, filter);

        int maxDiff = 0, mismatches = 0;
        for (int i = 0; i < fast.Length; i++)
        {
            int d = Math.Abs(fast[i] - reference[i]);
            maxDiff = Math.Max(maxDiff, d);
            mismatches += d != 0 ? 1 : 0;
        }

        // Fixed point (22 fractional bits) vs double weights: the same result except where the exact value is a
        // tie (k + 0.5), which PIL's coefficient rounding decides (see the single-pass test); a flipped
        // intermediate can move a second-pass sample by one level too.
        Assert.True(maxDiff <= 1, $"max difference {maxDiff}");
        Assert.True(mismatches <= fast.Length / 100, $"{mismatches} of {fast.Length} samples differ");
    }

    [Theory]
    [InlineData(301, 224, PilResample.Bilinear)]
    [InlineData(301, 224, PilResample.Bicubic)]
    [InlineData(100, 224, PilResample.Bilinear)]
    [InlineData(100, 224, PilResample.Bicubic)]
    [InlineData(7, 224, PilResample.Bilinear)]
    [InlineData(640, 224, PilResample.Bicubic)]
    [InlineData(225, 224, PilResample.Bilinear)]
    [InlineData(3, 5, PilResample.Bicubic)]
    public void Single_pass_differs_from_double_reference_only_at_exact_ties(int inSize, int outSize, PilResample filter)
    {
        const int lines = 64;
        byte[] src = ImagingTestSupport.RandomBytes(inSize * lines, inSize * outSize);

        // Horizontal only: `lines` rows of inSize pixels; vertical only: the transpose.
        var horizontal = new byte[outSize * lines];
        PilResize.Resize(src, inSize, lines, 1, horizontal, outSize, lines, filter);
        var transposed = new byte[src.Length];
        for (int y = 0; y < lines; y++)
        {
            for (int x = 0; x < inSize; x++)
            {
                transposed[(x * lines) + y] = src[(y * inSize) + x];
            }
        }

        var vertical = new byte[outSize * lines];
        PilResize.Resize(transposed, lines, inSize, 1, vertical, lines, outSize, filter);

        int mismatches = 0;
        for (int y = 0; y < lines; y++)
        {
            for (int xx = 0; xx < outSize; xx++)
            {
                (int first, double[] w) = Weights(inSize, outSize, xx, filter);
                double exact = 0;
                for (int k = 0; k < w.Length; k++)
                {
                    exact += src[(y * inSize) + first + k] * w[k];
                }

                byte expected = Round(exact);
                foreach (byte actual in new[] { horizontal[(y * outSize) + xx], vertical[(xx * lines) + y] })
                {
                    if (actual != expected)
                    {
                        mismatches++;
                        double distanceFromTie = Math.Abs(exact - Math.Floor(exact) - 0.5);
                        Assert.True(
                            Math.Abs(actual - expected) == 1 && distanceFromTie < 1e-4,
                            $"output {xx} of line {y}: PIL port {actual}, double {exact:R} -> {expected}");
                    }
                }
            }
        }

        Assert.True(mismatches <= outSize * lines / 10, $"{mismatches} tie breaks");
    }

    [Fact]
    public void Coefficients_are_fixed_point_and_sum_to_one()
    {
        int ksize = PilResize.ComputeCoefficients(300, 224, PilResample.Bicubic, out int[] bounds, out int[] kk);
        Assert.Equal(((int)Math.Ceiling(2.0 * 300 / 224) * 2) + 1, ksize);
        for (int xx = 0; xx < 224; xx++)
        {
            long sum = 0;
            for (int x = 0; x < bounds[(2 * xx) + 1]; x++)
            {
                sum += kk[(xx * ksize) + x];
            }

            Assert.InRange(sum, (1L << 22) - ksize, (1L << 22) + ksize);
        }
    }

    [Fact]
    public void Nearest_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => PilResize.Resize(new RgbImage(2, 2), 3, 3, PilResample.Nearest));
    }

    /// <summary>
    /// The PIL algorithm written as plainly as possible: weights from the formula in double, normalised, applied in
    /// double and rounded half up; horizontal pass first with a uint8 intermediate of the full height.
    /// </summary>
    private static byte[] ReferenceResize(byte[] src, int sw, int sh, int channels, int dw, int dh, PilResample filter)
    {
        byte[] temp = src;
        int tw = sw;
        if (dw != sw)
        {
            temp = new byte[dw * sh * channels];
            for (int y = 0; y < sh; y++)
            {
                for (int xx = 0; xx < dw; xx++)
                {
                    (int first, double[] w) = Weights(sw, dw, xx, filter);
                    for (int c = 0; c < channels; c++)
                    {
                        double s = 0;
                        for (int k = 0; k < w.Length; k++)
                        {
                            s += src[(((y * sw) + first + k) * channels) + c] * w[k];
                        }

                        temp[(((y * dw) + xx) * channels) + c] = Round(s);
                    }
                }
            }

            tw = dw;
        }

        if (dh == sh)
        {
            return temp;
        }

        var dst = new byte[dw * dh * channels];
        for (int yy = 0; yy < dh; yy++)
        {
            (int first, double[] w) = Weights(sh, dh, yy, filter);
            for (int x = 0; x < tw; x++)
            {
                for (int c = 0; c < channels; c++)
                {
                    double s = 0;
                    for (int k = 0; k < w.Length; k++)
                    {
                        s += temp[((((first + k) * tw) + x) * channels) + c] * w[k];
                    }

                    dst[(((yy * tw) + x) * channels) + c] = Round(s);
                }
            }
        }

        return dst;
    }

    private static byte Round(double v) => (byte)Math.Clamp(Math.Floor(v + 0.5), 0, 255);

    private static (int First, double[] Weights) Weights(int inSize, int outSize, int i, PilResample filter)
    {
        double scale = (double)inSize / outSize;
        double fscale = Math.Max(scale, 1.0);
        double support = (filter == PilResample.Bicubic ? 2.0 : 1.0) * fscale;
        double center = (i + 0.5) * scale;
        int first = Math.Max(0, (int)Math.Floor(center - support + 0.5));
        int last = Math.Min(inSize, (int)Math.Floor(center + support + 0.5));
        var w = new double[last - first];
        double total = 0;
        for (int k = 0; k < w.Length; k++)
        {
            double t = Math.Abs((first + k + 0.5 - center) / fscale);
            w[k] = filter == PilResample.Bicubic
                ? (t < 1 ? (1.5 * t * t * t) - (2.5 * t * t) + 1 : t < 2 ? (-0.5 * t * t * t) + (2.5 * t * t) - (4 * t) + 2 : 0)
                : Math.Max(0, 1 - t);
            total += w[k];
        }

        for (int k = 0; k < w.Length; k++)
        {
            w[k] /= total;
        }

        return (first, w);
    }
}
