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

    /// <summary>Hugging Face gelu_fast in double: 0.5·x·(1 + tanh(u)), u = 0.7978845608·x·(1 + 0.044715·x²), evaluated as
    /// x·σ(2u) (the same function; 1 + tanh u would cancel to 0 in double below x ≈ −9).</summary>
    public static double GeluFast(double x) => x * Sigmoid(2 * 0.7978845608 * x * (1.0 + 0.044715 * x * x));

    /// <summary>Hugging Face quick_gelu in double: x·σ(1.702·x).</summary>
    public static double QuickGelu(double x) => x * Sigmoid(1.702 * x);

    /// <summary>SiLU (swish) in double: x·σ(x).</summary>
    public static double Silu(double x) => x * Sigmoid(x);

    /// <summary>σ(z) = 1/(1 + e^(−z)) in double, without overflow (e^(−|z|) only).</summary>
    public static double Sigmoid(double z)
    {
        double e = Math.Exp(-Math.Abs(z));
        return z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    }

    /// <summary>act(x) in double for any activation (None is the identity).</summary>
    public static double Activate(Activation activation, double x) => activation switch
    {
        Activation.None => x,
        Activation.GeluErf => GeluErf(x),
        Activation.GeluTanh => GeluTanh(x),
        Activation.Relu => double.IsNaN(x) ? x : Math.Max(x, 0.0),
        Activation.Selu => Selu(x),
        Activation.GeluFast => GeluFast(x),
        Activation.QuickGelu => QuickGelu(x),
        Activation.Silu => Silu(x),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    /// <summary>
    /// act′(x) in double, the exact derivatives (Relu and Selu with PyTorch's choice at x = 0: the x ≤ 0 branch):
    /// gelu Φ(x) + x·φ(x); gelu_new / gelu_fast 0.5(1 + t) + 0.5x(1 − t²)·u′ with t = tanh(u); x·σ(kx) σ(kx)(1 + kx(1 − σ(kx)));
    /// relu x &gt; 0 ? 1 : 0; selu x &gt; 0 ? scale : scale·alpha·e^x.
    /// </summary>
    public static double Derivative(Activation activation, double x)
    {
        switch (activation)
        {
            case Activation.None: return 1.0;
            case Activation.GeluErf:
                return 0.5 * Erfc(-x * 0.70710678118654752440) + x * Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);
            case Activation.GeluTanh:
            {
                double c = Math.Sqrt(2.0 / Math.PI);
                return TanhGeluDerivative(x, c * (x + 0.044715 * x * x * x), c * (1 + 3 * 0.044715 * x * x));
            }
            case Activation.GeluFast:
                return TanhGeluDerivative(x, 0.7978845608 * x * (1.0 + 0.044715 * x * x), 0.7978845608 * (1 + 3 * 0.044715 * x * x));
            case Activation.QuickGelu: return SigmoidGateDerivative(x, 1.702);
            case Activation.Silu: return SigmoidGateDerivative(x, 1.0);
            case Activation.Relu: return x > 0 ? 1.0 : 0.0;
            case Activation.Selu: return x > 0 ? SeluScale : SeluScale * SeluAlpha * Math.Exp(x);
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }
    }

    // 0.5(1 + tanh u) + 0.5x(1 − tanh² u)·u′, with 1 + tanh u = 2σ(2u) and 1 − tanh² u = 4σ(2u)σ(−2u) (no cancellation).
    private static double TanhGeluDerivative(double x, double u, double du) => Sigmoid(2 * u) + 2 * x * Sigmoid(2 * u) * Sigmoid(-2 * u) * du;

    private static double SigmoidGateDerivative(double x, double k)
    {
        double z = k * x;
        return Sigmoid(z) * (1 + z * Sigmoid(-z));
    }

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
            case Activation.GeluFast:
            case Activation.QuickGelu:
            case Activation.Silu:
                for (int i = 0; i < x.Length; i++) x[i] = (float)Activate(activation, x[i]);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        }
    }

    /// <summary>dInput = dOutput·act′(preActivation) in double, rounded once (ReLU/SELU as PyTorch: x ≤ 0 takes the
    /// non-positive branch, and ReLU gives exactly 0 there whatever dOutput).</summary>
    public static void ActivationBackward(Activation activation, ReadOnlySpan<float> preActivation, ReadOnlySpan<float> dOutput, Span<float> dInput)
    {
        Check(dOutput.Length >= preActivation.Length, nameof(dOutput));
        Check(dInput.Length >= preActivation.Length, nameof(dInput));
        for (int i = 0; i < preActivation.Length; i++)
            dInput[i] = activation == Activation.Relu && !(preActivation[i] > 0) ? 0f : (float)(dOutput[i] * Derivative(activation, preActivation[i]));
    }

    /// <summary>dInput[m, k] = dOutput[m, n]·weight[n, k] in double (the input gradient of <see cref="Linear"/>).</summary>
    public static void LinearBackwardInput(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> weight, Span<float> dInput, int m, int n, int k)
    {
        Check(dOutput.Length >= m * n, nameof(dOutput));
        Check(weight.Length >= n * k, nameof(weight));
        Check(dInput.Length >= m * k, nameof(dInput));
        for (int i = 0; i < m; i++)
        {
            for (int c = 0; c < k; c++)
            {
                double sum = 0;
                for (int j = 0; j < n; j++) sum += (double)dOutput[i * n + j] * weight[j * k + c];
                dInput[i * k + c] = (float)sum;
            }
        }
    }

    /// <summary>
    /// dWeight[j, c] += Σ_r dOutput[r·stride + j]·input[r·k + c] and dBias[j] += Σ_r dOutput[r·stride + j] (skipped when
    /// empty), each sum in double, added in double and rounded once.
    /// </summary>
    public static void LinearWeightGradient(ReadOnlySpan<float> dOutput, int stride, ReadOnlySpan<float> input, Span<float> dWeight, Span<float> dBias, int m, int n, int k)
    {
        Check(m == 0 || dOutput.Length >= (m - 1) * stride + n, nameof(dOutput));
        Check(input.Length >= m * k, nameof(input));
        Check(dWeight.Length >= n * k, nameof(dWeight));
        Check(dBias.IsEmpty || dBias.Length >= n, nameof(dBias));
        for (int j = 0; j < n; j++)
        {
            for (int c = 0; c < k; c++)
            {
                double sum = 0;
                for (int r = 0; r < m; r++) sum += (double)dOutput[r * stride + j] * input[r * k + c];
                dWeight[j * k + c] = (float)(dWeight[j * k + c] + sum);
            }
            if (!dBias.IsEmpty)
            {
                double sum = 0;
                for (int r = 0; r < m; r++) sum += dOutput[r * stride + j];
                dBias[j] = (float)(dBias[j] + sum);
            }
        }
    }

    /// <summary>
    /// LayerNorm backward in double, statistics recomputed from x: x̂ = (x − mean)/sqrt(var + eps);
    /// dGamma += Σ dY⊙x̂; dBeta += Σ dY; dX = rstd·(g − mean(g) − x̂·mean(g⊙x̂)), g = dY⊙gamma (overwritten).
    /// </summary>
    public static void LayerNormBackward(ReadOnlySpan<float> dY, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, float eps,
        Span<float> dX, Span<float> dGamma, Span<float> dBeta, int rows, int dim)
    {
        Check(dY.Length >= rows * dim, nameof(dY));
        Check(x.Length >= rows * dim, nameof(x));
        Check(gamma.Length >= dim, nameof(gamma));
        Check(dX.Length >= rows * dim, nameof(dX));
        Check(dGamma.Length >= dim && dBeta.Length >= dim, nameof(dGamma));
        var sg = new double[dim];
        var sb = new double[dim];
        var xhat = new double[dim];
        for (int r = 0; r < rows; r++)
        {
            int o = r * dim;
            double mean = 0;
            for (int i = 0; i < dim; i++) mean += x[o + i];
            mean /= dim;
            double variance = 0;
            for (int i = 0; i < dim; i++) variance += (x[o + i] - mean) * (x[o + i] - mean);
            variance /= dim;
            double rstd = 1.0 / Math.Sqrt(variance + eps);
            double meanG = 0, meanGx = 0;
            for (int i = 0; i < dim; i++)
            {
                xhat[i] = (x[o + i] - mean) * rstd;
                double g = (double)dY[o + i] * gamma[i];
                meanG += g;
                meanGx += g * xhat[i];
                sg[i] += dY[o + i] * xhat[i];
                sb[i] += dY[o + i];
            }
            meanG /= dim;
            meanGx /= dim;
            for (int i = 0; i < dim; i++)
                dX[o + i] = (float)(rstd * ((double)dY[o + i] * gamma[i] - meanG - xhat[i] * meanGx));
        }
        for (int i = 0; i < dim; i++)
        {
            dGamma[i] = (float)(dGamma[i] + sg[i]);
            dBeta[i] = (float)(dBeta[i] + sb[i]);
        }
    }

    /// <summary>
    /// Attention backward in double for one image, the probabilities recomputed from qkv: per head, P = softmax(Q·Kᵀ·s),
    /// P_masked = P·m; dV = P_maskedᵀ·dC; dP = m·dC·Vᵀ; dS = P ⊙ (dP − rowsum(dP ⊙ P)); dQ = s·dS·K; dK = s·dSᵀ·Q.
    /// </summary>
    /// <param name="qkv">[tokens, 3·D].</param>
    /// <param name="headMask">[heads] or empty.</param>
    /// <param name="dContext">[tokens, D].</param>
    /// <param name="dQkv">[tokens, 3·D], overwritten.</param>
    /// <param name="tokens">T.</param>
    /// <param name="heads">Number of heads.</param>
    /// <param name="headDim">Features per head.</param>
    public static void AttentionBackward(ReadOnlySpan<float> qkv, ReadOnlySpan<float> headMask, ReadOnlySpan<float> dContext, Span<float> dQkv, int tokens, int heads, int headDim)
    {
        int d = heads * headDim, ld = 3 * d, t = tokens;
        Check(qkv.Length >= t * ld, nameof(qkv));
        Check(dContext.Length >= t * d, nameof(dContext));
        Check(dQkv.Length >= t * ld, nameof(dQkv));
        Check(headMask.IsEmpty || headMask.Length >= heads, nameof(headMask));
        double scale = 1.0 / Math.Sqrt(headDim);
        var p = new double[t * t];
        var ds = new double[t * t];
        for (int h = 0; h < heads; h++)
        {
            int qo = h * headDim, ko = d + qo, vo = 2 * d + qo;
            double mask = headMask.IsEmpty ? 1.0 : headMask[h];
            for (int i = 0; i < t; i++)
            {
                double max = double.NegativeInfinity;
                for (int j = 0; j < t; j++)
                {
                    double s = 0;
                    for (int c = 0; c < headDim; c++) s += (double)qkv[i * ld + qo + c] * qkv[j * ld + ko + c];
                    p[i * t + j] = s * scale;
                    max = Math.Max(max, p[i * t + j]);
                }
                double sum = 0;
                for (int j = 0; j < t; j++) sum += p[i * t + j] = Math.Exp(p[i * t + j] - max);
                for (int j = 0; j < t; j++) p[i * t + j] /= sum;
                double rho = 0;
                for (int j = 0; j < t; j++)
                {
                    double dp = 0;
                    for (int c = 0; c < headDim; c++) dp += (double)dContext[i * d + qo + c] * qkv[j * ld + vo + c];
                    ds[i * t + j] = mask * dp;
                    rho += ds[i * t + j] * p[i * t + j];
                }
                for (int j = 0; j < t; j++) ds[i * t + j] = p[i * t + j] * (ds[i * t + j] - rho);
            }
            for (int i = 0; i < t; i++)
            {
                for (int c = 0; c < headDim; c++)
                {
                    double dq = 0, dk = 0, dv = 0;
                    for (int j = 0; j < t; j++)
                    {
                        dq += ds[i * t + j] * qkv[j * ld + ko + c];
                        dk += ds[j * t + i] * qkv[j * ld + qo + c];
                        dv += mask * p[j * t + i] * dContext[j * d + qo + c];
                    }
                    dQkv[i * ld + qo + c] = (float)(scale * dq);
                    dQkv[i * ld + ko + c] = (float)(scale * dk);
                    dQkv[i * ld + vo + c] = (float)dv;
                }
            }
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
