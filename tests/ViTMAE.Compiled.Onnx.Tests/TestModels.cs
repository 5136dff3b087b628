using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Onnx.Tests;

/// <summary>A temporary folder removed on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vitmae-onnx-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Small random ViTMAE checkpoints written with the runtime's SafeTensorsWriter.</summary>
internal static class TestModels
{
    public static string ConfigJson(string act, bool qkvBias, bool normPix, double maskRatio) => string.Create(CultureInfo.InvariantCulture, $$"""
        {
          "architectures": ["ViTMAEForPreTraining"],
          "model_type": "vit_mae",
          "hidden_size": 16,
          "num_hidden_layers": 2,
          "num_attention_heads": 2,
          "intermediate_size": 24,
          "hidden_act": "{{act}}",
          "layer_norm_eps": 1e-6,
          "image_size": 16,
          "patch_size": 4,
          "num_channels": 3,
          "qkv_bias": {{(qkvBias ? "true" : "false")}},
          "decoder_num_attention_heads": 2,
          "decoder_hidden_size": 8,
          "decoder_num_hidden_layers": 1,
          "decoder_intermediate_size": 12,
          "mask_ratio": {{maskRatio.ToString("R", CultureInfo.InvariantCulture)}},
          "norm_pix_loss": {{(normPix ? "true" : "false")}}
        }
        """);

    /// <summary>Every tensor of a ViTMAEForPreTraining checkpoint for <paramref name="spec"/>: name → shape.</summary>
    public static IEnumerable<(string Name, int[] Shape)> Tensors(ViTMAESpec spec) => ViTMAE.Compiled.TestSupport.HfCheckpointLayout.PreTrainingTensors(spec);

    /// <summary>Writes config.json and model.safetensors with random weights (LayerNorm weights near 1) into <paramref name="dir"/>.</summary>
    public static ViTMAESpec WriteRandom(string dir, string act, int seed, bool qkvBias = true, bool normPix = false, double maskRatio = 0.5)
    {
        string json = ConfigJson(act, qkvBias, normPix, maskRatio);
        File.WriteAllText(Path.Combine(dir, "config.json"), json);
        ViTMAESpec spec = ViTMAESpec.Parse(json);
        var random = new Random(seed);
        var writer = new SafeTensorsWriter();
        foreach (var (name, shape) in Tensors(spec))
        {
            int count = 1;
            foreach (int s in shape)
            {
                count *= s;
            }

            bool normWeight = name.EndsWith("norm.weight", StringComparison.Ordinal) || name.Contains("layernorm_", StringComparison.Ordinal) && name.EndsWith(".weight", StringComparison.Ordinal);
            var values = new float[count];
            for (int i = 0; i < count; i++)
            {
                double u = random.NextDouble() * 2 - 1;
                values[i] = (float)(normWeight ? 1 + 0.2 * u : 0.5 * u);
            }

            writer.AddFloat32(name, values, shape);
        }

        writer.WriteTo(Path.Combine(dir, "model.safetensors"));
        return spec;
    }

    public static float[] RandomArray(int count, int seed, double scale = 1)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)((random.NextDouble() * 2 - 1) * scale);
        }

        return values;
    }
}
