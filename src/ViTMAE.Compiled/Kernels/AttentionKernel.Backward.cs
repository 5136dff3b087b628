using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ViTMAE.Compiled.Kernels;

// Attention backward for one image, head by head:
//   dP_masked = dC·Vᵀ  (V packed into key panels as the forward packs K: the forward's score kernel with scale 1)
//   dS        = s·P_masked ⊙ (dP_masked − ρ/m),  ρ_i = Σ_j P_masked[i,j]·dP_masked[i,j]
//   dQ = dS·K,  dK = dSᵀ·Q,  dV = P_maskedᵀ·dC  (register-blocked 4 rows × up to 4 vectors; the transposed operands
//   are read in place, column by column, no transposition)
// dS = s·P ⊙ (dP − rowsum(dP ⊙ P)) with P = P_masked/m and dP = m·dP_masked is the same product: m·dP_masked·P_masked/m
// = P_masked ⊙ dP_masked, so only ρ/m needs the division and a head with m = 0 (all its gradients 0) is skipped.
public static partial class AttentionKernel
{
    /// <summary>
    /// Floats of scratch <see cref="Backward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, Span{float}, Threading.ComputePool)"/>
    /// needs per worker: (4·headDim + PaddedTokens(T)) × PaddedTokens(T) — V packed into key panels, contiguous copies of
    /// K, Q and dContext for one head, and its T × T score gradients. Examples: T = 197, headDim = 64 → 480 × 224 =
    /// 107,520 floats; T = 50, headDim = 64 → 320 × 64 = 20,480; T = 13, headDim = 64 → 288 × 32 = 9,216.
    /// </summary>
    /// <param name="tokens">T.</param>
    /// <param name="headDim">Features per head.</param>
    public static int BackwardScratchLength(int tokens, int headDim)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(headDim);
        int tp = PaddedTokens(tokens);
        long length = (4L * headDim + tp) * tp;
        if (length > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(tokens), "Attention backward scratch too large.");
        return (int)length;
    }

    /// <summary>
    /// Gradients of <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, int, int, int, Span{float}, Threading.ComputePool)"/>
    /// for one image with respect to Q, K and V. Per head h, with s = 1/√headDim, P_masked = probs[h] and m = headMask[h]:
    /// dV = P_maskedᵀ·dC; dP_masked = dC·Vᵀ; dS = s·P_masked ⊙ (dP_masked − ρ/m) with ρ_i = Σ_j P_masked[i,j]·dP_masked[i,j]
    /// (which is s·P ⊙ (dP − rowsum(dP ⊙ P)) for P = P_masked/m, dP = m·dP_masked); dQ = dS·K; dK = dSᵀ·Q. A head with
    /// m = 0 gets dQ = dK = dV = 0. No allocation.
    /// </summary>
    /// <param name="qkv">[tokens, 3·D] as given to Forward (Q | K | V columns), D = heads·headDim.</param>
    /// <param name="probs">[heads, T, T]: what Forward wrote to its <c>probs</c> argument (after softmax and head mask).</param>
    /// <param name="headMask">[heads] as given to Forward, or empty (all ones).</param>
    /// <param name="dContext">[tokens, D], the gradient of Forward's context.</param>
    /// <param name="dQkv">[tokens, 3·D]: dQ | dK | dV, overwritten. Must not overlap the other spans.</param>
    /// <param name="tokens">T.</param>
    /// <param name="heads">Number of heads.</param>
    /// <param name="headDim">Features per head.</param>
    /// <param name="scratch">At least <see cref="BackwardScratchLength"/>(tokens, headDim) floats per worker of
    /// <paramref name="pool"/> (one slice each); overwritten.</param>
    /// <param name="pool">Workers to share the heads with, or null for the calling thread. Each head is computed exactly as
    /// in the serial call, so the result does not depend on the number of workers.</param>
    /// <exception cref="ArgumentException">A span is shorter than its shape, or spans overlap.</exception>
    public static void Backward(ReadOnlySpan<float> qkv, ReadOnlySpan<float> probs, ReadOnlySpan<float> headMask, ReadOnlySpan<float> dContext, Span<float> dQkv,
        int tokens, int heads, int headDim, Span<float> scratch, Threading.ComputePool? pool = null)
        => Backward(qkv, probs, headMask, dContext, dQkv, tokens, heads, headDim, scratch, SimdPath.Auto, pool);

    /// <summary>The smallest share of an attention backward worth handing to another thread.</summary>
    private const long MinBackwardOperationsPerChunk = 1 << 17;

    internal static unsafe void Backward(ReadOnlySpan<float> qkv, ReadOnlySpan<float> probs, ReadOnlySpan<float> headMask, ReadOnlySpan<float> dContext, Span<float> dQkv,
        int tokens, int heads, int headDim, Span<float> scratch, SimdPath path, Threading.ComputePool? pool = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(heads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(headDim);
        long d = (long)heads * headDim;
        long qkvSize = tokens * 3 * d, ctxSize = tokens * d, probsSize = (long)heads * tokens * tokens;
        int perWorker = BackwardScratchLength(tokens, headDim);
        // Per head: four T × T × headDim products and ~8 operations per score.
        int chunks = pool is null || tokens == 0 ? 1 : pool.ChunksFor(heads, (4L * headDim + 8) * tokens * tokens, MinBackwardOperationsPerChunk);
        long scratchSize = (long)perWorker * (chunks > 1 ? pool!.DegreeOfParallelism : 1);
        Need(qkv.Length, qkvSize, nameof(qkv), "tokens × 3·heads·headDim");
        Need(probs.Length, probsSize, nameof(probs), "heads × tokens × tokens");
        Need(dContext.Length, ctxSize, nameof(dContext), "tokens × heads·headDim");
        Need(dQkv.Length, qkvSize, nameof(dQkv), "tokens × 3·heads·headDim");
        if (!headMask.IsEmpty && headMask.Length < heads)
            throw new ArgumentException($"headMask has {headMask.Length} floats, expected at least heads = {heads} (or empty).", nameof(headMask));
        if (scratch.Length < scratchSize)
        {
            string shape = chunks > 1 ? $"BackwardScratchLength(tokens, headDim) × {pool!.DegreeOfParallelism} workers" : "BackwardScratchLength(tokens, headDim)";
            Need(scratch.Length, scratchSize, nameof(scratch), shape);
        }
        if (tokens == 0) return;
        ReadOnlySpan<float> q = qkv[..(int)qkvSize], pr = probs[..(int)probsSize], dc = dContext[..(int)ctxSize];
        ReadOnlySpan<float> hm = headMask.IsEmpty ? headMask : headMask[..heads];
        Span<float> dq = dQkv[..(int)qkvSize], scr = scratch[..(int)scratchSize];
        if (dq.Overlaps(q) || dq.Overlaps(pr) || dq.Overlaps(dc) || dq.Overlaps(hm) || dq.Overlaps(scr)
            || scr.Overlaps(q) || scr.Overlaps(pr) || scr.Overlaps(dc) || scr.Overlaps(hm))
            throw new ArgumentException("dQkv and scratch must not overlap each other or the inputs.", nameof(dQkv));

        SimdPath resolved = Simd.Resolve(path);
        fixed (float* pq = q)
        fixed (float* pp = pr)
        fixed (float* pm = hm)
        fixed (float* pdc = dc)
        fixed (float* pdq = dq)
        fixed (float* ps = scr)
        {
            var args = new BackwardArgs(pq, pp, hm.IsEmpty ? null : pm, pdc, pdq, ps, tokens, heads, headDim, 0, heads);
            if (chunks > 1)
            {
                ParallelAttentionBackward work = ParallelAttentionBackward.ForThisThread;
                work.Arguments = args;
                work.ScratchPerWorker = perWorker;
                work.Chunks = chunks;
                work.Path = resolved;
                pool!.Run(work, chunks);
            }
            else
            {
                RunBackward(resolved, in args);
            }
        }
    }

    private static void Need(int length, long expected, string name, string shape)
    {
        if (length < expected)
            throw new ArgumentException($"{name} has {length} floats, expected at least {shape} = {expected}.", name);
    }

    private readonly unsafe struct BackwardArgs(float* qkv, float* probs, float* headMask, float* dContext, float* dQkv, float* scratch,
        int tokens, int heads, int headDim, int headStart, int headEnd)
    {
        public readonly float* Qkv = qkv, Probs = probs, HeadMask = headMask, DContext = dContext, DQkv = dQkv, Scratch = scratch;
        public readonly int Tokens = tokens, Heads = heads, HeadDim = headDim, HeadStart = headStart, HeadEnd = headEnd;

        public BackwardArgs ForHeads(int start, int end, float* scratch) =>
            new(Qkv, Probs, HeadMask, DContext, DQkv, scratch, Tokens, Heads, HeadDim, start, end);
    }

    /// <summary>The fan-out of one attention backward; one instance per calling thread, reused (no allocation per call).</summary>
    private sealed unsafe class ParallelAttentionBackward : Threading.IParallelWork
    {
        [ThreadStatic]
        private static ParallelAttentionBackward? t_instance;

        public BackwardArgs Arguments;
        public int ScratchPerWorker;
        public int Chunks;
        public SimdPath Path;

        public static ParallelAttentionBackward ForThisThread => t_instance ??= new ParallelAttentionBackward();

        public void Execute(int chunk, int worker)
        {
            (int start, int end) = Threading.ComputePool.Share(Arguments.Heads, chunk, Chunks);
            if (start >= end) return;
            BackwardArgs mine = Arguments.ForHeads(start, end, Arguments.Scratch + (nint)worker * ScratchPerWorker);
            RunBackward(Path, in mine);
        }
    }

    private static void RunBackward(SimdPath path, in BackwardArgs a)
    {
        switch (path)
        {
            case SimdPath.Vector512: RunBackward<V512, Vector512<float>>(in a); break;
            case SimdPath.Vector256: RunBackward<V256, Vector256<float>>(in a); break;
            case SimdPath.Vector128: RunBackward<V128, Vector128<float>>(in a); break;
            default: RunBackward<Scalar, float>(in a); break;
        }
    }

    private static unsafe void RunBackward<TOps, TV>(in BackwardArgs a) where TOps : ISimdOps<TV> where TV : struct
    {
        int t = a.Tokens, hd = a.HeadDim, d = a.Heads * hd;
        nint ld = 3 * (nint)d;
        int tp = PaddedTokens(t);
        float* valuePanels = a.Scratch;                  // V packed like the forward's keys: [tp / kw][hd][kw]
        float* keys = valuePanels + (nint)hd * tp;       // [t][hd]
        float* queries = keys + (nint)hd * tp;           // [t][hd]
        float* dContext = queries + (nint)hd * tp;       // [t][hd]
        float* dScores = dContext + (nint)hd * tp;       // [tp][tp]: dP_masked, then dS (rows < t)
        float scale = (float)(1.0 / Math.Sqrt(hd));      // as the forward
        for (int h = a.HeadStart; h < a.HeadEnd; h++)
        {
            float* qh = a.Qkv + (nint)h * hd;
            float* kh = qh + d;
            float* vh = qh + 2 * (nint)d;
            float* dqh = a.DQkv + (nint)h * hd;
            float* dkh = dqh + d;
            float* dvh = dqh + 2 * (nint)d;
            float mask = a.HeadMask == null ? 1f : a.HeadMask[h];
            if (mask == 0f)
            {
                for (int i = 0; i < t; i++)
                {
                    new Span<float>(dqh + i * ld, hd).Clear();
                    new Span<float>(dkh + i * ld, hd).Clear();
                    new Span<float>(dvh + i * ld, hd).Clear();
                }
                continue;
            }

            PackKeys(vh, ld, t, hd, tp, 2 * TOps.Count, valuePanels);
            for (int j = 0; j < t; j++)
            {
                new ReadOnlySpan<float>(kh + j * ld, hd).CopyTo(new Span<float>(keys + (nint)j * hd, hd));
                new ReadOnlySpan<float>(qh + j * ld, hd).CopyTo(new Span<float>(queries + (nint)j * hd, hd));
                new ReadOnlySpan<float>(a.DContext + (nint)j * d + (nint)h * hd, hd).CopyTo(new Span<float>(dContext + (nint)j * hd, hd));
            }

            // dP_masked = dC·Vᵀ, four rows per block (rows past t repeat the last one and are never used).
            for (int i0 = 0; i0 < t; i0 += QueryBlock)
                Scores<TOps, TV>(dContext + (nint)i0 * hd, hd, Math.Min(QueryBlock, t - i0), valuePanels, hd, tp, dScores + (nint)i0 * tp, 1f);

            float* probs = a.Probs + (nint)h * t * t;
            for (int i = 0; i < t; i++)
                ScoreGradientRow<TOps, TV>(probs + (nint)i * t, dScores + (nint)i * tp, t, tp, 1f / mask, scale);

            for (int i0 = 0; i0 < t; i0 += QueryBlock)
            {
                int rows = Math.Min(QueryBlock, t - i0);
                // dQ[i0..] = dS[i0..]·K
                RowBlockProduct<TOps, TV, NoTranspose>(dScores + (nint)i0 * tp, tp, rows, keys, hd, t, hd, dqh + i0 * ld, ld);
                // dK[i0..] = (dSᵀ)[i0..]·Q: the rows of dSᵀ are columns i0.. of dS
                RowBlockProduct<TOps, TV, Transpose>(dScores + i0, tp, rows, queries, hd, t, hd, dkh + i0 * ld, ld);
                // dV[i0..] = (P_maskedᵀ)[i0..]·dC
                RowBlockProduct<TOps, TV, Transpose>(probs + i0, t, rows, dContext, hd, t, hd, dvh + i0 * ld, ld);
            }
        }
    }

    /// <summary>
    /// One row of score gradients in place: ds[j] ← (p[j]·(ds[j] − ρ·invMask))·scale for j &lt; t, ρ = Σ_j p[j]·ds[j]
    /// (ds holds dP_masked on entry), and zero for j in [t, tp).
    /// </summary>
    private static unsafe void ScoreGradientRow<TOps, TV>(float* p, float* ds, int t, int tp, float invMask, float scale) where TOps : ISimdOps<TV> where TV : struct
    {
        int w = TOps.Count, j = 0;
        TV s0 = TOps.Zero, s1 = TOps.Zero;
        for (; j <= t - 2 * w; j += 2 * w)
        {
            s0 = TOps.MultiplyAdd(TOps.Load(p + j), TOps.Load(ds + j), s0);
            s1 = TOps.MultiplyAdd(TOps.Load(p + j + w), TOps.Load(ds + j + w), s1);
        }
        for (; j <= t - w; j += w) s0 = TOps.MultiplyAdd(TOps.Load(p + j), TOps.Load(ds + j), s0);
        float rho = TOps.Sum(TOps.Add(s0, s1));
        for (; j < t; j++) rho = Scalar.MultiplyAdd(p[j], ds[j], rho);

        float c = rho * invMask;
        TV vc = TOps.Create(c), vs = TOps.Create(scale);
        j = 0;
        for (; j <= t - w; j += w)
            TOps.Store(ds + j, TOps.Multiply(TOps.Multiply(TOps.Load(p + j), TOps.Subtract(TOps.Load(ds + j), vc)), vs));
        for (; j < t; j++) ds[j] = p[j] * (ds[j] - c) * scale;
        for (; j < tp; j++) ds[j] = 0f;
    }

    /// <summary>A compile-time switch: whether the A operand of <see cref="RowBlockProduct"/> is read transposed.</summary>
    private interface ITranspose
    {
        static abstract bool Value { get; }
    }

    private readonly struct Transpose : ITranspose { public static bool Value => true; }

    private readonly struct NoTranspose : ITranspose { public static bool Value => false; }

    /// <summary>
    /// output[r·ldo + c] = Σ_{i &lt; k} A(r, i)·b[i·ldb + c] for r &lt; rows ≤ 4, c &lt; n, where A(r, i) = a[r·lda + i], or
    /// a[i·lda + r] when TTrans (a column block of a row-major matrix, read in place). Rows past <paramref name="rows"/>
    /// repeat the last row's operand (never read out of range) and are not stored. Register tiles of 4 rows × 4, 2 or 1
    /// vectors, one fused multiply-add chain per output in i order.
    /// </summary>
    private static unsafe void RowBlockProduct<TOps, TV, TTrans>(float* a, nint lda, int rows, float* b, nint ldb, int k, int n, float* output, nint ldo)
        where TOps : ISimdOps<TV> where TV : struct where TTrans : ITranspose
    {
        int w = TOps.Count;
        // Offsets of the 4 rows' operands: along a row of A (transposed) or a column of it.
        nint r1 = rows > 1 ? 1 : 0, r2 = rows > 2 ? 2 : r1, r3 = rows > 3 ? 3 : r2;
        nint o1, o2, o3, step;
        if (TTrans.Value) { o1 = r1; o2 = r2; o3 = r3; step = lda; }
        else { o1 = r1 * lda; o2 = r2 * lda; o3 = r3 * lda; step = 1; }
        int c0 = 0;
        for (; c0 + 4 * w <= n; c0 += 4 * w)
        {
            TV a00 = TOps.Zero, a01 = TOps.Zero, a02 = TOps.Zero, a03 = TOps.Zero;
            TV a10 = TOps.Zero, a11 = TOps.Zero, a12 = TOps.Zero, a13 = TOps.Zero;
            TV a20 = TOps.Zero, a21 = TOps.Zero, a22 = TOps.Zero, a23 = TOps.Zero;
            TV a30 = TOps.Zero, a31 = TOps.Zero, a32 = TOps.Zero, a33 = TOps.Zero;
            float* ap = a;
            float* bp = b + c0;
            for (int i = 0; i < k; i++, ap += step, bp += ldb)
            {
                TV b0 = TOps.Load(bp), b1 = TOps.Load(bp + w), b2 = TOps.Load(bp + 2 * w), b3 = TOps.Load(bp + 3 * w);
                TV x = TOps.Create(ap[0]);
                a00 = TOps.MultiplyAdd(x, b0, a00); a01 = TOps.MultiplyAdd(x, b1, a01); a02 = TOps.MultiplyAdd(x, b2, a02); a03 = TOps.MultiplyAdd(x, b3, a03);
                x = TOps.Create(ap[o1]);
                a10 = TOps.MultiplyAdd(x, b0, a10); a11 = TOps.MultiplyAdd(x, b1, a11); a12 = TOps.MultiplyAdd(x, b2, a12); a13 = TOps.MultiplyAdd(x, b3, a13);
                x = TOps.Create(ap[o2]);
                a20 = TOps.MultiplyAdd(x, b0, a20); a21 = TOps.MultiplyAdd(x, b1, a21); a22 = TOps.MultiplyAdd(x, b2, a22); a23 = TOps.MultiplyAdd(x, b3, a23);
                x = TOps.Create(ap[o3]);
                a30 = TOps.MultiplyAdd(x, b0, a30); a31 = TOps.MultiplyAdd(x, b1, a31); a32 = TOps.MultiplyAdd(x, b2, a32); a33 = TOps.MultiplyAdd(x, b3, a33);
            }
            float* o = output + c0;
            Store4<TOps, TV>(o, a00, a01, a02, a03);
            if (rows > 1) Store4<TOps, TV>(o + ldo, a10, a11, a12, a13);
            if (rows > 2) Store4<TOps, TV>(o + 2 * ldo, a20, a21, a22, a23);
            if (rows > 3) Store4<TOps, TV>(o + 3 * ldo, a30, a31, a32, a33);
        }
        for (; c0 + 2 * w <= n; c0 += 2 * w)
        {
            TV a00 = TOps.Zero, a01 = TOps.Zero, a10 = TOps.Zero, a11 = TOps.Zero;
            TV a20 = TOps.Zero, a21 = TOps.Zero, a30 = TOps.Zero, a31 = TOps.Zero;
            float* ap = a;
            float* bp = b + c0;
            for (int i = 0; i < k; i++, ap += step, bp += ldb)
            {
                TV b0 = TOps.Load(bp), b1 = TOps.Load(bp + w);
                TV x = TOps.Create(ap[0]); a00 = TOps.MultiplyAdd(x, b0, a00); a01 = TOps.MultiplyAdd(x, b1, a01);
                x = TOps.Create(ap[o1]); a10 = TOps.MultiplyAdd(x, b0, a10); a11 = TOps.MultiplyAdd(x, b1, a11);
                x = TOps.Create(ap[o2]); a20 = TOps.MultiplyAdd(x, b0, a20); a21 = TOps.MultiplyAdd(x, b1, a21);
                x = TOps.Create(ap[o3]); a30 = TOps.MultiplyAdd(x, b0, a30); a31 = TOps.MultiplyAdd(x, b1, a31);
            }
            float* o = output + c0;
            TOps.Store(o, a00); TOps.Store(o + w, a01);
            if (rows > 1) { TOps.Store(o + ldo, a10); TOps.Store(o + ldo + w, a11); }
            if (rows > 2) { TOps.Store(o + 2 * ldo, a20); TOps.Store(o + 2 * ldo + w, a21); }
            if (rows > 3) { TOps.Store(o + 3 * ldo, a30); TOps.Store(o + 3 * ldo + w, a31); }
        }
        for (; c0 + w <= n; c0 += w)
        {
            TV a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero;
            float* ap = a;
            float* bp = b + c0;
            for (int i = 0; i < k; i++, ap += step, bp += ldb)
            {
                TV b0 = TOps.Load(bp);
                a0 = TOps.MultiplyAdd(TOps.Create(ap[0]), b0, a0);
                a1 = TOps.MultiplyAdd(TOps.Create(ap[o1]), b0, a1);
                a2 = TOps.MultiplyAdd(TOps.Create(ap[o2]), b0, a2);
                a3 = TOps.MultiplyAdd(TOps.Create(ap[o3]), b0, a3);
            }
            float* o = output + c0;
            TOps.Store(o, a0);
            if (rows > 1) TOps.Store(o + ldo, a1);
            if (rows > 2) TOps.Store(o + 2 * ldo, a2);
            if (rows > 3) TOps.Store(o + 3 * ldo, a3);
        }
        for (; c0 < n; c0++)
        {
            nint o0 = 0;
            for (int r = 0; r < rows; r++)
            {
                nint offset = r == 0 ? o0 : r == 1 ? o1 : r == 2 ? o2 : o3;
                float acc = 0f;
                float* ap = a + offset;
                float* bp = b + c0;
                for (int i = 0; i < k; i++, ap += step, bp += ldb) acc = Scalar.MultiplyAdd(*ap, *bp, acc);
                output[r * ldo + c0] = acc;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store4<TOps, TV>(float* o, TV v0, TV v1, TV v2, TV v3) where TOps : ISimdOps<TV> where TV : struct
    {
        int w = TOps.Count;
        TOps.Store(o, v0);
        TOps.Store(o + w, v1);
        TOps.Store(o + 2 * w, v2);
        TOps.Store(o + 3 * w, v3);
    }
}
