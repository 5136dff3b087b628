using System;
using System.Runtime.CompilerServices;

namespace ViTMAE.Compiled.Kernels;

// The GEMM in three layers, as in MLAS: Run (blocking loop over panels and row blocks, epilogue routing),
// Tile (dispatch on the row count of a block), MicroKernel (the register-blocked inner loop).
public sealed unsafe partial class PackedLinear
{
    private readonly struct GemmArgs
    {
        public readonly float* A, Packed, Bias, C;
        public readonly int M, N, K;
        public readonly bool Accumulate;
        public readonly Activation Activation;
        public readonly int PanelStart, PanelEnd;

        public GemmArgs(float* a, float* packed, float* bias, float* c, int m, int n, int k, bool accumulate, Activation activation)
            : this(a, packed, bias, c, m, n, k, accumulate, activation, 0, int.MaxValue)
        {
        }

        private GemmArgs(float* a, float* packed, float* bias, float* c, int m, int n, int k, bool accumulate, Activation activation, int panelStart, int panelEnd)
        {
            A = a; Packed = packed; Bias = bias; C = c; M = m; N = n; K = k; Accumulate = accumulate; Activation = activation;
            PanelStart = panelStart; PanelEnd = panelEnd;
        }

        /// <summary>The same product restricted to the panels [start, end) (columns of the output).</summary>
        public GemmArgs ForPanels(int start, int end) => new(A, Packed, Bias, C, M, N, K, Accumulate, Activation, start, end);
    }

    /// <summary>
    /// Rows of A per register tile: 12 with Vector512 (24 accumulators of the 32 zmm registers; every panel load feeds
    /// 24 FMAs and the panel is streamed M/12 times instead of M/6), else 6 (12 accumulators fit the 16 registers of
    /// AVX2 / NEON). Also 6 when a row of A is a multiple of 4 KB long: the 12 rows read in place would then fall in one
    /// L1 set (8 ways) and evict each other (measured: K = 2048 and 3072 ran 12–25 % slower with 12 rows; K = 512 and
    /// 768 up to 8 % faster).
    /// </summary>
    private static int RowBlock<TOps, TV>(int k) where TOps : ISimdOps<TV> where TV : struct =>
        TOps.Count == 16 && k % 1024 != 0 ? MaxRows : 6;

    /// <summary>
    /// Whether the first row block of each panel prefetches the panel 4 KB ahead of its loads. That block is the one that
    /// brings the panel from L3 or memory (the other blocks find it in L2), and with 256- and 128-bit vectors it waits
    /// for it: measured on Zen 5 with the weights streaming (12 layers' copies, in-process A/B), +9–13 % on the M = 50
    /// GEMMs of the masked encoder and +2–4 % at M = 197 with Vector256, +2–7 % with Vector128 (SSE). With Vector512
    /// it does not pay (−1 … −4 %; the same was measured on Zen 4), and .NET has no prefetch instruction for ARM64.
    /// </summary>
    private static bool PrefetchFirstBlock<TOps, TV>() where TOps : ISimdOps<TV> where TV : struct =>
        System.Runtime.Intrinsics.X86.Sse.IsSupported && TOps.Count is 4 or 8;

    /// <summary>Bytes ahead of the panel loads that the first row block prefetches (64 k steps of a Vector256 panel).</summary>
    private const int PrefetchDistance = 4096;

    /// <summary>Panel-outer, row-block-inner: one packed panel (K × NR) stays in L2 while every row block of A streams past it.</summary>
    [SkipLocalsInit]
    private static void Run<TOps, TV>(in GemmArgs g) where TOps : ISimdOps<TV> where TV : struct
    {
        int nr = 2 * TOps.Count;
        int rowBlock = RowBlock<TOps, TV>(g.K);
        float* tile = stackalloc float[MaxRows * MaxPanelWidth];
        int panels = Math.Min((g.N + nr - 1) / nr, g.PanelEnd);
        for (int panel = g.PanelStart; panel < panels; panel++)
        {
            int j0 = panel * nr;
            int cols = Math.Min(nr, g.N - j0);
            float* b = g.Packed + (nint)panel * g.K * nr;
            float* bias = g.Bias == null ? null : g.Bias + j0; // null: no bias (the backward GEMMs start from zero)
            // The tile goes through a stack buffer when the panel is only partly inside N, or when an activation must
            // be applied before accumulating (the output then still holds the residual).
            bool viaTile = cols < nr || (g.Accumulate && g.Activation != Activation.None);
            for (int i0 = 0; i0 < g.M; i0 += rowBlock)
            {
                int rows = Math.Min(rowBlock, g.M - i0);
                float* a = g.A + (nint)i0 * g.K;
                float* c = g.C + (nint)i0 * g.N + j0;
                if (i0 == 0 && rows == 6 && PrefetchFirstBlock<TOps, TV>())
                {
                    // The first block of the panel: same tile, with the panel prefetched ahead (see PrefetchFirstBlock).
                    float* target = viaTile ? tile : c;
                    MicroKernel<TOps, TV, Rows6, Prefetch>(a, g.K, b, bias, target, viaTile ? nr : g.N, !viaTile && g.Accumulate);
                    if (viaTile)
                        FinishTile<TOps, TV>(tile, nr, rows, cols, c, g.N, g.Accumulate, g.Activation);
                    else if (g.Activation != Activation.None)
                        Activations.ApplyRows<TOps, TV>(g.Activation, c, g.N, rows, nr);
                }
                else if (!viaTile)
                {
                    Tile<TOps, TV>(rows, a, g.K, b, bias, c, g.N, g.Accumulate);
                    if (g.Activation != Activation.None)
                        Activations.ApplyRows<TOps, TV>(g.Activation, c, g.N, rows, nr);
                }
                else
                {
                    Tile<TOps, TV>(rows, a, g.K, b, bias, tile, nr, accumulate: false);
                    FinishTile<TOps, TV>(tile, nr, rows, cols, c, g.N, g.Accumulate, g.Activation);
                }
            }
        }
    }

    private static void FinishTile<TOps, TV>(float* tile, int nr, int rows, int cols, float* c, int ldc, bool accumulate, Activation activation)
        where TOps : ISimdOps<TV> where TV : struct
    {
        for (int r = 0; r < rows; r++)
        {
            Span<float> src = new(tile + r * nr, cols);
            Span<float> dst = new(c + (nint)r * ldc, cols);
            if (activation != Activation.None) Activations.Apply<TOps, TV>(activation, tile + r * nr, cols);
            if (accumulate)
            {
                for (int j = 0; j < cols; j++) dst[j] += src[j];
            }
            else
            {
                src.CopyTo(dst);
            }
        }
    }

    private static void Tile<TOps, TV>(int rows, float* a, int k, float* b, float* bias, float* c, int ldc, bool accumulate)
        where TOps : ISimdOps<TV> where TV : struct
    {
        switch (rows)
        {
            case 12: MicroKernel<TOps, TV, Rows12, NoPrefetch>(a, k, b, bias, c, ldc, accumulate); break;
            case 11: MicroKernel<TOps, TV, Rows11, NoPrefetch>(a, k, b, bias, c, ldc, accumulate); break;
            case 10: MicroKernel<TOps, TV, Rows10, NoPrefetch>(a, k, b, bias, c, ldc, accumulate); break;
            case 9: MicroKernel<TOps, TV, Rows9, NoPrefetch>(a, k, b, bias, c, ldc, accumulate); break;
            case 8: MicroKernel<TOps, TV, Rows8, NoPrefetch>(a, k, b, bias, c, ldc, accumulate); break;
            case 7: MicroKernel<TOps, TV, Rows7, NoPrefetch>(a, k, b, bias, c, ldc, accumulate); break;
            case 6: MicroKernel<TOps, TV, Rows6, NoPrefetch>(a, k, b, bias, c, ldc, accumulate); break;
            case 5: MicroKernel<TOps, TV, Rows5, NoPrefetch>(a, k, b, bias, c, ldc, accumulate); break;
            case 4: MicroKernel<TOps, TV, Rows4, NoPrefetch>(a, k, b, bias, c, ldc, accumulate); break;
            case 3: MicroKernel<TOps, TV, Rows3, NoPrefetch>(a, k, b, bias, c, ldc, accumulate); break;
            case 2: MicroKernel<TOps, TV, Rows2, NoPrefetch>(a, k, b, bias, c, ldc, accumulate); break;
            default: MicroKernel<TOps, TV, Rows1, NoPrefetch>(a, k, b, bias, c, ldc, accumulate); break;
        }
    }

    /// <summary>
    /// C[R, NR] (=|+=) A[R, K]·P[K, NR] + bias[NR] with R = TRows.Value ≤ 12 rows of A (leading dimension K) and one packed
    /// panel P (NR = 2 vectors). The tile lives in 2R accumulators for the whole K loop; rows beyond R are compiled away
    /// because TRows is a struct constant. A null <paramref name="bias"/> starts the accumulators from zero.
    /// </summary>
    private static void MicroKernel<TOps, TV, TRows, TPrefetch>(float* a, int k, float* b, float* bias, float* c, int ldc, bool accumulate)
        where TOps : ISimdOps<TV> where TV : struct where TRows : IRowCount where TPrefetch : IFlag
    {
        int w = TOps.Count;
        nint lda = k;
        TV bias0 = TOps.Zero, bias1 = TOps.Zero;
        if (bias != null)
        {
            bias0 = TOps.Load(bias);
            bias1 = TOps.Load(bias + w);
        }

        TV c00 = bias0, c01 = bias1, c10 = bias0, c11 = bias1, c20 = bias0, c21 = bias1;
        TV c30 = bias0, c31 = bias1, c40 = bias0, c41 = bias1, c50 = bias0, c51 = bias1;
        TV c60 = bias0, c61 = bias1, c70 = bias0, c71 = bias1, c80 = bias0, c81 = bias1;
        TV c90 = bias0, c91 = bias1, ca0 = bias0, ca1 = bias1, cb0 = bias0, cb1 = bias1;
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda;
        // Rows 6–11 through two base pointers (a6 + {0, 1, 2}·lda, a9 + {0, 1, 2}·lda): 12 row pointers would not fit
        // the general-purpose registers beside b, p and k.
        float* a6 = a + 6 * lda, a9 = a + 9 * lda;
        nint lda2 = 2 * lda;
        for (nint p = 0; p < k; p++)
        {
            if (TPrefetch.Value) System.Runtime.Intrinsics.X86.Sse.Prefetch0((byte*)b + PrefetchDistance);
            TV b0 = TOps.Load(b), b1 = TOps.Load(b + w);
            b += 2 * w;
            TV x = TOps.Create(a0[p]);
            c00 = TOps.MultiplyAdd(x, b0, c00); c01 = TOps.MultiplyAdd(x, b1, c01);
            if (TRows.Value > 1) { x = TOps.Create(a1[p]); c10 = TOps.MultiplyAdd(x, b0, c10); c11 = TOps.MultiplyAdd(x, b1, c11); }
            if (TRows.Value > 2) { x = TOps.Create(a2[p]); c20 = TOps.MultiplyAdd(x, b0, c20); c21 = TOps.MultiplyAdd(x, b1, c21); }
            if (TRows.Value > 3) { x = TOps.Create(a3[p]); c30 = TOps.MultiplyAdd(x, b0, c30); c31 = TOps.MultiplyAdd(x, b1, c31); }
            if (TRows.Value > 4) { x = TOps.Create(a4[p]); c40 = TOps.MultiplyAdd(x, b0, c40); c41 = TOps.MultiplyAdd(x, b1, c41); }
            if (TRows.Value > 5) { x = TOps.Create(a5[p]); c50 = TOps.MultiplyAdd(x, b0, c50); c51 = TOps.MultiplyAdd(x, b1, c51); }
            if (TRows.Value > 6) { x = TOps.Create(a6[p]); c60 = TOps.MultiplyAdd(x, b0, c60); c61 = TOps.MultiplyAdd(x, b1, c61); }
            if (TRows.Value > 7) { x = TOps.Create(a6[p + lda]); c70 = TOps.MultiplyAdd(x, b0, c70); c71 = TOps.MultiplyAdd(x, b1, c71); }
            if (TRows.Value > 8) { x = TOps.Create(a6[p + lda2]); c80 = TOps.MultiplyAdd(x, b0, c80); c81 = TOps.MultiplyAdd(x, b1, c81); }
            if (TRows.Value > 9) { x = TOps.Create(a9[p]); c90 = TOps.MultiplyAdd(x, b0, c90); c91 = TOps.MultiplyAdd(x, b1, c91); }
            if (TRows.Value > 10) { x = TOps.Create(a9[p + lda]); ca0 = TOps.MultiplyAdd(x, b0, ca0); ca1 = TOps.MultiplyAdd(x, b1, ca1); }
            if (TRows.Value > 11) { x = TOps.Create(a9[p + lda2]); cb0 = TOps.MultiplyAdd(x, b0, cb0); cb1 = TOps.MultiplyAdd(x, b1, cb1); }
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TOps, TV>(float* c, TV v0, TV v1, bool accumulate) where TOps : ISimdOps<TV> where TV : struct
    {
        int w = TOps.Count;
        if (accumulate)
        {
            v0 = TOps.Add(TOps.Load(c), v0);
            v1 = TOps.Add(TOps.Load(c + w), v1);
        }
        TOps.Store(c, v0);
        TOps.Store(c + w, v1);
    }

    private interface IRowCount
    {
        static abstract int Value { get; }
    }

    /// <summary>A compile-time switch of the micro-kernel (a struct type argument, so the untaken branch is compiled away).</summary>
    private interface IFlag
    {
        static abstract bool Value { get; }
    }

    private readonly struct Prefetch : IFlag { public static bool Value => true; }

    private readonly struct NoPrefetch : IFlag { public static bool Value => false; }

    private readonly struct Rows1 : IRowCount { public static int Value => 1; }

    private readonly struct Rows2 : IRowCount { public static int Value => 2; }

    private readonly struct Rows3 : IRowCount { public static int Value => 3; }

    private readonly struct Rows4 : IRowCount { public static int Value => 4; }

    private readonly struct Rows5 : IRowCount { public static int Value => 5; }

    private readonly struct Rows6 : IRowCount { public static int Value => 6; }

    private readonly struct Rows7 : IRowCount { public static int Value => 7; }

    private readonly struct Rows8 : IRowCount { public static int Value => 8; }

    private readonly struct Rows9 : IRowCount { public static int Value => 9; }

    private readonly struct Rows10 : IRowCount { public static int Value => 10; }

    private readonly struct Rows11 : IRowCount { public static int Value => 11; }

    private readonly struct Rows12 : IRowCount { public static int Value => 12; }
}
