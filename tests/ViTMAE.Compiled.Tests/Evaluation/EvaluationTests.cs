using System;
using System.Linq;
using ViTMAE.Compiled.Evaluation;
using ViTMAE.Compiled.Threading;

namespace ViTMAE.Compiled.Tests.Evaluation;

/// <summary>The probe's classifiers: logistic regression on separable and on noisy clusters, k-NN against brute force.</summary>
public sealed class EvaluationTests
{
    /// <summary>n points per class around class centres on the axes, with Gaussian noise of <paramref name="noise"/>.</summary>
    private static (float[] X, byte[] Y) Clusters(int perClass, int classes, int dim, double noise, int seed, double offset = 100)
    {
        var random = new Random(seed);
        var x = new float[perClass * classes * dim];
        var y = new byte[perClass * classes];
        for (int i = 0; i < y.Length; i++)
        {
            int c = i % classes;
            y[i] = (byte)c;
            for (int j = 0; j < dim; j++)
            {
                double gauss = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                x[(i * dim) + j] = (float)((j == c ? 3.0 : 0.0) + (noise * gauss) + offset); // an offset: standardisation must remove it
            }
        }

        return (x, y);
    }

    [Fact]
    public void Logistic_regression_separates_clusters_and_is_deterministic()
    {
        (float[] x, byte[] y) = Clusters(200, 5, 12, 0.5, seed: 1);
        (float[] tx, byte[] ty) = Clusters(50, 5, 12, 0.5, seed: 2);
        LinearProbe probe = LinearProbe.Train(x, y, 12, 5, epochs: 30);
        Assert.True(probe.Accuracy(tx, ty) > 0.99, "accuracy " + probe.Accuracy(tx, ty));
        Assert.Equal(probe.Predict(tx), LinearProbe.Train(x, y, 12, 5, epochs: 30).Predict(tx));
    }

    [Fact]
    public void Logistic_regression_on_features_without_information_is_near_chance()
    {
        // Pure noise features with random labels: nothing to learn, so the test accuracy must stay near 1/4.
        var random = new Random(3);
        float[] Noise(int n) => Enumerable.Range(0, n * 8).Select(_ => (float)random.NextDouble()).ToArray();
        byte[] Labels(int n) => Enumerable.Range(0, n).Select(_ => (byte)random.Next(4)).ToArray();
        float[] x = Noise(800), tx = Noise(800);
        byte[] y = Labels(800), ty = Labels(800);
        Assert.InRange(LinearProbe.Train(x, y, 8, 4, epochs: 20).Accuracy(tx, ty), 0.18, 0.32);
    }

    [Fact]
    public void Rare_features_and_large_logits_do_not_turn_the_probe_into_NaN()
    {
        // Like Fashion-MNIST's border pixels: a feature that is nonzero once in 2,000 rows, at full scale.
        (float[] x, byte[] y) = Clusters(400, 5, 12, 0.3, seed: 8);
        x[5 * 12] = 1000f;
        LinearProbe probe = LinearProbe.Train(x, y, 12, 5, epochs: 30, learningRate: 0.1);
        (float[] tx, byte[] ty) = Clusters(50, 5, 12, 0.3, seed: 9);
        tx[0] = 1e6f; // far outside the training range: logits in the thousands
        Assert.True(probe.Accuracy(tx, ty) > 0.95, "accuracy " + probe.Accuracy(tx, ty));
    }

    [Fact]
    public void Bad_shapes_and_labels_are_refused()
    {
        Assert.Throws<ArgumentException>(() => LinearProbe.Train(new float[10], new byte[3], 4, 2));
        Assert.Throws<ArgumentException>(() => LinearProbe.Train(new float[8], new byte[] { 0, 2 }, 4, 2));
        Assert.Throws<ArgumentException>(() => NearestNeighbours.Accuracy(new float[8], new byte[2], new float[3], new byte[1], 4));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Knn_matches_a_brute_force_vote(int threads)
    {
        (float[] x, byte[] y) = Clusters(60, 3, 10, 2.0, seed: 5, offset: 0);
        (float[] q, byte[] qy) = Clusters(70, 3, 10, 2.0, seed: 6, offset: 0);
        const int k = 7, dim = 10;
        using var pool = new ComputePool(threads);
        double accuracy = NearestNeighbours.Accuracy(x, y, q, qy, dim, k, classes: 3, pool);

        static double Cos(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
        {
            double dot = 0, na = 0, nb = 0;
            for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
            return dot / Math.Sqrt(na * nb);
        }

        // Brute force in double. A query whose k-th and (k+1)-th similarities, or whose leading classes' summed
        // similarities, lie within 1e-5 may go either way in float: it counts as right in the bound, not exactly.
        int right = 0, ambiguous = 0;
        for (int i = 0; i < qy.Length; i++)
        {
            var ranked = Enumerable.Range(0, y.Length).Select(r => (r, s: Cos(q.AsSpan(i * dim, dim), x.AsSpan(r * dim, dim))))
                .OrderByDescending(t => t.s).ToArray();
            var votes = ranked.Take(k).GroupBy(t => y[t.r]).Select(g => (label: g.Key, count: g.Count(), weight: g.Sum(t => t.s)))
                .OrderByDescending(v => v.count).ThenByDescending(v => v.weight).ToArray();
            bool tie = ranked[k - 1].s - ranked[k].s < 1e-5 || (votes.Length > 1 && votes[0].count == votes[1].count && votes[0].weight - votes[1].weight < 1e-5);
            ambiguous += tie ? 1 : 0;
            right += !tie && votes[0].label == qy[i] ? 1 : 0;
        }

        Assert.InRange(accuracy, (double)right / qy.Length, (double)(right + ambiguous) / qy.Length);
        Assert.True(ambiguous <= 3, ambiguous + " near-tied queries");
        Assert.True(accuracy > 0.5);
    }

    [Fact]
    public void Feature_scaling_centres_and_scales_with_the_training_statistics_only()
    {
        // Feature 0 ~ 5 + 2·N(0, 1); feature 1 constant (scale 1, only centred).
        var rng = new Random(3);
        const int n = 4000;
        var train = new float[n * 2];
        for (int i = 0; i < n; i++) { train[2 * i] = 5 + (2 * (float)((rng.NextDouble() * 2) - 1)); train[(2 * i) + 1] = 7; }
        FeatureScaling scaling = FeatureScaling.Fit(train, 2);
        float[] z = scaling.Transform(train);
        double mean = 0, sq = 0;
        for (int i = 0; i < n; i++) { mean += z[2 * i]; sq += z[2 * i] * (double)z[2 * i]; }
        Assert.Equal(0, mean / n, 4);
        Assert.Equal(1, sq / n, 3);
        Assert.All(Enumerable.Range(0, n), i => Assert.Equal(0f, z[(2 * i) + 1]));
        // Other rows use the training statistics: a constant feature's value 8 stays 1 away.
        Assert.Equal(1f, scaling.Transform(new float[] { 5, 8 })[1]);
        Assert.Throws<ArgumentException>(() => FeatureScaling.Fit(new float[3], 2));
    }
}
