using System;

namespace ViTMAE.Compiled.Kernels;

/// <summary>
/// Parameter gradients of a Linear layer y = x·Wᵀ + b (the input gradient is <see cref="PackedLinear.BackwardInput"/>).
/// </summary>
/// <remarks>
/// The weight gradient runs on the forward GEMM's machinery: X's columns are packed into panels (scratch), dY is read in
/// place as the transposed A operand of a micro-kernel variant (each step broadcasts 12 — or 6 — consecutive values of
/// one dY row), and a 12 × NR tile of dW stays in registers for the whole reduction over the m rows, from zero, before
/// it is added to dW. Measured alternatives: transposing dY into scratch first (then the forward micro-kernel unchanged)
/// adds a pass over dY and was slower at the training shapes; see the commit message for the numbers.
/// </remarks>
public static class GradientKernels
{
    /// <summary>The smallest share of a weight gradient worth handing to another thread (~1–2 µs of work).</summary>
    private const long MinMultiplyAddsPerChunk = 1 << 17;

    /// <summary>
    /// Floats of scratch <see cref="WeightGradient(ReadOnlySpan{float}, int, ReadOnlySpan{float}, Span{float}, Span{float}, int, int, int, Span{float}, Threading.ComputePool)"/> needs: ⌈k / 32⌉ · 32 · m (X's columns packed into panels over
    /// the m rows; the same size for every SIMD width). Independent of <paramref name="n"/>, which is taken for symmetry
    /// with the call and checked to be positive.
    /// </summary>
    /// <param name="m">Rows (tokens).</param>
    /// <param name="n">Output features (rows of dW).</param>
    /// <param name="k">Input features (columns of dW).</param>
    public static int WeightGradientScratch(int m, int n, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        long length = PackedLinear.WeightGradientPackedLength(m, k);
        if (length > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(m), "Weight gradient scratch too large.");
        return (int)length;
    }

    /// <summary>
    /// dWeight[j, c] += Σ_r dOutput[r·dOutputStride + j]·input[r·k + c] (dW += dYᵀ·X) and
    /// dBias[j] += Σ_r dOutput[r·dOutputStride + j], for j &lt; n, c &lt; k, r &lt; m. No allocation.
    /// </summary>
    /// <remarks>
    /// Each dW element is one fused multiply-add chain over r = 0 … m − 1 starting from zero, then added to dWeight; each
    /// dBias element a chain of adds over r from zero, then added: bit-identical for any pool size. A column slice of a
    /// wider gradient is passed with its stride, e.g. the key part of a fused Q|K|V gradient [m, 3D] as
    /// <c>dQkv.Slice(D)</c> with <c>dOutputStride = 3D</c>.
    /// </remarks>
    /// <param name="dOutput">dY: row r's n values start at r·dOutputStride.</param>
    /// <param name="dOutputStride">Floats between dY rows, ≥ n.</param>
    /// <param name="input">X [m, k] row-major (the layer's forward input).</param>
    /// <param name="dWeight">[n, k] row-major, added to.</param>
    /// <param name="dBias">[n], added to; or empty to skip the bias gradient.</param>
    /// <param name="m">Rows (tokens).</param>
    /// <param name="n">Output features.</param>
    /// <param name="k">Input features.</param>
    /// <param name="scratch">At least <see cref="WeightGradientScratch"/>(m, n, k) floats; overwritten. Shared by the
    /// workers (each packs its own panels), so no per-worker multiple is needed.</param>
    /// <param name="pool">Workers to share dW's column panels (and dBias's columns) with, or null for the calling thread.</param>
    /// <exception cref="ArgumentException">A span is shorter than its shape, or dWeight/dBias/scratch overlap another span.</exception>
    public static void WeightGradient(ReadOnlySpan<float> dOutput, int dOutputStride, ReadOnlySpan<float> input, Span<float> dWeight, Span<float> dBias,
        int m, int n, int k, Span<float> scratch, Threading.ComputePool? pool = null)
        => WeightGradient(dOutput, dOutputStride, input, dWeight, dBias, m, n, k, scratch, SimdPath.Auto, pool);

    internal static unsafe void WeightGradient(ReadOnlySpan<float> dOutput, int dOutputStride, ReadOnlySpan<float> input, Span<float> dWeight, Span<float> dBias,
        int m, int n, int k, Span<float> scratch, SimdPath path, Threading.ComputePool? pool = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (dOutputStride < n)
            throw new ArgumentOutOfRangeException(nameof(dOutputStride), dOutputStride, $"dOutputStride must be at least n = {n}.");
        long dySize = m == 0 ? 0 : (long)(m - 1) * dOutputStride + n;
        long xSize = (long)m * k, wSize = (long)n * k;
        int scratchSize = WeightGradientScratch(m, n, k);
        if (dOutput.Length < dySize)
            throw new ArgumentException($"dOutput has {dOutput.Length} floats, expected at least (m − 1) × dOutputStride + n = {dySize}.", nameof(dOutput));
        if (input.Length < xSize)
            throw new ArgumentException($"input has {input.Length} floats, expected at least m × k = {m} × {k} = {xSize}.", nameof(input));
        if (dWeight.Length < wSize)
            throw new ArgumentException($"dWeight has {dWeight.Length} floats, expected at least n × k = {n} × {k} = {wSize}.", nameof(dWeight));
        if (!dBias.IsEmpty && dBias.Length < n)
            throw new ArgumentException($"dBias has {dBias.Length} floats, expected at least n = {n} (or empty).", nameof(dBias));
        if (scratch.Length < scratchSize)
            throw new ArgumentException($"scratch has {scratch.Length} floats, expected at least WeightGradientScratch(m, n, k) = {scratchSize}.", nameof(scratch));
        if (m == 0) return;

        ReadOnlySpan<float> dy = dOutput[..(int)dySize], x = input[..(int)xSize];
        Span<float> dw = dWeight[..(int)wSize], db = dBias.IsEmpty ? dBias : dBias[..n], scr = scratch[..scratchSize];
        if (dw.Overlaps(dy) || dw.Overlaps(x) || dw.Overlaps(scr) || scr.Overlaps(dy) || scr.Overlaps(x)
            || (!db.IsEmpty && (db.Overlaps(dy) || db.Overlaps(x) || db.Overlaps(dw) || db.Overlaps(scr))))
            throw new ArgumentException("dWeight, dBias and scratch must not overlap each other, dOutput or input.", nameof(dWeight));

        SimdPath resolved = Simd.Resolve(path);
        int panels = PackedLinear.WeightGradientPanels(resolved, k);
        int nr = 2 * Simd.Width(resolved);
        int chunks = pool is null ? 1 : pool.ChunksFor(panels, (long)m * n * nr, MinMultiplyAddsPerChunk);
        fixed (float* pdy = dy)
        fixed (float* px = x)
        fixed (float* pdw = dw)
        fixed (float* pdb = db)
        fixed (float* ps = scr)
        {
            var args = new PackedLinear.WeightGradientArgs(pdy, dOutputStride, px, pdw, db.IsEmpty ? null : pdb, m, n, k, ps);
            if (chunks > 1)
            {
                ParallelWeightGradient work = ParallelWeightGradient.ForThisThread;
                work.Arguments = args;
                work.Chunks = chunks;
                work.Path = resolved;
                pool!.Run(work, chunks);
            }
            else
            {
                PackedLinear.WeightGradientChunk(resolved, in args, 0, 1);
            }
        }
    }

    /// <summary>The fan-out of one weight gradient; one instance per calling thread, reused (no allocation per call).</summary>
    private sealed class ParallelWeightGradient : Threading.IParallelWork
    {
        [ThreadStatic]
        private static ParallelWeightGradient? t_instance;

        public PackedLinear.WeightGradientArgs Arguments;
        public int Chunks;
        public SimdPath Path;

        public static ParallelWeightGradient ForThisThread => t_instance ??= new ParallelWeightGradient();

        public void Execute(int chunk, int worker) => PackedLinear.WeightGradientChunk(Path, in Arguments, chunk, Chunks);
    }
}
