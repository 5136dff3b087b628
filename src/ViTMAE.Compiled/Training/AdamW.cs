using System;
using System.Numerics;

namespace ViTMAE.Compiled.Training;

/// <summary>
/// AdamW as PyTorch's <c>torch.optim.AdamW</c> computes it (single-tensor path), over a flat parameter buffer laid out by a
/// <see cref="WeightCatalog"/>, with the MAE recipe's parameter groups: weight decay on Linear and patch-projection weights
/// (<see cref="WeightSpec.HasWeightDecay"/>), none on biases, LayerNorm parameters and the tokens, and the sin-cos position
/// tables frozen (<see cref="WeightSpec.IsTrainable"/>: never updated, their moments stay zero). Per element and step t:
/// <code>
/// p ← p·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
/// p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
/// </code>
/// The scalars are computed in double as PyTorch does in Python, the element updates in float in PyTorch's order (its
/// vectorised CPU kernels may fuse a multiply-add where this does not: results agree to rounding, ~1e-7 relative).
/// </summary>
public sealed class AdamW
{
    private readonly WeightCatalog _catalog;

    /// <summary>Creates the optimizer state (moments all zero, no step taken) for <paramref name="catalog"/>'s tensors.</summary>
    public AdamW(WeightCatalog catalog)
    {
        _catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        ExpAvg = ModelParameters.ZerosLike(catalog);
        ExpAvgSq = ModelParameters.ZerosLike(catalog);
    }

    /// <summary>First moments (PyTorch's <c>exp_avg</c>), in catalog layout.</summary>
    public float[] ExpAvg { get; }

    /// <summary>Second moments (<c>exp_avg_sq</c>), in catalog layout.</summary>
    public float[] ExpAvgSq { get; }

    /// <summary>Optimizer steps taken (PyTorch's <c>step</c>; the next step is t = Steps + 1).</summary>
    public long Steps { get; set; }

    /// <summary>
    /// One AdamW step: updates <paramref name="parameters"/> from <paramref name="gradients"/> (same layout) with learning rate
    /// <paramref name="learningRate"/>; frozen tensors are skipped.
    /// </summary>
    public void Step(ModelParameters parameters, ReadOnlySpan<float> gradients, double learningRate, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(options);
        if (parameters.Catalog != _catalog && parameters.Values.Length != ExpAvg.Length)
        {
            throw new ArgumentException("the parameters are laid out for another model", nameof(parameters));
        }

        if (gradients.Length != ExpAvg.Length)
        {
            throw new ArgumentException($"gradients hold {gradients.Length} values, expected {ExpAvg.Length}", nameof(gradients));
        }

        long t = ++Steps;
        double b1 = options.Beta1, b2 = options.Beta2;
        double biasCorrection1 = 1 - Math.Pow(b1, t);
        double biasCorrection2 = 1 - Math.Pow(b2, t);
        float stepSize = (float)(learningRate / biasCorrection1);
        float correction2Sqrt = (float)Math.Sqrt(biasCorrection2);
        float eps = (float)options.Epsilon;
        for (int i = 0; i < _catalog.Count; i++)
        {
            WeightSpec spec = _catalog[i];
            if (!spec.IsTrainable)
            {
                continue;
            }

            int offset = (int)_catalog.Offset(i), length = (int)spec.ElementCount;
            float decay = spec.HasWeightDecay ? (float)(1 - (learningRate * options.WeightDecay)) : 1f;
            Update(
                parameters.Values.AsSpan(offset, length), gradients.Slice(offset, length), ExpAvg.AsSpan(offset, length), ExpAvgSq.AsSpan(offset, length),
                decay, (float)b1, (float)(1 - b1), (float)b2, (float)(1 - b2), stepSize, correction2Sqrt, eps);
        }
    }

    /// <summary>The element loop, vectorised with <see cref="Vector{T}"/> (every width the machine has), scalar tail.</summary>
    private static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float decay, float b1, float oneMinusB1, float b2, float oneMinusB2, float stepSize, float correction2Sqrt, float eps)
    {
        int i = 0;
        int w = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            var vDecay = new Vector<float>(decay);
            var vB1 = new Vector<float>(b1);
            var vOneMinusB1 = new Vector<float>(oneMinusB1);
            var vB2 = new Vector<float>(b2);
            var vOneMinusB2 = new Vector<float>(oneMinusB2);
            var vStep = new Vector<float>(stepSize);
            var vCorr = new Vector<float>(correction2Sqrt);
            var vEps = new Vector<float>(eps);
            for (; i <= p.Length - w; i += w)
            {
                var gi = new Vector<float>(g[i..]);
                Vector<float> pi = new Vector<float>(p[i..]) * vDecay;
                Vector<float> mi = (new Vector<float>(m[i..]) * vB1) + (gi * vOneMinusB1);
                Vector<float> vi = (new Vector<float>(v[i..]) * vB2) + (gi * gi * vOneMinusB2);
                Vector<float> denom = (Vector.SquareRoot(vi) / vCorr) + vEps;
                pi -= vStep * (mi / denom);
                pi.CopyTo(p[i..]);
                mi.CopyTo(m[i..]);
                vi.CopyTo(v[i..]);
            }
        }

        for (; i < p.Length; i++)
        {
            float gi = g[i];
            float pi = p[i] * decay;
            float mi = (m[i] * b1) + (gi * oneMinusB1);
            float vi = (v[i] * b2) + (gi * gi * oneMinusB2);
            float denom = (MathF.Sqrt(vi) / correction2Sqrt) + eps;
            p[i] = pi - (stepSize * (mi / denom));
            m[i] = mi;
            v[i] = vi;
        }
    }
}
