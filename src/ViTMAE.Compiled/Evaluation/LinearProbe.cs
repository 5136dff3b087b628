using System;
using System.Numerics.Tensors;

namespace ViTMAE.Compiled.Evaluation;

/// <summary>
/// Multinomial logistic regression on frozen features, the linear probe of self-supervised learning: features
/// standardised with the training set's mean and deviation, softmax cross-entropy with an L2 penalty, minimised by
/// mini-batch Adam with a cosine learning-rate decay. Deterministic for a seed.
/// </summary>
/// <remarks>
/// Hand-written (≈ 100 lines): the .NET machine-learning packages served here (ML.NET) are not NativeAOT-clean, and a
/// convex problem of 60,000 × 784 with 10 classes needs no more than this. The settings (30 epochs, batch 256,
/// lr 1e-2 with cosine decay, λ = 1e-4) are fixed in advance, not tuned on the test set.
/// </remarks>
public sealed class LinearProbe
{
    private readonly float[] _weights, _bias;
    private readonly FeatureScaling _scaling;

    private LinearProbe(int dim, int classes, float[] weights, float[] bias, FeatureScaling scaling)
    {
        Dim = dim;
        Classes = classes;
        _weights = weights;
        _bias = bias;
        _scaling = scaling;
    }

    /// <summary>Feature length.</summary>
    public int Dim { get; }

    /// <summary>Number of classes.</summary>
    public int Classes { get; }

    /// <summary>Fits the probe to <paramref name="features"/> [n, dim] with <paramref name="labels"/> in [0, classes).</summary>
    /// <exception cref="ArgumentException">The sizes disagree or a label is out of range.</exception>
    public static LinearProbe Train(ReadOnlySpan<float> features, ReadOnlySpan<byte> labels, int dim, int classes,
        int epochs = 30, int batch = 256, double learningRate = 1e-2, double l2 = 1e-4, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        int n = labels.Length;
        if (features.Length != (long)n * dim) throw new ArgumentException($"features hold {features.Length} floats, expected {n} × {dim}", nameof(features));
        foreach (byte label in labels)
        {
            if (label >= classes) throw new ArgumentException($"label {label} is outside [0, {classes})", nameof(labels));
        }

        FeatureScaling scaling = FeatureScaling.Fit(features, dim);
        var w = new float[classes * dim];
        var b = new float[classes];
        var gw = new float[w.Length];
        var gb = new float[classes];
        var mw = new float[w.Length];
        var vw = new float[w.Length];
        var mb = new float[classes];
        var vb = new float[classes];
        var x0 = new float[dim];
        var p = new float[classes];
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var random = new Random(seed);
        int stepsPerEpoch = (n + batch - 1) / batch, totalSteps = stepsPerEpoch * epochs;
        long t = 0;
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            random.Shuffle(order);
            for (int start = 0; start < n; start += batch)
            {
                int end = Math.Min(n, start + batch);
                Array.Clear(gw);
                Array.Clear(gb);
                for (int k = start; k < end; k++)
                {
                    int i = order[k];
                    scaling.Apply(features.Slice(i * dim, dim), x0);
                    Logits(w, b, x0, dim, p);
                    StableSoftMax(p);
                    p[labels[i]] -= 1;
                    for (int c = 0; c < classes; c++)
                    {
                        TensorPrimitives.MultiplyAdd(x0, p[c], gw.AsSpan(c * dim, dim), gw.AsSpan(c * dim, dim));
                        gb[c] += p[c];
                    }
                }

                float inv = 1f / (end - start);
                TensorPrimitives.Multiply(gw, inv, gw);
                TensorPrimitives.Multiply(gb, inv, gb);
                TensorPrimitives.MultiplyAdd(w, (float)l2, gw, gw);
                t++;
                double lr = learningRate * 0.5 * (1 + Math.Cos(Math.PI * (t - 1) / totalSteps));
                Adam(w, gw, mw, vw, lr, t);
                Adam(b, gb, mb, vb, lr, t);
            }
        }

        return new LinearProbe(dim, classes, w, b, scaling);
    }

    /// <summary>The predicted class of each row of <paramref name="features"/> [n, dim].</summary>
    public int[] Predict(ReadOnlySpan<float> features)
    {
        if (features.Length % Dim != 0) throw new ArgumentException($"features hold {features.Length} floats, not a multiple of {Dim}", nameof(features));
        int n = features.Length / Dim;
        var predictions = new int[n];
        var x = new float[Dim];
        var p = new float[Classes];
        for (int i = 0; i < n; i++)
        {
            _scaling.Apply(features.Slice(i * Dim, Dim), x);
            Logits(_weights, _bias, x, Dim, p);
            predictions[i] = TensorPrimitives.IndexOfMax(p);
        }

        return predictions;
    }

    /// <summary>The share of <paramref name="features"/> whose predicted class is its label.</summary>
    public double Accuracy(ReadOnlySpan<float> features, ReadOnlySpan<byte> labels)
    {
        int[] predictions = Predict(features);
        if (predictions.Length != labels.Length) throw new ArgumentException($"{labels.Length} labels for {predictions.Length} rows", nameof(labels));
        int right = 0;
        for (int i = 0; i < predictions.Length; i++) right += predictions[i] == labels[i] ? 1 : 0;
        return (double)right / Math.Max(1, predictions.Length);
    }

    private static void Logits(float[] w, float[] b, ReadOnlySpan<float> x, int dim, Span<float> logits)
    {
        for (int c = 0; c < logits.Length; c++) logits[c] = TensorPrimitives.Dot(w.AsSpan(c * dim, dim), x) + b[c];
    }

    /// <summary>Softmax in place, shifted by the maximum first so that large logits cannot overflow exp to ∞ (and NaN).</summary>
    private static void StableSoftMax(Span<float> logits)
    {
        TensorPrimitives.Subtract(logits, TensorPrimitives.Max(logits), logits);
        TensorPrimitives.SoftMax(logits, logits);
    }

    private static void Adam(float[] parameter, float[] gradient, float[] m, float[] v, double lr, long t)
    {
        const float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
        float c1 = (float)(1 - Math.Pow(beta1, t)), c2 = (float)Math.Sqrt(1 - Math.Pow(beta2, t)), step = (float)lr;
        for (int i = 0; i < parameter.Length; i++)
        {
            m[i] = (beta1 * m[i]) + ((1 - beta1) * gradient[i]);
            v[i] = (beta2 * v[i]) + ((1 - beta2) * gradient[i] * gradient[i]);
            parameter[i] -= step * (m[i] / c1) / ((MathF.Sqrt(v[i]) / c2) + eps);
        }
    }
}
