using System;
using System.Runtime.Intrinsics;

namespace ViTMAE.Compiled.Kernels;

// LayerNorm backward in two passes, each parallel and bit-identical for any number of workers:
//   1. columns: dGamma[c] += Σ_r dY[r,c]·x̂[r,c] and dBeta[c] += Σ_r dY[r,c], the rows summed in fixed blocks of
//      BlockRows (each block from zero in row order, then added to dGamma/dBeta in block order); workers share the
//      columns in groups of 4 vectors, so each column is summed by one worker with the same instructions whatever the split.
//   2. rows: dX[r,:] = rstd·(g − mean(g) − x̂·mean(g⊙x̂)), g = dY⊙gamma, one row at a time.
// Pass 1 reads dY and x before pass 2 writes dX, so dX may be the very memory of dY (or of x).
public static partial class LayerNormKernel
{
    /// <summary>Rows per block of the dGamma/dBeta reduction (partial sums from zero, added in block order).</summary>
    public const int BackwardBlockRows = 64;

    /// <summary>
    /// Gradients of y = LayerNorm(x)·gamma + beta from the forward's statistics (x̂ = (x − mean)·rstd):
    /// dGamma += Σ_rows dY⊙x̂; dBeta += Σ_rows dY; dX (=|+=) rstd·(g − mean(g) − x̂·mean(g⊙x̂)) with g = dY⊙gamma. No allocation.
    /// </summary>
    /// <remarks>
    /// Bit-identical for any pool size: dGamma and dBeta are summed per column over fixed blocks of
    /// <see cref="BackwardBlockRows"/> rows (each block from zero in row order, the blocks then added in order), each
    /// column by one worker; dX row by row.
    /// </remarks>
    /// <param name="dY">[rows, dim], the gradient of the output.</param>
    /// <param name="x">[rows, dim], the forward's input.</param>
    /// <param name="gamma">[dim].</param>
    /// <param name="stats">[rows, 2] (mean, rstd) written by the forward overload with statistics.</param>
    /// <param name="dX">[rows, dim]: overwritten, or added to with <paramref name="accumulate"/>. May be exactly the memory of
    /// <paramref name="dY"/> or <paramref name="x"/>; must not partly overlap them, nor overlap the other spans.</param>
    /// <param name="dGamma">[dim], added to.</param>
    /// <param name="dBeta">[dim], added to.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="dim">Features per row.</param>
    /// <param name="accumulate">false: dX = the gradient; true: dX += it.</param>
    /// <param name="pool">Workers to share the columns, then the rows with, or null for the calling thread.</param>
    /// <exception cref="ArgumentException">A span is shorter than its shape, or spans overlap.</exception>
    public static void Backward(ReadOnlySpan<float> dY, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> stats,
        Span<float> dX, Span<float> dGamma, Span<float> dBeta, int rows, int dim, bool accumulate, Threading.ComputePool? pool = null)
        => Backward(dY, x, gamma, stats, dX, dGamma, dBeta, rows, dim, accumulate, SimdPath.Auto, pool);

    internal static unsafe void Backward(ReadOnlySpan<float> dY, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> stats,
        Span<float> dX, Span<float> dGamma, Span<float> dBeta, int rows, int dim, bool accumulate, SimdPath path, Threading.ComputePool? pool = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        long size = (long)rows * dim;
        Need(dY.Length, size, nameof(dY), "rows × dim");
        Need(x.Length, size, nameof(x), "rows × dim");
        Need(dX.Length, size, nameof(dX), "rows × dim");
        Need(gamma.Length, dim, nameof(gamma), "dim");
        Need(dGamma.Length, dim, nameof(dGamma), "dim");
        Need(dBeta.Length, dim, nameof(dBeta), "dim");
        Need(stats.Length, 2L * rows, nameof(stats), "rows × 2");
        if (rows == 0) return;
        ReadOnlySpan<float> dys = dY[..(int)size], xs = x[..(int)size], st = stats[..(2 * rows)], gs = gamma[..dim];
        Span<float> dxs = dX[..(int)size], dg = dGamma[..dim], db = dBeta[..dim];
        if ((dxs.Overlaps(dys, out int o1) && o1 != 0) || (dxs.Overlaps(xs, out int o2) && o2 != 0))
            throw new ArgumentException("dX partly overlaps dY or x; use exactly the same memory or disjoint memory.", nameof(dX));
        if (dxs.Overlaps(st) || dxs.Overlaps(gs) || dxs.Overlaps(dg) || dxs.Overlaps(db) || dg.Overlaps(db)
            || dg.Overlaps(dys) || dg.Overlaps(xs) || dg.Overlaps(st) || dg.Overlaps(gs)
            || db.Overlaps(dys) || db.Overlaps(xs) || db.Overlaps(st) || db.Overlaps(gs))
            throw new ArgumentException("dX, dGamma and dBeta must not overlap each other or the inputs (except dX exactly on dY or x).", nameof(dGamma));

        SimdPath resolved = Simd.Resolve(path);
        fixed (float* pdy = dys)
        fixed (float* px = xs)
        fixed (float* pg = gs)
        fixed (float* ps = st)
        fixed (float* pdx = dxs)
        fixed (float* pdg = dg)
        fixed (float* pdb = db)
        {
            var args = new BackwardArgs(pdy, px, pg, ps, pdx, pdg, pdb, rows, dim, accumulate, resolved);
            int group = 4 * Simd.Width(resolved);
            int groups = (dim + group - 1) / group;
            int columnChunks = pool is null ? 1 : pool.ChunksFor(groups, 4L * rows * group, MinElementsPerChunk);
            int rowChunks = pool is null ? 1 : pool.ChunksFor(rows, 4L * dim, MinElementsPerChunk);
            ParallelLayerNormBackward? work = columnChunks > 1 || rowChunks > 1 ? ParallelLayerNormBackward.ForThisThread : null;
            if (columnChunks > 1)
            {
                work!.Arguments = args;
                work.Chunks = columnChunks;
                work.Columns = true;
                pool!.Run(work, columnChunks);
            }
            else
            {
                ParameterColumns(in args, 0, dim);
            }

            if (rowChunks > 1)
            {
                work!.Arguments = args;
                work.Chunks = rowChunks;
                work.Columns = false;
                pool!.Run(work, rowChunks);
            }
            else
            {
                InputRows(in args, 0, rows);
            }
        }
    }

    private static void Need(int length, long expected, string name, string shape)
    {
        if (length < expected)
            throw new ArgumentException($"{name} has {length} floats, expected at least {shape} = {expected}.", name);
    }

    private readonly unsafe struct BackwardArgs(float* dY, float* x, float* gamma, float* stats, float* dX, float* dGamma, float* dBeta, int rows, int dim, bool accumulate, SimdPath path)
    {
        public readonly float* DY = dY, X = x, Gamma = gamma, Stats = stats, DX = dX, DGamma = dGamma, DBeta = dBeta;
        public readonly int RowCount = rows, Dim = dim;
        public readonly bool Accumulate = accumulate;
        public readonly SimdPath Path = path;
    }

    /// <summary>The fan-out of one LayerNorm backward pass; one instance per calling thread, reused (no allocation per call).</summary>
    private sealed class ParallelLayerNormBackward : Threading.IParallelWork
    {
        [ThreadStatic]
        private static ParallelLayerNormBackward? t_instance;

        public BackwardArgs Arguments;
        public int Chunks;
        public bool Columns;

        public static ParallelLayerNormBackward ForThisThread => t_instance ??= new ParallelLayerNormBackward();

        public void Execute(int chunk, int worker)
        {
            if (Columns)
            {
                // Column shares in whole groups of 4 vectors: a column is handled by the same code whatever the split.
                (int start, int end) = Threading.ComputePool.Share(Arguments.Dim, chunk, Chunks, 4 * Simd.Width(Arguments.Path));
                ParameterColumns(in Arguments, start, end);
            }
            else
            {
                (int start, int end) = Threading.ComputePool.Share(Arguments.RowCount, chunk, Chunks);
                InputRows(in Arguments, start, end);
            }
        }
    }

    private static unsafe void ParameterColumns(in BackwardArgs a, int start, int end)
    {
        if (start >= end) return;
        switch (a.Path)
        {
            case SimdPath.Vector512: ParameterColumns<V512, Vector512<float>>(in a, start, end); break;
            case SimdPath.Vector256: ParameterColumns<V256, Vector256<float>>(in a, start, end); break;
            case SimdPath.Vector128: ParameterColumns<V128, Vector128<float>>(in a, start, end); break;
            default: ParameterColumns<Scalar, float>(in a, start, end); break;
        }
    }

    private static unsafe void InputRows(in BackwardArgs a, int start, int end)
    {
        for (int r = start; r < end; r++)
        {
            nint o = (nint)r * a.Dim;
            float mean = a.Stats[2 * r], rstd = a.Stats[2 * r + 1];
            switch (a.Path)
            {
                case SimdPath.Vector512: InputRow<V512, Vector512<float>>(a.DY + o, a.X + o, a.Gamma, mean, rstd, a.DX + o, a.Dim, a.Accumulate); break;
                case SimdPath.Vector256: InputRow<V256, Vector256<float>>(a.DY + o, a.X + o, a.Gamma, mean, rstd, a.DX + o, a.Dim, a.Accumulate); break;
                case SimdPath.Vector128: InputRow<V128, Vector128<float>>(a.DY + o, a.X + o, a.Gamma, mean, rstd, a.DX + o, a.Dim, a.Accumulate); break;
                default: InputRow<Scalar, float>(a.DY + o, a.X + o, a.Gamma, mean, rstd, a.DX + o, a.Dim, a.Accumulate); break;
            }
        }
    }

    /// <summary>dGamma/dBeta for columns [start, end): groups of 4 vectors, then single vectors, then scalars; per column
    /// the rows in blocks of <see cref="BackwardBlockRows"/>.</summary>
    private static unsafe void ParameterColumns<TOps, TV>(in BackwardArgs a, int start, int end) where TOps : ISimdOps<TV> where TV : struct
    {
        int w = TOps.Count, dim = a.Dim, rows = a.RowCount;
        int c = start;
        for (; c + 4 * w <= end; c += 4 * w)
        {
            for (int r0 = 0; r0 < rows; r0 += BackwardBlockRows)
            {
                int r1 = Math.Min(rows, r0 + BackwardBlockRows);
                TV g0 = TOps.Zero, g1 = TOps.Zero, g2 = TOps.Zero, g3 = TOps.Zero;
                TV b0 = TOps.Zero, b1 = TOps.Zero, b2 = TOps.Zero, b3 = TOps.Zero;
                for (int r = r0; r < r1; r++)
                {
                    nint o = (nint)r * dim + c;
                    TV mean = TOps.Create(a.Stats[2 * r]), rstd = TOps.Create(a.Stats[2 * r + 1]);
                    float* dy = a.DY + o, x = a.X + o;
                    TV d0 = TOps.Load(dy), d1 = TOps.Load(dy + w), d2 = TOps.Load(dy + 2 * w), d3 = TOps.Load(dy + 3 * w);
                    g0 = TOps.MultiplyAdd(d0, TOps.Multiply(TOps.Subtract(TOps.Load(x), mean), rstd), g0);
                    g1 = TOps.MultiplyAdd(d1, TOps.Multiply(TOps.Subtract(TOps.Load(x + w), mean), rstd), g1);
                    g2 = TOps.MultiplyAdd(d2, TOps.Multiply(TOps.Subtract(TOps.Load(x + 2 * w), mean), rstd), g2);
                    g3 = TOps.MultiplyAdd(d3, TOps.Multiply(TOps.Subtract(TOps.Load(x + 3 * w), mean), rstd), g3);
                    b0 = TOps.Add(b0, d0);
                    b1 = TOps.Add(b1, d1);
                    b2 = TOps.Add(b2, d2);
                    b3 = TOps.Add(b3, d3);
                }
                float* pg = a.DGamma + c, pb = a.DBeta + c;
                TOps.Store(pg, TOps.Add(TOps.Load(pg), g0));
                TOps.Store(pg + w, TOps.Add(TOps.Load(pg + w), g1));
                TOps.Store(pg + 2 * w, TOps.Add(TOps.Load(pg + 2 * w), g2));
                TOps.Store(pg + 3 * w, TOps.Add(TOps.Load(pg + 3 * w), g3));
                TOps.Store(pb, TOps.Add(TOps.Load(pb), b0));
                TOps.Store(pb + w, TOps.Add(TOps.Load(pb + w), b1));
                TOps.Store(pb + 2 * w, TOps.Add(TOps.Load(pb + 2 * w), b2));
                TOps.Store(pb + 3 * w, TOps.Add(TOps.Load(pb + 3 * w), b3));
            }
        }
        for (; c + w <= end; c += w)
        {
            for (int r0 = 0; r0 < rows; r0 += BackwardBlockRows)
            {
                int r1 = Math.Min(rows, r0 + BackwardBlockRows);
                TV g0 = TOps.Zero, b0 = TOps.Zero;
                for (int r = r0; r < r1; r++)
                {
                    nint o = (nint)r * dim + c;
                    TV d0 = TOps.Load(a.DY + o);
                    g0 = TOps.MultiplyAdd(d0, TOps.Multiply(TOps.Subtract(TOps.Load(a.X + o), TOps.Create(a.Stats[2 * r])), TOps.Create(a.Stats[2 * r + 1])), g0);
                    b0 = TOps.Add(b0, d0);
                }
                TOps.Store(a.DGamma + c, TOps.Add(TOps.Load(a.DGamma + c), g0));
                TOps.Store(a.DBeta + c, TOps.Add(TOps.Load(a.DBeta + c), b0));
            }
        }
        for (; c < end; c++)
        {
            for (int r0 = 0; r0 < rows; r0 += BackwardBlockRows)
            {
                int r1 = Math.Min(rows, r0 + BackwardBlockRows);
                float g0 = 0f, b0 = 0f;
                for (int r = r0; r < r1; r++)
                {
                    nint o = (nint)r * dim + c;
                    float d0 = a.DY[o];
                    g0 = Scalar.MultiplyAdd(d0, (a.X[o] - a.Stats[2 * r]) * a.Stats[2 * r + 1], g0);
                    b0 += d0;
                }
                a.DGamma[c] += g0;
                a.DBeta[c] += b0;
            }
        }
    }

    /// <summary>One row of dX = rstd·(g − mean(g) − x̂·mean(g⊙x̂)), g = dY⊙gamma, x̂ = (x − mean)·rstd.</summary>
    private static unsafe void InputRow<TOps, TV>(float* dy, float* x, float* gamma, float mean, float rstd, float* dx, int dim, bool accumulate)
        where TOps : ISimdOps<TV> where TV : struct
    {
        int w = TOps.Count, i = 0;
        TV m = TOps.Create(mean), rs = TOps.Create(rstd);
        TV sg0 = TOps.Zero, sg1 = TOps.Zero, sx0 = TOps.Zero, sx1 = TOps.Zero;
        for (; i <= dim - 2 * w; i += 2 * w)
        {
            TV g0 = TOps.Multiply(TOps.Load(dy + i), TOps.Load(gamma + i));
            TV g1 = TOps.Multiply(TOps.Load(dy + i + w), TOps.Load(gamma + i + w));
            TV h0 = TOps.Multiply(TOps.Subtract(TOps.Load(x + i), m), rs);
            TV h1 = TOps.Multiply(TOps.Subtract(TOps.Load(x + i + w), m), rs);
            sg0 = TOps.Add(sg0, g0);
            sg1 = TOps.Add(sg1, g1);
            sx0 = TOps.MultiplyAdd(g0, h0, sx0);
            sx1 = TOps.MultiplyAdd(g1, h1, sx1);
        }
        for (; i <= dim - w; i += w)
        {
            TV g0 = TOps.Multiply(TOps.Load(dy + i), TOps.Load(gamma + i));
            sg0 = TOps.Add(sg0, g0);
            sx0 = TOps.MultiplyAdd(g0, TOps.Multiply(TOps.Subtract(TOps.Load(x + i), m), rs), sx0);
        }
        float sumG = TOps.Sum(TOps.Add(sg0, sg1)), sumGx = TOps.Sum(TOps.Add(sx0, sx1));
        for (; i < dim; i++)
        {
            float g = dy[i] * gamma[i];
            sumG += g;
            sumGx = Scalar.MultiplyAdd(g, (x[i] - mean) * rstd, sumGx);
        }

        float meanG = sumG / dim, meanGx = sumGx / dim;
        TV mg = TOps.Create(meanG), negMgx = TOps.Create(-meanGx);
        i = 0;
        for (; i <= dim - w; i += w)
        {
            TV h = TOps.Multiply(TOps.Subtract(TOps.Load(x + i), m), rs);
            TV t = TOps.Subtract(TOps.Multiply(TOps.Load(dy + i), TOps.Load(gamma + i)), mg);
            TV d = TOps.Multiply(TOps.MultiplyAdd(h, negMgx, t), rs);
            if (accumulate) d = TOps.Add(TOps.Load(dx + i), d);
            TOps.Store(dx + i, d);
        }
        for (; i < dim; i++)
        {
            float h = (x[i] - mean) * rstd;
            float d = Scalar.MultiplyAdd(h, -meanGx, dy[i] * gamma[i] - meanG) * rstd;
            dx[i] = accumulate ? dx[i] + d : d;
        }
    }
}
