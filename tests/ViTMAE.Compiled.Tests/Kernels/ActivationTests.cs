using System;
using ViTMAE.Compiled.Kernels;
using static ViTMAE.Compiled.Tests.Kernels.KernelTestSupport;

namespace ViTMAE.Compiled.Tests.Kernels;

public class ActivationTests
{
    public static TheoryData<string> Paths => PathData();

    private const double U = 1.0 / (1 << 24);

    /// <summary>A dense grid over [lo, hi] plus the values that trip tails (odd length, so every path has a scalar tail).</summary>
    private static float[] Grid(double lo, double hi, int count)
    {
        var a = new float[count + 7];
        for (int i = 0; i < count; i++) a[i] = (float)(lo + (hi - lo) * i / (count - 1));
        a[count] = 0f; a[count + 1] = -0f; a[count + 2] = 1e-30f; a[count + 3] = -1e-30f;
        a[count + 4] = 1f; a[count + 5] = -1f; a[count + 6] = 0.5f;
        return a;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Erf_is_within_2e7_of_the_double_reference_over_minus10_to_10(string path)
    {
        var (x, reference) = ErfGrid.Value;
        float[] y = (float[])x.Clone();
        Activations.Erf(y, Parse(path));
        double max = 0;
        int worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double err = Math.Abs(y[i] - reference[i]);
            if (!(err <= max)) { max = err; worst = i; }
        }
        Assert.True(max <= 2e-7, $"{path}: erf max abs error {max:E3} at x = {x[worst]:R} (got {y[worst]:R}, want {reference[worst]:R})");
    }

    // 2,000,001 points over [−10, 10] and their double-precision erf, computed once for all paths.
    private static readonly Lazy<(float[] X, double[] Erf)> ErfGrid = new(() =>
    {
        float[] x = Grid(-10, 10, 2_000_001);
        var erf = new double[x.Length];
        for (int i = 0; i < x.Length; i++) erf[i] = ReferenceKernels.Erf(x[i]);
        return (x, erf);
    });

    [Theory]
    [MemberData(nameof(Paths))]
    public unsafe void Exp_is_within_3_ulp_including_subnormals_and_overflow(string path)
    {
        int n = 1_000_003;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(-110 + 200.0 * i / (n - 1));
        float[] y = new float[n];
        fixed (float* px = x, py = y)
        {
            SimdPath p = Parse(path);
            int w = Simd.Width(p), i = 0;
            for (; i <= n - w; i += w)
            {
                switch (p)
                {
                    case SimdPath.Vector512: V512.Store(py + i, VectorMath.Exp<V512, System.Runtime.Intrinsics.Vector512<float>>(V512.Load(px + i))); break;
                    case SimdPath.Vector256: V256.Store(py + i, VectorMath.Exp<V256, System.Runtime.Intrinsics.Vector256<float>>(V256.Load(px + i))); break;
                    case SimdPath.Vector128: V128.Store(py + i, VectorMath.Exp<V128, System.Runtime.Intrinsics.Vector128<float>>(V128.Load(px + i))); break;
                    default: py[i] = VectorMath.Exp<Scalar, float>(px[i]); break;
                }
            }
            for (; i < n; i++) py[i] = VectorMath.Exp<Scalar, float>(px[i]);
        }
        double worst = 0;
        int at = 0;
        for (int i = 0; i < n; i++)
        {
            double want = Math.Exp(x[i]);
            float wf = (float)want;
            if (float.IsInfinity(wf)) { Assert.True(float.IsPositiveInfinity(y[i]), $"{path}: exp({x[i]:R}) = {y[i]:R}, want +inf"); continue; }
            double ulp = Math.Max(MathF.BitIncrement(wf) - wf, float.Epsilon);
            double err = Math.Abs(y[i] - want) / ulp;
            if (err > worst) { worst = err; at = i; }
        }
        Assert.True(worst <= 3, $"{path}: exp max error {worst:F2} ulp at x = {x[at]:R} (got {y[at]:R}, want {Math.Exp(x[at]):R})");
        Assert.Equal(0f, VectorMath.Exp<Scalar, float>(-104f));
        Assert.Equal(0f, VectorMath.Exp<Scalar, float>(float.NegativeInfinity));
        Assert.True(float.IsNaN(VectorMath.Exp<Scalar, float>(float.NaN)));
    }

    [Fact]
    public void Erf_public_entry_uses_the_best_path_and_saturates()
    {
        float[] x = [float.PositiveInfinity, float.NegativeInfinity, 30f, -30f, 0f, float.NaN];
        Activations.Erf(x);
        Assert.Equal([1f, -1f, 1f, -1f, 0f], x[..5]);
        Assert.True(float.IsNaN(x[5]));
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Gelu_erf_matches_reference_with_relative_accuracy_in_both_tails(string path)
    {
        float[] x = Grid(-12, 12, 400_001);
        float[] got = (float[])x.Clone(), want = (float[])x.Clone();
        Activations.Apply(Activation.GeluErf, got, Parse(path));
        ReferenceKernels.GeluErf(want);
        // ≤ 16 ulp of the result for x ≥ −1.5 (measured ≤ 7); below, 1 + erf is taken as erfc, whose argument −t² + G(t) is
        // rounded in float: relative 1e-5 (measured ≤ 60 ulp ≈ 7e-6). Past x ≈ −6.4 |GELU| < 1e-9: absolute floor 1e-10.
        AssertClose(want, got, i => (16 * U + (x[i] < -1.5f ? 1e-5 : 0)) * Math.Abs(want[i]) + 1e-10, $"{path} GELU(erf)");
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Gelu_tanh_matches_reference(string path)
    {
        float[] x = Grid(-12, 12, 400_001);
        float[] got = (float[])x.Clone(), want = (float[])x.Clone();
        Activations.Apply(Activation.GeluTanh, got, Parse(path));
        ReferenceKernels.GeluTanh(want);
        // Same shape of bound: the argument 2u of e^(−2u) carries the float rounding of x + 0.044715x³ (measured ≤ 75 ulp in
        // the negative tail). The double reference itself cancels in 1 + tanh below x ≈ −6: absolute floor 1e-10.
        AssertClose(want, got, i => (16 * U + (x[i] < -1.5f ? 2e-5 : 0)) * Math.Abs(want[i]) + 1e-10, $"{path} GELU(tanh)");
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Relu_and_selu_match_reference(string path)
    {
        float[] x = Grid(-20, 20, 100_001);
        float[] got = (float[])x.Clone(), want = (float[])x.Clone();
        Activations.Apply(Activation.Relu, got, Parse(path));
        ReferenceKernels.Relu(want);
        AssertExact(want, got, $"{path} ReLU");

        got = (float[])x.Clone();
        want = (float[])x.Clone();
        Activations.Apply(Activation.Selu, got, Parse(path));
        ReferenceKernels.Selu(want);
        // expm1 near 0, e^x − 1 elsewhere: a few ulps everywhere (measured ≤ 2.1).
        AssertClose(want, got, i => 6 * U * Math.Abs(want[i]) + 1e-44, $"{path} SELU");
    }

    [Fact]
    public void Public_entry_points_agree_with_the_dispatcher()
    {
        var rng = new Random(7);
        float[] x = Random(rng, 1000, 5f);
        foreach (var (act, run) in new (Activation, SpanAction)[]
                 {
                     (Activation.GeluErf, Activations.GeluErf), (Activation.GeluTanh, Activations.GeluTanh),
                     (Activation.Relu, Activations.Relu), (Activation.Selu, Activations.Selu),
                 })
        {
            float[] a = (float[])x.Clone(), b = (float[])x.Clone();
            run(a);
            Activations.Apply(act, b);
            AssertExact(b, a, act.ToString());
        }
        float[] none = (float[])x.Clone();
        Activations.Apply(Activation.None, none);
        AssertExact(x, none, "None");
    }

    [Fact]
    public void Nan_propagates()
    {
        foreach (Activation act in new[] { Activation.GeluErf, Activation.GeluTanh, Activation.Relu, Activation.Selu, Activation.GeluFast, Activation.QuickGelu, Activation.Silu })
        {
            float[] x = new float[37];
            x[3] = float.NaN; x[36] = float.NaN;
            Activations.Apply(act, x);
            Assert.True(float.IsNaN(x[3]) && float.IsNaN(x[36]), act.ToString());
        }
    }

    private delegate void SpanAction(Span<float> x);
}
