using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ViTMAE.Compiled.Kernels;

/// <summary>
/// A Linear layer y = x·Wᵀ + b whose weight is packed once, at load, into the panel layout of the GEMM micro-kernel.
/// Safe to share between threads for <see cref="Forward(ReadOnlySpan{float}, Span{float}, int, Epilogue, Activation, Threading.ComputePool)"/>
/// and <see cref="BackwardInput"/>, which allocate nothing; <see cref="Repack(ReadOnlySpan{float}, ReadOnlySpan{float})"/> and
/// <see cref="EnableBackward"/> change the layer and must not run concurrently with any other call on it.
/// </summary>
/// <remarks>
/// <para>Layout: W [N, K] (Hugging Face / PyTorch Linear) is stored as ⌈N/NR⌉ panels of Wᵀ, each K rows of NR
/// consecutive output columns (K-major, zero-padded past N), NR = 2 vectors = 32 floats with Vector512, 16 with
/// Vector256, 8 with Vector128, 2 scalar. The storage is native memory, 64-byte aligned, in 2 MB huge pages on Linux
/// (<see cref="AlignedBuffer"/>). The bias is stored padded to the panels (zeros when absent).</para>
/// <para>Compute: panel by panel, the input (A) is read in place in blocks of up to 12 rows (Vector512) or 6 (narrower
/// vectors); the micro-kernel holds a 12 × NR (or 6 × NR) tile in 24 (or 12) vector registers for the whole K loop
/// (per k: two panel loads, one broadcast per row, two FMAs per row), starts from the bias and applies the epilogue
/// (activation, residual accumulate) while the tile is hot in L1.</para>
/// </remarks>
public sealed unsafe partial class PackedLinear
{
    private const int MaxRows = 12;
    private const int MaxPanelWidth = 32;

    private readonly AlignedBuffer _storage; // native, aligned, huge pages where available; freed with this object
    private readonly int _biasOffset;        // float index of the padded bias in _storage (the panels start at 0)
    private readonly int _panelWidth;
    private readonly SimdPath _path;

    // What Repack must be given again: the rows of each concatenated part (one part unless built by Concatenate) and
    // which parts have a bias.
    private int _parts = 1;
    private int _rows0, _rows1, _rows2;
    private bool _bias0, _bias1, _bias2;

    // The second packing of W for input gradients (EnableBackward), null until then.
    private AlignedBuffer? _backward;

    /// <summary>Packs <paramref name="weight"/> [outFeatures, inFeatures] and <paramref name="bias"/> [outFeatures] (or empty).</summary>
    /// <param name="weight">[outFeatures, inFeatures] row-major, as stored by PyTorch's nn.Linear.</param>
    /// <param name="bias">[outFeatures], or empty for a Linear without bias.</param>
    /// <param name="outFeatures">N.</param>
    /// <param name="inFeatures">K.</param>
    public PackedLinear(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures)
        : this(weight, bias, outFeatures, inFeatures, SimdPath.Auto)
    {
    }

    internal PackedLinear(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures, SimdPath path)
        : this(outFeatures, inFeatures, path)
    {
        PackRows(0, weight, bias, outFeatures, nameof(weight), nameof(bias));
        HasBias = !bias.IsEmpty;
        _rows0 = outFeatures;
        _bias0 = HasBias;
    }

    private PackedLinear(int outFeatures, int inFeatures, SimdPath path)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        _path = Simd.Resolve(path);
        _panelWidth = 2 * Simd.Width(_path);
        int panels = (outFeatures + _panelWidth - 1) / _panelWidth;
        long weightFloats = (long)panels * _panelWidth * inFeatures;
        long total = weightFloats + (long)panels * _panelWidth;
        if (total > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(outFeatures), "Weight matrix too large to pack.");
        _storage = new AlignedBuffer(total);
        _biasOffset = (int)weightFloats;
    }

    /// <summary>
    /// Packs several Linear layers with the same input into one, concatenated along the output features
    /// (rows of W): the fused QKV projection takes query, key and value [D, D] to one [3D, D] GEMM whose output
    /// row holds Q in columns [0, D), K in [D, 2D), V in [2D, 3D). Absent biases count as zeros.
    /// </summary>
    /// <param name="inFeatures">K, shared by all three weights.</param>
    /// <param name="weight0">First weight [n0, K] (query).</param>
    /// <param name="bias0">[n0] or empty.</param>
    /// <param name="weight1">Second weight [n1, K] (key).</param>
    /// <param name="bias1">[n1] or empty.</param>
    /// <param name="weight2">Third weight [n2, K] (value).</param>
    /// <param name="bias2">[n2] or empty.</param>
    /// <returns>A layer with N = n0 + n1 + n2 output features (each nᵢ = weightᵢ.Length / K).</returns>
    public static PackedLinear Concatenate(int inFeatures,
        ReadOnlySpan<float> weight0, ReadOnlySpan<float> bias0,
        ReadOnlySpan<float> weight1, ReadOnlySpan<float> bias1,
        ReadOnlySpan<float> weight2, ReadOnlySpan<float> bias2)
        => Concatenate(inFeatures, weight0, bias0, weight1, bias1, weight2, bias2, SimdPath.Auto);

    internal static PackedLinear Concatenate(int inFeatures,
        ReadOnlySpan<float> weight0, ReadOnlySpan<float> bias0,
        ReadOnlySpan<float> weight1, ReadOnlySpan<float> bias1,
        ReadOnlySpan<float> weight2, ReadOnlySpan<float> bias2, SimdPath path)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        int n0 = RowsOf(weight0, inFeatures, nameof(weight0));
        int n1 = RowsOf(weight1, inFeatures, nameof(weight1));
        int n2 = RowsOf(weight2, inFeatures, nameof(weight2));
        var layer = new PackedLinear(n0 + n1 + n2, inFeatures, path);
        layer.PackRows(0, weight0, bias0, n0, nameof(weight0), nameof(bias0));
        layer.PackRows(n0, weight1, bias1, n1, nameof(weight1), nameof(bias1));
        layer.PackRows(n0 + n1, weight2, bias2, n2, nameof(weight2), nameof(bias2));
        layer.HasBias = !bias0.IsEmpty || !bias1.IsEmpty || !bias2.IsEmpty;
        layer._parts = 3;
        (layer._rows0, layer._rows1, layer._rows2) = (n0, n1, n2);
        (layer._bias0, layer._bias1, layer._bias2) = (!bias0.IsEmpty, !bias1.IsEmpty, !bias2.IsEmpty);
        return layer;
    }

    /// <summary>N, the number of output features (columns of the output).</summary>
    public int OutFeatures { get; }

    /// <summary>K, the number of input features (columns of the input).</summary>
    public int InFeatures { get; }

    /// <summary>Whether any bias was supplied (an absent bias is packed as zeros either way).</summary>
    public bool HasBias { get; private set; }

    /// <summary>Floats per packed panel (NR); depends on the SIMD width chosen at construction.</summary>
    public int PanelWidth => _panelWidth;

    /// <summary>
    /// output[m, N] = epilogue(input[m, K]·Wᵀ + b). No allocation; input and output must not overlap.
    /// </summary>
    /// <param name="input">[m, K] row-major, read in place.</param>
    /// <param name="output">[m, N] row-major. Overwritten, or added to with <see cref="Epilogue.Accumulate"/>.</param>
    /// <param name="m">Rows (tokens).</param>
    /// <param name="epilogue"><see cref="Epilogue.None"/>: output = y; <see cref="Epilogue.Activation"/>:
    /// output = act(y); <see cref="Epilogue.Accumulate"/>: output += y; both flags: output += act(y).</param>
    /// <param name="activation">The activation for <see cref="Epilogue.Activation"/>; must be
    /// <see cref="Activation.None"/> exactly when that flag is absent.</param>
    /// <param name="pool">Workers to share the output columns with, in chunks of at least ~128 K multiply-adds (serial
    /// below two such chunks, where a fan-out costs more than it saves); null runs on the calling thread. Results do not
    /// depend on it.</param>
    public void Forward(ReadOnlySpan<float> input, Span<float> output, int m, Epilogue epilogue = Epilogue.None, Activation activation = Activation.None, Threading.ComputePool? pool = null) =>
        ForwardCore(input, output, m, epilogue, activation, pool);

    private void ForwardCore(ReadOnlySpan<float> input, Span<float> output, int m, Epilogue epilogue, Activation activation, Threading.ComputePool? pool)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        if ((epilogue & ~(Epilogue.Activation | Epilogue.Accumulate)) != 0)
            throw new ArgumentOutOfRangeException(nameof(epilogue), epilogue, "Unknown epilogue flags.");
        bool hasActivation = (epilogue & Epilogue.Activation) != 0;
        if (hasActivation == (activation == Activation.None) || (uint)activation > (uint)Activation.Silu)
            throw new ArgumentException($"Epilogue {epilogue} does not match activation {activation}.", nameof(activation));
        if ((long)m * InFeatures > input.Length) throw new ArgumentException("Input is shorter than m × InFeatures.", nameof(input));
        if ((long)m * OutFeatures > output.Length) throw new ArgumentException("Output is shorter than m × OutFeatures.", nameof(output));
        if (m == 0) return;
        ReadOnlySpan<float> usedIn = input[..(m * InFeatures)];
        Span<float> usedOut = output[..(m * OutFeatures)];
        if (usedIn.Overlaps(usedOut)) throw new ArgumentException("Input and output overlap.", nameof(output));

        bool accumulate = (epilogue & Epilogue.Accumulate) != 0;
        int panels = (OutFeatures + _panelWidth - 1) / _panelWidth;
        int chunks = pool is null ? 1 : pool.ChunksFor(panels, (long)m * InFeatures * _panelWidth, MinMultiplyAddsPerChunk);
        fixed (float* a = usedIn)
        fixed (float* c = usedOut)
        {
            float* storage = _storage.Pointer;
            var args = new GemmArgs(a, storage, storage + _biasOffset, c, m, OutFeatures, InFeatures, accumulate, activation);
            if (chunks > 1)
            {
                // Columns (packed panels) are cut into chunks that the workers claim: each output element is computed by
                // one worker exactly as in the serial loop, so results do not depend on the thread count.
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

        GC.KeepAlive(_storage); // the buffer must outlive the raw pointers used above
    }

    /// <summary>The smallest share of a GEMM worth handing to another thread (~1–2 µs of work).</summary>
    private const long MinMultiplyAddsPerChunk = 1 << 17;

    private static void Dispatch(SimdPath path, in GemmArgs args)
    {
        switch (path)
        {
            case SimdPath.Vector512: Run<V512, Vector512<float>>(in args); break;
            case SimdPath.Vector256: Run<V256, Vector256<float>>(in args); break;
            case SimdPath.Vector128: Run<V128, Vector128<float>>(in args); break;
            default: Run<Scalar, float>(in args); break;
        }
    }

    /// <summary>The fan-out of one GEMM; one instance per calling thread, reused (no allocation per call).</summary>
    private sealed class ParallelGemm : Threading.IParallelWork
    {
        [ThreadStatic]
        private static ParallelGemm? t_instance;

        public GemmArgs Arguments;
        public int Panels;
        public int Chunks;
        public SimdPath Path;

        public static ParallelGemm ForThisThread => t_instance ??= new ParallelGemm();

        public void Execute(int chunk, int worker)
        {
            (int start, int end) = Threading.ComputePool.Share(Panels, chunk, Chunks);
            if (start < end)
            {
                Dispatch(Path, Arguments.ForPanels(start, end));
            }
        }
    }

    /// <summary>The SIMD path this layer was packed for.</summary>
    internal SimdPath Path => _path;

    private static int RowsOf(ReadOnlySpan<float> weight, int inFeatures, string name)
    {
        if (weight.IsEmpty || weight.Length % inFeatures != 0)
            throw new ArgumentException($"Weight length {weight.Length} is not a positive multiple of inFeatures {inFeatures}.", name);
        return weight.Length / inFeatures;
    }

    /// <summary>Writes rows [row0, row0 + rows) of W and b into the panels.</summary>
    private void PackRows(int row0, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int rows, string weightName, string biasName)
    {
        int k = InFeatures, nr = _panelWidth;
        if (weight.Length != (long)rows * k)
            throw new ArgumentException($"Weight has {weight.Length} floats, expected {rows} × {k}.", weightName);
        if (!bias.IsEmpty && bias.Length != rows)
            throw new ArgumentException($"Bias has {bias.Length} floats, expected {rows} (or none).", biasName);
        Span<float> packed = new(_storage.Pointer, _biasOffset);
        Span<float> packedBias = new(_storage.Pointer + _biasOffset, (int)(_storage.Length - _biasOffset));
        for (int r = 0; r < rows; r++)
        {
            int n = row0 + r;
            int panel = n / nr, column = n % nr;
            ReadOnlySpan<float> src = weight.Slice(r * k, k);
            int dst = panel * k * nr + column;
            for (int p = 0; p < k; p++) packed[dst + p * nr] = src[p];
            if (!bias.IsEmpty) packedBias[n] = bias[r];
        }
    }
}
