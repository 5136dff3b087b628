using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Differential.Tests;

/// <summary>
/// A random, valid ViTMAE configuration and batch size, derived from a seed alone (<see cref="FromSeed"/>), so that a
/// failing case is replayed by its seed. Sizes are small but deliberately odd: hidden sizes that are multiples of 4
/// but not of 16, head widths such as 1, 5 or 11, odd MLP widths, patches 1–16, 1/3/4 channels, grids 1–6, mask ratios
/// including 0, 0.9 and ones that keep a single patch.
/// </summary>
public sealed record RandomConfig
{
    /// <summary>Multiples of 4 that are not multiples of 16 (the sin-cos table needs D % 4 == 0).</summary>
    private static readonly int[] HiddenSizes = [4, 8, 12, 20, 24, 28, 36, 40, 44, 52, 56, 60];

    private static readonly string[] Activations = ["gelu", "gelu_new", "relu", "selu", "gelu_fast", "gelu_pytorch_tanh", "quick_gelu", "silu", "swish"];

    public required int Seed { get; init; }

    public required int HiddenSize { get; init; }

    public required int NumHeads { get; init; }

    public required int IntermediateSize { get; init; }

    public required int NumLayers { get; init; }

    public required int DecoderHiddenSize { get; init; }

    public required int DecoderNumHeads { get; init; }

    public required int DecoderIntermediateSize { get; init; }

    public required int DecoderNumLayers { get; init; }

    public required int PatchSize { get; init; }

    public required int Grid { get; init; }

    public required int Channels { get; init; }

    public required string Activation { get; init; }

    public required bool QkvBias { get; init; }

    public required bool NormPixLoss { get; init; }

    public required double MaskRatio { get; init; }

    public required double LayerNormEps { get; init; }

    public required int Batch { get; init; }

    public int ImageSize => PatchSize * Grid;

    public int NumPatches => Grid * Grid;

    /// <summary>HF's <c>int(L * (1 - mask_ratio))</c>.</summary>
    public int LenKeep => (int)(NumPatches * (1.0 - MaskRatio));

    public int PatchDim => PatchSize * PatchSize * Channels;

    /// <summary>The configuration for <paramref name="seed"/>: the same seed always gives the same configuration.</summary>
    public static RandomConfig FromSeed(int seed)
    {
        var rng = new Random(seed);
        (int hidden, int heads) = HiddenAndHeads(rng);
        (int decoderHidden, int decoderHeads) = HiddenAndHeads(rng);
        int patch = rng.Next(1, 17);
        int grid = rng.Next(1, 7);
        int channels = new[] { 1, 3, 4 }[rng.Next(3)];
        int numPatches = grid * grid;
        var config = new RandomConfig
        {
            Seed = seed,
            HiddenSize = hidden,
            NumHeads = heads,
            IntermediateSize = rng.Next(1, 97),
            NumLayers = rng.Next(1, 4),
            DecoderHiddenSize = decoderHidden,
            DecoderNumHeads = decoderHeads,
            DecoderIntermediateSize = rng.Next(1, 97),
            DecoderNumLayers = rng.Next(1, 4),
            PatchSize = patch,
            Grid = grid,
            Channels = channels,
            Activation = Activations[rng.Next(Activations.Length)],
            QkvBias = rng.Next(2) == 0,
            NormPixLoss = rng.Next(2) == 0,
            MaskRatio = MaskRatioFor(rng, numPatches),
            LayerNormEps = rng.Next(2) == 0 ? 1e-12 : 1e-6,
            Batch = rng.Next(1, 5),
        };
        return config;
    }

    private static (int Hidden, int Heads) HiddenAndHeads(Random rng)
    {
        int heads = rng.Next(1, 9);
        int[] sizes = HiddenSizes.Where(h => h % heads == 0).ToArray(); // every head count 1–8 divides one of them
        return (sizes[rng.Next(sizes.Length)], heads);
    }

    /// <summary>A mask ratio in [0, 1) that keeps at least one patch (the generator rejects the others, VMAE008).</summary>
    private static double MaskRatioFor(Random rng, int numPatches)
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            double ratio = rng.Next(8) switch
            {
                0 => 0.0,
                1 => 0.9,
                2 => 0.75,
                3 => 0.5,
                4 => Math.Round(rng.NextDouble() * 0.95, 3),
                5 => 1.0 - (1.5 / numPatches),                       // keeps exactly one patch
                6 => 1.0 - ((double)rng.Next(1, numPatches + 1) / numPatches), // k/L: float truncation may keep k − 1
                _ => 1.0 - ((2.5 + rng.NextDouble()) / numPatches),   // keeps two or three
            };
            if (ratio >= 0 && ratio < 1 && (int)(numPatches * (1.0 - ratio)) >= 1)
            {
                return ratio;
            }
        }

        return 0.0;
    }

    /// <summary>The Hugging Face <c>config.json</c> text.</summary>
    public string ToJson() => string.Create(CultureInfo.InvariantCulture, $$"""
        {
          "architectures": ["ViTMAEForPreTraining"],
          "model_type": "vit_mae",
          "hidden_size": {{HiddenSize}},
          "num_hidden_layers": {{NumLayers}},
          "num_attention_heads": {{NumHeads}},
          "intermediate_size": {{IntermediateSize}},
          "hidden_act": "{{Activation}}",
          "hidden_dropout_prob": 0.0,
          "attention_probs_dropout_prob": 0.0,
          "initializer_range": 0.02,
          "layer_norm_eps": {{LayerNormEps.ToString("R", CultureInfo.InvariantCulture)}},
          "image_size": {{ImageSize}},
          "patch_size": {{PatchSize}},
          "num_channels": {{Channels}},
          "qkv_bias": {{(QkvBias ? "true" : "false")}},
          "decoder_num_attention_heads": {{DecoderNumHeads}},
          "decoder_hidden_size": {{DecoderHiddenSize}},
          "decoder_num_hidden_layers": {{DecoderNumLayers}},
          "decoder_intermediate_size": {{DecoderIntermediateSize}},
          "mask_ratio": {{MaskRatio.ToString("R", CultureInfo.InvariantCulture)}},
          "norm_pix_loss": {{(NormPixLoss ? "true" : "false")}}
        }
        """);

    public ViTMAESpec ToSpec() => ViTMAESpec.Parse(ToJson(), "seed-" + Seed.ToString(CultureInfo.InvariantCulture) + ".json");

    /// <summary>One line for assertion messages and logs.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"seed {Seed}: {ImageSize}x{ImageSize}/{PatchSize} C={Channels} (L={NumPatches}, keep {LenKeep}, mask_ratio {MaskRatio:R}), " +
        $"enc {HiddenSize}x{NumLayers} h{NumHeads} mlp{IntermediateSize}, dec {DecoderHiddenSize}x{DecoderNumLayers} h{DecoderNumHeads} mlp{DecoderIntermediateSize}, " +
        $"{Activation}, qkv_bias={QkvBias}, norm_pix={NormPixLoss}, eps={LayerNormEps:R}, batch {Batch}");
}

/// <summary>Random checkpoints and inputs for a <see cref="RandomConfig"/>; everything derives from the seed.</summary>
public static class RandomData
{
    /// <summary>
    /// Every tensor of a <c>ViTMAEForPreTraining</c> checkpoint for <paramref name="spec"/>, listed independently of the
    /// generator (Hugging Face's <c>state_dict</c> keys and shapes).
    /// </summary>
    public static IEnumerable<(string Name, int[] Shape)> PreTrainingTensors(ViTMAESpec spec) => ViTMAE.Compiled.TestSupport.HfCheckpointLayout.PreTrainingTensors(spec);

    /// <summary>
    /// Random values for one tensor, every one of them random so a wrong mapping cannot hide: Linear and convolution
    /// weights and biases ~ N(0, 0.1); LayerNorm weights ~ N(1, 0.1) and biases ~ N(0, 0.1); CLS and mask tokens and both
    /// position tables ~ N(0, 0.5). The values depend on the seed and the key only (not on the order of the layout).
    /// </summary>
    public static float[] TensorValues(int seed, string name, int count)
    {
        var rng = new Random(HashCode(seed, name));
        bool norm = name.Contains("layernorm", StringComparison.Ordinal) || name.Contains("decoder_norm", StringComparison.Ordinal);
        bool tokenOrTable = name.EndsWith("cls_token", StringComparison.Ordinal) || name.EndsWith("mask_token", StringComparison.Ordinal)
            || name.EndsWith("position_embeddings", StringComparison.Ordinal) || name.EndsWith("decoder_pos_embed", StringComparison.Ordinal);
        double mean = norm && name.EndsWith(".weight", StringComparison.Ordinal) ? 1.0 : 0.0;
        double std = tokenOrTable ? 0.5 : 0.1;
        return Normal(rng, count, mean, std);
    }

    /// <summary>A ViTMAEForPreTraining checkpoint for <paramref name="layout"/>, every tensor random.</summary>
    public static SafeTensorsWriter PreTrainingCheckpoint(int seed, IEnumerable<(string Name, int[] Shape)> layout)
    {
        var writer = new SafeTensorsWriter();
        writer.AddMetadata("format", "pt");
        foreach (var (name, shape) in layout)
        {
            writer.AddFloat32(name, TensorValues(seed, name, shape.Aggregate(1, (a, b) => a * b)), shape);
        }

        return writer;
    }

    /// <summary>A ViTMAEModel checkpoint: the encoder's tensors without <c>vit.</c>, no decoder (same values as the pre-training one).</summary>
    public static SafeTensorsWriter EncoderCheckpoint(int seed, IEnumerable<(string Name, int[] Shape)> layout)
    {
        var writer = new SafeTensorsWriter();
        writer.AddMetadata("format", "pt");
        foreach (var (name, shape) in layout.Where(t => t.Name.StartsWith("vit.", StringComparison.Ordinal)))
        {
            writer.AddFloat32(name["vit.".Length..], TensorValues(seed, name, shape.Aggregate(1, (a, b) => a * b)), shape);
        }

        return writer;
    }

    /// <summary>Pixel values <c>[B, C, H, W]</c> ~ N(0, 1) (normalised images).</summary>
    public static float[] Pixels(int seed, RandomConfig config) =>
        Normal(new Random(HashCode(seed, "pixel_values")), config.Batch * config.Channels * config.ImageSize * config.ImageSize, 0, 1);

    /// <summary>
    /// Noise <c>[B, L]</c> ~ U[0, 1) with no ties within a row (the masking is then a plain permutation, and a stable
    /// sort and ONNX TopK agree by construction).
    /// </summary>
    public static float[] Noise(int seed, int batch, int numPatches)
    {
        var rng = new Random(HashCode(seed, "noise"));
        var noise = new float[batch * numPatches];
        for (int b = 0; b < batch; b++)
        {
            var seen = new HashSet<float>();
            for (int i = 0; i < numPatches; i++)
            {
                float v;
                do
                {
                    v = rng.NextSingle();
                }
                while (!seen.Add(v));
                noise[(b * numPatches) + i] = v;
            }
        }

        return noise;
    }

    /// <summary>N(mean, std) by Box–Muller.</summary>
    public static float[] Normal(Random rng, int n, double mean, double std)
    {
        var values = new float[n];
        for (int i = 0; i < n; i += 2)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1)) * std;
            values[i] = (float)(mean + (r * Math.Cos(2 * Math.PI * u2)));
            if (i + 1 < n)
            {
                values[i + 1] = (float)(mean + (r * Math.Sin(2 * Math.PI * u2)));
            }
        }

        return values;
    }

    /// <summary>A stable (FNV-1a) hash of the seed and a name: string.GetHashCode is randomised per process.</summary>
    public static int HashCode(int seed, string name)
    {
        uint h = 2166136261;
        foreach (byte b in BitConverter.GetBytes(seed))
        {
            h = (h ^ b) * 16777619;
        }

        foreach (char c in name)
        {
            h = (h ^ c) * 16777619;
        }

        return (int)(h & 0x7FFFFFFF);
    }
}
