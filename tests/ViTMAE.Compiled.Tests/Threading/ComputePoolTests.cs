using System;
using System.Linq;
using System.Threading;
using ViTMAE.Compiled.Runtime;
using ViTMAE.Compiled.Kernels;
using ViTMAE.Compiled.Threading;

namespace ViTMAE.Compiled.Tests.Threading;

public class ComputePoolTests
{
    private sealed class Recorder(int length, int chunks) : IParallelWork
    {
        public int[] Hits { get; } = new int[length];

        public int Chunks { get; } = chunks;

        public void Execute(int chunk, int worker)
        {
            (int start, int end) = ComputePool.Share(Hits.Length, chunk, Chunks);
            for (int i = start; i < end; i++)
            {
                Interlocked.Increment(ref Hits[i]);
            }
        }
    }

    private sealed class Thrower : IParallelWork
    {
        public void Execute(int chunk, int worker)
        {
            if (chunk == 2)
            {
                throw new InvalidOperationException("boom");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void Every_item_is_done_exactly_once_over_many_calls(int workers)
    {
        using var pool = new ComputePool(workers);
        Assert.Equal(workers, pool.DegreeOfParallelism);
        for (int call = 0; call < 500; call++)
        {
            var work = new Recorder(call % 37, 1 + (call % 9));
            pool.Run(work, work.Chunks);
            Assert.All(work.Hits, h => Assert.Equal(1, h));
        }
    }

    /// <summary>Counts how often each chunk of a call runs, and whether any is still running when the call returns.</summary>
    private sealed class ExactlyOnce : IParallelWork
    {
        private readonly int[] _hits = new int[16];
        private int _running;

        public void Reset() => Array.Clear(_hits);

        public void Execute(int chunk, int worker)
        {
            Interlocked.Increment(ref _running);
            Interlocked.Increment(ref _hits[chunk]);
            Thread.SpinWait(1000); // long enough that the parallel calls pay, so the pool does not back off to serial ones
            Interlocked.Decrement(ref _running);
        }

        /// <summary>What went wrong in a call of <paramref name="chunks"/> chunks that has returned, or null.</summary>
        public string? Check(int chunks)
        {
            if (Volatile.Read(ref _running) != 0)
            {
                return $"returned with {_running} chunk(s) still running";
            }

            for (int c = 0; c < chunks; c++)
            {
                if (Volatile.Read(ref _hits[c]) != 1)
                {
                    return $"chunk {c} of {chunks} ran {_hits[c]} times";
                }
            }

            return null;
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async System.Threading.Tasks.Task A_worker_late_from_one_call_never_claims_a_chunk_of_the_next(int workers)
    {
        // A CI run hung here: a worker that had read a finished call's used-up ticket, then the next call's larger chunk
        // count, could claim a chunk of the new call with the old ticket before the caller moved the ticket on. The chunk
        // then ran twice and the completion count went one too far: calls returned early, or the caller waited for ever.
        // The seam widens both sides of that interleaving (nanoseconds in production) so that it happens within tens of
        // calls: before the fix this hung after 24 calls. Chunk counts alternate up and down as the model's kernels do.
        var pool = new ComputePool(workers) { InterleavingDelayForTests = 300 };
        var work = new ExactlyOnce();
        int[] counts = [2, 5, 3, 8, 1, 4, 7, 2, 6, 16, 3];
        var calls = System.Threading.Tasks.Task.Run(() =>
        {
            for (int call = 0; call < 20_000; call++)
            {
                int chunks = counts[call % counts.Length];
                work.Reset();
                pool.Run(work, chunks);
                if (work.Check(chunks) is string error)
                {
                    return $"call {call}: {error}";
                }
            }

            return null;
        });
        string? failure;
        try
        {
            failure = await calls.WaitAsync(TimeSpan.FromSeconds(120));
        }
        catch (TimeoutException)
        {
            failure = "a call never returned: its caller is waiting for a completion that will not come";
        }

        Assert.Null(failure);
        pool.Dispose(); // not on failure: a hung caller would keep the pool's workers
    }

    [Fact]
    public void A_worker_failure_surfaces_and_the_pool_keeps_working()
    {
        using var pool = new ComputePool(3);
        var ex = Assert.Throws<AggregateException>(() => pool.Run(new Thrower(), 5));
        Assert.IsType<InvalidOperationException>(ex.InnerException);
        var work = new Recorder(10, 4);
        pool.Run(work, work.Chunks);
        Assert.All(work.Hits, h => Assert.Equal(1, h));
    }

    private sealed class SlowOthers : IParallelWork
    {
        public void Execute(int chunk, int worker)
        {
            if (worker != 0)
            {
                Thread.Sleep(3); // the caller finishes first and has to block, not only spin
            }
            else
            {
                Thread.Sleep(1); // long enough for the worker to wake up and claim the other chunk
            }
        }
    }

    [Fact]
    public void A_call_allocates_nothing_even_when_the_caller_has_to_block()
    {
        // The runtime allocates a thread's wait state (~2 KB, once) the first time that thread blocks at all; after
        // that, calls in which the caller blocks for a worker must allocate nothing, however often it happens.
        using var pool = new ComputePool(2);
        var work = new SlowOthers();
        for (int i = 0; i < 3; i++)
        {
            pool.Run(work, 2);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
        {
            pool.Run(work, 2);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(pool.StalledCalls > 0, "the caller never had to block: the test proves nothing");
    }

    [Theory]
    [InlineData(10, 3, 1)]
    [InlineData(7, 4, 2)]
    [InlineData(0, 2, 1)]
    [InlineData(3, 8, 1)]
    public void Shares_cover_the_range_without_overlap(int count, int workers, int grain)
    {
        int next = 0;
        for (int w = 0; w < workers; w++)
        {
            (int start, int end) = ComputePool.Share(count, w, workers, grain);
            Assert.Equal(next, start);
            Assert.True(end >= start);
            next = end;
        }

        Assert.Equal(count, next);
    }

    /// <summary>
    /// A chunk takes 1 ms on the caller, but worker 1 sleeps 20 ms inside every chunk it claims, as a thread preempted by
    /// another process would.
    /// </summary>
    private sealed class PreemptedWorker(int length) : IParallelWork
    {
        public int[] Hits { get; } = new int[length];

        public int[] ByWorker { get; } = new int[2];

        public void Execute(int chunk, int worker)
        {
            Interlocked.Increment(ref ByWorker[worker]);
            if (worker != 0)
            {
                Thread.Sleep(20);
            }
            else
            {
                var spin = System.Diagnostics.Stopwatch.StartNew();
                while (spin.ElapsedTicks < System.Diagnostics.Stopwatch.Frequency / 1000)
                {
                    Thread.SpinWait(10);
                }
            }

            Interlocked.Increment(ref Hits[chunk]);
        }
    }

    [Fact]
    public void The_caller_does_the_chunks_a_late_worker_has_not_claimed()
    {
        // Worker 1 stalls 20 ms in every chunk it claims (as if preempted), the caller takes 1 ms per chunk: the caller
        // must take the chunks the worker has not started instead of waiting for a fixed half (32 chunks) to be done by a
        // thread that is not running. Counted, not timed, so a loaded machine cannot make it flaky.
        using var pool = new ComputePool(2);
        var slow = new PreemptedWorker(64);
        pool.Run(slow, slow.Hits.Length);
        Assert.All(slow.Hits, h => Assert.Equal(1, h));
        Assert.True(slow.ByWorker[1] <= 16, $"the stalled worker did {slow.ByWorker[1]} of 64 chunks");
        Assert.Equal(64, slow.ByWorker[0] + slow.ByWorker[1]);
    }

    [Fact]
    public void Workers_that_keep_arriving_late_make_the_pool_back_off_to_serial_calls()
    {
        using var pool = new ComputePool(2);
        var slow = new PreemptedWorker(4);
        for (int i = 0; i < 64 && pool.BackOffs == 0; i++)
        {
            Array.Clear(slow.Hits);
            pool.Run(slow, slow.Hits.Length);
            Assert.All(slow.Hits, h => Assert.Equal(1, h));
        }

        Assert.True(pool.BackOffs >= 1, $"no back-off after {pool.StalledCalls} stalled calls");
        // During the back-off every chunk runs on the caller (4 ms a call): no call waits for the sleeping worker.
        long stalled = pool.StalledCalls;
        for (int i = 0; i < 50; i++)
        {
            Array.Clear(slow.Hits);
            pool.Run(slow, slow.Hits.Length);
            Assert.All(slow.Hits, h => Assert.Equal(1, h));
        }

        Assert.Equal(stalled, pool.StalledCalls);
    }

    [Theory]
    [InlineData(1, 100, 1000, 10, 1)]       // one worker: always serial
    [InlineData(2, 100, 10, 1000, 1)]       // 1000 units of work < two chunks of 1000: serial
    [InlineData(2, 100, 1000, 1000, 4)]     // plenty of work: two chunks per worker
    [InlineData(2, 3, 1000, 1000, 3)]       // never more chunks than items
    [InlineData(4, 100, 30, 1000, 3)]       // 3000 units: three chunks of 1000
    public void Chunk_counts_follow_the_work(int workers, int items, long costPerItem, long minCost, int expected)
    {
        using var pool = new ComputePool(workers);
        Assert.Equal(expected, pool.ChunksFor(items, costPerItem, minCost));
    }

    [Fact]
    public void Parallel_gemm_attention_and_layer_norm_equal_the_serial_ones_bit_for_bit()
    {
        var random = new Random(11);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (random.NextSingle() * 2) - 1).ToArray();
        const int m = 37, n = 300, k = 129;
        var layer = new PackedLinear(R(n * k), R(n), n, k);
        float[] input = R(m * k), residual = R(m * n);
        using var pool = new ComputePool(3);
        foreach ((Epilogue e, Activation a) in new[] { (Epilogue.None, Activation.None), (Epilogue.Activation, Activation.GeluErf), (Epilogue.Accumulate, Activation.None) })
        {
            float[] serial = (float[])residual.Clone(), parallel = (float[])residual.Clone();
            layer.Forward(input, serial, m, e, a);
            layer.Forward(input, parallel, m, e, a, pool);
            Assert.Equal(serial, parallel);
        }

        const int t = 23, heads = 5, hd = 12;
        float[] qkv = R(t * 3 * heads * hd), mask = R(heads);
        float[] ctxSerial = new float[t * heads * hd], ctxParallel = new float[t * heads * hd];
        float[] probsSerial = new float[heads * t * t], probsParallel = new float[heads * t * t];
        AttentionKernel.Forward(qkv, mask, ctxSerial, probsSerial, t, heads, hd, new float[AttentionKernel.ScratchLength(t, hd)]);
        AttentionKernel.Forward(qkv, mask, ctxParallel, probsParallel, t, heads, hd, new float[3 * AttentionKernel.ScratchLength(t, hd)], pool);
        Assert.Equal(ctxSerial, ctxParallel);
        Assert.Equal(probsSerial, probsParallel);

        // LayerNorm above the fan-out threshold (16 K elements), rows not a multiple of the workers; and in place.
        const int rows = 61, dim = 300;
        float[] x = R(rows * dim), gamma = R(dim), beta = R(dim);
        float[] lnSerial = new float[rows * dim], lnParallel = new float[rows * dim];
        LayerNormKernel.Forward(x, gamma, beta, lnSerial, rows, dim, 1e-6f);
        LayerNormKernel.Forward(x, gamma, beta, lnParallel, rows, dim, 1e-6f, pool);
        Assert.Equal(lnSerial, lnParallel);
        float[] inPlace = (float[])x.Clone();
        LayerNormKernel.Forward(inPlace, gamma, beta, inPlace, rows, dim, 1e-6f, pool);
        Assert.Equal(lnSerial, inPlace);
    }
}
