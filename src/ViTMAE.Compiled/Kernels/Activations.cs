using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ViTMAE.Compiled.Kernels;

/// <summary>
/// Vectorised in-place activations (Vector512 / Vector256 / Vector128 / scalar, chosen at run time). Accuracy against
/// <see cref="ReferenceKernels"/>: erf ≤ 2e-7 absolute over [−10, 10] (≈ 7e-8 measured); the GELUs and SELU are within a
/// few float ulps of their double-precision references. No allocation.
/// </summary>
public static class Activations
{
    /// <summary>output ← act(input) (out of place; the spans may be the same memory).</summary>
    public static void Apply(Activation activation, ReadOnlySpan<float> input, Span<float> output)
    {
        if (output.Length < input.Length)
        {
            throw new ArgumentException("output is shorter than input.", nameof(output));
        }

        input.CopyTo(output);
        Apply(activation, output[..input.Length], SimdPath.Auto);
    }

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

    internal interface IUnaryOp
    {
        static abstract TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct;
    }

    internal readonly struct ErfOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => VectorMath.Erf<TOps, TV>(x);
    }

    internal readonly struct GeluErfOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => VectorMath.GeluErf<TOps, TV>(x);
    }

    internal readonly struct GeluTanhOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => VectorMath.GeluTanh<TOps, TV>(x);
    }

    internal readonly struct ReluOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => VectorMath.Relu<TOps, TV>(x);
    }

    internal readonly struct SeluOp : IUnaryOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<TOps, TV>(TV x) where TOps : ISimdOps<TV> where TV : struct => VectorMath.Selu<TOps, TV>(x);
    }
}
