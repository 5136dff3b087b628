using System;
using System.Runtime.Intrinsics;

namespace ViTMAE.Compiled.Kernels;

/// <summary>
/// Vectorised LayerNorm over the rows of [rows, dim]: two passes for the statistics (mean, then the biased variance
/// Σ(x − mean)²/dim, which does not cancel like E[x²] − mean²), a third to normalise with gamma and beta; and its backward.
/// No allocation.
/// </summary>
public static partial class LayerNormKernel
{
    /// <summary>y[r,:] = (x[r,:] − mean)/sqrt(var + eps)·gamma + beta (biased variance, as PyTorch).</summary>
    /// <param name="x">[rows, dim].</param>
    /// <param name="gamma">[dim] (LayerNorm weight).</param>
    /// <param name="beta">[dim] (LayerNorm bias).</param>
    /// <param name="y">[rows, dim]; may be exactly the same memory as <paramref name="x"/> (in place), must not partly overlap it.</param>
    /// <param name="rows">Number of rows (tokens).</param>
    /// <param name="dim">Features per row.</param>
    /// <param name="eps">layer_norm_eps from the config.</param>
    /// <param name="pool">Workers to share the rows with (in chunks of at least 16 K elements; serial below two such
    /// chunks), or null for the calling thread. Each row is computed exactly as in the serial call.</param>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> y, int rows, int dim, float eps, Threading.ComputePool? pool = null)
        => Forward(x, gamma, beta, y, rows, dim, eps, SimdPath.Auto, pool);

    /// <summary>
    /// The same forward (y bit-identical to the overload without statistics), also writing each row's statistics for
    /// <see cref="Backward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, int, int, bool, Threading.ComputePool)"/>:
    /// stats[2r] = mean and stats[2r + 1] = rstd = 1/sqrt(var + eps) (biased variance), exactly the floats the forward used.
    /// </summary>
    /// <param name="x">[rows, dim].</param>
    /// <param name="gamma">[dim] (LayerNorm weight).</param>
    /// <param name="beta">[dim] (LayerNorm bias).</param>
    /// <param name="y">[rows, dim]; may be exactly the same memory as <paramref name="x"/>, must not partly overlap it.</param>
    /// <param name="stats">[rows, 2]: (mean, rstd) per row; must not overlap x or y.</param>
    /// <param name="rows">Number of rows (tokens).</param>
    /// <param name="dim">Features per row.</param>
    /// <param name="eps">layer_norm_eps from the config.</param>
    /// <param name="pool">Workers to share the rows with, or null. Each row is computed exactly as in the serial call.</param>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> y, Span<float> stats, int rows, int dim, float eps, Threading.ComputePool? pool = null)
        => Forward(x, gamma, beta, y, stats, rows, dim, eps, SimdPath.Auto, pool);

    /// <summary>The smallest share of a LayerNorm worth handing to another thread.</summary>
    private const long MinElementsPerChunk = 1 << 14;

    internal static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> y, int rows, int dim, float eps, SimdPath path, Threading.ComputePool? pool = null)
        => Forward(x, gamma, beta, y, [], rows, dim, eps, path, pool, withStats: false);

    internal static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> y, Span<float> stats, int rows, int dim, float eps, SimdPath path, Threading.ComputePool? pool = null)
        => Forward(x, gamma, beta, y, stats, rows, dim, eps, path, pool, withStats: true);

    private static unsafe void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> y, Span<float> stats, int rows, int dim, float eps, SimdPath path, Threading.ComputePool? pool, bool withStats)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        long size = (long)rows * dim;
        if (x.Length < size) throw new ArgumentException("x is shorter than rows × dim.", nameof(x));
        if (y.Length < size) throw new ArgumentException("y is shorter than rows × dim.", nameof(y));
        if (gamma.Length < dim) throw new ArgumentException("gamma is shorter than dim.", nameof(gamma));
        if (beta.Length < dim) throw new ArgumentException("beta is shorter than dim.", nameof(beta));
        if (withStats && stats.Length < 2L * rows)
            throw new ArgumentException($"stats has {stats.Length} floats, expected at least rows × 2 = {2L * rows}.", nameof(stats));
        if (rows == 0) return;
        ReadOnlySpan<float> xs = x[..(int)size];
        Span<float> ys = y[..(int)size];
        if (xs.Overlaps(ys, out int offset) && offset != 0)
            throw new ArgumentException("x and y partly overlap; use the same memory for in place or disjoint memory.", nameof(y));
        Span<float> st = withStats ? stats[..(2 * rows)] : default;
        if (withStats && (st.Overlaps(xs) || st.Overlaps(ys)))
            throw new ArgumentException("stats overlaps x or y.", nameof(stats));
        fixed (float* px = xs)
        fixed (float* pg = gamma)
        fixed (float* pb = beta)
        fixed (float* py = ys)
        fixed (float* ps = st)
        {
            var args = new Args(px, pg, pb, py, withStats ? ps : null, rows, dim, eps, Simd.Resolve(path));
            int chunks = pool is null ? 1 : pool.ChunksFor(rows, dim, MinElementsPerChunk);
            if (chunks > 1)
            {
                ParallelLayerNorm work = ParallelLayerNorm.ForThisThread;
                work.Arguments = args;
                work.Chunks = chunks;
                pool!.Run(work, chunks);
            }
            else
            {
                Rows(in args, 0, rows);
            }
        }
    }

    private readonly unsafe struct Args(float* x, float* gamma, float* beta, float* y, float* stats, int rows, int dim, float eps, SimdPath path)
    {
        public readonly float* X = x, Gamma = gamma, Beta = beta, Y = y, Stats = stats;
        public readonly int RowCount = rows, Dim = dim;
        public readonly float Eps = eps;
        public readonly SimdPath Path = path;
    }

    private static unsafe void Rows(in Args a, int start, int end)
    {
        for (int r = start; r < end; r++)
        {
            nint o = (nint)r * a.Dim;
            float* stats = a.Stats == null ? null : a.Stats + 2 * (nint)r;
            switch (a.Path)
            {
                case SimdPath.Vector512: Row<V512, Vector512<float>>(a.X + o, a.Gamma, a.Beta, a.Y + o, stats, a.Dim, a.Eps); break;
                case SimdPath.Vector256: Row<V256, Vector256<float>>(a.X + o, a.Gamma, a.Beta, a.Y + o, stats, a.Dim, a.Eps); break;
                case SimdPath.Vector128: Row<V128, Vector128<float>>(a.X + o, a.Gamma, a.Beta, a.Y + o, stats, a.Dim, a.Eps); break;
                default: Row<Scalar, float>(a.X + o, a.Gamma, a.Beta, a.Y + o, stats, a.Dim, a.Eps); break;
            }
        }
    }

    /// <summary>The fan-out of one LayerNorm; one instance per calling thread, reused (no allocation per call).</summary>
    private sealed class ParallelLayerNorm : Threading.IParallelWork
    {
        [ThreadStatic]
        private static ParallelLayerNorm? t_instance;

        public Args Arguments;
        public int Chunks;

        public static ParallelLayerNorm ForThisThread => t_instance ??= new ParallelLayerNorm();

        public void Execute(int chunk, int worker)
        {
            (int start, int end) = Threading.ComputePool.Share(Arguments.RowCount, chunk, Chunks);
            Rows(in Arguments, start, end);
        }
    }

    private static unsafe void Row<TOps, TV>(float* x, float* gamma, float* beta, float* y, float* stats, int dim, float eps)
        where TOps : ISimdOps<TV> where TV : struct
    {
        int w = TOps.Count;
        int i = 0;
        TV s0 = TOps.Zero, s1 = TOps.Zero;
        for (; i <= dim - 2 * w; i += 2 * w)
        {
            s0 = TOps.Add(s0, TOps.Load(x + i));
            s1 = TOps.Add(s1, TOps.Load(x + i + w));
        }
        for (; i <= dim - w; i += w) s0 = TOps.Add(s0, TOps.Load(x + i));
        float sum = TOps.Sum(TOps.Add(s0, s1));
        for (; i < dim; i++) sum += x[i];
        float mean = sum / dim;

        TV m = TOps.Create(mean);
        TV v0 = TOps.Zero, v1 = TOps.Zero;
        i = 0;
        for (; i <= dim - 2 * w; i += 2 * w)
        {
            TV d0 = TOps.Subtract(TOps.Load(x + i), m);
            TV d1 = TOps.Subtract(TOps.Load(x + i + w), m);
            v0 = TOps.MultiplyAdd(d0, d0, v0);
            v1 = TOps.MultiplyAdd(d1, d1, v1);
        }
        for (; i <= dim - w; i += w)
        {
            TV d0 = TOps.Subtract(TOps.Load(x + i), m);
            v0 = TOps.MultiplyAdd(d0, d0, v0);
        }
        float sq = TOps.Sum(TOps.Add(v0, v1));
        for (; i < dim; i++)
        {
            float d = x[i] - mean;
            sq += d * d;
        }
        float rstd = 1f / MathF.Sqrt(sq / dim + eps);
        if (stats != null)
        {
            stats[0] = mean;
            stats[1] = rstd;
        }

        TV rs = TOps.Create(rstd);
        i = 0;
        for (; i <= dim - w; i += w)
        {
            TV n = TOps.Multiply(TOps.Subtract(TOps.Load(x + i), m), rs);
            TOps.Store(y + i, TOps.MultiplyAdd(n, TOps.Load(gamma + i), TOps.Load(beta + i)));
        }
        for (; i < dim; i++) y[i] = (x[i] - mean) * rstd * gamma[i] + beta[i];
    }
}
