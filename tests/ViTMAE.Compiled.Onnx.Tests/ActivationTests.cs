using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Onnx.Tests;

/// <summary>
/// Every supported <c>hidden_act</c> builds and runs on a small random model, and its first encoder layer agrees with
/// a scalar double-precision transcription of Hugging Face's ViTMAELayer (so relu/selu, absent from the golden
/// presets, are checked numerically too).
/// </summary>
public sealed class ActivationTests
{
    public static TheoryData<string, bool> Activations => new()
    {
        { "gelu", true },
        { "gelu_new", false },
        { "relu", true },
        { "selu", false },
        { "gelu_fast", true },
        { "gelu_pytorch_tanh", false },
        { "quick_gelu", true },
        { "silu", false },
        { "swish", true },
    };

    [Theory]
    [MemberData(nameof(Activations))]
    public void Activation_builds_runs_and_matches_a_scalar_layer(string act, bool qkvBias)
    {
        using var temp = new TempDir();
        ViTMAESpec spec = TestModels.WriteRandom(temp.Path, act, seed: act.Length * 7 + (qkvBias ? 1 : 0), qkvBias: qkvBias, normPix: !qkvBias);
        Assert.Equal(act, spec.HiddenAct);
        using WeightSource weights = WeightSource.Open(temp.Path);
        const int batch = 2;
        var options = new OnnxBuildOptions { Batch = batch, OutputHiddenStates = true, OutputAttentions = true };
        using OnnxReference reference = OnnxReference.Create(spec, weights, options);

        int l = spec.NumPatches, k = spec.LenKeep, t = 1 + k, d = spec.HiddenSize;
        float[] pixels = TestModels.RandomArray(batch * 3 * 16 * 16, seed: 1, scale: 2);
        float[] noise = TestModels.RandomArray(batch * l, seed: 2);
        IReadOnlyDictionary<string, OnnxTensor> outputs = reference.Run(pixels, noise);

        Assert.Equal([batch, l, spec.PatchDim], outputs["logits"].Shape.ToArray());
        Assert.Equal([batch, t, d], outputs["last_hidden_state"].Shape.ToArray());
        Assert.Empty(outputs["loss"].Shape);
        Assert.Equal(3, outputs.Keys.Count(n => n.StartsWith("hidden_states.", StringComparison.Ordinal)));
        Assert.Equal(2, outputs.Keys.Count(n => n.StartsWith("decoder_hidden_states.", StringComparison.Ordinal)));
        foreach (OnnxTensor tensor in outputs.Values.Where(o => o.Floats is not null))
        {
            Assert.All(tensor.Floats!, v => Assert.True(float.IsFinite(v), $"{tensor.Name} has a non-finite value"));
        }

        // Masking from noise: stable ascending argsort, inverse permutation, mask = 1 for removed patches.
        long[] restore = outputs["ids_restore"].Int64s!;
        for (int b = 0; b < batch; b++)
        {
            int[] shuffle = Enumerable.Range(0, l).OrderBy(i => noise[b * l + i]).ToArray();
            for (int rank = 0; rank < l; rank++)
            {
                Assert.Equal(rank, restore[b * l + shuffle[rank]]);
                Assert.Equal(rank < k ? 0f : 1f, outputs["mask"].Floats![b * l + shuffle[rank]]);
            }
        }

        // Layer 0 recomputed in double from hidden_states.0.
        var (hidden, probs) = ScalarLayer(weights, spec, "vit.encoder.layer.0", outputs["hidden_states.0"].Floats!, batch, t);
        AssertClose(outputs["hidden_states.1"].Floats!, hidden, "hidden_states.1");
        AssertClose(outputs["attentions.0"].Floats!, probs, "attentions.0");
    }

    [Fact]
    public void Masking_breaks_noise_ties_like_a_stable_sort()
    {
        // TopK(largest=0, sorted=1) orders equal values by index (ONNX spec), i.e. a stable argsort like the runtime's.
        using var temp = new TempDir();
        ViTMAESpec spec = TestModels.WriteRandom(temp.Path, "relu", seed: 5);
        using WeightSource weights = WeightSource.Open(temp.Path);
        using OnnxReference reference = OnnxReference.Create(spec, weights, new OnnxBuildOptions { EncoderOnly = true });
        int l = spec.NumPatches;
        float[] noise = Enumerable.Range(0, l).Select(i => (float)((i * 7) % 3) / 4).ToArray(); // three values, many ties
        var outputs = reference.Run(TestModels.RandomArray(3 * 16 * 16, seed: 6), noise);
        int[] stable = Enumerable.Range(0, l).OrderBy(i => noise[i]).ToArray();
        long[] restore = outputs["ids_restore"].Int64s!;
        for (int rank = 0; rank < l; rank++)
        {
            Assert.Equal(rank, restore[stable[rank]]);
        }
    }

    [Fact]
    public void Unsupported_inputs_are_rejected_with_clear_messages()
    {
        using var temp = new TempDir();
        ViTMAESpec spec = TestModels.WriteRandom(temp.Path, "gelu", seed: 3);
        using WeightSource weights = WeightSource.Open(temp.Path);
        Assert.Contains("divisible", Assert.Throws<ArgumentException>(() => OnnxReference.Build(spec, weights, new OnnxBuildOptions { Height = 18 })).Message, StringComparison.Ordinal);
        Assert.Contains("Batch", Assert.Throws<ArgumentException>(() => OnnxReference.Build(spec, weights, new OnnxBuildOptions { Batch = 0 })).Message, StringComparison.Ordinal);
        Assert.Throws<WeightShapeException>(() => OnnxReference.Build(spec with { IntermediateSize = 25 }, weights));

        // The encoder alone accepts a resolution that is not a multiple of the patch (the convolution floors, as in HF).
        using OnnxReference encoder = OnnxReference.Create(spec, weights, new OnnxBuildOptions { Height = 18, Width = 16, EncoderOnly = true });
        Assert.Equal([-1, 3, 18, 16], encoder.PixelValuesShape.ToArray());
    }

    private static void AssertClose(float[] expected, double[] actual, string name)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0, scale = 1;
        for (int i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
            scale = Math.Max(scale, Math.Abs(actual[i]));
        }

        Assert.True(max <= 1e-4 * scale, $"{name}: max |a−b| = {max:E3}");
    }

    /// <summary>ViTMAELayer in double: x + Wo·softmax(QKᵀ/√hd)V on LN_before(x), then + W2·act(W1·LN_after(x)).</summary>
    private static (double[] Hidden, double[] Probs) ScalarLayer(WeightSource w, ViTMAESpec spec, string p, float[] input, int batch, int tokens)
    {
        int d = spec.HiddenSize, heads = spec.NumAttentionHeads, hd = d / heads, inter = spec.IntermediateSize;
        double[] x = input.Select(v => (double)v).ToArray();
        var output = new double[x.Length];
        var probs = new double[batch * heads * tokens * tokens];
        for (int b = 0; b < batch; b++)
        {
            double[][] rows = Enumerable.Range(0, tokens).Select(i => x.AsSpan((b * tokens + i) * d, d).ToArray()).ToArray();
            double[][] h = rows.Select(r => LayerNorm(r, w, $"{p}.layernorm_before", spec.LayerNormEps)).ToArray();
            double[][] q = h.Select(r => Linear(r, w, $"{p}.attention.attention.query", spec.QkvBias)).ToArray();
            double[][] k = h.Select(r => Linear(r, w, $"{p}.attention.attention.key", spec.QkvBias)).ToArray();
            double[][] v = h.Select(r => Linear(r, w, $"{p}.attention.attention.value", spec.QkvBias)).ToArray();
            var context = new double[tokens][];
            for (int i = 0; i < tokens; i++)
            {
                context[i] = new double[d];
            }

            for (int head = 0; head < heads; head++)
            {
                for (int i = 0; i < tokens; i++)
                {
                    var scores = new double[tokens];
                    for (int j = 0; j < tokens; j++)
                    {
                        for (int c = 0; c < hd; c++)
                        {
                            scores[j] += q[i][head * hd + c] * k[j][head * hd + c];
                        }

                        scores[j] /= Math.Sqrt(hd);
                    }

                    double max = scores.Max();
                    double sum = scores.Sum(s => Math.Exp(s - max));
                    for (int j = 0; j < tokens; j++)
                    {
                        double prob = Math.Exp(scores[j] - max) / sum;
                        probs[((b * heads + head) * tokens + i) * tokens + j] = prob;
                        for (int c = 0; c < hd; c++)
                        {
                            context[i][head * hd + c] += prob * v[j][head * hd + c];
                        }
                    }
                }
            }

            for (int i = 0; i < tokens; i++)
            {
                double[] attn = Linear(context[i], w, $"{p}.attention.output.dense", true);
                double[] r = rows[i].Select((val, c) => val + attn[c]).ToArray();
                double[] m = Linear(LayerNorm(r, w, $"{p}.layernorm_after", spec.LayerNormEps), w, $"{p}.intermediate.dense", true);
                Assert.Equal(inter, m.Length);
                m = m.Select(val => Act(spec.HiddenAct, val)).ToArray();
                double[] mlp = Linear(m, w, $"{p}.output.dense", true);
                for (int c = 0; c < d; c++)
                {
                    output[(b * tokens + i) * d + c] = r[c] + mlp[c];
                }
            }
        }

        return (output, probs);
    }

    private static double Act(string act, double x) => act switch
    {
        "gelu" => 0.5 * x * (1 + Erf(x / Math.Sqrt(2))),
        "gelu_new" or "gelu_pytorch_tanh" => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        "gelu_fast" => 0.5 * x * (1 + Math.Tanh(0.7978845608 * x * (1 + 0.044715 * x * x))),
        "quick_gelu" => x / (1 + Math.Exp(-1.702 * x)),
        "silu" or "swish" => x / (1 + Math.Exp(-x)),
        "relu" => Math.Max(0, x),
        "selu" => 1.0507009873554804934193349852946 * (x > 0 ? x : 1.6732632423543772848170429916717 * (Math.Exp(x) - 1)),
        _ => throw new ArgumentException(act),
    };

    /// <summary>erf by its Maclaurin series / continued fraction (|error| &lt; 1e-12 over the range used here).</summary>
    private static double Erf(double x)
    {
        double ax = Math.Abs(x);
        double result;
        if (ax < 3)
        {
            double term = ax, sum = ax;
            for (int n = 1; n < 200; n++)
            {
                term *= -ax * ax / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17)
                {
                    break;
                }
            }

            result = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            // erfc continued fraction (Lentz), accurate for ax ≥ 3.
            double f = ax, c = ax, dd = 0;
            for (int n = 1; n < 200; n++)
            {
                double an = n / 2.0;
                dd = 1 / (ax + an * dd);
                c = ax + an / c;
                double delta = c * dd;
                f *= delta;
                if (Math.Abs(delta - 1) < 1e-16)
                {
                    break;
                }
            }

            result = 1 - Math.Exp(-ax * ax) / (f * Math.Sqrt(Math.PI));
        }

        return x < 0 ? -result : result;
    }

    private static double[] LayerNorm(double[] x, WeightSource w, string name, double eps)
    {
        float[] gamma = w.ReadFloat32(name + ".weight"), beta = w.ReadFloat32(name + ".bias");
        double mean = x.Average();
        double variance = x.Sum(v => (v - mean) * (v - mean)) / x.Length;
        return x.Select((v, i) => (v - mean) / Math.Sqrt(variance + eps) * gamma[i] + beta[i]).ToArray();
    }

    private static double[] Linear(double[] x, WeightSource w, string name, bool bias)
    {
        float[] weight = w.ReadFloat32(name + ".weight");
        int outFeatures = weight.Length / x.Length;
        float[]? b = bias ? w.ReadFloat32(name + ".bias") : null;
        var y = new double[outFeatures];
        for (int o = 0; o < outFeatures; o++)
        {
            double sum = b?[o] ?? 0;
            for (int i = 0; i < x.Length; i++)
            {
                sum += weight[o * x.Length + i] * x[i];
            }

            y[o] = sum;
        }

        return y;
    }
}
