using System;
using ViTMAE.Compiled.Kernels;
using ViTMAE.Compiled.Threading;
using static ViTMAE.Compiled.Tests.Kernels.KernelTestSupport;

namespace ViTMAE.Compiled.Tests.Kernels;

/// <summary>GradientKernels.WeightGradient: dW += dYᵀ·X and dBias += Σ dY, with strided dY.</summary>
public class GradientKernelsTests
{
    public static TheoryData<string> Paths => PathData();

    private const double U = 1.0 / (1 << 24);
    private const float Sentinel = -12345.5f;

    private sealed record Case(int M, int N, int K, int Stride, int Offset, bool Bias);

    // m (the reduction) awkward; n around the 6/12-row tiles; k off the 8/16/32 panel widths; strides of a fused Q|K|V
    // gradient (column slice [D, 2D) of [m, 3D]) and of a plain one.
    private static readonly Case[] Cases =
    [
        new(1, 1, 1, 1, 0, true), new(5, 3, 17, 3, 0, true), new(13, 17, 15, 51, 17, true), new(50, 12, 33, 36, 24, false),
        new(197, 13, 40, 39, 13, true), new(13, 64, 64, 192, 64, true), new(50, 40, 100, 40, 0, false), new(197, 30, 7, 90, 60, true),
    ];

    private static (float[] DW, float[] DB) Run(Case c, float[] dy, float[] x, float[] dw0, float[] db0, SimdPath path, ComputePool? pool = null)
    {
        float[] dw = [.. dw0, .. new float[29]];
        dw.AsSpan(dw0.Length).Fill(Sentinel);
        float[] db = c.Bias ? [.. db0, .. new float[3]] : [];
        if (c.Bias) db.AsSpan(db0.Length).Fill(Sentinel);
        float[] scratch = new float[GradientKernels.WeightGradientScratch(c.M, c.N, c.K)];
        scratch.AsSpan().Fill(float.NaN); // the kernel must not read scratch it has not written
        GradientKernels.WeightGradient(dy.AsSpan(c.Offset), c.Stride, x, dw, db, c.M, c.N, c.K, scratch, path, pool);
        for (int i = dw0.Length; i < dw.Length; i++) Assert.Equal(Sentinel, dw[i]);
        if (c.Bias) for (int i = db0.Length; i < db.Length; i++) Assert.Equal(Sentinel, db[i]);
        return (dw.AsSpan(0, dw0.Length).ToArray(), c.Bias ? db.AsSpan(0, db0.Length).ToArray() : []);
    }

    private static float[] DyFor(Random rng, Case c, Func<Random, int, float[]> make) => make(rng, c.Offset + (c.M - 1) * c.Stride + c.N + 5);

    [Theory]
    [MemberData(nameof(Paths))]
    public void Weight_gradient_matches_reference(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(41);
        foreach (Case c in Cases)
        {
            float[] dy = DyFor(rng, c, (r, n) => Random(r, n)), x = Random(rng, c.M * c.K, 2f);
            float[] dw0 = Random(rng, c.N * c.K, 3f), db0 = Random(rng, c.N, 3f);
            float[] wantW = (float[])dw0.Clone(), wantB = c.Bias ? (float[])db0.Clone() : [];
            ReferenceKernels.LinearWeightGradient(dy.AsSpan(c.Offset), c.Stride, x, wantW, wantB, c.M, c.N, c.K);
            var (dw, db) = Run(c, dy, x, dw0, db0, p);

            // An fp32 FMA chain over m terms from zero: |error| ≤ (m + 1)·u·Σ_r|dY·X| (γ bound), then one rounding of the add
            // to dW: + u·|result|. Doubled for margin; still ~1e-5 absolute at m = 197, far below an indexing mistake.
            var absW = new double[c.N * c.K];
            var absB = new double[c.N];
            for (int j = 0; j < c.N; j++)
            for (int r = 0; r < c.M; r++)
            {
                double g = Math.Abs(dy[c.Offset + r * c.Stride + j]);
                absB[j] += g;
                for (int k = 0; k < c.K; k++) absW[j * c.K + k] += g * Math.Abs(x[r * c.K + k]);
            }
            string what = $"{path} m={c.M} n={c.N} k={c.K} stride={c.Stride}";
            AssertClose(wantW, dw, i => 2 * ((c.M + 1) * U * absW[i] + U * Math.Abs(wantW[i])), what + " dW");
            if (c.Bias) AssertClose(wantB, db, i => 2 * ((c.M + 1) * U * absB[i] + U * Math.Abs(wantB[i])), what + " dBias");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Weight_gradient_is_exact_on_small_integers(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(42);
        foreach (Case c in Cases)
        {
            float[] dy = DyFor(rng, c, (r, n) => SmallIntegers(r, n, 3)), x = SmallIntegers(rng, c.M * c.K, 3);
            float[] dw0 = SmallIntegers(rng, c.N * c.K, 50), db0 = SmallIntegers(rng, c.N, 50);
            float[] wantW = (float[])dw0.Clone(), wantB = c.Bias ? (float[])db0.Clone() : [];
            ReferenceKernels.LinearWeightGradient(dy.AsSpan(c.Offset), c.Stride, x, wantW, wantB, c.M, c.N, c.K);
            var (dw, db) = Run(c, dy, x, dw0, db0, p);
            AssertExact(wantW, dw, $"{path} m={c.M} n={c.N} k={c.K} dW");
            if (c.Bias) AssertExact(wantB, db, $"{path} m={c.M} n={c.N} dBias");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Weight_gradient_is_bit_identical_on_any_pool(int workers)
    {
        var rng = new Random(43);
        using var pool = new ComputePool(workers);
        foreach (Case c in new Case[] { new(197, 192, 300, 576, 192, true), new(832, 64, 129, 64, 0, true), new(50, 768, 100, 2304, 1536, false) })
        {
            float[] dy = DyFor(rng, c, (r, n) => Random(r, n)), x = Random(rng, c.M * c.K);
            float[] dw0 = Random(rng, c.N * c.K), db0 = Random(rng, c.N);
            var (serialW, serialB) = Run(c, dy, x, dw0, db0, SimdPath.Auto);
            for (int repeat = 0; repeat < 3; repeat++)
            {
                var (dw, db) = Run(c, dy, x, dw0, db0, SimdPath.Auto, pool);
                Assert.Equal(serialW, dw);
                Assert.Equal(serialB, db);
            }
        }
    }

    [Fact]
    public void Weight_gradient_does_not_allocate()
    {
        var rng = new Random(44);
        int m = 50, n = 40, k = 70;
        float[] dy = Random(rng, m * n), x = Random(rng, m * k), dw = new float[n * k], db = new float[n];
        float[] scratch = new float[GradientKernels.WeightGradientScratch(m, n, k)];
        using var pool = new ComputePool(2);
        void Call()
        {
            GradientKernels.WeightGradient(dy, n, x, dw, db, m, n, k, scratch);
            GradientKernels.WeightGradient(dy, n, x, dw, [], m, n, k, scratch, pool);
        }
        Call();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Call();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Scratch_rule_and_misuse()
    {
        Assert.Equal(32 * 13, GradientKernels.WeightGradientScratch(13, 5, 1));
        Assert.Equal(64 * 832, GradientKernels.WeightGradientScratch(832, 768, 33));
        Assert.Equal(192 * 3200, GradientKernels.WeightGradientScratch(3200, 128, 192));
        Assert.Equal(0, GradientKernels.WeightGradientScratch(0, 3, 3));
        int m = 4, n = 3, k = 5;
        float[] dy = new float[m * n], x = new float[m * k], dw = new float[n * k], db = new float[n], s = new float[GradientKernels.WeightGradientScratch(m, n, k)];
        var ex = Assert.Throws<ArgumentException>(() => GradientKernels.WeightGradient(dy.AsSpan(1), n, x, dw, db, m, n, k, s));
        Assert.Contains("expected at least (m − 1) × dOutputStride + n = 12", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientKernels.WeightGradient(dy, n - 1, x, dw, db, m, n, k, s));
        Assert.Throws<ArgumentException>(() => GradientKernels.WeightGradient(dy, n, x.AsSpan(1), dw, db, m, n, k, s));
        Assert.Throws<ArgumentException>(() => GradientKernels.WeightGradient(dy, n, x, dw.AsSpan(1), db, m, n, k, s));
        Assert.Throws<ArgumentException>(() => GradientKernels.WeightGradient(dy, n, x, dw, db.AsSpan(1), m, n, k, s));
        Assert.Throws<ArgumentException>(() => GradientKernels.WeightGradient(dy, n, x, dw, db, m, n, k, s.AsSpan(1)));
        Assert.Throws<ArgumentException>(() => GradientKernels.WeightGradient(dy, n, x, dw, dw.AsSpan(0, n), m, n, k, s)); // overlap
        GradientKernels.WeightGradient([], n, [], dw, db, 0, n, k, []); // m = 0 adds nothing
        Assert.All(dw, v => Assert.Equal(0f, v));
    }
}
