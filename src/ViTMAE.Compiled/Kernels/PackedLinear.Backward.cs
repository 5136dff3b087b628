using System;

namespace ViTMAE.Compiled.Kernels;

// Training: re-packing from updated master weights, and the input gradient dX = dY·W on a second packing of W.
public sealed unsafe partial class PackedLinear
{
    /// <summary>
    /// Packs new values of the weight and bias into this layer in place (training updates the Hugging Face-layout master
    /// weights, then re-packs), and the backward packing too when <see cref="EnableBackward"/> was called. No allocation.
    /// For a layer built with <see cref="Concatenate(int, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float})"/>
    /// this takes the concatenated [N, K] weight and [N] bias (zeros where a part has none), like the three-part overload.
    /// Must not run while another call uses the layer.
    /// </summary>
    /// <param name="weight">[OutFeatures, InFeatures] row-major.</param>
    /// <param name="bias">[OutFeatures] when the layer has a bias (<see cref="HasBias"/>), else empty.</param>
    /// <exception cref="ArgumentException">A length differs from the layer's shape, or a bias is given to a layer built
    /// without one (or missing from one built with it).</exception>
    public void Repack(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias)
    {
        long expected = (long)OutFeatures * InFeatures;
        if (weight.Length != expected)
            throw new ArgumentException($"Weight has {weight.Length} floats, expected {OutFeatures} × {InFeatures} = {expected}.", nameof(weight));
        int expectedBias = HasBias ? OutFeatures : 0;
        if (bias.Length != expectedBias)
            throw new ArgumentException($"Bias has {bias.Length} floats, expected {expectedBias} (the layer was built {(HasBias ? "with" : "without")} a bias).", nameof(bias));
        PackRows(0, weight, bias, OutFeatures, nameof(weight), nameof(bias));
        if (_backward is not null) PackBackwardRows(0, weight, OutFeatures);
    }

    /// <summary>
    /// Re-packs a layer built with <see cref="Concatenate(int, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float})"/>
    /// from new values of its three parts (each with the shape, and the bias presence, it was built with), and the backward
    /// packing too when <see cref="EnableBackward"/> was called. No allocation. Must not run while another call uses the layer.
    /// </summary>
    /// <param name="w0">First weight [n0, K] (query).</param>
    /// <param name="b0">[n0], or empty when the first part was built without a bias.</param>
    /// <param name="w1">Second weight [n1, K] (key).</param>
    /// <param name="b1">[n1], or empty likewise.</param>
    /// <param name="w2">Third weight [n2, K] (value).</param>
    /// <param name="b2">[n2], or empty likewise.</param>
    /// <exception cref="InvalidOperationException">The layer was not built by Concatenate.</exception>
    /// <exception cref="ArgumentException">A length differs from the part's shape or bias presence.</exception>
    public void Repack(ReadOnlySpan<float> w0, ReadOnlySpan<float> b0, ReadOnlySpan<float> w1, ReadOnlySpan<float> b1, ReadOnlySpan<float> w2, ReadOnlySpan<float> b2)
    {
        if (_parts != 3) throw new InvalidOperationException("This layer was not built by Concatenate; use Repack(weight, bias).");
        CheckPart(w0, b0, _rows0, _bias0, nameof(w0), nameof(b0));
        CheckPart(w1, b1, _rows1, _bias1, nameof(w1), nameof(b1));
        CheckPart(w2, b2, _rows2, _bias2, nameof(w2), nameof(b2));
        PackRows(0, w0, b0, _rows0, nameof(w0), nameof(b0));
        PackRows(_rows0, w1, b1, _rows1, nameof(w1), nameof(b1));
        PackRows(_rows0 + _rows1, w2, b2, _rows2, nameof(w2), nameof(b2));
        if (_backward is not null)
        {
            PackBackwardRows(0, w0, _rows0);
            PackBackwardRows(_rows0, w1, _rows1);
            PackBackwardRows(_rows0 + _rows1, w2, _rows2);
        }
    }

    private void CheckPart(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int rows, bool hasBias, string weightName, string biasName)
    {
        long expected = (long)rows * InFeatures;
        if (weight.Length != expected)
            throw new ArgumentException($"Weight has {weight.Length} floats, expected {rows} × {InFeatures} = {expected}.", weightName);
        int expectedBias = hasBias ? rows : 0;
        if (bias.Length != expectedBias)
            throw new ArgumentException($"Bias has {bias.Length} floats, expected {expectedBias} (this part was built {(hasBias ? "with" : "without")} a bias).", biasName);
    }

    /// <summary>Whether <see cref="EnableBackward"/> has been called (the layer holds the second packing of W).</summary>
    public bool BackwardEnabled => _backward is not null;

    /// <summary>
    /// Allocates (once; later calls do nothing) and fills a second packing of W for <see cref="BackwardInput"/>:
    /// ⌈K/NR⌉ panels, panel p holding the input columns k ∈ [p·NR, (p+1)·NR) of every row of W, n-major (N rows of NR
    /// floats, zero past K): W's rows copied into the panel layout of the forward micro-kernel. Native memory of the size of
    /// the forward packing. Must not run while another call uses the layer.
    /// </summary>
    public void EnableBackward()
    {
        if (_backward is not null) return;
        int panels = (InFeatures + _panelWidth - 1) / _panelWidth;
        long floats = (long)panels * _panelWidth * OutFeatures;
        if (floats > Array.MaxLength) throw new InvalidOperationException("Weight matrix too large to pack for the backward pass.");
        var buffer = new AlignedBuffer(floats);
        // Fill from the forward panels (the layer keeps no copy of W): column n of panel n / NR, row k.
        float* forward = _storage.Pointer;
        float* backward = buffer.Pointer;
        int nr = _panelWidth, k = InFeatures, n = OutFeatures;
        for (int row = 0; row < n; row++)
        {
            float* src = forward + (nint)(row / nr) * k * nr + row % nr;
            for (int p = 0; p < k; p++)
                backward[(nint)(p / nr) * n * nr + (nint)row * nr + p % nr] = src[(nint)p * nr];
        }

        GC.KeepAlive(_storage);
        _backward = buffer;
    }

    /// <summary>Writes rows [row0, row0 + rows) of W into the backward panels.</summary>
    private void PackBackwardRows(int row0, ReadOnlySpan<float> weight, int rows)
    {
        int k = InFeatures, nr = _panelWidth, n = OutFeatures;
        float* backward = _backward!.Pointer;
        fixed (float* w = weight)
        {
            for (int r = 0; r < rows; r++)
            {
                float* src = w + (nint)r * k;
                float* dst = backward + (nint)(row0 + r) * nr;
                int p = 0;
                for (; p + nr <= k; p += nr)
                    new ReadOnlySpan<float>(src + p, nr).CopyTo(new Span<float>(dst + (nint)(p / nr) * n * nr, nr));
                if (p < k)
                    new ReadOnlySpan<float>(src + p, k - p).CopyTo(new Span<float>(dst + (nint)(p / nr) * n * nr, k - p)); // the rest of the last panel stays zero
            }
        }

        GC.KeepAlive(_backward);
    }

    /// <summary>
    /// The input gradient of y = x·Wᵀ + b: dInput[m, K] = dOutput[m, N]·W[N, K] (or += with <paramref name="accumulate"/>),
    /// computed by the forward micro-kernel on the backward packing (<see cref="EnableBackward"/>), from zero (no bias).
    /// No allocation. Bit-identical whatever the pool's size: each output element is one fused multiply-add chain over n
    /// in order 0 … N − 1, then stored (or added to dInput).
    /// </summary>
    /// <param name="dOutput">[m, N] row-major, read in place.</param>
    /// <param name="dInput">[m, K] row-major; overwritten, or added to. Must not overlap <paramref name="dOutput"/>.</param>
    /// <param name="m">Rows.</param>
    /// <param name="accumulate">false: dInput = dOutput·W; true: dInput += dOutput·W (one rounding of the product, then the add).</param>
    /// <param name="pool">Workers to share the input columns with (as <see cref="Forward(ReadOnlySpan{float}, Span{float}, int, Epilogue, Activation, Threading.ComputePool)"/>), or null.</param>
    /// <exception cref="InvalidOperationException"><see cref="EnableBackward"/> was not called.</exception>
    /// <exception cref="ArgumentException">A span is shorter than its shape, or they overlap.</exception>
    public void BackwardInput(ReadOnlySpan<float> dOutput, Span<float> dInput, int m, bool accumulate = false, Threading.ComputePool? pool = null)
    {
        AlignedBuffer backward = _backward ?? throw new InvalidOperationException("Call EnableBackward() before BackwardInput.");
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        long outSize = (long)m * OutFeatures, inSize = (long)m * InFeatures;
        if (dOutput.Length < outSize)
            throw new ArgumentException($"dOutput has {dOutput.Length} floats, expected at least m × OutFeatures = {m} × {OutFeatures} = {outSize}.", nameof(dOutput));
        if (dInput.Length < inSize)
            throw new ArgumentException($"dInput has {dInput.Length} floats, expected at least m × InFeatures = {m} × {InFeatures} = {inSize}.", nameof(dInput));
        if (m == 0) return;
        ReadOnlySpan<float> usedOut = dOutput[..(int)outSize];
        Span<float> usedIn = dInput[..(int)inSize];
        if (usedOut.Overlaps(usedIn)) throw new ArgumentException("dOutput and dInput overlap.", nameof(dInput));

        int panels = (InFeatures + _panelWidth - 1) / _panelWidth;
        int chunks = pool is null ? 1 : pool.ChunksFor(panels, (long)m * OutFeatures * _panelWidth, MinMultiplyAddsPerChunk);
        fixed (float* a = usedOut)
        fixed (float* c = usedIn)
        {
            // The forward GEMM with the roles of N and K exchanged: A = dOutput [m, N], panels of W over K, no bias.
            var args = new GemmArgs(a, backward.Pointer, null, c, m, InFeatures, OutFeatures, accumulate, Activation.None);
            if (chunks > 1)
            {
                ParallelGemm work = ParallelGemm.ForThisThread;
                work.Arguments = args;
                work.Panels = panels;
                work.Chunks = chunks;
                work.Path = _path;
                pool!.Run(work, chunks);
            }
            else
            {
                Dispatch(_path, in args);
            }
        }

        GC.KeepAlive(backward);
    }
}
