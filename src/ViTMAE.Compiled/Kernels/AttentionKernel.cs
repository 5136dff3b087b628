using System;
using System.Runtime.Intrinsics;

namespace ViTMAE.Compiled.Kernels;

/// <summary>
/// Multi-head self-attention core with the semantics of <see cref="ReferenceKernels.Attention"/>, reading Q, K and V in
/// place from the fused QKV output. Per head: Kᵀ is packed once into the scratch (panels of 2 vectors of keys, the GEMM
/// layout) and V copied to a contiguous [T, headDim] block (in the QKV rows, one head's values are 3·D floats apart:
/// a page apart for large D), then queries are processed four at a time: scores = Q·Kᵀ·scale (register-blocked
/// 4 × 2 vectors), softmax over the key row padded with −∞ to whole vectors, head mask, optional copy to
/// <c>probs</c>, and context = P·V (register-blocked). The T × T probability matrix is never materialised unless
/// <c>probs</c> is requested. No allocation.
/// </summary>
/// <remarks>
/// Scratch (floats, per call, per worker): <c>(2·headDim + 4) × PaddedTokens(T)</c> with
/// <c>PaddedTokens(T) = ⌈T / 32⌉ × 32</c>; see <see cref="ScratchLength"/>. That is headDim × PaddedTokens for the packed
/// keys of one head, as much for its values, and 4 × PaddedTokens for the score rows of one block of queries. Examples:
/// T = 197, headDim = 64 → 132 × 224 = 29,568 floats; T = 50, headDim = 64 → 132 × 64 = 8,448; T = 197, headDim = 32
/// → 68 × 224 = 15,232.
/// </remarks>
public static partial class AttentionKernel
{
    /// <summary>Queries processed together (rows of score scratch).</summary>
    public const int QueryBlock = 4;

    /// <summary>Key padding granule: tokens are rounded up to a multiple of this in the scratch.</summary>
    public const int TokenAlignment = 32;

    /// <summary>T rounded up to a multiple of <see cref="TokenAlignment"/>.</summary>
    /// <param name="tokens">T.</param>
    public static int PaddedTokens(int tokens) => (tokens + TokenAlignment - 1) / TokenAlignment * TokenAlignment;

    /// <summary>Floats of scratch <c>Forward</c> needs: (2·headDim + <see cref="QueryBlock"/>) × <see cref="PaddedTokens"/>(T).</summary>
    /// <param name="tokens">T.</param>
    /// <param name="headDim">Features per head.</param>
    public static int ScratchLength(int tokens, int headDim) => (2 * headDim + QueryBlock) * PaddedTokens(tokens);

    /// <summary>
    /// context[i, h·headDim + d] = Σ_j p[h,i,j]·V[j, h·headDim + d], p[h,i,:] = softmax(Q_h[i]·K_hᵀ/√headDim)·headMask[h].
    /// </summary>
    /// <param name="qkv">[tokens, 3·D], D = heads·headDim: Q in columns [0, D), K in [D, 2D), V in [2D, 3D).</param>
    /// <param name="headMask">[heads] multipliers of the probabilities, or empty.</param>
    /// <param name="context">[tokens, D], overwritten; must not overlap the other spans.</param>
    /// <param name="probs">[heads, T, T] receives the probabilities after softmax and head mask, or empty to skip.</param>
    /// <param name="tokens">T.</param>
    /// <param name="heads">Number of heads.</param>
    /// <param name="headDim">Features per head.</param>
    /// <param name="scratch">At least <see cref="ScratchLength"/>(tokens, headDim) floats per worker of
    /// <paramref name="pool"/> (one slice each); contents are overwritten.</param>
    /// <param name="pool">Workers to share the heads with, or null for the calling thread. Each head is computed exactly
    /// as in the serial call, so the result does not depend on the number of workers.</param>
    public static void Forward(ReadOnlySpan<float> qkv, ReadOnlySpan<float> headMask, Span<float> context, Span<float> probs, int tokens, int heads, int headDim,
        Span<float> scratch, Threading.ComputePool? pool = null)
    {
        if (pool is null)
        {
            Forward(qkv, headMask, context, probs, tokens, heads, headDim, scratch, SimdPath.Auto);
        }
        else
        {
            ForwardParallel(qkv, headMask, context, probs, tokens, heads, headDim, scratch, pool);
        }
    }

    internal static unsafe void Forward(ReadOnlySpan<float> qkv, ReadOnlySpan<float> headMask, Span<float> context, Span<float> probs, int tokens, int heads, int headDim,
        Span<float> scratch, SimdPath path)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(heads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(headDim);
        long d = (long)heads * headDim;
        if (qkv.Length < tokens * 3 * d) throw new ArgumentException("qkv is shorter than tokens × 3·heads·headDim.", nameof(qkv));
        if (context.Length < tokens * d) throw new ArgumentException("context is shorter than tokens × heads·headDim.", nameof(context));
        if (!headMask.IsEmpty && headMask.Length < heads) throw new ArgumentException("headMask is shorter than heads.", nameof(headMask));
        if (!probs.IsEmpty && probs.Length < (long)heads * tokens * tokens) throw new ArgumentException("probs is shorter than heads × T × T.", nameof(probs));
        if (scratch.Length < (long)ScratchLength(tokens, headDim)) throw new ArgumentException($"scratch needs {ScratchLength(tokens, headDim)} floats.", nameof(scratch));
        if (tokens == 0) return;
        ReadOnlySpan<float> q = qkv[..(int)(tokens * 3 * d)];
        Span<float> ctx = context[..(int)(tokens * d)];
        Span<float> scr = scratch[..ScratchLength(tokens, headDim)];
        Span<float> pr = probs.IsEmpty ? probs : probs[..(heads * tokens * tokens)];
        if (q.Overlaps(ctx) || q.Overlaps(scr) || ctx.Overlaps(scr) || (!pr.IsEmpty && (pr.Overlaps(q) || pr.Overlaps(ctx) || pr.Overlaps(scr))))
            throw new ArgumentException("qkv, context, probs and scratch must not overlap.", nameof(scratch));

        fixed (float* pq = q)
        fixed (float* pc = ctx)
        fixed (float* pm = headMask)
        fixed (float* pp = pr)
        fixed (float* ps = scr)
        {
            var args = new Args(pq, pc, tokens, heads, headDim, headMask.IsEmpty ? null : pm, pr.IsEmpty ? null : pp, ps);
            switch (Simd.Resolve(path))
            {
                case SimdPath.Vector512: Run<V512, Vector512<float>>(in args); break;
                case SimdPath.Vector256: Run<V256, Vector256<float>>(in args); break;
                case SimdPath.Vector128: Run<V128, Vector128<float>>(in args); break;
                default: Run<Scalar, float>(in args); break;
            }
        }
    }

    private readonly unsafe struct Args
    {
        public readonly float* Qkv, Context, HeadMask, Probs, Scratch;
        public readonly int Tokens, Heads, HeadDim, HeadStart, HeadEnd;

        public Args(float* qkv, float* context, int tokens, int heads, int headDim, float* headMask, float* probs, float* scratch)
            : this(qkv, context, tokens, heads, headDim, headMask, probs, scratch, 0, heads)
        {
        }

        public Args(float* qkv, float* context, int tokens, int heads, int headDim, float* headMask, float* probs, float* scratch, int headStart, int headEnd)
        {
            Qkv = qkv; Context = context; Tokens = tokens; Heads = heads; HeadDim = headDim; HeadMask = headMask; Probs = probs; Scratch = scratch;
            HeadStart = headStart; HeadEnd = headEnd;
        }

        /// <summary>The same call restricted to heads [start, end) with its own scratch.</summary>
        public Args ForHeads(int start, int end, float* scratch) => new(Qkv, Context, Tokens, Heads, HeadDim, HeadMask, Probs, scratch, start, end);
    }

    /// <summary>The smallest share of an attention call worth handing to another thread (~1–2 µs of work).</summary>
    private const long MinOperationsPerChunk = 1 << 17;

    /// <summary>The heads shared among the workers of <paramref name="pool"/>, each with its own scratch slice.</summary>
    private static unsafe void ForwardParallel(ReadOnlySpan<float> qkv, ReadOnlySpan<float> headMask, Span<float> context, Span<float> probs, int tokens, int heads, int headDim,
        Span<float> scratch, Threading.ComputePool pool)
    {
        int perWorker = ScratchLength(tokens, headDim);
        // Per head: Q·Kᵀ and P·V (2·T²·headDim multiply-adds) and a softmax over T² scores (~16 operations each).
        int chunks = tokens == 0 ? 1 : pool.ChunksFor(heads, (2L * headDim + 16) * tokens * tokens, MinOperationsPerChunk);
        if (chunks <= 1)
        {
            Forward(qkv, headMask, context, probs, tokens, heads, headDim, scratch[..Math.Min(scratch.Length, perWorker)], SimdPath.Auto);
            return;
        }

        // Validate once through the serial entry's checks on head 0's slice layout, then fan out.
        long d = (long)heads * headDim;
        if (qkv.Length < tokens * 3 * d) throw new ArgumentException("qkv is shorter than tokens × 3·heads·headDim.", nameof(qkv));
        if (context.Length < tokens * d) throw new ArgumentException("context is shorter than tokens × heads·headDim.", nameof(context));
        if (!headMask.IsEmpty && headMask.Length < heads) throw new ArgumentException("headMask is shorter than heads.", nameof(headMask));
        if (!probs.IsEmpty && probs.Length < (long)heads * tokens * tokens) throw new ArgumentException("probs is shorter than heads × T × T.", nameof(probs));
        if (scratch.Length < (long)perWorker * pool.DegreeOfParallelism) throw new ArgumentException($"scratch needs {perWorker} floats per worker.", nameof(scratch));
        fixed (float* pq = qkv)
        fixed (float* pc = context)
        fixed (float* pm = headMask)
        fixed (float* pp = probs)
        fixed (float* ps = scratch)
        {
            ParallelAttention work = ParallelAttention.ForThisThread;
            work.Arguments = new Args(pq, pc, tokens, heads, headDim, headMask.IsEmpty ? null : pm, probs.IsEmpty ? null : pp, ps);
            work.ScratchPerWorker = perWorker;
            work.Chunks = chunks;
            work.Path = Simd.Resolve(SimdPath.Auto);
            pool.Run(work, chunks);
        }
    }

    /// <summary>The fan-out of one attention call; one instance per calling thread, reused (no allocation per call).</summary>
    private sealed unsafe class ParallelAttention : Threading.IParallelWork
    {
        [ThreadStatic]
        private static ParallelAttention? t_instance;

        public Args Arguments;
        public int ScratchPerWorker;
        public int Chunks;
        public SimdPath Path;

        public static ParallelAttention ForThisThread => t_instance ??= new ParallelAttention();

        public void Execute(int chunk, int worker)
        {
            (int start, int end) = Threading.ComputePool.Share(Arguments.Heads, chunk, Chunks);
            if (start >= end) return;
            Args mine = Arguments.ForHeads(start, end, Arguments.Scratch + (nint)worker * ScratchPerWorker);
            switch (Path)
            {
                case SimdPath.Vector512: Run<V512, Vector512<float>>(in mine); break;
                case SimdPath.Vector256: Run<V256, Vector256<float>>(in mine); break;
                case SimdPath.Vector128: Run<V128, Vector128<float>>(in mine); break;
                default: Run<Scalar, float>(in mine); break;
            }
        }
    }

    private static unsafe void Run<TOps, TV>(in Args a) where TOps : ISimdOps<TV> where TV : struct
    {
        int t = a.Tokens, hd = a.HeadDim, d = a.Heads * hd;
        nint ld = 3 * (nint)d;
        int tp = PaddedTokens(t);
        float* keys = a.Scratch;                       // [tp / kw panels][hd][kw]
        float* values = keys + (nint)hd * tp;          // [t][hd]
        float* scores = values + (nint)hd * tp;        // [QueryBlock][tp]
        float scale = (float)(1.0 / Math.Sqrt(hd));
        for (int h = a.HeadStart; h < a.HeadEnd; h++)
        {
            float* qh = a.Qkv + (nint)h * hd;
            float* kh = qh + d;
            float* vh = qh + 2 * (nint)d;
            PackKeys(kh, ld, t, hd, tp, 2 * TOps.Count, keys);
            for (int j = 0; j < t; j++)
                new ReadOnlySpan<float>(vh + j * ld, hd).CopyTo(new Span<float>(values + (nint)j * hd, hd));
            for (int i0 = 0; i0 < t; i0 += QueryBlock)
            {
                int rows = Math.Min(QueryBlock, t - i0);
                Scores<TOps, TV>(qh + i0 * ld, ld, rows, keys, hd, tp, scores, scale);
                for (int r = 0; r < rows; r++)
                {
                    float* row = scores + (nint)r * tp;
                    // Padding keys get −∞ (probability exactly 0), so the softmax runs on whole vectors, without a scalar tail.
                    new Span<float>(row + t, tp - t).Fill(float.NegativeInfinity);
                    SoftmaxKernel.Row<TOps, TV>(row, tp);
                    if (a.HeadMask != null) SoftmaxKernel.Scale<TOps, TV>(row, t, a.HeadMask[h]);
                    if (a.Probs != null)
                        new ReadOnlySpan<float>(row, t).CopyTo(new Span<float>(a.Probs + ((nint)h * t + i0 + r) * t, t));
                }
                Context<TOps, TV>(scores, tp, rows, values, hd, t, hd, a.Context + (nint)i0 * d + (nint)h * hd, d);
            }
        }
    }

    /// <summary>keys[(j / kw)·hd·kw + c·kw + j % kw] = K[j, c], zero for j in [t, tp).</summary>
    private static unsafe void PackKeys(float* k, nint ld, int t, int hd, int tp, int kw, float* keys)
    {
        for (int j = 0; j < tp; j++)
        {
            float* dst = keys + (nint)(j / kw) * hd * kw + j % kw;
            if (j < t)
            {
                float* src = k + j * ld;
                for (int c = 0; c < hd; c++) dst[(nint)c * kw] = src[c];
            }
            else
            {
                for (int c = 0; c < hd; c++) dst[(nint)c * kw] = 0f;
            }
        }
    }

    /// <summary>scores[r, j] = (q_r · k_j)·scale for 4 score rows (rows ≥ <paramref name="rows"/> repeat the last query) and all tp keys.</summary>
    private static unsafe void Scores<TOps, TV>(float* q, nint ld, int rows, float* keys, int hd, int tp, float* scores, float scale)
        where TOps : ISimdOps<TV> where TV : struct
    {
        int w = TOps.Count, kw = 2 * w;
        float* q0 = q;
        float* q1 = rows > 1 ? q0 + ld : q0;
        float* q2 = rows > 2 ? q1 + ld : q1;
        float* q3 = rows > 3 ? q2 + ld : q2;
        TV vs = TOps.Create(scale);
        for (int j0 = 0; j0 < tp; j0 += kw)
        {
            float* kp = keys + (nint)j0 * hd;
            TV c00 = TOps.Zero, c01 = TOps.Zero, c10 = TOps.Zero, c11 = TOps.Zero;
            TV c20 = TOps.Zero, c21 = TOps.Zero, c30 = TOps.Zero, c31 = TOps.Zero;
            for (nint c = 0; c < hd; c++)
            {
                TV k0 = TOps.Load(kp), k1 = TOps.Load(kp + w);
                kp += kw;
                TV x = TOps.Create(q0[c]); c00 = TOps.MultiplyAdd(x, k0, c00); c01 = TOps.MultiplyAdd(x, k1, c01);
                x = TOps.Create(q1[c]); c10 = TOps.MultiplyAdd(x, k0, c10); c11 = TOps.MultiplyAdd(x, k1, c11);
                x = TOps.Create(q2[c]); c20 = TOps.MultiplyAdd(x, k0, c20); c21 = TOps.MultiplyAdd(x, k1, c21);
                x = TOps.Create(q3[c]); c30 = TOps.MultiplyAdd(x, k0, c30); c31 = TOps.MultiplyAdd(x, k1, c31);
            }
            float* s = scores + j0;
            TOps.Store(s, TOps.Multiply(c00, vs)); TOps.Store(s + w, TOps.Multiply(c01, vs));
            s += tp;
            TOps.Store(s, TOps.Multiply(c10, vs)); TOps.Store(s + w, TOps.Multiply(c11, vs));
            s += tp;
            TOps.Store(s, TOps.Multiply(c20, vs)); TOps.Store(s + w, TOps.Multiply(c21, vs));
            s += tp;
            TOps.Store(s, TOps.Multiply(c30, vs)); TOps.Store(s + w, TOps.Multiply(c31, vs));
        }
    }

    /// <summary>out[r, c] = Σ_{j &lt; t} p[r, j]·V[j, c] for r &lt; rows, c &lt; hd; V has leading dimension ld.</summary>
    private static unsafe void Context<TOps, TV>(float* p, int tp, int rows, float* v, nint ld, int t, int hd, float* output, int ldo)
        where TOps : ISimdOps<TV> where TV : struct
    {
        int w = TOps.Count;
        float* p0 = p, p1 = p + tp, p2 = p + 2 * tp, p3 = p + 3 * tp;
        int c0 = 0;
        for (; c0 <= hd - 2 * w; c0 += 2 * w)
        {
            TV a00 = TOps.Zero, a01 = TOps.Zero, a10 = TOps.Zero, a11 = TOps.Zero;
            TV a20 = TOps.Zero, a21 = TOps.Zero, a30 = TOps.Zero, a31 = TOps.Zero;
            float* vp = v + c0;
            for (nint j = 0; j < t; j++, vp += ld)
            {
                TV v0 = TOps.Load(vp), v1 = TOps.Load(vp + w);
                TV x = TOps.Create(p0[j]); a00 = TOps.MultiplyAdd(x, v0, a00); a01 = TOps.MultiplyAdd(x, v1, a01);
                x = TOps.Create(p1[j]); a10 = TOps.MultiplyAdd(x, v0, a10); a11 = TOps.MultiplyAdd(x, v1, a11);
                x = TOps.Create(p2[j]); a20 = TOps.MultiplyAdd(x, v0, a20); a21 = TOps.MultiplyAdd(x, v1, a21);
                x = TOps.Create(p3[j]); a30 = TOps.MultiplyAdd(x, v0, a30); a31 = TOps.MultiplyAdd(x, v1, a31);
            }
            float* o = output + c0;
            TOps.Store(o, a00); TOps.Store(o + w, a01);
            if (rows > 1) { o += ldo; TOps.Store(o, a10); TOps.Store(o + w, a11); }
            if (rows > 2) { o += ldo; TOps.Store(o, a20); TOps.Store(o + w, a21); }
            if (rows > 3) { o += ldo; TOps.Store(o, a30); TOps.Store(o + w, a31); }
        }
        for (; c0 <= hd - w; c0 += w)
        {
            TV a0 = TOps.Zero, a1 = TOps.Zero, a2 = TOps.Zero, a3 = TOps.Zero;
            float* vp = v + c0;
            for (nint j = 0; j < t; j++, vp += ld)
            {
                TV v0 = TOps.Load(vp);
                a0 = TOps.MultiplyAdd(TOps.Create(p0[j]), v0, a0);
                a1 = TOps.MultiplyAdd(TOps.Create(p1[j]), v0, a1);
                a2 = TOps.MultiplyAdd(TOps.Create(p2[j]), v0, a2);
                a3 = TOps.MultiplyAdd(TOps.Create(p3[j]), v0, a3);
            }
            float* o = output + c0;
            TOps.Store(o, a0);
            if (rows > 1) TOps.Store(o + ldo, a1);
            if (rows > 2) TOps.Store(o + 2 * ldo, a2);
            if (rows > 3) TOps.Store(o + 3 * ldo, a3);
        }
        for (; c0 < hd; c0++)
        {
            for (int r = 0; r < rows; r++)
            {
                float* pr = p + (nint)r * tp;
                float acc = 0f;
                float* vp = v + c0;
                for (nint j = 0; j < t; j++, vp += ld) acc = float.MultiplyAddEstimate(pr[j], *vp, acc);
                output[(nint)r * ldo + c0] = acc;
            }
        }
    }
}
