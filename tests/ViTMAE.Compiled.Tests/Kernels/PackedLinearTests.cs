using System;
using System.Globalization;
using System.Linq;
using ViTMAE.Compiled.Kernels;
using static ViTMAE.Compiled.Tests.Kernels.KernelTestSupport;

namespace ViTMAE.Compiled.Tests.Kernels;

public class PackedLinearTests
{
    // Edge shapes in the MLAS tradition: M around the 6- and 12-row blocks (every tail 1–11 of a 12-row block among
    // them: 197 = 16·12 + 5), N around the 16/32-column panels, odd K, and K = 1024 (rows a multiple of 4 KB apart: the
    // Vector512 kernel then takes 6-row blocks).
    private static readonly int[] Ms = [1, 5, 7, 11, 13, 22, 197];
    private static readonly int[] Ns = [1, 15, 17, 33, 64 + 15];
    private static readonly int[] Ks = [1, 3, 17, 64, 768, 1024];
    private const float Sentinel = -12345.5f;
    private const double U = 1.0 / (1 << 24); // unit roundoff of fp32

    public static TheoryData<string> Paths => PathData();

    private static readonly (Epilogue Epilogue, Activation Activation)[] Epilogues =
    [
        (Epilogue.None, Activation.None),
        (Epilogue.Accumulate, Activation.None),
        (Epilogue.Activation, Activation.GeluErf),
        (Epilogue.Activation, Activation.GeluTanh),
        (Epilogue.Activation, Activation.Relu),
        (Epilogue.Activation, Activation.Selu),
        (Epilogue.Activation | Epilogue.Accumulate, Activation.GeluErf),
        (Epilogue.Activation | Epilogue.Accumulate, Activation.GeluTanh),
        (Epilogue.Activation | Epilogue.Accumulate, Activation.Relu),
        (Epilogue.Activation | Epilogue.Accumulate, Activation.Selu),
        (Epilogue.Activation, Activation.GeluFast),
        (Epilogue.Activation, Activation.QuickGelu),
        (Epilogue.Activation, Activation.Silu),
        (Epilogue.Activation | Epilogue.Accumulate, Activation.GeluFast),
        (Epilogue.Activation | Epilogue.Accumulate, Activation.QuickGelu),
        (Epilogue.Activation | Epilogue.Accumulate, Activation.Silu),
    ];

    /// <summary>Reference result of out = epilogue(x·Wᵀ + b) starting from <paramref name="initial"/>.</summary>
    private static float[] Expected(float[] x, float[] w, float[] b, float[] initial, int m, int n, int k, Epilogue epilogue, Activation activation)
    {
        var y = new float[m * n];
        ReferenceKernels.Linear(x, w, b, y, m, n, k);
        if ((epilogue & Epilogue.Activation) != 0) ReferenceKernels.Apply(activation, y);
        var result = (float[])initial.Clone();
        for (int i = 0; i < m * n; i++) result[i] = (epilogue & Epilogue.Accumulate) != 0 ? initial[i] + y[i] : y[i];
        return result;
    }

    /// <summary>Rigorous fp32 dot-product bound (K+2)·u·Σ|x·w| + |b|, doubled, plus the activation's and accumulate's own rounding.</summary>
    private static Func<int, double> Tolerance(float[] x, float[] w, float[] b, float[] expected, int n, int k, Epilogue epilogue)
    {
        int m = expected.Length / n;
        var abs = new double[m * n];
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double s = b.Length > 0 ? Math.Abs(b[j]) : 0;
            for (int p = 0; p < k; p++) s += Math.Abs((double)x[i * k + p] * w[j * k + p]);
            abs[i * n + j] = s;
        }
        return idx =>
        {
            double tol = 2 * (k + 2) * U * abs[idx];
            if ((epilogue & Epilogue.Activation) != 0) tol = 1.8 * tol + 5e-7 * Math.Max(1.0, Math.Abs(expected[idx]));
            if ((epilogue & Epilogue.Accumulate) != 0) tol += 2 * U * Math.Abs(expected[idx]);
            return tol + 1e-30;
        };
    }

    private static float[] RunPacked(PackedLinear layer, float[] x, float[] initial, int m, Epilogue epilogue, Activation activation)
    {
        // The output buffer is longer than m·N: the tail must keep its sentinel (no write past the last row).
        var output = new float[initial.Length + 40];
        initial.CopyTo(output, 0);
        output.AsSpan(initial.Length).Fill(Sentinel);
        layer.Forward(x, output.AsSpan(), m, epilogue, activation);
        for (int i = initial.Length; i < output.Length; i++) Assert.Equal(Sentinel, output[i]);
        return output.AsSpan(0, initial.Length).ToArray();
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Small_integers_are_exact_for_every_edge_shape(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(1);
        foreach (int m in Ms)
        foreach (int n in Ns)
        foreach (int k in Ks)
        {
            float[] x = SmallIntegers(rng, m * k, 3), w = SmallIntegers(rng, n * k, 3);
            float[] b = (m + n + k) % 2 == 0 ? SmallIntegers(rng, n, 8) : [];
            float[] residual = SmallIntegers(rng, m * n, 50);
            var layer = new PackedLinear(w, b, n, k, p);
            Assert.Equal(p, layer.Path);
            string shape = $"{path} M={m} N={n} K={k} bias={b.Length > 0}";
            foreach (var (ep, act) in new[] { (Epilogue.None, Activation.None), (Epilogue.Accumulate, Activation.None),
                         (Epilogue.Activation, Activation.Relu), (Epilogue.Activation | Epilogue.Accumulate, Activation.Relu) })
            {
                float[] initial = (ep & Epilogue.Accumulate) != 0 ? residual : new float[m * n];
                AssertExact(Expected(x, w, b, initial, m, n, k, ep, act), RunPacked(layer, x, initial, m, ep, act), $"{shape} {ep} {act}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Random_inputs_match_reference_for_every_edge_shape(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(2);
        foreach (int m in Ms)
        foreach (int n in Ns)
        foreach (int k in Ks)
        {
            float[] x = Random(rng, m * k), w = Random(rng, n * k, 0.2f), b = (m * n * k) % 3 == 0 ? [] : Random(rng, n);
            var layer = new PackedLinear(w, b, n, k, p);
            float[] initial = new float[m * n];
            float[] expected = Expected(x, w, b, initial, m, n, k, Epilogue.None, Activation.None);
            AssertClose(expected, RunPacked(layer, x, initial, m, Epilogue.None, Activation.None),
                Tolerance(x, w, b, expected, n, k, Epilogue.None), $"{path} M={m} N={n} K={k} bias={b.Length > 0}");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_epilogue_matches_reference(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(3);
        (int M, int N, int K)[] shapes = [(1, 1, 1), (5, 15, 17), (7, 17, 3), (13, 33, 64), (6, 64, 5), (197, 79, 768), (33, 40, 100), (20, 33, 1024)];
        foreach (var (m, n, k) in shapes)
        {
            float[] x = Random(rng, m * k, 2f), w = Random(rng, n * k, 1.5f / MathF.Sqrt(k)), b = Random(rng, n, 0.5f);
            float[] residual = Random(rng, m * n, 3f);
            var layer = new PackedLinear(w, b, n, k, p);
            foreach (var (ep, act) in Epilogues)
            {
                float[] initial = (ep & Epilogue.Accumulate) != 0 ? residual : new float[m * n];
                float[] expected = Expected(x, w, b, initial, m, n, k, ep, act);
                AssertClose(expected, RunPacked(layer, x, initial, m, ep, act), Tolerance(x, w, b, expected, n, k, ep),
                    $"{path} M={m} N={n} K={k} {ep} {act}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Concatenated_qkv_equals_three_separate_layers_bit_for_bit(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(4);
        foreach (var (d, m) in new[] { (8, 5), (24, 13), (64, 50), (17, 7) })
        {
            float[] wq = Random(rng, d * d), wk = Random(rng, d * d), wv = Random(rng, d * d);
            float[] bq = Random(rng, d), bk = Random(rng, d), bv = Random(rng, d);
            float[] x = Random(rng, m * d);
            foreach (bool qBias in new[] { true, false })
            foreach (bool kBias in new[] { true, false })
            {
                float[] q = qBias ? bq : [], k = kBias ? bk : [], v = qBias ? bv : [];
                var fused = PackedLinear.Concatenate(d, wq, q, wk, k, wv, v, p);
                Assert.Equal(3 * d, fused.OutFeatures);
                Assert.Equal(d, fused.InFeatures);
                Assert.Equal(qBias || kBias, fused.HasBias);
                float[] actual = RunPacked(fused, x, new float[m * 3 * d], m, Epilogue.None, Activation.None);

                // Same per-column FMA sequence as separate layers, so the fused output is bit-identical to them.
                var expected = new float[m * 3 * d];
                float[][] ws = [wq, wk, wv], bs = [q, k, v];
                for (int part = 0; part < 3; part++)
                {
                    float[] y = RunPacked(new PackedLinear(ws[part], bs[part], d, d, p), x, new float[m * d], m, Epilogue.None, Activation.None);
                    for (int i = 0; i < m; i++) Array.Copy(y, i * d, expected, i * 3 * d + part * d, d);
                }
                AssertExact(expected, actual, $"{path} D={d} M={m} qBias={qBias} kBias={kBias}");

                // And against the scalar reference of the concatenated matrix (absent bias = zeros).
                float[] wAll = [.. wq, .. wk, .. wv];
                float[] bAll = [.. (q.Length > 0 ? q : new float[d]), .. (k.Length > 0 ? k : new float[d]), .. (v.Length > 0 ? v : new float[d])];
                float[] reference = Expected(x, wAll, bAll, new float[m * 3 * d], m, 3 * d, d, Epilogue.None, Activation.None);
                AssertClose(reference, actual, Tolerance(x, wAll, bAll, reference, 3 * d, d, Epilogue.None), $"{path} D={d} reference");
            }
        }
    }

    [Fact]
    public void Auto_path_is_the_widest_accelerated_one()
    {
        var layer = new PackedLinear(new float[4 * 3], [], 4, 3);
        Assert.Equal(Simd.Best, layer.Path);
        Assert.Equal(2 * Simd.Width(Simd.Best), layer.PanelWidth);
        Assert.False(layer.HasBias);
    }

    [Fact]
    public void Forward_does_not_allocate()
    {
        var rng = new Random(5);
        int m = 13, n = 40, k = 33;
        var layer = new PackedLinear(Random(rng, n * k), Random(rng, n), n, k);
        float[] x = Random(rng, m * k), y = new float[m * n];
        foreach (var (ep, act) in Epilogues) layer.Forward(x, y, m, ep, act); // warm up (JIT, statics)
        long before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var (ep, act) in Epilogues) layer.Forward(x, y, m, ep, act);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Invalid_arguments_are_rejected()
    {
        var layer = new PackedLinear(new float[6], [1f, 2f], 2, 3);
        var x = new float[6];
        var y = new float[4];
        Assert.Throws<ArgumentException>(() => layer.Forward(x, y, 2, Epilogue.Activation));                  // activation missing
        Assert.Throws<ArgumentException>(() => layer.Forward(x, y, 2, Epilogue.None, Activation.Relu));       // activation without flag
        Assert.Throws<ArgumentException>(() => layer.Forward(x, y, 3));                                        // input too short
        Assert.Throws<ArgumentException>(() => layer.Forward(x, new float[3], 2));                             // output too short
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(x, y, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(x, y, 2, (Epilogue)8));
        Assert.Throws<ArgumentException>(() => layer.Forward(x, y, 2, Epilogue.Activation, (Activation)(Activation.Silu + 1)));
        var both = new float[12];
        Assert.Throws<ArgumentException>(() => layer.Forward(both.AsSpan(0, 6), both.AsSpan(4, 4), 2));      // overlap
        Assert.Throws<ArgumentException>(() => new PackedLinear(new float[5], [], 2, 3));                     // weight size
        Assert.Throws<ArgumentException>(() => new PackedLinear(new float[6], [1f], 2, 3));                   // bias size
        Assert.Throws<ArgumentException>(() => PackedLinear.Concatenate(3, new float[6], [], new float[5], [], new float[3], []));
        layer.Forward(x, y, 0); // m = 0 is a no-op
        Assert.Equal(string.Empty, string.Join(",", Array.FindAll(y, v => v != 0).Select(v => v.ToString(CultureInfo.InvariantCulture))));
    }
}
