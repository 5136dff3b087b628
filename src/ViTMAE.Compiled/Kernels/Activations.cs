using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ViTMAE.Compiled.Kernels;

/// <summary>
/// Vectorised activations and their backward (Vector512 / Vector256 / Vector128 / scalar, chosen at run time). Accuracy
/// against <see cref="ReferenceKernels"/>: erf ≤ 2e-7 absolute over [−10, 10] (≈ 7e-8 measured); the activations are
/// within a few float ulps of their double-precision references (relative 1e-5 in the far negative tails of the GELUs),
/// the derivatives likewise, with an absolute floor where their terms cancel. No allocation.
/// </summary>
public static class Activations
{
    /// <summary>x ← act(x) for the given activation (<see cref="Activation.None"/> leaves x unchanged).</summary>
    public static void Apply(Activation activation, Span<float> x) => Apply(activation, x, SimdPath.Auto);

    /// <summary>x ← 0.5·x·(1 + erf(x/√2)) (Hugging Face <c>gelu</c>).</summary>
    public static void GeluErf(Span<float> x) => Apply(Activation.GeluErf, x, SimdPath.Auto);

    /// <summary>x ← 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (Hugging Face <c>gelu_new</c>).</summary>
    public static void GeluTanh(Span<float> x) => Apply(Activation.GeluTanh, x, SimdPath.Auto);

    /// <summary>x ← max(x, 0); NaN stays NaN.</summary>
    public static void Relu(Span<float> x) => Apply(Activation.Relu, x, SimdPath.Auto);

    /// <summary>x ← SELU(x) with PyTorch's constants.</summary>
    public static void Selu(Span<float> x) => Apply(Activation.Selu, x, SimdPath.Auto);

    /// <summary>x ← 0.5·x·(1 + tanh(0.7978845608·x·(1 + 0.044715·x²))) (Hugging Face <c>gelu_fast</c>).</summary>
    public static void GeluFast(Span<float> x) => Apply(Activation.GeluFast, x, SimdPath.Auto);

    /// <summary>x ← x·sigmoid(1.702·x) (Hugging Face <c>quick_gelu</c>).</summary>
    public static void QuickGelu(Span<float> x) => Apply(Activation.QuickGelu, x, SimdPath.Auto);

    /// <summary>x ← x·sigmoid(x) (Hugging Face <c>silu</c> / <c>swish</c>).</summary>
    public static void Silu(Span<float> x) => Apply(Activation.Silu, x, SimdPath.Auto);

    /// <summary>output = act(input), element-wise. No allocation.</summary>
    /// <param name="activation">The function (<see cref="Activation.None"/> copies).</param>
    /// <param name="input">The pre-activations.</param>
    /// <param name="output">Same length as <paramref name="input"/>; may be exactly the same memory (in place), must not partly overlap it.</param>
    /// <exception cref="ArgumentException">The lengths differ, or the spans partly overlap.</exception>
    public static void Apply(Activation activation, ReadOnlySpan<float> input, Span<float> output) => Apply(activation, input, output, SimdPath.Auto);

    /// <summary>
    /// dInput = dOutput ⊙ act′(preActivation), element-wise, with the exact derivatives (no allocation):
    /// <list type="bullet">
    /// <item><c>GeluErf</c>: Φ(x) + x·φ(x).</item>
    /// <item><c>GeluTanh</c>: 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(√(2/π)·(x + 0.044715·x³));
    /// <c>GeluFast</c> the same with its own u = 0.7978845608·x·(1 + 0.044715·x²) (both evaluated through sigmoids, without cancellation).</item>
    /// <item><c>QuickGelu</c> / <c>Silu</c>: σ(z)·(1 + z·(1 − σ(z))), z = 1.702·x / x.</item>
    /// <item><c>Relu</c>: PyTorch's threshold_backward, x ≤ 0 ? 0 : dOutput (0 at x = 0; a NaN x passes dOutput through).</item>
    /// <item><c>Selu</c>: PyTorch's elu_backward, x ≤ 0 ? dOutput·scale·alpha·e^x : dOutput·scale.</item>
    /// <item><c>None</c>: dInput = dOutput.</item>
    /// </list>
    /// </summary>
    /// <param name="activation">The forward's activation.</param>
    /// <param name="preActivation">x, the forward's input.</param>
    /// <param name="dOutput">The gradient of the activation's output; same length.</param>
    /// <param name="dInput">The gradient of its input; same length. May be exactly the same memory as
    /// <paramref name="dOutput"/> or <paramref name="preActivation"/>, must not partly overlap either.</param>
    /// <exception cref="ArgumentException">The lengths differ, or spans partly overlap.</exception>
    public static void Backward(Activation activation, ReadOnlySpan<float> preActivation, ReadOnlySpan<float> dOutput, Span<float> dInput)
        => Backward(activation, preActivation, dOutput, dInput, SimdPath.Auto);

    internal static unsafe void Apply(Activation activation, ReadOnlySpan<float> input, Span<float> output, SimdPath path)
    {
        if (output.Length != input.Length)
            throw new ArgumentException($"output has {output.Length} floats, expected {input.Length} (the length of input).", nameof(output));
        CheckAlias(input, output, nameof(output));
        CheckActivation(activation);
        fixed (float* src = input)
        fixed (float* dst = output)
        {
            switch (Simd.Resolve(path))
            {
                case SimdPath.Vector512: Map<V512, Vector512<float>>(activation, src, dst, input.Length); break;
                case SimdPath.Vector256: Map<V256, Vector256<float>>(activation, src, dst, input.Length); break;
                case SimdPath.Vector128: Map<V128, Vector128<float>>(activation, src, dst, input.Length); break;
                default: Map<Scalar, float>(activation, src, dst, input.Length); break;
            }
        }
    }

    internal static unsafe void Backward(Activation activation, ReadOnlySpan<float> preActivation, ReadOnlySpan<float> dOutput, Span<float> dInput, SimdPath path)
    {
        if (dOutput.Length != preActivation.Length)
            throw new ArgumentException($"dOutput has {dOutput.Length} floats, expected {preActivation.Length} (the length of preActivation).", nameof(dOutput));
        if (dInput.Length != preActivation.Length)
            throw new ArgumentException($"dInput has {dInput.Length} floats, expected {preActivation.Length} (the length of preActivation).", nameof(dInput));
        CheckAlias(preActivation, dInput, nameof(dInput));
        CheckAlias(dOutput, dInput, nameof(dInput));
        CheckActivation(activation);
        fixed (float* x = preActivation)
        fixed (float* dy = dOutput)
        fixed (float* dx = dInput)
        {
            switch (Simd.Resolve(path))
            {
                case SimdPath.Vector512: Backward<V512, Vector512<float>>(activation, x, dy, dx, preActivation.Length); break;
                case SimdPath.Vector256: Backward<V256, Vector256<float>>(activation, x, dy, dx, preActivation.Length); break;
                case SimdPath.Vector128: Backward<V128, Vector128<float>>(activation, x, dy, dx, preActivation.Length); break;
                default: Backward<Scalar, float>(activation, x, dy, dx, preActivation.Length); break;
            }
        }
    }

    private static void CheckAlias(ReadOnlySpan<float> a, ReadOnlySpan<float> b, string name)
    {
        if (a.Overlaps(b, out int offset) && offset != 0)
            throw new ArgumentException("The spans partly overlap; use exactly the same memory (in place) or disjoint memory.", name);
    }

    private static void CheckActivation(Activation activation)
    {
        if ((uint)activation > (uint)Activation.Silu)
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
    }

    private static unsafe void Map<TOps, TV>(Activation activation, float* src, float* dst, int n) where TOps : ISimdOps<TV> where TV : struct
    {
        switch (activation)
        {
            case Activation.None: Map<TOps, TV, IdentityOp>(src, dst, n); break;
            case Activation.GeluErf: Map<TOps, TV, GeluErfOp>(src, dst, n); break;
            case Activation.GeluTanh: Map<TOps, TV, GeluTanhOp>(src, dst, n); break;
            case Activation.Relu: Map<TOps, TV, ReluOp>(src, dst, n); break;
            case Activation.Selu: Map<TOps, TV, SeluOp>(src, dst, n); break;
            case Activation.GeluFast: Map<TOps, TV, GeluFastOp>(src, dst, n); break;
            case Activation.QuickGelu: Map<TOps, TV, QuickGeluOp>(src, dst, n); break;
            default: Map<TOps, TV, SiluOp>(src, dst, n); break;
        }
    }

    private static unsafe void Map<TOps, TV, TOp>(float* src, float* dst, int n) where TOps : ISimdOps<TV> where TV : struct where TOp : IUnaryOp
    {
        int w = TOps.Count, i = 0;
        for (; i <= n - w; i += w) TOps.Store(dst + i, TOp.Invoke<TOps, TV>(TOps.Load(src + i)));
        for (; i < n; i++) dst[i] = TOp.Invoke<Scalar, float>(src[i]);
    }

    private static unsafe void Backward<TOps, TV>(Activation activation, float* x, float* dy, float* dx, int n) where TOps : ISimdOps<TV> where TV : struct
    {
        switch (activation)
        {
            case Activation.None: Backward<TOps, TV, IdentityOp>(x, dy, dx, n); break;
            case Activation.GeluErf: Backward<TOps, TV, GeluErfOp>(x, dy, dx, n); break;
            case Activation.GeluTanh: Backward<TOps, TV, GeluTanhOp>(x, dy, dx, n); break;
            case Activation.Relu: Backward<TOps, TV, ReluOp>(x, dy, dx, n); break;
            case Activation.Selu: Backward<TOps, TV, SeluOp>(x, dy, dx, n); break;
            case Activation.GeluFast: Backward<TOps, TV, GeluFastOp>(x, dy, dx, n); break;
            case Activation.QuickGelu: Backward<TOps, TV, QuickGeluOp>(x, dy, dx, n); break;
            default: Backward<TOps, TV, SiluOp>(x, dy, dx, n); break;
        }
    }

    private static unsafe void Backward<TOps, TV, TOp>(float* x, float* dy, float* dx, int n) where TOps : ISimdOps<TV> where TV : struct where TOp : IUnaryOp
    {
        int w = TOps.Count, i = 0;
        for (; i <= n - w; i += w) TOps.Store(dx + i, TOp.Backward<TOps, TV>(TOps.Load(x + i), TOps.Load(dy + i)));
        for (; i < n; i++) dx[i] = TOp.Backward<Scalar, float>(x[i], dy[i]);
    }

    /// <summary>x ← erf(x), max abs error ≤ 2e-7 (the building block of <see cref="GeluErf"/>).</summary>
    public static void Erf(Span<float> x) => Erf(x, SimdPath.Auto);

    /// <summary>Same as the public overloads, with an explicit SIMD path (tests exercise every path on one machine).</summary>
    internal static unsafe void Apply(Activation activation, Span<float> x, SimdPath path)
    {
        fixed (float* p = x)
        {
            switch (Simd.Resolve(path))
            {
                case SimdPath.Vector512: Apply<V512, Vector512<float>>(activation, p, x.Length); break;
                case SimdPath.Vector256: Apply<V256, Vector256<float>>(activation, p, x.Length); break;
                case SimdPath.Vector128: Apply<V128, Vector128<float>>(activation, p, x.Length); break;
                default: Apply<Scalar, float>(activation, p, x.Length); break;
            }
        }
    }

    /// <summary>Erf with an explicit SIMD path.</summary>
    internal static unsafe void Erf(Span<float> x, SimdPath path)
    {
        fixed (float* p = x)
        {
            switch (Simd.Resolve(path))
            {
                case SimdPath.Vector512: Rows<V512, Vector512<float>, ErfOp>(p, x.Length, 1, x.Length); break;
                case SimdPath.Vector256: Rows<V256, Vector256<float>, ErfOp>(p, x.Length, 1, x.Length); break;
                case SimdPath.Vector128: Rows<V128, Vector128<float>, ErfOp>(p, x.Length, 1, x.Length); break;
                default: Rows<Scalar, float, ErfOp>(p, x.Length, 1, x.Length); break;
            }
        }
    }

    /// <summary>x[0..n) ← act(x) with one vector width.</summary>
    internal static unsafe void Apply<TOps, TV>(Activation activation, float* x, int n)
        where TOps : ISimdOps<TV> where TV : struct => ApplyRows<TOps, TV>(activation, x, n, 1, n);

    /// <summary>
    /// x[r·ld + j] ← act(x[r·ld + j]) for r &lt; rows, j &lt; n. The GEMM epilogue calls it on a whole register tile after
    /// its store: one loop, so that the constants are loaded once and successive rows overlap.
    /// </summary>
    internal static unsafe void ApplyRows<TOps, TV>(Activation activation, float* x, int ld, int rows, int n)
        where TOps : ISimdOps<TV> where TV : struct
    {
        switch (activation)
        {
            case Activation.None: break;
            case Activation.GeluErf: Rows<TOps, TV, GeluErfOp>(x, ld, rows, n); break;
            case Activation.GeluTanh: Rows<TOps, TV, GeluTanhOp>(x, ld, rows, n); break;
            case Activation.Relu: Rows<TOps, TV, ReluOp>(x, ld, rows, n); break;
            case Activation.Selu: Rows<TOps, TV, SeluOp>(x, ld, rows, n); break;
            case Activation.GeluFast: Rows<TOps, TV, GeluFastOp>(x, ld, rows, n); break;
            case Activation.QuickGelu: Rows<TOps, TV, QuickGeluOp>(x, ld, rows, n); break;
            case Activation.Silu: Rows<TOps, TV, SiluOp>(x, ld, rows, n); break;
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }
    }

    private static unsafe void Rows<TOps, TV, TOp>(float* x, int ld, int rows, int n)
        where TOps : ISimdOps<TV> where TV : struct where TOp : IUnaryOp
    {
        int w = TOps.Count;
        for (int r = 0; r < rows; r++)
        {
            float* row = x + (nint)r * ld;
            int i = 0;
            for (; i <= n - w; i += w)
                TOps.Store(row + i, TOp.Invoke<TOps, TV>(TOps.Load(row + i)));
            for (; i < n; i++)
                row[i] = TOp.Invoke<Scalar, float>(row[i]);
        }
    }

    /// <summary>An activation: its value, and its backward dx = dy·act′(x) (an op, not a derivative times dy, where
    /// PyTorch selects instead of multiplying).</summary>
    internal interface IUnaryOp
    {
        static abstract TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct;

        static abstract TV Backward<TOps, TV>(TV x, TV dy) where TOps : ISimdOps<TV> where TV : struct;
    }

    internal readonly struct IdentityOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => x;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Backward<TOps, TV>(TV x, TV dy) where TOps : ISimdOps<TV> where TV : struct => dy;
    }

    internal readonly struct ErfOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => VectorMath.Erf<TOps, TV>(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Backward<TOps, TV>(TV x, TV dy) where TOps : ISimdOps<TV> where TV : struct => throw new NotSupportedException();
    }

    internal readonly struct GeluErfOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => VectorMath.GeluErf<TOps, TV>(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Backward<TOps, TV>(TV x, TV dy) where TOps : ISimdOps<TV> where TV : struct => TOps.Multiply(dy, VectorMath.GeluErfDerivative<TOps, TV>(x));
    }

    internal readonly struct GeluTanhOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => VectorMath.GeluTanh<TOps, TV>(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Backward<TOps, TV>(TV x, TV dy) where TOps : ISimdOps<TV> where TV : struct => TOps.Multiply(dy, VectorMath.GeluTanhDerivative<TOps, TV>(x));
    }

    internal readonly struct GeluFastOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => VectorMath.GeluFast<TOps, TV>(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Backward<TOps, TV>(TV x, TV dy) where TOps : ISimdOps<TV> where TV : struct => TOps.Multiply(dy, VectorMath.GeluFastDerivative<TOps, TV>(x));
    }

    internal readonly struct QuickGeluOp : IUnaryOp
    {
        private const float K = 1.702f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => VectorMath.SigmoidGate<TOps, TV>(x, K);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Backward<TOps, TV>(TV x, TV dy) where TOps : ISimdOps<TV> where TV : struct => TOps.Multiply(dy, VectorMath.SigmoidGateDerivative<TOps, TV>(x, K));
    }

    internal readonly struct SiluOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => VectorMath.SigmoidGate<TOps, TV>(x, 1f);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Backward<TOps, TV>(TV x, TV dy) where TOps : ISimdOps<TV> where TV : struct => TOps.Multiply(dy, VectorMath.SigmoidGateDerivative<TOps, TV>(x, 1f));
    }

    internal readonly struct ReluOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => VectorMath.Relu<TOps, TV>(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Backward<TOps, TV>(TV x, TV dy) where TOps : ISimdOps<TV> where TV : struct => VectorMath.ReluBackward<TOps, TV>(x, dy);
    }

    internal readonly struct SeluOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => VectorMath.Selu<TOps, TV>(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Backward<TOps, TV>(TV x, TV dy) where TOps : ISimdOps<TV> where TV : struct => VectorMath.SeluBackward<TOps, TV>(x, dy);
    }
}
