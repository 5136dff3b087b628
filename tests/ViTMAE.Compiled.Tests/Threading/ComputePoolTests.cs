using System;
using System.Linq;
using System.Threading;
using ViTMAE.Compiled.Kernels;
using ViTMAE.Compiled.Threading;

namespace ViTMAE.Compiled.Tests.Threading;

public class ComputePoolTests
{
    private sealed class Recorder(int length) : IParallelWork
    {
        public int[] Hits { get; } = new int[length];

        public void Execute(int worker, int workers)
        {
            (int start, int end) = ComputePool.Share(Hits.Length, worker, workers);
            for (int i = start; i < end; i++)
            {
                Interlocked.Increment(ref Hits[i]);
            }
        }
    }

    private sealed class Thrower : IParallelWork
    {
        public void Execute(int worker, int workers)
        {
            if (worker == workers - 1)
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
            var work = new Recorder(call % 37);
            pool.Run(work);
            Assert.All(work.Hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void A_worker_failure_surfaces_and_the_pool_keeps_working()
    {
        using var pool = new ComputePool(3);
        var ex = Assert.Throws<AggregateException>(() => pool.Run(new Thrower()));
        Assert.IsType<InvalidOperationException>(ex.InnerException);
        var work = new Recorder(10);
        pool.Run(work);
        Assert.All(work.Hits, h => Assert.Equal(1, h));
    }

    private sealed class SlowOthers : IParallelWork
    {
        public void Execute(int worker, int workers)
        {
            if (worker != 0)
            {
                Thread.Sleep(3); // the caller finishes first and has to block, not only spin
            }
        }
    }

    [Fact]
    public void A_call_allocates_nothing_even_when_the_caller_has_to_block()
    {
        // Warm up with quick calls only (as a steady-state forward often is), then make the caller block.
        using var pool = new ComputePool(2);
        var quick = new Recorder(4);
        pool.Run(quick);
        pool.Run(quick);
        var work = new SlowOthers();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
        {
            pool.Run(work);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
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
            layer.Forward(input, parallel, m, pool, e, a);
            Assert.Equal(serial, parallel);
        }

        const int t = 23, heads = 5, hd = 12;
        float[] qkv = R(t * 3 * heads * hd), mask = R(heads);
        float[] ctxSerial = new float[t * heads * hd], ctxParallel = new float[t * heads * hd];
        float[] probsSerial = new float[heads * t * t], probsParallel = new float[heads * t * t];
        AttentionKernel.Forward(qkv, ctxSerial, t, heads, hd, mask, probsSerial, new float[AttentionKernel.ScratchLength(t, hd)]);
        AttentionKernel.Forward(qkv, ctxParallel, t, heads, hd, mask, probsParallel, new float[3 * AttentionKernel.ScratchLength(t, hd)], pool);
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
