using System;
using System.ComponentModel;

namespace ViTMAE.Compiled.Runtime;

/// <summary>
/// Hugging Face's <c>interpolate_pos_encoding</c> for ViTMAE, computed once at load for each declared resolution.
/// Both use PyTorch's bicubic <c>interpolate</c> (<c>align_corners=False</c>, A = −0.75, source index
/// <c>scale·(dst + 0.5) − 0.5</c> with scale = in/out, neighbours clamped at the border).
/// Written by hand because no .NET library reproduces PyTorch's resampling rule; evaluated in double.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class PositionInterpolation
{
    private const double A = -0.75;

    /// <summary>
    /// Encoder table <c>[1 + N, D]</c> (N a square grid) → <c>[1 + gridH·gridW, D]</c>: the CLS row is kept, the patch rows
    /// are resized as a √N×√N image to gridH×gridW. Returns a copy of the table when the grid is unchanged (HF returns
    /// the table as is then).
    /// </summary>
    public static float[] Encoder(ReadOnlySpan<float> table, int dim, int gridHeight, int gridWidth)
    {
        int n = table.Length / dim - 1;
        int side = (int)Math.Sqrt(n);
        while (side * side > n)
        {
            side--;
        }

        while ((side + 1) * (side + 1) <= n)
        {
            side++;
        }

        if (side * side != n)
        {
            throw new ArgumentException("position table has " + n + " patch rows, not a square grid", nameof(table));
        }

        var result = new float[(1 + gridHeight * gridWidth) * dim];
        table[..dim].CopyTo(result);
        if (gridHeight == side && gridWidth == side)
        {
            table.CopyTo(result);
            return result;
        }

        // Separable: rows (y) then columns (x), each a 4-tap cubic filter with clamped taps.
        Span<int> ty = stackalloc int[4];
        Span<double> wy = stackalloc double[4];
        Span<int> tx = stackalloc int[4];
        Span<double> wx = stackalloc double[4];
        for (int oy = 0; oy < gridHeight; oy++)
        {
            Taps(oy, side, gridHeight, ty, wy);
            for (int ox = 0; ox < gridWidth; ox++)
            {
                Taps(ox, side, gridWidth, tx, wx);
                int outRow = 1 + oy * gridWidth + ox;
                for (int c = 0; c < dim; c++)
                {
                    double value = 0;
                    for (int i = 0; i < 4; i++)
                    {
                        double rowValue = 0;
                        for (int j = 0; j < 4; j++)
                        {
                            rowValue += wx[j] * table[(1 + ty[i] * side + tx[j]) * dim + c];
                        }

                        value += wy[i] * rowValue;
                    }

                    result[outRow * dim + c] = (float)value;
                }
            }
        }

        return result;
    }

    /// <summary>
    /// Decoder table <c>[1 + N, D]</c> → <c>[1 + patches, D]</c>: HF's <c>ViTMAEDecoder.interpolate_pos_encoding</c> resizes
    /// the patch rows as a 1×N image to 1×patches (bicubic along the flattened sequence, not as a 2-D grid).
    /// </summary>
    public static float[] Decoder(ReadOnlySpan<float> table, int dim, int patches)
    {
        int n = table.Length / dim - 1;
        var result = new float[(1 + patches) * dim];
        table[..dim].CopyTo(result);
        Span<int> taps = stackalloc int[4];
        Span<double> weights = stackalloc double[4];
        for (int o = 0; o < patches; o++)
        {
            Taps(o, n, patches, taps, weights);
            for (int c = 0; c < dim; c++)
            {
                double value = 0;
                for (int j = 0; j < 4; j++)
                {
                    value += weights[j] * table[(1 + taps[j]) * dim + c];
                }

                result[(1 + o) * dim + c] = (float)value;
            }
        }

        return result;
    }

    /// <summary>Source taps and cubic weights of output index <paramref name="dst"/> when resizing <paramref name="inSize"/> → <paramref name="outSize"/>.</summary>
    private static void Taps(int dst, int inSize, int outSize, Span<int> taps, Span<double> weights)
    {
        double scale = (double)inSize / outSize;
        double src = (scale * (dst + 0.5)) - 0.5;
        int floor = (int)Math.Floor(src);
        double t = src - floor;
        weights[0] = Far(t + 1);
        weights[1] = Near(t);
        weights[2] = Near(1 - t);
        weights[3] = Far(2 - t);
        for (int k = 0; k < 4; k++)
        {
            taps[k] = Math.Clamp(floor - 1 + k, 0, inSize - 1);
        }
    }

    private static double Near(double x) => (((A + 2) * x) - (A + 3)) * x * x + 1;

    private static double Far(double x) => ((((A * x) - (5 * A)) * x) + (8 * A)) * x - (4 * A);
}
