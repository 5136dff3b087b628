using System;

namespace ViTMAE.Compiled.Kernels;

/// <summary>
/// Scalar reference kernels: plain loops in the style of llm.c, written to be obviously correct rather than fast.
/// They are the oracle every optimised kernel is tested against and are kept forever. Sums and transcendental
/// functions are evaluated in double and rounded once, so the references are more accurate than any fp32 kernel.
/// Layout: row-major, activations [tokens, features]; Linear weights are Hugging Face's [out_features, in_features].
/// </summary>
internal static class ReferenceKernels
{
    /// <summary>PyTorch's SELU alpha.</summary>
    public const double SeluAlpha = 1.6732632423543772848170429916717;

    /// <summary>PyTorch's SELU scale.</summary>
    public const double SeluScale = 1.0507009873554804934193349852946;

    /// <summary>output[m,n] = input[m,k]·weight[n,k]ᵀ + bias[n]. <paramref name="bias"/> may be empty (no bias).</summary>
    /// <param name="input">[m, k] row-major.</param>
    /// <param name="weight">[n, k] row-major (PyTorch Linear layout).</param>
    /// <param name="bias">[n], or empty.</param>
    /// <param name="output">[m, n] row-major, overwritten.</param>
    /// <param name="m">Rows of input and output.</param>
    /// <param name="n">Output features.</param>
    /// <param name="k">Input features.</param>
    public static void Linear(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output, int m, int n, int k)
    {
        Check(input.Length >= m * k, nameof(input));
        Check(weight.Length >= n * k, nameof(weight));
        Check(bias.IsEmpty || bias.Length >= n, nameof(bias));
        Check(output.Length >= m * n, nameof(output));
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = bias.IsEmpty ? 0.0 : bias[j];
                for (int p = 0; p < k; p++)
                    sum += (double)input[i * k + p] * weight[j * k + p];
                output[i * n + j] = (float)sum;
            }
        }
    }

    /// <summary>y[r,:] = (x[r,:] − mean)/sqrt(var + eps)·gamma + beta, biased variance (divide by dim), like PyTorch.</summary>
    /// <param name="x">[rows, dim].</param>
    /// <param name="gamma">[dim].</param>
    /// <param name="beta">[dim].</param>
    /// <param name="y">[rows, dim]; may be the same memory as <paramref name="x"/>.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="dim">Features per row.</param>
    /// <param name="eps">layer_norm_eps.</param>
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> y, int rows, int dim, float eps)
    {
        Check(x.Length >= rows * dim, nameof(x));
        Check(gamma.Length >= dim, nameof(gamma));
        Check(beta.Length >= dim, nameof(beta));
        Check(y.Length >= rows * dim, nameof(y));
        for (int r = 0; r < rows; r++)
        {
            int o = r * dim;
            double mean = 0;
            for (int i = 0; i < dim; i++) mean += x[o + i];
            mean /= dim;
            double variance = 0;
            for (int i = 0; i < dim; i++)
            {
                double d = x[o + i] - mean;
                variance += d * d;
            }
            variance /= dim;
            double rstd = 1.0 / Math.Sqrt(variance + eps);
            for (int i = 0; i < dim; i++)
                y[o + i] = (float)((x[o + i] - mean) * rstd * gamma[i] + beta[i]);
        }
    }

    /// <summary>x ← 0.5·x·(1 + erf(x/√2)), evaluated in double as 0.5·x·erfc(−x/√2).</summary>
    public static void GeluErf(Span<float> x)
    {
        for (int i = 0; i < x.Length; i++) x[i] = (float)GeluErf((double)x[i]);
    }

    /// <summary>Exact GELU in double: 0.5·x·erfc(−x/√2) (same as 0.5·x·(1 + erf(x/√2)), accurate in both tails).</summary>
    public static double GeluErf(double x) => 0.5 * x * Erfc(-x * 0.70710678118654752440);

    /// <summary>x ← 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) in double (Hugging Face <c>gelu_new</c>).</summary>
    public static void GeluTanh(Span<float> x)
    {
        for (int i = 0; i < x.Length; i++) x[i] = (float)GeluTanh((double)x[i]);
    }

    /// <summary>gelu_new in double.</summary>
    public static double GeluTanh(double x) => 0.5 * x * (1.0 + Math.Tanh(Math.Sqrt(2.0 / Math.PI) * (x + 0.044715 * x * x * x)));

    /// <summary>x ← max(x, 0); NaN stays NaN.</summary>
    public static void Relu(Span<float> x)
    {
        for (int i = 0; i < x.Length; i++)
        {
            if (x[i] < 0f) x[i] = 0f;
        }
    }

    /// <summary>x ← scale·x for x &gt; 0, scale·alpha·(e^x − 1) otherwise (PyTorch constants), in double.</summary>
    public static void Selu(Span<float> x)
    {
        for (int i = 0; i < x.Length; i++) x[i] = (float)Selu((double)x[i]);
    }

    /// <summary>SELU in double.</summary>
    public static double Selu(double x) => x > 0 ? SeluScale * x : SeluScale * SeluAlpha * ExpM1(x);

    // e^x − 1 in double without cancellation for small |x| (series below 1e-3).
    private static double ExpM1(double x) => Math.Abs(x) < 1e-3 ? x * (1 + x * (0.5 + x * (1.0 / 6 + x / 24))) : Math.Exp(x) - 1.0;

    /// <summary>x ← act(x) (dispatch helper for tests and generated code's reference mode).</summary>
    public static void Apply(Activation activation, Span<float> x)
    {
        switch (activation)
        {
            case Activation.None: break;
            case Activation.GeluErf: GeluErf(x); break;
            case Activation.GeluTanh: GeluTanh(x); break;
            case Activation.Relu: Relu(x); break;
            case Activation.Selu: Selu(x); break;
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }
    }

    /// <summary>row ← softmax(row), max-subtracted, in double.</summary>
    public static void Softmax(Span<float> row)
    {
        if (row.IsEmpty) return;
        double max = double.NegativeInfinity;
        for (int i = 0; i < row.Length; i++) max = Math.Max(max, row[i]);
        double sum = 0;
        for (int i = 0; i < row.Length; i++) sum += Math.Exp(row[i] - max);
        for (int i = 0; i < row.Length; i++) row[i] = (float)(Math.Exp(row[i] - max) / sum);
    }

    /// <summary>
    /// Multi-head self-attention core (after the fused QKV projection, before the output projection).
    /// For each head h and query i: p = softmax(q_i·K_hᵀ·scale), scale = 1/√headDim; p ← p·headMask[h];
    /// context[i, h·headDim + d] = Σ_j p[j]·V_h[j, d].
    /// </summary>
    /// <param name="qkv">[tokens, 3·D], D = heads·headDim: Q in columns [0, D), K in [D, 2D), V in [2D, 3D); head h owns
    /// columns [h·headDim, (h+1)·headDim) of each.</param>
    /// <param name="context">[tokens, D], overwritten.</param>
    /// <param name="tokens">T.</param>
    /// <param name="heads">Number of heads.</param>
    /// <param name="headDim">Features per head.</param>
    /// <param name="headMask">[heads] multipliers of the probabilities, or empty for none.</param>
    /// <param name="probs">[heads, T, T] receives the probabilities after softmax and head mask (Hugging Face's
    /// <c>attentions</c>), or empty to skip.</param>
    public static void Attention(ReadOnlySpan<float> qkv, Span<float> context, int tokens, int heads, int headDim, ReadOnlySpan<float> headMask, Span<float> probs)
    {
        int d = heads * headDim, ld = 3 * d;
        Check(qkv.Length >= tokens * ld, nameof(qkv));
        Check(context.Length >= tokens * d, nameof(context));
        Check(headMask.IsEmpty || headMask.Length >= heads, nameof(headMask));
        Check(probs.IsEmpty || probs.Length >= heads * tokens * tokens, nameof(probs));
        double scale = 1.0 / Math.Sqrt(headDim);
        var p = new double[tokens];
        for (int h = 0; h < heads; h++)
        {
            int qo = h * headDim, ko = d + h * headDim, vo = 2 * d + h * headDim;
            double mask = headMask.IsEmpty ? 1.0 : headMask[h];
            for (int i = 0; i < tokens; i++)
            {
                double max = double.NegativeInfinity;
                for (int j = 0; j < tokens; j++)
                {
                    double s = 0;
                    for (int c = 0; c < headDim; c++)
                        s += (double)qkv[i * ld + qo + c] * qkv[j * ld + ko + c];
                    p[j] = s * scale;
                    max = Math.Max(max, p[j]);
                }
                double sum = 0;
                for (int j = 0; j < tokens; j++)
                {
                    p[j] = Math.Exp(p[j] - max);
                    sum += p[j];
                }
                for (int j = 0; j < tokens; j++)
                {
                    p[j] = p[j] / sum * mask;
                    if (!probs.IsEmpty) probs[(h * tokens + i) * tokens + j] = (float)p[j];
                }
                for (int c = 0; c < headDim; c++)
                {
                    double acc = 0;
                    for (int j = 0; j < tokens; j++)
                        acc += p[j] * qkv[j * ld + vo + c];
                    context[i * d + qo + c] = (float)acc;
                }
            }
        }
    }

    /// <summary>erf(x) in double, accurate to a few ulp: the all-positive series
    /// erf(x) = 2/√π·e^(−x²)·Σ 2ⁿx^(2n+1)/(1·3·…·(2n+1)) below 2.5, 1 − erfc(x) above.</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        if (x < 0) return -Erf(-x);
        return x < 2.5 ? ErfSeries(x) : 1.0 - ErfcContinuedFraction(x);
    }

    /// <summary>erfc(x) = 1 − erf(x) in double with relative accuracy in the right tail (continued fraction for x ≥ 2.5).</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return x;
        if (x < 0) return 2.0 - Erfc(-x);
        return x < 2.5 ? 1.0 - ErfSeries(x) : ErfcContinuedFraction(x);
    }

    private static double ErfSeries(double x)
    {
        double x2 = x * x, term = x, sum = x;
        for (int n = 1; n < 1000; n++)
        {
            term *= 2.0 * x2 / (2 * n + 1);
            sum += term;
            if (term < 1e-17 * sum) break;
        }
        return 2.0 / Math.Sqrt(Math.PI) * Math.Exp(-x2) * sum;
    }

    // erfc(z) = e^(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + 2/(z + …))))) (A&S 7.1.14), evaluated backwards.
    private static double ErfcContinuedFraction(double z)
    {
        if (double.IsPositiveInfinity(z)) return 0.0;
        double f = z;
        for (int n = 400; n >= 1; n--) f = z + n * 0.5 / f;
        return Math.Exp(-z * z) / Math.Sqrt(Math.PI) / f;
    }

    private static void Check(bool ok, string name)
    {
        if (!ok) throw new ArgumentException("Span is shorter than the shape requires.", name);
    }
}
