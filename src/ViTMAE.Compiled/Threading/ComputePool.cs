using System;
using System.Threading;

namespace ViTMAE.Compiled.Threading;

/// <summary>A piece of parallel work: <see cref="Execute"/> runs once per worker with that worker's index.</summary>
public interface IParallelWork
{
    /// <summary>Does worker <paramref name="worker"/>'s share (0 ≤ worker &lt; workers) of the work.</summary>
    void Execute(int worker, int workers);
}

/// <summary>
/// A fixed team of threads for the kernels: the caller is worker 0 and <c>DegreeOfParallelism − 1</c> persistent
/// threads are the others. A call hands every worker the same <see cref="IParallelWork"/> and returns when all are
/// done; nothing is allocated per call. Idle workers spin briefly (the next GEMM usually follows within microseconds)
/// and then block, so a busy machine (another process on a core) does not collapse into spinning threads waiting
/// for each other. Hand-written because <c>Parallel.For</c> allocates per call and schedules through the shared
/// thread pool; one pool per session, not shared across sessions.
/// </summary>
public sealed class ComputePool : IDisposable
{
    private const int SpinIterations = 2000;
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _wake;
    // Released once per call by the last worker to finish; the caller takes it once per call. A semaphore rather than
    // a ManualResetEventSlim: the latter allocates its lock object the first time a wait really blocks, which would
    // break "no allocation per call" at a timing-dependent moment.
    private readonly SemaphoreSlim _done = new(0);
    private IParallelWork? _work;
    private int _pending;
    private int _generation;
    private volatile bool _disposed;
    private Exception? _failure;

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

    /// <summary>Runs <paramref name="work"/> on every worker and waits for all of them. Not re-entrant.</summary>
    public void Run(IParallelWork work)
    {
        ArgumentNullException.ThrowIfNull(work);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_threads.Length == 0)
        {
            work.Execute(0, 1);
            return;
        }

        _work = work;
        _failure = null;
        Volatile.Write(ref _pending, _threads.Length);
        Interlocked.Increment(ref _generation);
        for (int i = 0; i < _wake.Length; i++)
        {
            if (_wake[i].CurrentCount == 0)
            {
                _wake[i].Release();
            }
        }

        try
        {
            work.Execute(0, DegreeOfParallelism);
        }
        finally
        {
            // Spin briefly (the other workers usually finish within microseconds of us), then block: a worker that
            // lost its core to another process must not be waited for by a spinning caller that holds the other one.
            var spinner = default(SpinWait);
            while (Volatile.Read(ref _pending) != 0 && !spinner.NextSpinWillYield)
            {
                spinner.SpinOnce();
            }

            _done.Wait(); // returns at once when the last worker has already released it
            _work = null;
        }

        if (_failure is not null)
        {
            throw new AggregateException("a ViTMAE worker thread failed", _failure);
        }
    }

    private void WorkerLoop(int worker)
    {
        int seen = 0;
        while (true)
        {
            // Spin briefly for the next call, then block until woken.
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && spins < SpinIterations && !_disposed)
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

            if (Volatile.Read(ref _generation) == seen)
            {
                continue; // a stale wake-up token from a call this worker already served
            }

            seen = Volatile.Read(ref _generation);
            try
            {
                _work?.Execute(worker, DegreeOfParallelism);
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref _failure, ex, null);
            }
            finally
            {
                if (Interlocked.Decrement(ref _pending) == 0)
                {
                    _done.Release();
                }
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

    /// <summary>The share [start, end) of <paramref name="count"/> items of worker <paramref name="worker"/> out of <paramref name="workers"/>, in blocks of <paramref name="grain"/>.</summary>
    public static (int Start, int End) Share(int count, int worker, int workers, int grain = 1)
    {
        int blocks = (count + grain - 1) / grain;
        int per = blocks / workers, extra = blocks % workers;
        int firstBlock = (worker * per) + Math.Min(worker, extra);
        int blockCount = per + (worker < extra ? 1 : 0);
        int start = Math.Min(count, firstBlock * grain);
        int end = Math.Min(count, (firstBlock + blockCount) * grain);
        return (start, end);
    }
}
