using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ViTMAE.Compiled.Kernels;

// The weight gradient dW[n, k] += Σ_r dY[r, n]·X[r, k] in the GEMM's layers: X's columns packed into panels (the B
// operand, K-major over the m rows), dY read in place as the transposed A operand (see MicroKernelT), a tile of dW in
// registers for the whole reduction over m, added to dW once.
public sealed unsafe partial class PackedLinear
{
    internal readonly struct WeightGradientArgs
    {
        public readonly float* DOutput, Input, DWeight, DBias, Packed;
        public readonly int DOutputStride, M, N, K;

        public WeightGradientArgs(float* dOutput, int dOutputStride, float* input, float* dWeight, float* dBias, int m, int n, int k, float* packed)
        {
            DOutput = dOutput; DOutputStride = dOutputStride; Input = input; DWeight = dWeight; DBias = dBias; M = m; N = n; K = k; Packed = packed;
        }
    }

    /// <summary>Floats of X panels the weight gradient packs: ⌈k/32⌉·32·m (the widest panel, so one size serves every path).</summary>
    internal static long WeightGradientPackedLength(int m, int k) => (long)((k + MaxPanelWidth - 1) / MaxPanelWidth) * MaxPanelWidth * m;

    /// <summary>Panels of X (NR columns of dW each) for a SIMD path.</summary>
    internal static int WeightGradientPanels(SimdPath path, int k)
    {
        int nr = 2 * Simd.Width(path);
        return (k + nr - 1) / nr;
    }

    /// <summary>
    /// Chunk <paramref name="chunk"/> of <paramref name="chunks"/>: the dW panels (columns of X) of its share, each packed
    /// then multiplied, and its share of the bias columns. Every dW and dBias element is computed by one chunk, the same
    /// way whatever the split.
    /// </summary>
    internal static void WeightGradientChunk(SimdPath path, in WeightGradientArgs g, int chunk, int chunks)
    {
        switch (path)
        {
            case SimdPath.Vector512: WeightGradientChunk<V512, Vector512<float>>(in g, chunk, chunks); break;
            case SimdPath.Vector256: WeightGradientChunk<V256, Vector256<float>>(in g, chunk, chunks); break;
            case SimdPath.Vector128: WeightGradientChunk<V128, Vector128<float>>(in g, chunk, chunks); break;
            default: WeightGradientChunk<Scalar, float>(in g, chunk, chunks); break;
        }
    }

    [SkipLocalsInit]
    private static void WeightGradientChunk<TOps, TV>(in WeightGradientArgs g, int chunk, int chunks) where TOps : ISimdOps<TV> where TV : struct
    {
        int nr = 2 * TOps.Count;
        int panels = (g.K + nr - 1) / nr;
        if (g.DBias != null)
        {
            (int j0, int j1) = Threading.ComputePool.Share(g.N, chunk, chunks, 4 * TOps.Count);
            BiasGradient<TOps, TV>(g.DOutput, g.DOutputStride, g.M, j0, j1, g.DBias);
        }

        (int start, int end) = Threading.ComputePool.Share(panels, chunk, chunks);
        int rowBlock = TOps.Count == 16 ? MaxRows : 6;
        float* tile = stackalloc float[MaxRows * MaxPanelWidth];
        for (int panel = start; panel < end; panel++)
        {
            int j0 = panel * nr;
            int cols = Math.Min(nr, g.K - j0);
            float* b = g.Packed + (nint)panel * g.M * nr;
            PackColumns<TOps, TV>(g.Input, g.K, g.M, j0, cols, b);
            for (int i0 = 0; i0 < g.N; i0 += rowBlock)
            {
                int rows = Math.Min(rowBlock, g.N - i0);
                float* a = g.DOutput + i0;
                float* c = g.DWeight + (nint)i0 * g.K + j0;
                if (cols == nr)
                {
                    TileT<TOps, TV>(rows, a, g.DOutputStride, g.M, b, c, g.K, accumulate: true);
                }
                else
                {
                    TileT<TOps, TV>(rows, a, g.DOutputStride, g.M, b, tile, nr, accumulate: false);
                    FinishTile<TOps, TV>(tile, nr, rows, cols, c, g.K, accumulate: true, Activation.None);
                }
            }
        }
    }

    /// <summary>b[p·NR + c] = X[p, j0 + c] for c &lt; cols, zero for c in [cols, NR): one panel of X's columns over all m rows.</summary>
    private static void PackColumns<TOps, TV>(float* x, int k, int m, int j0, int cols, float* b) where TOps : ISimdOps<TV> where TV : struct
    {
        int w = TOps.Count, nr = 2 * w;
        float* src = x + j0;
        if (cols == nr)
        {
            for (int p = 0; p < m; p++, src += k, b += nr)
            {
                TOps.Store(b, TOps.Load(src));
                TOps.Store(b + w, TOps.Load(src + w));
            }
        }
        else
        {
            for (int p = 0; p < m; p++, src += k, b += nr)
            {
                int c = 0;
                for (; c < cols; c++) b[c] = src[c];
                for (; c < nr; c++) b[c] = 0f;
            }
        }
    }

    /// <summary>dBias[j] += Σ_r dY[r, j] for j in [j0, j1): each column summed from zero in row order (plain adds, so a
    /// column gives the same sum whether it falls in a vector lane or the scalar tail), then added once.</summary>
    private static void BiasGradient<TOps, TV>(float* dY, int ld, int m, int j0, int j1, float* dBias) where TOps : ISimdOps<TV> where TV : struct
    {
        int w = TOps.Count;
        int j = j0;
        for (; j + 4 * w <= j1; j += 4 * w)
        {
            TV s0 = TOps.Zero, s1 = TOps.Zero, s2 = TOps.Zero, s3 = TOps.Zero;
            float* row = dY + j;
            for (int r = 0; r < m; r++, row += ld)
            {
                s0 = TOps.Add(s0, TOps.Load(row));
                s1 = TOps.Add(s1, TOps.Load(row + w));
                s2 = TOps.Add(s2, TOps.Load(row + 2 * w));
                s3 = TOps.Add(s3, TOps.Load(row + 3 * w));
            }
            TOps.Store(dBias + j, TOps.Add(TOps.Load(dBias + j), s0));
            TOps.Store(dBias + j + w, TOps.Add(TOps.Load(dBias + j + w), s1));
            TOps.Store(dBias + j + 2 * w, TOps.Add(TOps.Load(dBias + j + 2 * w), s2));
            TOps.Store(dBias + j + 3 * w, TOps.Add(TOps.Load(dBias + j + 3 * w), s3));
        }
        for (; j + w <= j1; j += w)
        {
            TV s0 = TOps.Zero;
            float* row = dY + j;
            for (int r = 0; r < m; r++, row += ld) s0 = TOps.Add(s0, TOps.Load(row));
            TOps.Store(dBias + j, TOps.Add(TOps.Load(dBias + j), s0));
        }
        for (; j < j1; j++)
        {
            float s = 0f;
            float* row = dY + j;
            for (int r = 0; r < m; r++, row += ld) s += *row;
            dBias[j] += s;
        }
    }

    private static void TileT<TOps, TV>(int rows, float* a, int lda, int k, float* b, float* c, int ldc, bool accumulate)
        where TOps : ISimdOps<TV> where TV : struct
    {
        switch (rows)
        {
            case 12: MicroKernelT<TOps, TV, Rows12>(a, lda, k, b, c, ldc, accumulate); break;
            case 11: MicroKernelT<TOps, TV, Rows11>(a, lda, k, b, c, ldc, accumulate); break;
            case 10: MicroKernelT<TOps, TV, Rows10>(a, lda, k, b, c, ldc, accumulate); break;
            case 9: MicroKernelT<TOps, TV, Rows9>(a, lda, k, b, c, ldc, accumulate); break;
            case 8: MicroKernelT<TOps, TV, Rows8>(a, lda, k, b, c, ldc, accumulate); break;
            case 7: MicroKernelT<TOps, TV, Rows7>(a, lda, k, b, c, ldc, accumulate); break;
            case 6: MicroKernelT<TOps, TV, Rows6>(a, lda, k, b, c, ldc, accumulate); break;
            case 5: MicroKernelT<TOps, TV, Rows5>(a, lda, k, b, c, ldc, accumulate); break;
            case 4: MicroKernelT<TOps, TV, Rows4>(a, lda, k, b, c, ldc, accumulate); break;
            case 3: MicroKernelT<TOps, TV, Rows3>(a, lda, k, b, c, ldc, accumulate); break;
            case 2: MicroKernelT<TOps, TV, Rows2>(a, lda, k, b, c, ldc, accumulate); break;
            default: MicroKernelT<TOps, TV, Rows1>(a, lda, k, b, c, ldc, accumulate); break;
        }
    }

    /// <summary>
    /// The micro-kernel with a transposed A: C[R, NR] (=|+=) Aᵀ·P where A is read in place as [K, lda] (row p holds the R
    /// values broadcast at step p contiguously: a[p·lda + i]), P one packed panel [K, NR]; the accumulators start from zero.
    /// For the weight gradient A is dY itself (rows of dW are columns of dY), so dY needs no transposition: one base
    /// pointer advancing by lda, the R broadcasts at constant offsets.
    /// </summary>
    private static void MicroKernelT<TOps, TV, TRows>(float* a, int lda, int k, float* b, float* c, int ldc, bool accumulate)
        where TOps : ISimdOps<TV> where TV : struct where TRows : IRowCount
    {
        int w = TOps.Count;
        nint step = lda;
        TV c00 = TOps.Zero, c01 = TOps.Zero, c10 = TOps.Zero, c11 = TOps.Zero, c20 = TOps.Zero, c21 = TOps.Zero;
        TV c30 = TOps.Zero, c31 = TOps.Zero, c40 = TOps.Zero, c41 = TOps.Zero, c50 = TOps.Zero, c51 = TOps.Zero;
        TV c60 = TOps.Zero, c61 = TOps.Zero, c70 = TOps.Zero, c71 = TOps.Zero, c80 = TOps.Zero, c81 = TOps.Zero;
        TV c90 = TOps.Zero, c91 = TOps.Zero, ca0 = TOps.Zero, ca1 = TOps.Zero, cb0 = TOps.Zero, cb1 = TOps.Zero;
        for (nint p = 0; p < k; p++, a += step)
        {
            TV b0 = TOps.Load(b), b1 = TOps.Load(b + w);
            b += 2 * w;
            TV x = TOps.Create(a[0]);
            c00 = TOps.MultiplyAdd(x, b0, c00); c01 = TOps.MultiplyAdd(x, b1, c01);
            if (TRows.Value > 1) { x = TOps.Create(a[1]); c10 = TOps.MultiplyAdd(x, b0, c10); c11 = TOps.MultiplyAdd(x, b1, c11); }
            if (TRows.Value > 2) { x = TOps.Create(a[2]); c20 = TOps.MultiplyAdd(x, b0, c20); c21 = TOps.MultiplyAdd(x, b1, c21); }
            if (TRows.Value > 3) { x = TOps.Create(a[3]); c30 = TOps.MultiplyAdd(x, b0, c30); c31 = TOps.MultiplyAdd(x, b1, c31); }
            if (TRows.Value > 4) { x = TOps.Create(a[4]); c40 = TOps.MultiplyAdd(x, b0, c40); c41 = TOps.MultiplyAdd(x, b1, c41); }
            if (TRows.Value > 5) { x = TOps.Create(a[5]); c50 = TOps.MultiplyAdd(x, b0, c50); c51 = TOps.MultiplyAdd(x, b1, c51); }
            if (TRows.Value > 6) { x = TOps.Create(a[6]); c60 = TOps.MultiplyAdd(x, b0, c60); c61 = TOps.MultiplyAdd(x, b1, c61); }
            if (TRows.Value > 7) { x = TOps.Create(a[7]); c70 = TOps.MultiplyAdd(x, b0, c70); c71 = TOps.MultiplyAdd(x, b1, c71); }
            if (TRows.Value > 8) { x = TOps.Create(a[8]); c80 = TOps.MultiplyAdd(x, b0, c80); c81 = TOps.MultiplyAdd(x, b1, c81); }
            if (TRows.Value > 9) { x = TOps.Create(a[9]); c90 = TOps.MultiplyAdd(x, b0, c90); c91 = TOps.MultiplyAdd(x, b1, c91); }
            if (TRows.Value > 10) { x = TOps.Create(a[10]); ca0 = TOps.MultiplyAdd(x, b0, ca0); ca1 = TOps.MultiplyAdd(x, b1, ca1); }
            if (TRows.Value > 11) { x = TOps.Create(a[11]); cb0 = TOps.MultiplyAdd(x, b0, cb0); cb1 = TOps.MultiplyAdd(x, b1, cb1); }
        }
        nint ld = ldc;
        StoreRow<TOps, TV>(c, c00, c01, accumulate);
        if (TRows.Value > 1) StoreRow<TOps, TV>(c + ld, c10, c11, accumulate);
        if (TRows.Value > 2) StoreRow<TOps, TV>(c + 2 * ld, c20, c21, accumulate);
        if (TRows.Value > 3) StoreRow<TOps, TV>(c + 3 * ld, c30, c31, accumulate);
        if (TRows.Value > 4) StoreRow<TOps, TV>(c + 4 * ld, c40, c41, accumulate);
        if (TRows.Value > 5) StoreRow<TOps, TV>(c + 5 * ld, c50, c51, accumulate);
        if (TRows.Value > 6) StoreRow<TOps, TV>(c + 6 * ld, c60, c61, accumulate);
        if (TRows.Value > 7) StoreRow<TOps, TV>(c + 7 * ld, c70, c71, accumulate);
        if (TRows.Value > 8) StoreRow<TOps, TV>(c + 8 * ld, c80, c81, accumulate);
        if (TRows.Value > 9) StoreRow<TOps, TV>(c + 9 * ld, c90, c91, accumulate);
        if (TRows.Value > 10) StoreRow<TOps, TV>(c + 10 * ld, ca0, ca1, accumulate);
        if (TRows.Value > 11) StoreRow<TOps, TV>(c + 11 * ld, cb0, cb1, accumulate);
    }
}
