using System;

namespace ViTMAE.Compiled.Onnx.Graph;

/// <summary>
/// Position-embedding tables for <c>interpolate_pos_encoding</c>, computed at graph-build time in plain double
/// arithmetic. This is this backend's own implementation of PyTorch's <c>interpolate(mode="bicubic",
/// align_corners=False)</c> (cubic convolution with A = −0.75, source index <c>scale·(dst + ½) − ½</c> without
/// clamping, the four taps clamped to the border), independent of the runtime's PositionInterpolation.
/// </summary>
internal static class PositionTables
{
    private const double A = -0.75;

    /// <summary>
    /// Hugging Face's <c>ViTMAEEmbeddings.interpolate_pos_encoding</c>: the patch part of <paramref name="table"/>
    /// (<c>[1 + n·n, dim]</c>, CLS first) is seen as an n×n grid and resized to <paramref name="outHeight"/>×<paramref name="outWidth"/>
    /// (PyTorch called with <c>size=</c>, so the scale is in/out). Returns <c>[1 + outHeight·outWidth, dim]</c>, CLS unchanged.
    /// </summary>
    public static float[] ResizeEncoderTable(float[] table, int dim, int outHeight, int outWidth)
    {
        int positions = table.Length / dim - 1;
        int side = (int)Math.Sqrt(positions);
        while (side * side > positions)
        {
            side--;
        }

        while ((side + 1) * (side + 1) <= positions)
        {
            side++;
        }

        if (side * side != positions)
        {
            throw new NotSupportedException(
                $"interpolate_pos_encoding needs a square position table; this one has {positions} patch positions.");
        }

        var result = new float[(1 + outHeight * outWidth) * dim];
        Array.Copy(table, result, dim);
        var rows = Taps(side, outHeight, (double)side / outHeight);
        var cols = Taps(side, outWidth, (double)side / outWidth);
        for (int oy = 0; oy < outHeight; oy++)
        {
            for (int ox = 0; ox < outWidth; ox++)
            {
                int dst = (1 + oy * outWidth + ox) * dim;
                for (int d = 0; d < dim; d++)
                {
                    double sum = 0;
                    for (int i = 0; i < 4; i++)
                    {
                        double rowSum = 0;
                        int rowBase = 1 + rows.Index[oy, i] * side;
                        for (int j = 0; j < 4; j++)
                        {
                            rowSum += cols.Weight[ox, j] * table[(rowBase + cols.Index[ox, j]) * dim + d];
                        }

                        sum += rows.Weight[oy, i] * rowSum;
                    }

                    result[dst + d] = (float)sum;
                }
            }
        }

        return result;
    }

    /// <summary>
    /// Hugging Face's <c>ViTMAEDecoder.interpolate_pos_encoding</c>: the patch part of <paramref name="table"/>
    /// (<c>[1 + n, dim]</c>) is resized along the flattened 1-D sequence to <paramref name="outPositions"/>
    /// (PyTorch called with <c>scale_factor=(1, out/n)</c>, so the source scale is <c>1 / (out/n)</c>). CLS unchanged.
    /// </summary>
    public static float[] ResizeDecoderTable(float[] table, int dim, int outPositions)
    {
        int positions = table.Length / dim - 1;
        var result = new float[(1 + outPositions) * dim];
        Array.Copy(table, result, dim);
        double scaleFactor = (double)outPositions / positions;
        var taps = Taps(positions, outPositions, 1.0 / scaleFactor);
        for (int o = 0; o < outPositions; o++)
        {
            int dst = (1 + o) * dim;
            for (int d = 0; d < dim; d++)
            {
                double sum = 0;
                for (int j = 0; j < 4; j++)
                {
                    sum += taps.Weight[o, j] * table[(1 + taps.Index[o, j]) * dim + d];
                }

                result[dst + d] = (float)sum;
            }
        }

        return result;
    }

    /// <summary>For each output index: the four clamped source indices and their cubic-convolution weights.</summary>
    private static (int[,] Index, double[,] Weight) Taps(int inSize, int outSize, double scale)
    {
        var index = new int[outSize, 4];
        var weight = new double[outSize, 4];
        for (int o = 0; o < outSize; o++)
        {
            double real = scale * (o + 0.5) - 0.5;
            int floor = (int)Math.Floor(real);
            double t = real - floor;
            weight[o, 0] = Far(t + 1);
            weight[o, 1] = Near(t);
            weight[o, 2] = Near(1 - t);
            weight[o, 3] = Far(2 - t);
            for (int k = 0; k < 4; k++)
            {
                index[o, k] = Math.Clamp(floor - 1 + k, 0, inSize - 1);
            }
        }

        return (index, weight);
    }

    /// <summary>Cubic convolution kernel for |x| ≤ 1.</summary>
    private static double Near(double x) => ((A + 2) * x - (A + 3)) * x * x + 1;

    /// <summary>Cubic convolution kernel for 1 &lt; |x| &lt; 2.</summary>
    private static double Far(double x) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}
