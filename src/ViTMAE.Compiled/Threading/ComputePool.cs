using System;
using System.Diagnostics;
using System.Threading;

namespace ViTMAE.Compiled.Threading;

/// <summary>A piece of parallel work cut into chunks: <see cref="Execute"/> runs once per chunk, on whichever worker claims it.</summary>
public interface IParallelWork
{
    /// <summary>
    /// Does chunk <paramref name="chunk"/> of the work. <paramref name="worker"/> (0 = the calling thread, up to
    /// <see cref="ComputePool.DegreeOfParallelism"/> − 1) identifies the thread, e.g. to pick its scratch memory; a
    /// worker runs one chunk at a time.
    /// </summary>
    void Execute(int chunk, int worker);
}

/// <summary>
/// A fixed team of threads for the kernels: the caller is worker 0 and <c>DegreeOfParallelism − 1</c> persistent
/// threads are the others. A call cuts the work into chunks that the workers <em>claim</em> one at a time, so a worker
/// that is late (descheduled by another process, or still waking up) simply gets fewer chunks: the caller never waits
/// for work nobody has started, only for chunks already running elsewhere. Idle workers spin briefly (the next kernel
/// usually follows within microseconds) and then block. Nothing is allocated per call.
/// </summary>
/// <remarks>
/// <para>Why chunks, and not fixed shares: with fixed halves, a worker that loses its core to another process makes the
/// caller wait a scheduler time slice (milliseconds) for every kernel; measured on a 2-core machine with one core busy,
/// vit-mae-base took 3.2 × longer on two threads than on one, and the tiny test model 100 × longer at the 90th
/// percentile.</para>
/// <para>Why a back-off as well: a worker can still be preempted in the middle of a chunk it claimed. The pool times how
/// long the caller waits for such stragglers; when waiting exceeds a quarter of the time spent in parallel calls over
/// a window of calls, the pool runs serially for a while and then tries the workers again. Results never depend on it:
/// every kernel computes each output element the same way whichever thread runs its chunk (bit-identical to serial).</para>
/// <para>Hand-written because <c>Parallel.For</c> allocates per call and schedules through the shared thread pool; one
/// pool per session, not shared across sessions.</para>
/// </remarks>
public sealed class ComputePool : IDisposable
{
    private const int SpinIterations = 2000;

    // Back-off: over each window of parallel calls the pool compares the time the calls took with the time the caller
    // alone would have needed (its own time per chunk × the chunks). When the workers saved less than a sixth of it,
    // the next calls run on the caller alone: MinSerialCalls the first time, twice as many each time in a row, up to
    // MaxSerialCalls; a window that pays off resets it.
    private const int Window = 32;
    private const int MinSerialCalls = 256;
    private const int MaxSerialCalls = 16384;

    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _wake;
    // Released by a worker that completes the last chunk of a call; the caller takes it exactly when it did not
    // complete the last chunk itself. A semaphore rather than a ManualResetEventSlim: the latter allocates its lock
    // object the first time a wait really blocks.
    private readonly SemaphoreSlim _done = new(0);
    private IParallelWork? _work;
    private int _chunks;
    private int _completed;
    // (generation << 32) | next unclaimed chunk: a claim is a compare-and-swap on it, so a worker that read an older
    // generation can never claim a chunk of a newer call.
    private long _ticket;
    private int _generation;
    private volatile bool _disposed;
    private Exception? _failure;

    private int _windowCalls;
    private long _windowTicks, _windowSerialEstimate;
    private int _serialCallsLeft, _nextBackOff = MinSerialCalls;
    private long _callerChunkTicks; // time the caller spent in chunks during the current call
    private volatile int _workerSpins = SpinIterations; // how long an idle worker spins before it blocks

    /// <summary>Creates a pool of <paramref name="degreeOfParallelism"/> workers (default: the machine's processors).</summary>
    public ComputePool(int degreeOfParallelism = 0)
    {
        if (degreeOfParallelism < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(degreeOfParallelism), degreeOfParallelism, "degree of parallelism must be 0 (all processors) or positive");
        }

        DegreeOfParallelism = degreeOfParallelism == 0 ? Environment.ProcessorCount : degreeOfParallelism;
        _threads = new Thread[DegreeOfParallelism - 1];
        _wake = new SemaphoreSlim[DegreeOfParallelism - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int worker = i + 1;
            _wake[i] = new SemaphoreSlim(0);
            _threads[i] = new Thread(() => WorkerLoop(worker)) { IsBackground = true, Name = "ViTMAE worker " + worker };
            _threads[i].Start();
        }
    }

    /// <summary>A pool that runs everything on the calling thread.</summary>
    public static ComputePool Serial { get; } = new ComputePool(1);

    /// <summary>Number of workers, the caller included.</summary>
    public int DegreeOfParallelism { get; }

    /// <summary>
    /// Test seam, 0 outside tests: spins this many iterations where a call publishes its work (before its generation)
    /// and where a worker has read the ticket (before the work), so that a test can make the interleavings of a late
    /// worker with the next call common instead of rare. It changes no result, only timing.
    /// </summary>
    internal int InterleavingDelayForTests { get; init; }

    /// <summary>Parallel calls so far in which the caller had to block for a straggling worker (diagnostics).</summary>
    public long StalledCalls { get; private set; }

    /// <summary>Times the pool fell back to serial calls because workers kept arriving late (diagnostics).</summary>
    public long BackOffs { get; private set; }

    /// <summary>
    /// How many chunks to cut <paramref name="items"/> independent items into, each item costing about
    /// <paramref name="costPerItem"/> (any unit, e.g. multiply-adds), so that no chunk costs less than
    /// <paramref name="minCostPerChunk"/>: 1 (run serially) when the work is too small to share, otherwise up to two
    /// chunks per worker so that a late worker's share is picked up by the others.
    /// </summary>
    public int ChunksFor(int items, long costPerItem, long minCostPerChunk)
    {
        if (DegreeOfParallelism == 1 || items <= 1)
        {
            return 1;
        }

        long total = (long)items * Math.Max(1, costPerItem);
        long byCost = total / Math.Max(1, minCostPerChunk);
        return (int)Math.Clamp(Math.Min(byCost, Math.Min(items, 2L * DegreeOfParallelism)), 1, items);
    }

    /// <summary>
    /// Runs chunks 0 … <paramref name="chunks"/> − 1 of <paramref name="work"/> on the workers and returns when every chunk
    /// is done. With one chunk, one worker, or during a back-off, everything runs on the calling thread. Not re-entrant.
    /// </summary>
    public void Run(IParallelWork work, int chunks)
    {
        ArgumentNullException.ThrowIfNull(work);
        ArgumentOutOfRangeException.ThrowIfNegative(chunks);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (chunks == 0)
        {
            return;
        }

        if (_threads.Length == 0 || chunks == 1 || _serialCallsLeft > 0)
        {
            if (_serialCallsLeft > 0)
            {
                _serialCallsLeft--;
            }

            for (int chunk = 0; chunk < chunks; chunk++)
            {
                work.Execute(chunk, 0);
            }

            return;
        }

        long start = Stopwatch.GetTimestamp();
        int generation = _generation + 1;
        // The ticket moves to the new generation before the call's work is published, with a full fence. A worker still
        // in the previous call's ClaimAndRun can have read that call's used-up ticket just before: were the ticket still
        // the old one when it then read this call's _work and larger _chunks, its compare-and-swap would succeed, and it
        // would run a chunk that this call hands out again (twice, concurrently) and count one completion too many,
        // compared with the old call's chunk count: calls ending before their chunks, or a caller waiting for ever on
        // _done (a CI run hung on it). With the ticket moved first, that compare-and-swap fails.
        Interlocked.Exchange(ref _ticket, (long)generation << 32);
        _work = work;
        _chunks = chunks;
        _completed = 0;
        _failure = null;
        if (InterleavingDelayForTests != 0)
        {
            Thread.SpinWait(InterleavingDelayForTests);
        }

        Volatile.Write(ref _generation, generation);
        for (int i = 0; i < _wake.Length; i++)
        {
            if (_wake[i].CurrentCount == 0)
            {
                _wake[i].Release();
            }
        }

        // The caller claims chunks like any worker. It must wait only if a worker completes the last chunk, i.e. if
        // some chunk was still running elsewhere when the caller ran out of chunks to claim.
        bool callerFinishedLast = ClaimAndRun(generation, 0, out int callerChunks);
        long end = Stopwatch.GetTimestamp();
        if (!callerFinishedLast)
        {
            _done.Wait(); // spins briefly inside, then blocks
            long waited = Stopwatch.GetTimestamp() - end;
            end += waited;
            if (waited > Stopwatch.Frequency / 20000)
            {
                StalledCalls++; // more than 50 µs
            }
        }

        _work = null;
        NoteCall(end - start, callerChunks == 0 ? 0 : (_callerChunkTicks * chunks / callerChunks));
        if (_failure is not null)
        {
            throw new AggregateException("a ViTMAE worker thread failed", _failure);
        }
    }

    /// <summary>
    /// Claims and runs chunks of <paramref name="generation"/> until none is left; returns whether this thread
    /// completed the call's last chunk.
    /// </summary>
    private bool ClaimAndRun(int generation, int worker, out int claimed)
    {
        bool last = false;
        claimed = 0;
        if (worker == 0)
        {
            _callerChunkTicks = 0;
        }

        while (true)
        {
            long ticket = Volatile.Read(ref _ticket);
            if ((int)(ticket >> 32) != generation)
            {
                return last; // the call is over and another has begun
            }

            if (worker != 0 && InterleavingDelayForTests != 0)
            {
                Thread.SpinWait(InterleavingDelayForTests);
            }

            IParallelWork? work = _work;
            int chunks = _chunks;
            int chunk = (int)ticket;
            if (chunk >= chunks || work is null)
            {
                return last;
            }

            if (Interlocked.CompareExchange(ref _ticket, ticket + 1, ticket) != ticket)
            {
                continue; // another worker took it; try the next
            }

            // The claim succeeded, so this generation was still running and _work/_chunks were this call's.
            claimed++;
            long started = worker == 0 ? Stopwatch.GetTimestamp() : 0;
            try
            {
                work.Execute(chunk, worker);
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref _failure, ex, null);
            }
            finally
            {
                if (worker == 0)
                {
                    _callerChunkTicks += Stopwatch.GetTimestamp() - started;
                }

                last = Interlocked.Increment(ref _completed) == chunks;
            }
        }
    }

    /// <summary>Adds a parallel call (its duration and the caller-alone estimate) to the window; backs off when parallel calls do not pay.</summary>
    private void NoteCall(long ticks, long serialEstimate)
    {
        _windowTicks += ticks;
        _windowSerialEstimate += serialEstimate;
        if (++_windowCalls < Window)
        {
            return;
        }

        if (_windowSerialEstimate * 6 < _windowTicks * 7)
        {
            _serialCallsLeft = _nextBackOff;
            _nextBackOff = Math.Min(2 * _nextBackOff, MaxSerialCalls);
            _workerSpins = 0; // the cores are contended: an idle worker must not spin on a core the caller needs
            BackOffs++;
        }
        else
        {
            _nextBackOff = MinSerialCalls;
            _workerSpins = SpinIterations;
        }

        _windowCalls = 0;
        _windowTicks = _windowSerialEstimate = 0;
    }

    private void WorkerLoop(int worker)
    {
        int seen = 0;
        while (true)
        {
            // Spin briefly for the next call, then block until woken.
            int spins = 0, budget = _workerSpins;
            while (Volatile.Read(ref _generation) == seen && spins < budget && !_disposed)
            {
                Thread.SpinWait(20);
                spins++;
            }

            if (Volatile.Read(ref _generation) == seen && !_disposed)
            {
                _wake[worker - 1].Wait();
            }

            if (_disposed)
            {
                return;
            }

            int generation = Volatile.Read(ref _generation);
            if (generation == seen)
            {
                continue; // a stale wake-up token from a call this worker already served
            }

            seen = generation;
            if (ClaimAndRun(generation, worker, out _))
            {
                _done.Release();
            }
        }
    }

    /// <summary>Stops the worker threads.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (SemaphoreSlim wake in _wake)
        {
            wake.Release();
        }

        foreach (Thread thread in _threads)
        {
            thread.Join();
        }

        foreach (SemaphoreSlim wake in _wake)
        {
            wake.Dispose();
        }

        _done.Dispose();
    }

    /// <summary>The range [start, end) of chunk <paramref name="chunk"/> when <paramref name="count"/> items are cut into <paramref name="chunks"/> chunks, in blocks of <paramref name="grain"/>.</summary>
    public static (int Start, int End) Share(int count, int chunk, int chunks, int grain = 1)
    {
        int blocks = (count + grain - 1) / grain;
        int per = blocks / chunks, extra = blocks % chunks;
        int firstBlock = (chunk * per) + Math.Min(chunk, extra);
        int blockCount = per + (chunk < extra ? 1 : 0);
        int start = Math.Min(count, firstBlock * grain);
        int end = Math.Min(count, (firstBlock + blockCount) * grain);
        return (start, end);
    }
}
