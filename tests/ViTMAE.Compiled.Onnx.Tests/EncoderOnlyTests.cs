using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Onnx.Tests;

/// <summary>The ViTMAEModel graph on a ViTMAEModel-style checkpoint (no <c>vit.</c> prefix, no decoder).</summary>
public sealed class EncoderOnlyTests
{
    public static TheoryData<string> Cases => new(Golden.CaseNames.Where(c => c.EndsWith("-default", StringComparison.Ordinal)
        || c.EndsWith("-interp", StringComparison.Ordinal) || c.EndsWith("-batch", StringComparison.Ordinal)));

    /// <summary>Rewrites a ViTMAEForPreTraining checkpoint as Hugging Face saves a ViTMAEModel: encoder keys without <c>vit.</c>.</summary>
    private static void WriteEncoderCheckpoint(WeightSource source, string path)
    {
        var writer = new SafeTensorsWriter();
        foreach (string name in source.Names.Where(n => n.StartsWith("vit.", StringComparison.Ordinal)))
        {
            int[] shape = source.GetInfo(name).Shape.Select(d => (int)d).ToArray();
            writer.AddFloat32(name["vit.".Length..], source.ReadFloat32(name), shape);
        }

        writer.WriteTo(path);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Encoder_only_graph_reproduces_the_model_tensors(string caseName)
    {
        string dir = Golden.Case(caseName);
        ViTMAESpec spec = ViTMAESpec.Load(dir);
        using var temp = new TempDir();
        using (WeightSource full = WeightSource.Open(Path.Combine(dir, "model.safetensors")))
        {
            WriteEncoderCheckpoint(full, temp.File("model.safetensors"));
        }

        using WeightSource weights = WeightSource.Open(temp.File("model.safetensors"));
        Assert.Equal(string.Empty, weights.DetectPrefix());
        Assert.DoesNotContain(weights.Names, n => n.StartsWith("decoder.", StringComparison.Ordinal));
        using SafeTensorsFile io = SafeTensorsFile.Open(Path.Combine(dir, "io.safetensors"));
        var shape = io.GetInfo("inputs.pixel_values").Shape;
        var options = new OnnxBuildOptions
        {
            Batch = (int)shape[0],
            Height = (int)shape[2],
            Width = (int)shape[3],
            EncoderOnly = true,
            OutputHiddenStates = true,
            OutputAttentions = true,
        };

        using OnnxReference reference = OnnxReference.Create(spec, weights, options);
        Assert.DoesNotContain("loss", reference.OutputNames);
        Assert.DoesNotContain("logits", reference.OutputNames);
        Assert.DoesNotContain(reference.OutputNames, n => n.StartsWith("decoder_", StringComparison.Ordinal));
        IReadOnlyDictionary<string, OnnxTensor> outputs = reference.Run(io.ReadFloat32("inputs.pixel_values"), io.ReadFloat32("inputs.noise"));

        var keys = io.Tensors.Keys.Where(k => k.StartsWith("model.", StringComparison.Ordinal)).ToList();
        Assert.Equal(keys.Count, outputs.Count);
        Golden.AssertAll(
            keys.Select(k => outputs.TryGetValue(k["model.".Length..], out OnnxTensor? t) ? Golden.Compare(k, io, k, t) : $"{k}: missing"),
            caseName + " (encoder only)");
    }

    [Fact]
    public void Encoder_only_graph_accepts_a_pretraining_checkpoint()
    {
        string dir = Golden.Case("tiny-default");
        using WeightSource weights = WeightSource.Open(Path.Combine(dir, "model.safetensors"));
        using SafeTensorsFile io = SafeTensorsFile.Open(Path.Combine(dir, "io.safetensors"));
        using OnnxReference reference = OnnxReference.Create(ViTMAESpec.Load(dir), weights, new OnnxBuildOptions { EncoderOnly = true });
        var outputs = reference.Run(io.ReadFloat32("inputs.pixel_values"), io.ReadFloat32("inputs.noise"));
        Assert.Equal(["last_hidden_state", "mask", "ids_restore"], reference.OutputNames.ToArray());
        Assert.Null(Golden.Compare("last_hidden_state", io, "model.last_hidden_state", outputs["last_hidden_state"]));
    }

    [Fact]
    public void Pretraining_graph_rejects_an_encoder_checkpoint()
    {
        string dir = Golden.Case("tiny-default");
        using var temp = new TempDir();
        using (WeightSource full = WeightSource.Open(Path.Combine(dir, "model.safetensors")))
        {
            WriteEncoderCheckpoint(full, temp.File("model.safetensors"));
        }

        using WeightSource weights = WeightSource.Open(temp.File("model.safetensors"));
        var error = Assert.Throws<MissingWeightException>(() => OnnxReference.Build(ViTMAESpec.Load(dir), weights));
        Assert.Contains("EncoderOnly", error.Message, StringComparison.Ordinal);
    }
}
