using System;
using System.ComponentModel;

namespace ViTMAE.Compiled.Runtime;

/// <summary>
/// Hugging Face's <c>ViTMAEForPreTraining.patchify</c>/<c>unpatchify</c> for one image: pixel values
/// <c>[C, H, W]</c> ↔ patches <c>[L, p·p·C]</c>, patches in row-major grid order, each patch's values ordered
/// (row, column, channel), channel fastest.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Patches
{
    /// <summary>Splits <paramref name="pixels"/> <c>[C, H, W]</c> into <paramref name="patches"/> <c>[(H/p)·(W/p), p·p·C]</c>.</summary>
    public static void Patchify(ReadOnlySpan<float> pixels, Span<float> patches, int channels, int height, int width, int patchSize)
    {
        CheckGeometry(pixels.Length, patches.Length, channels, height, width, patchSize);
        int gw = width / patchSize, dim = patchSize * patchSize * channels;
        for (int c = 0; c < channels; c++)
        {
            for (int y = 0; y < height; y++)
            {
                ReadOnlySpan<float> row = pixels.Slice((c * height + y) * width, width);
                int patchRow = y / patchSize, i = y % patchSize;
                for (int x = 0; x < width; x++)
                {
                    int patch = patchRow * gw + x / patchSize, j = x % patchSize;
                    patches[patch * dim + (i * patchSize + j) * channels + c] = row[x];
                }
            }
        }
    }

    /// <summary>The inverse of <see cref="Patchify"/>: patches <c>[L, p·p·C]</c> → pixel values <c>[C, H, W]</c>.</summary>
    public static void Unpatchify(ReadOnlySpan<float> patches, Span<float> pixels, int channels, int height, int width, int patchSize)
    {
        CheckGeometry(pixels.Length, patches.Length, channels, height, width, patchSize);
        int gw = width / patchSize, dim = patchSize * patchSize * channels;
        for (int c = 0; c < channels; c++)
        {
            for (int y = 0; y < height; y++)
            {
                Span<float> row = pixels.Slice((c * height + y) * width, width);
                int patchRow = y / patchSize, i = y % patchSize;
                for (int x = 0; x < width; x++)
                {
                    int patch = patchRow * gw + x / patchSize, j = x % patchSize;
                    row[x] = patches[patch * dim + (i * patchSize + j) * channels + c];
                }
            }
        }
    }

    /// <summary>
    /// Reorders a patch-embedding convolution weight <c>[D, C, p, p]</c> (PyTorch's layout) to <c>[D, p, p, C]</c>, the
    /// order of <see cref="Patchify"/>'s values, so that the convolution becomes one GEMM over patchified pixels
    /// and the same patch buffer serves the loss target.
    /// </summary>
    public static float[] ConvWeightToPatchOrder(ReadOnlySpan<float> weight, int outChannels, int channels, int patchSize)
    {
        var result = new float[weight.Length];
        ConvWeightToPatchOrder(weight, result, outChannels, channels, patchSize);
        return result;
    }

    /// <summary>
    /// <see cref="ConvWeightToPatchOrder(ReadOnlySpan{float}, int, int, int)"/> into a caller's buffer (no allocation: a
    /// training step re-packs the updated weight every step).
    /// </summary>
    public static void ConvWeightToPatchOrder(ReadOnlySpan<float> weight, Span<float> patchOrder, int outChannels, int channels, int patchSize) =>
        Reorder(weight, patchOrder, outChannels, channels, patchSize, toPatchOrder: true, accumulate: false);

    /// <summary>
    /// The inverse reordering, added to <paramref name="weight"/>: a gradient computed in patch order <c>[D, p, p, C]</c> is
    /// added to the convolution's gradient in PyTorch's layout <c>[D, C, p, p]</c>.
    /// </summary>
    public static void AddPatchOrderToConvWeight(ReadOnlySpan<float> patchOrder, Span<float> weight, int outChannels, int channels, int patchSize) =>
        Reorder(patchOrder, weight, outChannels, channels, patchSize, toPatchOrder: false, accumulate: true);

    private static void Reorder(ReadOnlySpan<float> source, Span<float> destination, int outChannels, int channels, int patchSize, bool toPatchOrder, bool accumulate)
    {
        int dim = channels * patchSize * patchSize;
        if (source.Length != outChannels * dim || destination.Length != outChannels * dim)
        {
            throw new ArgumentException($"patch projection weight has {source.Length} values (destination {destination.Length}), expected {outChannels}x{channels}x{patchSize}x{patchSize}", nameof(source));
        }

        for (int d = 0; d < outChannels; d++)
        {
            for (int c = 0; c < channels; c++)
            {
                for (int i = 0; i < patchSize; i++)
                {
                    for (int j = 0; j < patchSize; j++)
                    {
                        int conv = d * dim + (c * patchSize + i) * patchSize + j, patch = d * dim + (i * patchSize + j) * channels + c;
                        (int from, int to) = toPatchOrder ? (conv, patch) : (patch, conv);
                        destination[to] = accumulate ? destination[to] + source[from] : source[from];
                    }
                }
            }
        }
    }

    private static void CheckGeometry(int pixels, int patches, int channels, int height, int width, int patchSize)
    {
        if (patchSize <= 0 || height % patchSize != 0 || width % patchSize != 0)
        {
            throw new ArgumentException($"image {height}x{width} is not divisible into {patchSize}x{patchSize} patches");
        }

        int expected = channels * height * width;
        if (pixels < expected || patches < expected)
        {
            throw new ArgumentException($"patchify of [{channels}, {height}, {width}] needs {expected} pixel values and patch values; got {pixels} and {patches}");
        }
    }
}
