using System;
using System.ComponentModel;
using System.Globalization;
using System.Threading;

namespace ViTMAE.Compiled.Runtime;

/// <summary>
/// The memory a generated session owns: one float arena laid out by the build-time buffer table (every buffer of
/// a batch of B images sits at B × its per-image offset), the masking indices, the attention scratch, and the
/// optional outputs (allocated the first time they are requested, then reused). Nothing is allocated per call.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class Workspace : IDisposable
{
    // Call state: a session runs one call at a time. Idle → Running by compare-and-swap at the start of a call, so a second
    // thread entering at the same time fails at once instead of sharing the arena (wrong results) and the pool (a lost
    // completion count: a deadlock). Dispose during a call is deferred to the call's end.
    private const int Idle = 0, Running = 1, Disposed = 2, RunningDisposeRequested = 3;
    private int _state;
    private readonly Random _random;
    private float[]? _hiddenStates, _attentions, _decoderHiddenStates, _decoderAttentions;

    /// <summary>Allocates the workspace for batches of up to <paramref name="maxBatch"/> images.</summary>
    /// <param name="maxBatch">Largest batch.</param>
    /// <param name="arenaFloatsPerImage">Arena floats per image (the plan's, over all resolutions).</param>
    /// <param name="maxPatches">Largest L over the resolutions.</param>
    /// <param name="attentionScratchFloats">Scratch of the attention kernel for the longest sequence (per worker).</param>
    /// <param name="seed">Seed of the noise drawn when the caller gives none.</param>
    /// <param name="degreeOfParallelism">Workers of the session's <see cref="Threading.ComputePool"/>: 0 for every processor, 1 for none.</param>
    /// <param name="gradientScratchFloats">Training: scratch of the weight-gradient kernel for the largest Linear of a full batch (shared by the workers).</param>
    public Workspace(int maxBatch, int arenaFloatsPerImage, int maxPatches, int attentionScratchFloats, int seed, int degreeOfParallelism = 1, long gradientScratchFloats = 0)
    {
        if (maxBatch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "a session needs a maximum batch of at least 1");
        }

        long arena = (long)maxBatch * arenaFloatsPerImage;
        if (arena > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "batch too large: the activation arena would need " + arena.ToString(CultureInfo.InvariantCulture) + " floats");
        }

        MaxBatch = maxBatch;
        Arena = GC.AllocateUninitializedArray<float>((int)arena);
        IdsShuffle = new int[maxBatch * maxPatches];
        IdsRestore = new int[maxBatch * maxPatches];
        SortScratch = new ulong[maxPatches];
        NoiseBuffer = new float[maxBatch * maxPatches];
        _random = new Random(seed);
        Pool = new Threading.ComputePool(degreeOfParallelism);
        long attentionScratch = (long)attentionScratchFloats * Pool.DegreeOfParallelism;
        if (attentionScratch > Array.MaxLength || gradientScratchFloats > Array.MaxLength)
        {
            Pool.Dispose();
            throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "batch or sequence too large: the attention or weight-gradient scratch would exceed one array");
        }

        AttentionScratch = new float[attentionScratch];
        GradientScratch = new float[gradientScratchFloats];
    }

    /// <summary>The session's worker team (the calling thread is worker 0).</summary>
    public Threading.ComputePool Pool { get; }

    /// <summary>
    /// Stops the session's worker threads; every later call throws <see cref="ObjectDisposedException"/>. When a call is
    /// running on another thread, the workers are stopped when it returns.
    /// </summary>
    public void Dispose()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if (state is Disposed or RunningDisposeRequested)
            {
                return;
            }

            int next = state == Idle ? Disposed : RunningDisposeRequested;
            if (Interlocked.CompareExchange(ref _state, next, state) == state)
            {
                if (next == Disposed)
                {
                    Pool.Dispose();
                }

                return;
            }
        }
    }

    /// <summary>
    /// Starts a call: the session is marked busy until the returned scope is disposed.
    /// </summary>
    /// <exception cref="InvalidOperationException">Another call is running on this session (sessions are not shared between threads).</exception>
    /// <exception cref="ObjectDisposedException">The session was disposed.</exception>
    public CallScope Enter()
    {
        int state = Interlocked.CompareExchange(ref _state, Running, Idle);
        if (state == Idle)
        {
            return new CallScope(this);
        }

        if (state == Disposed)
        {
            throw new ObjectDisposedException(nameof(Workspace), "This ViTMAE session was disposed; create a new one with model.CreateSession().");
        }

        throw new InvalidOperationException(
            "This ViTMAE session is already running a call on another thread. A session owns one arena and one worker team and runs one call at a time: give each thread its own session (model.CreateSession()); the model itself is thread-safe.");
    }

    private void Exit()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Running) == Running)
        {
            return;
        }

        // Dispose was called during the call: finish it now.
        Volatile.Write(ref _state, Disposed);
        Pool.Dispose();
    }

    /// <summary>The span of one call (see <see cref="Enter"/>); disposing it marks the session idle again.</summary>
    public readonly ref struct CallScope
    {
        private readonly Workspace? _workspace;

        internal CallScope(Workspace workspace) => _workspace = workspace;

        /// <summary>Ends the call.</summary>
        public void Dispose() => _workspace?.Exit();
    }

    /// <summary>Largest batch.</summary>
    public int MaxBatch { get; }

    /// <summary>The activation arena.</summary>
    public float[] Arena { get; }

    /// <summary>[B, L] argsort of the noise, per image.</summary>
    public int[] IdsShuffle { get; }

    /// <summary>[B, L] inverse permutation, per image.</summary>
    public int[] IdsRestore { get; }

    /// <summary>Work space of the masking sort.</summary>
    public ulong[] SortScratch { get; }

    /// <summary>Work space of the attention kernel, one slice per worker.</summary>
    public float[] AttentionScratch { get; }

    /// <summary>Training: work space of the weight-gradient kernel (empty for inference).</summary>
    public float[] GradientScratch { get; }

    private float[] NoiseBuffer { get; }

    /// <summary><c>ids_shuffle</c> of image <paramref name="image"/> (L = <paramref name="patches"/>).</summary>
    public Span<int> Shuffle(int image, int patches) => IdsShuffle.AsSpan(image * patches, patches);

    /// <summary><c>ids_restore</c> of image <paramref name="image"/>.</summary>
    public Span<int> Restore(int image, int patches) => IdsRestore.AsSpan(image * patches, patches);

    /// <summary><c>ids_restore</c> of the first <paramref name="batch"/> images, <c>[B, L]</c>.</summary>
    public ReadOnlySpan<int> RestoreBatch(int batch, int patches) => IdsRestore.AsSpan(0, batch * patches);

    /// <summary>The arena buffer at <paramref name="offsetPerImage"/> of <paramref name="floatsPerImage"/> per image, for <paramref name="batch"/> images.</summary>
    public Span<float> Buffer(int offsetPerImage, int floatsPerImage, int batch) => Arena.AsSpan(offsetPerImage * batch, floatsPerImage * batch);

    /// <summary><paramref name="maxBatch"/> × <paramref name="perImage"/>, checked: a batch that cannot fit one array is refused.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBatch"/> is below 1 or the product exceeds an array.</exception>
    public static int CheckedProduct(int maxBatch, int perImage)
    {
        if (maxBatch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "a session needs a maximum batch of at least 1");
        }

        long product = (long)maxBatch * perImage;
        return product <= Array.MaxLength
            ? (int)product
            : throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "batch too large: " + product.ToString(CultureInfo.InvariantCulture) + " values would not fit one array");
    }

    /// <summary>The largest of <paramref name="values"/> (scratch sizes of several kernels).</summary>
    public static int Max(params ReadOnlySpan<int> values)
    {
        int max = 0;
        foreach (int value in values)
        {
            max = Math.Max(max, value);
        }

        return max;
    }

    /// <summary>
    /// Floats of weight-gradient scratch for a batch of <paramref name="maxBatch"/> images: the largest the kernel needs over
    /// <paramref name="linears"/> (rows per image, output features, input features).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The batch is too large for the scratch to fit one array.</exception>
    public static long WeightGradientScratch(int maxBatch, params ReadOnlySpan<(int RowsPerImage, int Out, int In)> linears)
    {
        long max = 0;
        foreach ((int rows, int n, int k) in linears)
        {
            max = Math.Max(max, Kernels.GradientKernels.WeightGradientScratch(CheckedProduct(maxBatch, rows), n, k));
        }

        return max;
    }

    /// <summary>The caller's noise, or <paramref name="count"/> uniform [0, 1) values drawn from the session's seeded generator.</summary>
    public ReadOnlySpan<float> Noise(ReadOnlySpan<float> given, int count)
    {
        if (!given.IsEmpty)
        {
            return given;
        }

        Span<float> noise = NoiseBuffer.AsSpan(0, count);
        for (int i = 0; i < noise.Length; i++)
        {
            noise[i] = _random.NextSingle();
        }

        return noise;
    }

    /// <summary>Storage of <c>hidden_states</c>, grown on first use.</summary>
    public Span<float> HiddenStates(int floats) => Grow(ref _hiddenStates, floats);

    /// <summary>Storage of <c>attentions</c>, grown on first use.</summary>
    public Span<float> Attentions(int floats) => Grow(ref _attentions, floats);

    /// <summary>Storage of <c>decoder_hidden_states</c>, grown on first use.</summary>
    public Span<float> DecoderHiddenStates(int floats) => Grow(ref _decoderHiddenStates, floats);

    /// <summary>Storage of <c>decoder_attentions</c>, grown on first use.</summary>
    public Span<float> DecoderAttentions(int floats) => Grow(ref _decoderAttentions, floats);

    private static Span<float> Grow(ref float[]? buffer, int floats)
    {
        if (buffer is null || buffer.Length < floats)
        {
            buffer = new float[floats];
        }

        return buffer.AsSpan(0, floats);
    }
}
