using System;
using ViTMAE.Compiled.Kernels;
using ViTMAE.Compiled.Threading;
using static ViTMAE.Compiled.Tests.Kernels.KernelTestSupport;

namespace ViTMAE.Compiled.Tests.Kernels;

/// <summary>PackedLinear's training additions: BackwardInput (dX = dY·W), EnableBackward and Repack.</summary>
public class PackedLinearBackwardTests
{
    public static TheoryData<string> Paths => PathData();

    private const double U = 1.0 / (1 << 24); // unit roundoff of fp32
    private const float Sentinel = -12345.5f;

    // m around the 6/12-row blocks (197 = 16·12 + 5); N (the reduction here) and K (the panels here) off the 8/16/32 panel
    // widths, plus the training-step sizes.
    private static readonly int[] Ms = [1, 5, 13, 50, 197];
    private static readonly (int N, int K)[] Shapes = [(1, 1), (3, 17), (17, 15), (33, 40), (79, 33), (192, 64), (64, 192), (130, 100)];

    /// <summary>
    /// Rigorous bound for an fp32 FMA chain of length n: |error| ≤ (n + 1)·u·Σ|dY·W| (γ_n bound), doubled for margin;
    /// with accumulate one more rounding of the sum: + u·|expected|.
    /// </summary>
    private static Func<int, double> Tolerance(float[] dy, float[] w, float[] expected, int m, int n, int k, bool accumulate)
    {
        var abs = new double[m * k];
        for (int i = 0; i < m; i++)
        for (int c = 0; c < k; c++)
        {
            double s = 0;
            for (int j = 0; j < n; j++) s += Math.Abs((double)dy[i * n + j] * w[j * k + c]);
            abs[i * k + c] = s;
        }
        return idx => 2 * (n + 1) * U * abs[idx] + (accumulate ? 2 * U * Math.Abs(expected[idx]) : 0) + 1e-30;
    }

    private static float[] Reference(float[] dy, float[] w, float[] initial, int m, int n, int k, bool accumulate)
    {
        var product = new float[m * k];
        ReferenceKernels.LinearBackwardInput(dy, w, product, m, n, k);
        var result = new float[m * k];
        for (int i = 0; i < result.Length; i++) result[i] = accumulate ? (float)((double)initial[i] + product[i]) : product[i];
        return result;
    }

    private static float[] Run(PackedLinear layer, float[] dy, float[] initial, int m, bool accumulate, ComputePool? pool = null)
    {
        // Longer than m·K: the tail must keep its sentinel (no write past the last row).
        var dx = new float[initial.Length + 37];
        initial.CopyTo(dx, 0);
        dx.AsSpan(initial.Length).Fill(Sentinel);
        layer.BackwardInput(dy, dx, m, accumulate, pool);
        for (int i = initial.Length; i < dx.Length; i++) Assert.Equal(Sentinel, dx[i]);
        return dx.AsSpan(0, initial.Length).ToArray();
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Backward_input_matches_reference_for_awkward_shapes(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(31);
        foreach (int m in Ms)
        foreach (var (n, k) in Shapes)
        {
            float[] w = Random(rng, n * k, 0.5f), b = Random(rng, n), dy = Random(rng, m * n);
            var layer = new PackedLinear(w, b, n, k, p);
            layer.EnableBackward();
            Assert.True(layer.BackwardEnabled);
            foreach (bool accumulate in new[] { false, true })
            {
                float[] initial = accumulate ? Random(rng, m * k, 2f) : new float[m * k];
                float[] expected = Reference(dy, w, initial, m, n, k, accumulate);
                AssertClose(expected, Run(layer, dy, initial, m, accumulate), Tolerance(dy, w, expected, m, n, k, accumulate),
                    $"{path} m={m} N={n} K={k} accumulate={accumulate}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Backward_input_is_exact_on_small_integers(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(32);
        foreach (int m in new[] { 1, 7, 13 })
        foreach (var (n, k) in new[] { (1, 1), (15, 33), (33, 17), (64, 100) })
        {
            float[] w = SmallIntegers(rng, n * k, 3), dy = SmallIntegers(rng, m * n, 3), initial = SmallIntegers(rng, m * k, 20);
            var layer = new PackedLinear(w, [], n, k, p);
            layer.EnableBackward();
            foreach (bool accumulate in new[] { false, true })
            {
                float[] start = accumulate ? initial : new float[m * k];
                AssertExact(Reference(dy, w, start, m, n, k, accumulate), Run(layer, dy, start, m, accumulate), $"{path} m={m} N={n} K={k} acc={accumulate}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Repack_equals_a_freshly_built_layer_bit_for_bit(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(33);
        foreach (var (n, k, m) in new[] { (17, 33, 5), (64, 40, 13), (3, 1, 2) })
        {
            float[] w1 = Random(rng, n * k), b1 = Random(rng, n), w2 = Random(rng, n * k), b2 = Random(rng, n);
            float[] x = Random(rng, m * k), dy = Random(rng, m * n);
            var layer = new PackedLinear(w1, b1, n, k, p);
            layer.EnableBackward();
            layer.Repack(w2, b2);
            var fresh = new PackedLinear(w2, b2, n, k, p);
            fresh.EnableBackward();
            float[] y = new float[m * n], yFresh = new float[m * n];
            layer.Forward(x, y, m);
            fresh.Forward(x, yFresh, m);
            AssertExact(yFresh, y, $"{path} forward after Repack n={n} k={k}");
            AssertExact(Run(fresh, dy, new float[m * k], m, false), Run(layer, dy, new float[m * k], m, false), $"{path} backward after Repack n={n} k={k}");

            // EnableBackward after a Repack packs the current weights.
            var late = new PackedLinear(w1, b1, n, k, p);
            late.Repack(w2, b2);
            late.EnableBackward();
            AssertExact(Run(fresh, dy, new float[m * k], m, false), Run(late, dy, new float[m * k], m, false), $"{path} EnableBackward after Repack");

            // Without a bias.
            var noBias = new PackedLinear(w1, [], n, k, p);
            noBias.Repack(w2, []);
            var freshNoBias = new PackedLinear(w2, [], n, k, p);
            noBias.Forward(x, y, m);
            freshNoBias.Forward(x, yFresh, m);
            AssertExact(yFresh, y, $"{path} no-bias Repack");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Concatenated_repack_equals_a_freshly_concatenated_layer(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(34);
        int d = 24, m = 13;
        float[] R(int len) => Random(rng, len);
        float[] x = R(m * d), dy = R(m * 3 * d);
        foreach (bool kBias in new[] { true, false })
        {
            float[] bk1 = kBias ? R(d) : [], bk2 = kBias ? R(d) : [];
            var layer = PackedLinear.Concatenate(d, R(d * d), R(d), R(d * d), bk1, R(d * d), R(d), p);
            layer.EnableBackward();
            float[] wq = R(d * d), bq = R(d), wk = R(d * d), wv = R(d * d), bv = R(d);
            layer.Repack(wq, bq, wk, bk2, wv, bv);
            var fresh = PackedLinear.Concatenate(d, wq, bq, wk, bk2, wv, bv, p);
            fresh.EnableBackward();
            float[] y = new float[m * 3 * d], yFresh = new float[m * 3 * d];
            layer.Forward(x, y, m);
            fresh.Forward(x, yFresh, m);
            AssertExact(yFresh, y, $"{path} concatenated forward kBias={kBias}");
            AssertExact(Run(fresh, dy, new float[m * d], m, false), Run(layer, dy, new float[m * d], m, false), $"{path} concatenated backward kBias={kBias}");

            // The two-argument Repack takes the concatenated [3D, D] weight and [3D] bias.
            float[] bAll = [.. bq, .. (kBias ? bk2 : new float[d]), .. bv];
            layer.Repack([.. wq, .. wk, .. wv], bAll);
            layer.Forward(x, y, m);
            AssertExact(yFresh, y, $"{path} concatenated two-argument Repack kBias={kBias}");
        }
    }

    [Fact]
    public void Misuse_is_rejected_with_the_expected_and_found_lengths()
    {
        var layer = new PackedLinear(new float[6], [1f, 2f], 2, 3);
        var ex = Assert.Throws<InvalidOperationException>(() => layer.BackwardInput(new float[4], new float[6], 2));
        Assert.Contains("EnableBackward", ex.Message, StringComparison.Ordinal);
        layer.EnableBackward();
        layer.EnableBackward(); // idempotent
        var a = Assert.Throws<ArgumentException>(() => layer.BackwardInput(new float[3], new float[6], 2));
        Assert.Contains("expected at least m × OutFeatures = 2 × 2 = 4", a.Message, StringComparison.Ordinal);
        Assert.Contains("3 floats", a.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => layer.BackwardInput(new float[4], new float[5], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.BackwardInput(new float[4], new float[6], -1));
        float[] both = new float[12];
        Assert.Throws<ArgumentException>(() => layer.BackwardInput(both.AsSpan(0, 4), both.AsSpan(2, 6), 2));
        layer.BackwardInput(new float[4], new float[6], 0); // m = 0: nothing to do

        a = Assert.Throws<ArgumentException>(() => layer.Repack(new float[5], [1f, 2f]));
        Assert.Contains("expected 2 × 3 = 6", a.Message, StringComparison.Ordinal);
        a = Assert.Throws<ArgumentException>(() => layer.Repack(new float[6], []));
        Assert.Contains("expected 2", a.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new PackedLinear(new float[6], [], 2, 3).Repack(new float[6], [1f, 2f]));
        Assert.Throws<InvalidOperationException>(() => layer.Repack(new float[6], [], new float[6], [], new float[6], []));

        var fused = PackedLinear.Concatenate(2, new float[4], [1f, 1f], new float[4], [], new float[2], [3f]);
        Assert.Throws<ArgumentException>(() => fused.Repack(new float[4], [1f, 1f], new float[4], [1f, 1f], new float[2], [3f])); // bias where none was
        Assert.Throws<ArgumentException>(() => fused.Repack(new float[4], [1f, 1f], new float[4], [], new float[4], [3f]));      // wrong part size
        fused.Repack(new float[4], [1f, 1f], new float[4], [], new float[2], [3f]);
    }

    [Fact]
    public void Backward_input_and_repack_do_not_allocate()
    {
        var rng = new Random(35);
        int m = 13, n = 40, k = 33;
        float[] w = Random(rng, n * k), b = Random(rng, n), dy = Random(rng, m * n), dx = new float[m * k];
        var layer = new PackedLinear(w, b, n, k);
        layer.EnableBackward();
        using var pool = new ComputePool(2);
        void Call()
        {
            layer.BackwardInput(dy, dx, m);
            layer.BackwardInput(dy, dx, m, accumulate: true, pool);
            layer.Repack(w, b);
        }
        Call();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Call();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Backward_input_is_bit_identical_on_any_pool(int workers)
    {
        var rng = new Random(36);
        using var pool = new ComputePool(workers);
        foreach (var (m, n, k) in new[] { (197, 192, 300), (50, 768, 129), (13, 64, 1000) })
        {
            var layer = new PackedLinear(Random(rng, n * k), [], n, k);
            layer.EnableBackward();
            float[] dy = Random(rng, m * n), initial = Random(rng, m * k);
            Assert.True(pool.ChunksFor((k + layer.PanelWidth - 1) / layer.PanelWidth, (long)m * n * layer.PanelWidth, 1 << 17) > 1, "the shape must fan out");
            foreach (bool accumulate in new[] { false, true })
            {
                float[] serial = Run(layer, dy, initial, m, accumulate);
                for (int repeat = 0; repeat < 3; repeat++)
                    Assert.Equal(serial, Run(layer, dy, initial, m, accumulate, pool));
            }
        }
    }
}
