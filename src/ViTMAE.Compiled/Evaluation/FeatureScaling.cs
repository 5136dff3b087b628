using System;
using System.Numerics.Tensors;

namespace ViTMAE.Compiled.Evaluation;

/// <summary>
/// Per-feature standardisation fitted on a training set: <c>(x − mean) / sqrt(variance + 1e-6)</c>, a nearly constant
/// feature (variance ≤ 1e-12, e.g. a border pixel that is almost always 0) left at scale 1. The linear probe and the
/// k-NN probe of <c>vitmae probe</c> see the same standardised features.
/// </summary>
public sealed class FeatureScaling
{
    private readonly float[] _mean, _scale;

    private FeatureScaling(float[] mean, float[] scale)
    {
        _mean = mean;
        _scale = scale;
    }

    /// <summary>Number of features.</summary>
    public int Dim => _mean.Length;

    /// <summary>Fits the mean and deviation of each of the <paramref name="dim"/> features of <paramref name="rows"/> [n, dim].</summary>
    /// <exception cref="ArgumentException">The rows are not a whole number of <paramref name="dim"/> features, or there are none.</exception>
    public static FeatureScaling Fit(ReadOnlySpan<float> rows, int dim)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        if (rows.IsEmpty || rows.Length % dim != 0) throw new ArgumentException($"{rows.Length} floats are not a non-empty whole number of rows of {dim}", nameof(rows));
        int n = rows.Length / dim;
        var sum = new double[dim];
        var sq = new double[dim];
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> x = rows.Slice(i * dim, dim);
            for (int j = 0; j < dim; j++) { sum[j] += x[j]; sq[j] += (double)x[j] * x[j]; }
        }

        var mean = new float[dim];
        var scale = new float[dim];
        for (int j = 0; j < dim; j++)
        {
            double m = sum[j] / n, v = Math.Max(0, (sq[j] / n) - (m * m));
            mean[j] = (float)m;
            scale[j] = v > 1e-12 ? (float)(1 / Math.Sqrt(v + 1e-6)) : 1f;
        }

        return new FeatureScaling(mean, scale);
    }

    /// <summary>Standardises one row into <paramref name="destination"/> (both <see cref="Dim"/> long).</summary>
    public void Apply(ReadOnlySpan<float> row, Span<float> destination)
    {
        TensorPrimitives.Subtract(row, _mean, destination);
        TensorPrimitives.Multiply(destination, _scale, destination);
    }

    /// <summary>Standardises every row of <paramref name="rows"/> [n, Dim] into a new array.</summary>
    public float[] Transform(ReadOnlySpan<float> rows)
    {
        if (rows.Length % Dim != 0) throw new ArgumentException($"{rows.Length} floats are not a whole number of rows of {Dim}", nameof(rows));
        var result = new float[rows.Length];
        for (int i = 0; i < rows.Length; i += Dim) Apply(rows.Slice(i, Dim), result.AsSpan(i, Dim));
        return result;
    }
}
