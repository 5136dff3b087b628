using System;
using System.Runtime.Intrinsics;

namespace ViTMAE.Compiled.Kernels;

/// <summary>
/// Vectorised, max-subtracted softmax in place (TensorPrimitives.SoftMax does not subtract the maximum, so large logits
/// would overflow). Named SoftmaxKernel like the other kernel classes; a class cannot hold a method of its own name.
/// </summary>
public static class SoftmaxKernel
{
    /// <summary>row ← exp(row − max)/Σ exp(row − max).</summary>
    public static void Forward(Span<float> row) => Forward(row, 1, row.Length, SimdPath.Auto);

    /// <summary>Softmax of each of the <paramref name="rows"/> rows of x [rows, dim], in place.</summary>
    /// <param name="x">[rows, dim].</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="dim">Length of each row.</param>
    public static void Forward(Span<float> x, int rows, int dim) => Forward(x, rows, dim, SimdPath.Auto);

    internal static unsafe void Forward(Span<float> x, int rows, int dim, SimdPath path)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(dim);
        if (x.Length < (long)rows * dim) throw new ArgumentException("x is shorter than rows × dim.", nameof(x));
        if (dim == 0) return;
        fixed (float* p = x)
        {
            for (int r = 0; r < rows; r++)
            {
                float* row = p + (nint)r * dim;
                switch (Simd.Resolve(path))
                {
                    case SimdPath.Vector512: Row<V512, Vector512<float>>(row, dim); break;
                    case SimdPath.Vector256: Row<V256, Vector256<float>>(row, dim); break;
                    case SimdPath.Vector128: Row<V128, Vector128<float>>(row, dim); break;
                    default: Row<Scalar, float>(row, dim); break;
                }
            }
        }
    }

    /// <summary>Softmax of x[0..n), n ≥ 1, in place.</summary>
    internal static unsafe void Row<TOps, TV>(float* x, int n) where TOps : ISimdOps<TV> where TV : struct
    {
        int w = TOps.Count, i = 0;
        float max = x[0];
        if (n >= w)
        {
            TV m = TOps.Load(x);
            for (i = w; i <= n - w; i += w) m = TOps.Max(m, TOps.Load(x + i));
            max = TOps.MaxAcross(m);
        }
        for (; i < n; i++) max = MathF.Max(max, x[i]);

        TV vmax = TOps.Create(max);
        TV s = TOps.Zero;
        i = 0;
        for (; i <= n - w; i += w)
        {
            TV e = VectorMath.Exp<TOps, TV>(TOps.Subtract(TOps.Load(x + i), vmax));
            TOps.Store(x + i, e);
            s = TOps.Add(s, e);
        }
        float sum = TOps.Sum(s);
        for (; i < n; i++)
        {
            float e = VectorMath.Exp<Scalar, float>(x[i] - max);
            x[i] = e;
            sum += e;
        }

        Scale<TOps, TV>(x, n, 1f / sum);
    }

    /// <summary>x[0..n) ×= factor.</summary>
    internal static unsafe void Scale<TOps, TV>(float* x, int n, float factor) where TOps : ISimdOps<TV> where TV : struct
    {
        int w = TOps.Count, i = 0;
        TV f = TOps.Create(factor);
        for (; i <= n - w; i += w) TOps.Store(x + i, TOps.Multiply(TOps.Load(x + i), f));
        for (; i < n; i++) x[i] *= factor;
    }
}
