using System;

namespace ViTMAE.Compiled.Imaging;

/// <summary>
/// ViTMAE's <c>patchify</c>/<c>unpatchify</c> for one image: <c>[C, H, W]</c> ⇄ <c>[L, p·p·C]</c> with patches
/// row-major over the <c>(H/p)×(W/p)</c> grid and each patch's values ordered (row, column, channel), channel
/// fastest — <c>einsum("nchpwq->nhwpqc")</c> in transformers' <c>ViTMAEForPreTraining.patchify</c>.
/// </summary>
public static class Patches
{
    /// <summary><c>[C, H, W]</c> → <c>[L, p·p·C]</c>.</summary>
    /// <exception cref="ArgumentException">H or W is not a multiple of <paramref name="patchSize"/>, or a span has the wrong length.</exception>
    public static void Patchify(ReadOnlySpan<float> image, int channels, int height, int width, int patchSize, Span<float> patches)
    {
        Check(image.Length, patches.Length, channels, height, width, patchSize);
        int gridW = width / patchSize, gridH = height / patchSize, patchLength = patchSize * patchSize * channels;
        for (int gy = 0; gy < gridH; gy++)
        {
            for (int gx = 0; gx < gridW; gx++)
            {
                Span<float> patch = patches.Slice(((gy * gridW) + gx) * patchLength, patchLength);
                int k = 0;
                for (int py = 0; py < patchSize; py++)
                {
                    int y = (gy * patchSize) + py;
                    for (int px = 0; px < patchSize; px++)
                    {
                        int x = (gx * patchSize) + px;
                        for (int c = 0; c < channels; c++)
                        {
                            patch[k++] = image[(((c * height) + y) * width) + x];
                        }
                    }
                }
            }
        }
    }

    /// <summary><c>[L, p·p·C]</c> → <c>[C, H, W]</c>, the inverse of <see cref="Patchify"/>.</summary>
    /// <exception cref="ArgumentException">H or W is not a multiple of <paramref name="patchSize"/>, or a span has the wrong length.</exception>
    public static void Unpatchify(ReadOnlySpan<float> patches, int channels, int height, int width, int patchSize, Span<float> image)
    {
        Check(image.Length, patches.Length, channels, height, width, patchSize);
        int gridW = width / patchSize, gridH = height / patchSize, patchLength = patchSize * patchSize * channels;
        for (int gy = 0; gy < gridH; gy++)
        {
            for (int gx = 0; gx < gridW; gx++)
            {
                ReadOnlySpan<float> patch = patches.Slice(((gy * gridW) + gx) * patchLength, patchLength);
                int k = 0;
                for (int py = 0; py < patchSize; py++)
                {
                    int y = (gy * patchSize) + py;
                    for (int px = 0; px < patchSize; px++)
                    {
                        int x = (gx * patchSize) + px;
                        for (int c = 0; c < channels; c++)
                        {
                            image[(((c * height) + y) * width) + x] = patch[k++];
                        }
                    }
                }
            }
        }
    }

    private static void Check(int imageLength, int patchesLength, int channels, int height, int width, int patchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(patchSize);
        if (height % patchSize != 0 || width % patchSize != 0)
        {
            throw new ArgumentException($"Image {height}×{width} is not a whole number of {patchSize}×{patchSize} patches.", nameof(patchSize));
        }

        long n = (long)channels * height * width;
        if (imageLength != n || patchesLength != n)
        {
            throw new ArgumentException($"Both spans must hold {channels}×{height}×{width} = {n} floats; the image holds {imageLength}, the patches {patchesLength}.");
        }
    }
}
