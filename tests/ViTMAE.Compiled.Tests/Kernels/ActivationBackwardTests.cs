using System;
using ViTMAE.Compiled.Kernels;
using static ViTMAE.Compiled.Tests.Kernels.KernelTestSupport;

namespace ViTMAE.Compiled.Tests.Kernels;

/// <summary>The activations added for training (gelu_fast, quick_gelu, silu), out-of-place Apply, and every activation's backward.</summary>
public class ActivationBackwardTests
{
    public static TheoryData<string> Paths => PathData();

    private const double U = 1.0 / (1 << 24);

    private static readonly Activation[] All =
        [Activation.None, Activation.GeluErf, Activation.GeluTanh, Activation.Relu, Activation.Selu, Activation.GeluFast, Activation.QuickGelu, Activation.Silu];

    /// <summary>A dense grid over [lo, hi] plus values that trip tails (odd length: every path has a scalar tail).</summary>
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
    public void New_activations_match_their_double_references(string path)
    {
        SimdPath p = Parse(path);
        float[] x = Grid(-20, 20, 400_001);
        foreach (Activation act in new[] { Activation.GeluFast, Activation.QuickGelu, Activation.Silu })
        {
            float[] got = (float[])x.Clone(), want = new float[x.Length];
            Activations.Apply(act, got, p);
            for (int i = 0; i < x.Length; i++) want[i] = (float)ReferenceKernels.Activate(act, x[i]);
            Func<int, double> tolerance = act == Activation.GeluFast
                // As gelu_new (ActivationTests): x / (1 + e^(−2u)) within 16 ulp; below x = −1.5 the argument 2u carries the
                // float rounding of u (relative 2e-5 measured bound). Past x ≈ −9, e^(−2u) overflows and the result is −0
                // while the true value is below 1e-30: absolute floor.
                ? i => (16 * U + (x[i] < -1.5f ? 2e-5 : 0)) * Math.Abs(want[i]) + 2e-30
                // x·σ(kx) with σ = e/(1 + e) or 1/(1 + e), e = e^(−|kx|): exp ≤ 3 ulp plus the division and two products
                // (≤ 8 ulp); the rounding of z = k·x enters e^z as |z|·u relative, up to 34u at |z| = 34.
                : i => (16 + 2 * Math.Abs((act == Activation.QuickGelu ? 1.702 : 1.0) * x[i])) * U * Math.Abs(want[i]) + 1e-44;
            AssertClose(want, got, tolerance, $"{path} {act}");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Apply_out_of_place_equals_in_place(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(51);
        float[] x = Random(rng, 1003, 8f);
        foreach (Activation act in All)
        {
            float[] inPlace = (float[])x.Clone();
            Activations.Apply(act, inPlace, p);
            float[] output = new float[x.Length];
            Activations.Apply(act, x, output, p);
            AssertExact(inPlace, output, $"{path} {act}");
            float[] same = (float[])x.Clone();
            Activations.Apply(act, same, same, p); // exactly the same memory is allowed
            AssertExact(inPlace, same, $"{path} {act} aliased");
        }
    }

    /// <summary>
    /// Scale of the rounding errors of act′(x): the magnitudes of the terms the kernel adds (they cancel where act′ crosses
    /// zero, near the minimum of each GELU/SiLU, so a tolerance relative to act′ itself would be meaningless there).
    /// </summary>
    private static double TermScale(Activation act, double x)
    {
        switch (act)
        {
            case Activation.GeluErf:
                return 0.5 * ReferenceKernels.Erfc(-x / Math.Sqrt(2)) + Math.Abs(x) * Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);
            case Activation.GeluTanh:
            case Activation.GeluFast:
            {
                double c = Math.Sqrt(2 / Math.PI), u = c * (x + 0.044715 * x * x * x), du = c * (1 + 3 * 0.044715 * x * x);
                double s = ReferenceKernels.Sigmoid(2 * u);
                return s + 2 * Math.Abs(x) * s * ReferenceKernels.Sigmoid(-2 * u) * du;
            }
            case Activation.QuickGelu:
            case Activation.Silu:
            {
                double z = (act == Activation.Silu ? 1 : 1.702) * x, s = ReferenceKernels.Sigmoid(z);
                return s * (1 + Math.Abs(z) * ReferenceKernels.Sigmoid(-z));
            }
            default:
                return Math.Abs(ReferenceKernels.Derivative(act, x));
        }
    }

    /// <summary>
    /// Tolerance of dx = dy·act′(x) in float: 24 u of the term scale (the derivatives are built from exp, erf and one
    /// division, each a few ulps, and a handful of products), plus 4 u per unit of the exp argument, whose own float
    /// rounding (relative, a few u) the exponential turns into an absolute error of the argument's size: x²/2 for φ,
    /// |2u| for the tanh forms, |z| for the sigmoid gates. Measured (dy = 1, grid over [−20, 20]): ≤ 6 u for GELU(erf),
    /// quick GELU, SiLU and SELU within |x| ≤ 4, ≤ 22 u for the tanh forms there (exp argument ≈ 7.6 at x = −3.7), 172 u
    /// at x = −9.3 (argument 70), 38 u for quick GELU at x = −19.9: about half of this bound everywhere.
    /// </summary>
    private static double Tolerance(Activation act, double x, double dy)
    {
        double argument = act switch
        {
            Activation.GeluErf => 0.5 * x * x + 1,
            Activation.GeluTanh or Activation.GeluFast => Math.Abs(1.6 * (x + 0.044715 * x * x * x)) + 1,
            Activation.QuickGelu => 1.702 * Math.Abs(x) + 1,
            Activation.Silu => Math.Abs(x) + 1,
            _ => 1,
        };
        // Absolute floor at the bottom of the normal range: below it exp flushes to zero (x²/2 > 104 for GELU's φ) or
        // returns subnormals with a few e-45 of absolute error. For exact GELU, as for its forward (ActivationTests), the
        // erfc fit stops at x = −4.5·√2 ≈ −6.4: below, Φ(x) < 8e-11 keeps only its absolute accuracy, while |GELU′| < 4e-9.
        double floor = act == Activation.GeluErf && x < -6.3 ? 1e-10 * Math.Abs(dy) : 0;
        return Math.Abs(dy) * (24 + 4 * argument) * U * TermScale(act, x) + floor + 1e-37;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Backward_matches_the_exact_derivatives(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(52);
        float[] x = Grid(-20, 20, 200_001);
        float[] dy = Random(rng, x.Length, 2f);
        dy[^1] = 1f;
        foreach (Activation act in All)
        {
            float[] got = new float[x.Length], want = new float[x.Length];
            Activations.Backward(act, x, dy, got, p);
            ReferenceKernels.ActivationBackward(act, x, dy, want);
            AssertClose(want, got, i => Tolerance(act, x[i], dy[i]), $"{path} {act}′");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Backward_agrees_with_central_finite_differences_of_the_double_forward(string path)
    {
        // loss(x) = Σ w_i·act(x_i) in double; ∂loss/∂x_i = w_i·act′(x_i) ≈ w_i·(act(x_i + h) − act(x_i − h))/(2h). With
        // h = 1e-5 the truncation error h²/6·|act‴| is below 1e-10 and the cancellation error ~1e-16·|act|/h below 1e-10
        // for |x| ≤ 8, so the comparison measures the kernel's float error (the same tolerance as against the exact
        // derivatives) and, independently of any derivative formula, that the kernel differentiates the right function.
        // Points within 1e-3 of 0 are left out: ReLU and SELU have a kink there.
        SimdPath p = Parse(path);
        var rng = new Random(53);
        int n = 2001;
        float[] x = Random(rng, n, 8f), w = Random(rng, n);
        for (int i = 0; i < n; i++) if (Math.Abs(x[i]) < 1e-3f) x[i] = 0.5f;
        const double h = 1e-5;
        foreach (Activation act in All)
        {
            float[] got = new float[n], fd = new float[n];
            Activations.Backward(act, x, w, got, p);
            for (int i = 0; i < n; i++)
                fd[i] = (float)(w[i] * (ReferenceKernels.Activate(act, x[i] + h) - ReferenceKernels.Activate(act, x[i] - h)) / (2 * h));
            AssertClose(fd, got, i => Tolerance(act, x[i], w[i]) + 1e-9 * Math.Abs(w[i]), $"{path} {act} finite differences");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Relu_and_selu_backward_follow_pytorch_at_zero_and_nan(string path)
    {
        SimdPath p = Parse(path);
        // 17 values: a vector of 16 and a scalar tail on every path, with the specials in both.
        float[] x = [0f, -0f, float.NaN, 1e-45f, -1e-45f, 2f, -2f, float.PositiveInfinity, float.NegativeInfinity, 0f, 0f, 0f, 0f, 0f, 0f, 0f, float.NaN];
        float[] dy = new float[x.Length];
        dy.AsSpan().Fill(3f);
        float[] relu = new float[x.Length], selu = new float[x.Length];
        Activations.Backward(Activation.Relu, x, dy, relu, p);
        Activations.Backward(Activation.Selu, x, dy, selu, p);
        float scale = (float)ReferenceKernels.SeluScale, alphaScale = (float)(ReferenceKernels.SeluScale * ReferenceKernels.SeluAlpha);
        // threshold_backward: x <= 0 ? 0 : dy (a NaN x passes dy); elu_backward: x <= 0 ? dy·scale·alpha·e^x : dy·scale.
        float[] wantRelu = [0f, 0f, 3f, 3f, 0f, 3f, 0f, 3f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 3f];
        Assert.Equal(wantRelu, relu);
        Assert.Equal(3f * alphaScale, selu[0], 6);
        Assert.Equal(3f * alphaScale, selu[1], 6);
        Assert.Equal(3f * scale, selu[2], 6);
        Assert.Equal(3f * scale, selu[5], 6);
        Assert.Equal(3f * alphaScale * MathF.Exp(-2f), selu[6], 5);
        Assert.Equal(3f * scale, selu[7], 6);
        Assert.Equal(0f, selu[8]);
        Assert.Equal(3f * scale, selu[16], 6);

        // ReLU backward gives exactly 0 for x <= 0 even when dy is not finite (a select, not a product).
        float[] badDy = new float[x.Length];
        badDy.AsSpan().Fill(float.NaN);
        Activations.Backward(Activation.Relu, x, badDy, relu, p);
        Assert.Equal(0f, relu[0]);
        Assert.Equal(0f, relu[6]);

        // The smooth activations propagate NaN.
        foreach (Activation act in new[] { Activation.GeluErf, Activation.GeluTanh, Activation.GeluFast, Activation.QuickGelu, Activation.Silu })
        {
            float[] g = new float[x.Length];
            Activations.Backward(act, x, dy, g, p);
            Assert.True(float.IsNaN(g[2]) && float.IsNaN(g[16]), $"{path} {act}");
            Activations.Apply(act, x, g, p);
            Assert.True(float.IsNaN(g[2]) && float.IsNaN(g[16]), $"{path} {act} forward");
        }
    }

    [Fact]
    public void Public_entry_points_agree_with_the_dispatcher_and_reject_bad_spans()
    {
        var rng = new Random(54);
        float[] x = Random(rng, 100, 5f);
        foreach (var (act, run) in new (Activation, Action<float[]>)[]
                 {
                     (Activation.GeluFast, v => Activations.GeluFast(v)), (Activation.QuickGelu, v => Activations.QuickGelu(v)),
                     (Activation.Silu, v => Activations.Silu(v)),
                 })
        {
            float[] a = (float[])x.Clone(), b = new float[x.Length];
            run(a);
            Activations.Apply(act, x, b);
            AssertExact(b, a, act.ToString());
        }

        float[] buffer = new float[20];
        Assert.Throws<ArgumentException>(() => Activations.Apply(Activation.Silu, new float[5], new float[4]));
        Assert.Throws<ArgumentException>(() => Activations.Apply(Activation.Silu, buffer.AsSpan(0, 10), buffer.AsSpan(1, 10)));
        var ex = Assert.Throws<ArgumentException>(() => Activations.Backward(Activation.Silu, new float[5], new float[4], new float[5]));
        Assert.Contains("dOutput has 4 floats, expected 5", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Activations.Backward(Activation.Silu, new float[5], new float[5], new float[6]));
        Assert.Throws<ArgumentException>(() => Activations.Backward(Activation.Silu, buffer.AsSpan(0, 10), buffer.AsSpan(10, 10), buffer.AsSpan(5, 10)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Activations.Backward((Activation)99, new float[5], new float[5], new float[5]));
        // In place on dOutput is allowed.
        float[] dy = Random(rng, 100), pre = Random(rng, 100), separate = new float[100];
        Activations.Backward(Activation.GeluErf, pre, dy, separate);
        Activations.Backward(Activation.GeluErf, pre, dy, dy);
        AssertExact(separate, dy, "in place on dOutput");
    }

    [Fact]
    public void Backward_and_out_of_place_apply_do_not_allocate()
    {
        var rng = new Random(55);
        float[] x = Random(rng, 777), dy = Random(rng, 777), dx = new float[777];
        void Call()
        {
            foreach (Activation act in All)
            {
                Activations.Backward(act, x, dy, dx);
                Activations.Apply(act, x, dx);
            }
        }
        Call();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Call();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
