using System.Runtime.CompilerServices;

namespace ViTMAE.Compiled.Kernels;

/// <summary>
/// Elementary functions on one vector, written once for every width (<see cref="ISimdOps{TV}"/>). Accuracy is
/// pinned by tests against the double-precision oracles in <see cref="ReferenceKernels"/>.
/// </summary>
internal static class VectorMath
{
    // exp: Cody-Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, degree-7 Taylor polynomial for e^r
    // (truncation error r^8/8! ≤ 5e-9 relative), then scaling by 2^n with one rounding (ISimdOps.ScaleB: vscalefps
    // on AVX-512, else 2^n1·2^n2), so results are right down to the subnormals and up to overflow.
    private const float ExpMin = -104f;       // e^-104 < 2^-150 rounds to 0: clamping here returns exactly 0 below
    private const float ExpMax = 89f;         // e^88.73 > float.MaxValue: overflows to +inf from there
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;        // 355/512: n·Ln2Hi is exact for |n| ≤ 128
    private const float Ln2Lo = -2.12194440e-4f;     // ln2 − Ln2Hi

    /// <summary>e^x, max relative error ≈ 2 ulp (subnormal results included); x ≤ −104 gives 0, large x saturates to +inf; NaN propagates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
    {
        x = TOps.MinNative(TOps.Create(ExpMax), TOps.MaxNative(TOps.Create(ExpMin), x)); // constant first: NaN stays NaN
        TV n = TOps.Round(TOps.Multiply(x, TOps.Create(Log2E)));
        TV r = TOps.MultiplyAdd(n, TOps.Create(-Ln2Hi), x);
        r = TOps.MultiplyAdd(n, TOps.Create(-Ln2Lo), r);
        // Estrin's scheme (depth 4 instead of 8): GELU and softmax are latency-bound on these chains, not FMA-bound.
        TV r2 = TOps.Multiply(r, r);
        TV r4 = TOps.Multiply(r2, r2);
        TV e01 = TOps.MultiplyAdd(r, TOps.Create(1f), TOps.Create(1f));
        TV e23 = TOps.MultiplyAdd(r, TOps.Create(1f / 6f), TOps.Create(0.5f));
        TV e45 = TOps.MultiplyAdd(r, TOps.Create(1f / 120f), TOps.Create(1f / 24f));
        TV e67 = TOps.MultiplyAdd(r, TOps.Create(1f / 5040f), TOps.Create(1f / 720f));
        TV e03 = TOps.MultiplyAdd(e23, r2, e01);
        TV e47 = TOps.MultiplyAdd(e67, r2, e45);
        TV p = TOps.MultiplyAdd(e47, r4, e03);
        // n ∈ [−150, 128]: one rounding into the subnormal range or overflow to +inf, as e^x should.
        return TOps.ScaleB(p, n);
    }

    // erf: two regions, coefficients fitted (weighted least squares + Lawson iterations toward minimax, in
    // double, against the series/continued-fraction oracle) and verified in float:
    //   |x| < 1 : erf(x) = x + x·P(x²)                      (P has degree 6; x + x·P keeps the exact part exact)
    //   |x| ≥ 1 : erf(x) = sign(x)·(1 − erfc(|x|)), erfc(t) = exp(−t² + G(u)), u = (min(t, 4.5) − 2.75)/1.75,
    //             G(t) ≈ log(erfc(t)) + t² has degree 9 (relative error of erfc ≈ 1e-6 up to t = 4.5).
    // Max abs error of erf over [−10, 10] in float: ≈ 6.7e-8 (≈ 1.1 ulp at 0.84).
    private const float P0 = 0.12837917f, P1 = -0.37612626f, P2 = 0.112836f, P3 = -0.026854444f,
        P4 = 0.005189535f, P5 = -0.0008020841f, P6 = 7.889119E-05f;

    private const float G0 = -1.6416404f, G1 = -0.57143784f, G2 = 0.1491846f, G3 = -0.04787796f,
        G4 = 0.015989402f, G5 = -0.005256909f, G6 = 0.0016582849f, G7 = -0.00049327046f,
        G8 = 0.00012123301f, G9 = -1.5412792E-05f;

    private const float GMid = 2.75f, GInvHalf = 0.5714286f, GMax = 4.5f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ErfSmallTail<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
    {
        // x·P(x²) — add x to get erf(x) for |x| < 1.
        TV s = TOps.Multiply(x, x);
        TV s2 = TOps.Multiply(s, s);
        TV s4 = TOps.Multiply(s2, s2);
        TV p01 = TOps.MultiplyAdd(s, TOps.Create(P1), TOps.Create(P0));
        TV p23 = TOps.MultiplyAdd(s, TOps.Create(P3), TOps.Create(P2));
        TV p45 = TOps.MultiplyAdd(s, TOps.Create(P5), TOps.Create(P4));
        TV p03 = TOps.MultiplyAdd(p23, s2, p01);
        TV p46 = TOps.MultiplyAdd(s2, TOps.Create(P6), p45);
        return TOps.MultiplyAdd(p46, s4, p03);
    }

    /// <summary>erfc(t) for t ≥ 1 (t = |x|): exp(−t² + G(t)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ErfcLarge<TOps, TV>(TV t) where TOps : ISimdOps<TV> where TV : struct
    {
        TV u = TOps.Multiply(TOps.Subtract(TOps.MinNative(TOps.Create(GMax), t), TOps.Create(GMid)), TOps.Create(GInvHalf));
        TV u2 = TOps.Multiply(u, u);
        TV u4 = TOps.Multiply(u2, u2);
        TV g01 = TOps.MultiplyAdd(u, TOps.Create(G1), TOps.Create(G0));
        TV g23 = TOps.MultiplyAdd(u, TOps.Create(G3), TOps.Create(G2));
        TV g45 = TOps.MultiplyAdd(u, TOps.Create(G5), TOps.Create(G4));
        TV g67 = TOps.MultiplyAdd(u, TOps.Create(G7), TOps.Create(G6));
        TV g89 = TOps.MultiplyAdd(u, TOps.Create(G9), TOps.Create(G8));
        TV g03 = TOps.MultiplyAdd(g23, u2, g01);
        TV g47 = TOps.MultiplyAdd(g67, u2, g45);
        TV g49 = TOps.MultiplyAdd(g89, u4, g47);
        TV g = TOps.MultiplyAdd(g49, u4, g03);
        TV negT = TOps.Subtract(TOps.Zero, t);
        return Exp<TOps, TV>(TOps.MultiplyAdd(negT, t, g));
    }

    /// <summary>erf(x), max abs error ≈ 7e-8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Erf<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
    {
        TV t = TOps.Abs(x);
        TV small = TOps.MultiplyAdd(x, ErfSmallTail<TOps, TV>(x), x);
        TV large = TOps.CopySign(TOps.Subtract(TOps.Create(1f), ErfcLarge<TOps, TV>(t)), x);
        return TOps.Select(TOps.LessThan(t, TOps.Create(1f)), small, large);
    }

    /// <summary>
    /// Exact GELU 0.5·x·(1 + erf(x/√2)). For x/√2 ≤ −1 the factor 1 + erf is taken as erfc(|x|/√2) directly, so the
    /// negative tail keeps its relative accuracy instead of cancelling.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV GeluErf<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
        => TOps.Multiply(TOps.Multiply(x, TOps.Create(0.5f)), OnePlusErf<TOps, TV>(x));

    /// <summary>1 + erf(x/√2) = 2·Φ(x), through erfc(|x|/√2) for x/√2 ≤ −1 (relative accuracy in the left tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV OnePlusErf<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
    {
        TV z = TOps.Multiply(x, TOps.Create(0.707106781186547524f));
        TV t = TOps.Abs(z);
        TV one = TOps.Create(1f);
        TV hSmall = TOps.Add(one, TOps.MultiplyAdd(z, ErfSmallTail<TOps, TV>(z), z));
        TV e = ErfcLarge<TOps, TV>(t);
        TV hLarge = TOps.Select(TOps.LessThan(z, TOps.Zero), e, TOps.Subtract(TOps.Create(2f), e));
        return TOps.Select(TOps.LessThan(t, one), hSmall, hLarge);
    }

    /// <summary>
    /// d/dx of exact GELU: Φ(x) + x·φ(x), Φ as in <see cref="GeluErf{TOps, TV}"/> (0.5·(1 + erf(x/√2)), erfc in the left
    /// tail), φ(x) = e^(−x²/2)/√(2π). The two terms cancel near the minimum of GELU (x ≈ −0.75), where the error is
    /// absolute (a few e-8), not relative.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV GeluErfDerivative<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
    {
        TV cdf = TOps.Multiply(OnePlusErf<TOps, TV>(x), TOps.Create(0.5f));
        TV pdf = TOps.Multiply(Exp<TOps, TV>(TOps.Multiply(TOps.Multiply(x, x), TOps.Create(-0.5f))), TOps.Create(0.398942280401432678f));
        return TOps.MultiplyAdd(x, pdf, cdf);
    }

    /// <summary>
    /// σ(z) and 1 − σ(z) without cancellation or overflow: with e = e^(−|z|) ≤ 1, the larger is 1/(1 + e) and the smaller
    /// e/(1 + e); σ is the larger for z ≥ 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sigmoid<TOps, TV>(TV z, out TV sigma, out TV complement) where TOps : ISimdOps<TV> where TV : struct
    {
        TV e = Exp<TOps, TV>(TOps.Subtract(TOps.Zero, TOps.Abs(z)));
        TV large = TOps.Divide(TOps.Create(1f), TOps.Add(TOps.Create(1f), e));
        TV small = TOps.Multiply(e, large);
        TV negative = TOps.LessThan(z, TOps.Zero);
        sigma = TOps.Select(negative, small, large);
        complement = TOps.Select(negative, large, small);
    }

    /// <summary>x·σ(k·x) (SiLU for k = 1, quick GELU for k = 1.702), σ from <see cref="Sigmoid{TOps, TV}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV SigmoidGate<TOps, TV>(TV x, float k) where TOps : ISimdOps<TV> where TV : struct
    {
        Sigmoid<TOps, TV>(TOps.Multiply(x, TOps.Create(k)), out TV sigma, out _);
        return TOps.Multiply(x, sigma);
    }

    /// <summary>d/dx of x·σ(k·x) = σ·(1 + z·(1 − σ)) with z = k·x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV SigmoidGateDerivative<TOps, TV>(TV x, float k) where TOps : ISimdOps<TV> where TV : struct
    {
        TV z = TOps.Multiply(x, TOps.Create(k));
        Sigmoid<TOps, TV>(z, out TV sigma, out TV complement);
        return TOps.Multiply(sigma, TOps.MultiplyAdd(z, complement, TOps.Create(1f)));
    }

    /// <summary>
    /// Hugging Face gelu_fast: 0.5·x·(1 + tanh(u)) with u = (x·0.7978845608)·(1 + (0.044715·x)·x) as PyTorch evaluates
    /// it, computed as x / (1 + e^(−2u)) like <see cref="GeluTanh{TOps, TV}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV GeluFast<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
    {
        TV u = GeluFastArgument<TOps, TV>(x);
        TV e = Exp<TOps, TV>(TOps.Multiply(u, TOps.Create(-2f)));
        return TOps.Divide(x, TOps.Add(TOps.Create(1f), e));
    }

    private const float FastC = 0.7978845608f;
    private const float TanhA = 0.044715f;
    private const float SqrtTwoOverPi = 0.797884560802865355f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV GeluFastArgument<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
        => TOps.Multiply(TOps.Multiply(x, TOps.Create(FastC)), TOps.MultiplyAdd(TOps.Multiply(x, TOps.Create(TanhA)), x, TOps.Create(1f)));

    /// <summary>
    /// d/dx of 0.5·x·(1 + tanh(u)) given u and u′: 0.5·(1 + t) + 0.5·x·(1 − t²)·u′, t = tanh(u), evaluated without
    /// cancellation as σ(2u) + 2·x·σ(2u)·σ(−2u)·u′ (1 + t = 2σ(2u), 1 − t² = 4σ(2u)σ(−2u)).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV TanhGeluDerivative<TOps, TV>(TV x, TV u, TV du) where TOps : ISimdOps<TV> where TV : struct
    {
        Sigmoid<TOps, TV>(TOps.Add(u, u), out TV sigma, out TV complement);
        TV product = TOps.Multiply(TOps.Multiply(sigma, complement), TOps.Add(x, x));
        return TOps.MultiplyAdd(product, du, sigma);
    }

    /// <summary>d/dx of gelu_new: u = √(2/π)·(x + 0.044715·x³), u′ = √(2/π)·(1 + 3·0.044715·x²).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV GeluTanhDerivative<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
    {
        const float C3 = SqrtTwoOverPi * TanhA;
        TV x2 = TOps.Multiply(x, x);
        TV u = TOps.Multiply(x, TOps.MultiplyAdd(x2, TOps.Create(C3), TOps.Create(SqrtTwoOverPi)));
        TV du = TOps.MultiplyAdd(x2, TOps.Create(3f * C3), TOps.Create(SqrtTwoOverPi));
        return TanhGeluDerivative<TOps, TV>(x, u, du);
    }

    /// <summary>d/dx of gelu_fast: u as in <see cref="GeluFast{TOps, TV}"/>, u′ = 0.7978845608·(1 + 3·0.044715·x²).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV GeluFastDerivative<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
    {
        TV u = GeluFastArgument<TOps, TV>(x);
        TV du = TOps.MultiplyAdd(TOps.Multiply(x, x), TOps.Create(3f * TanhA * FastC), TOps.Create(FastC));
        return TanhGeluDerivative<TOps, TV>(x, u, du);
    }

    /// <summary>All-bits-set lanes where x ≤ 0 (x &lt; the smallest subnormal); NaN gives false, as PyTorch's x &lt;= 0 tests.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV NotPositive<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
        => TOps.LessThan(x, TOps.Create(float.Epsilon));

    /// <summary>ReLU backward as PyTorch's threshold_backward: x ≤ 0 ? 0 : dy (so 0 at x = 0, dy at NaN x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV ReluBackward<TOps, TV>(TV x, TV dy) where TOps : ISimdOps<TV> where TV : struct
        => TOps.Select(NotPositive<TOps, TV>(x), TOps.Zero, dy);

    /// <summary>SELU backward as PyTorch's elu_backward: x ≤ 0 ? dy·scale·alpha·e^x : dy·scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV SeluBackward<TOps, TV>(TV x, TV dy) where TOps : ISimdOps<TV> where TV : struct
    {
        const float Scale = 1.0507009873554804934193349852946f;
        const float AlphaScale = 1.6732632423543772848170429916717f * 1.0507009873554804934193349852946f;
        TV neg = TOps.Multiply(dy, TOps.Multiply(Exp<TOps, TV>(TOps.MinNative(TOps.Zero, x)), TOps.Create(AlphaScale)));
        return TOps.Select(NotPositive<TOps, TV>(x), neg, TOps.Multiply(dy, TOps.Create(Scale)));
    }

    /// <summary>
    /// Hugging Face gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), evaluated as x / (1 + e^(−2u)),
    /// which is the same function without the cancellation of 1 + tanh for negative x.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV GeluTanh<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
    {
        const float C = 0.797884560802865355f;        // √(2/π)
        const float C3 = 0.797884560802865355f * 0.044715f;
        TV x2 = TOps.Multiply(x, x);
        TV u = TOps.Multiply(x, TOps.MultiplyAdd(x2, TOps.Create(C3), TOps.Create(C)));
        TV e = Exp<TOps, TV>(TOps.Multiply(u, TOps.Create(-2f)));
        return TOps.Divide(x, TOps.Add(TOps.Create(1f), e));
    }

    /// <summary>max(x, 0); NaN propagates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Relu<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => TOps.Max(x, TOps.Zero);

    /// <summary>e^x − 1 without cancellation near 0 (Taylor to x⁸ for |x| &lt; 0.35, e^x − 1 elsewhere), like PyTorch's expm1-based ELU/SELU.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV ExpM1<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
    {
        TV p = TOps.Create(1f / 40320f);
        p = TOps.MultiplyAdd(p, x, TOps.Create(1f / 5040f));
        p = TOps.MultiplyAdd(p, x, TOps.Create(1f / 720f));
        p = TOps.MultiplyAdd(p, x, TOps.Create(1f / 120f));
        p = TOps.MultiplyAdd(p, x, TOps.Create(1f / 24f));
        p = TOps.MultiplyAdd(p, x, TOps.Create(1f / 6f));
        p = TOps.MultiplyAdd(p, x, TOps.Create(0.5f));
        TV small = TOps.MultiplyAdd(TOps.Multiply(p, x), x, x);
        TV large = TOps.Subtract(Exp<TOps, TV>(x), TOps.Create(1f));
        return TOps.Select(TOps.LessThan(TOps.Abs(x), TOps.Create(0.35f)), small, large);
    }

    /// <summary>SELU with PyTorch's constants: scale·x for x &gt; 0, scale·alpha·(e^x − 1) otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Selu<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct
    {
        const float Scale = 1.0507009873554804934193349852946f;
        const float AlphaScale = 1.6732632423543772848170429916717f * 1.0507009873554804934193349852946f;
        TV neg = TOps.Multiply(ExpM1<TOps, TV>(TOps.MinNative(TOps.Zero, x)), TOps.Create(AlphaScale));
        TV pos = TOps.Multiply(x, TOps.Create(Scale));
        return TOps.Select(TOps.LessThan(TOps.Zero, x), pos, neg);
    }
}
