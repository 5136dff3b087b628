using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Onnx.Graph;
using ViTMAE.Compiled.Weights;
using Xunit.Abstractions;

namespace ViTMAE.Compiled.Onnx.Tests;

/// <summary>The ONNX backend against Hugging Face's own tensors in ../shared/golden.</summary>
public sealed class GoldenOnnxTests
{
    private readonly ITestOutputHelper _output;

    public GoldenOnnxTests(ITestOutputHelper output) => _output = output;

    public static TheoryData<string> Cases => new(Golden.CaseNames);

    public static TheoryData<string> InterpolationCases => new(Golden.CaseNames.Where(c => c.EndsWith("-interp", StringComparison.Ordinal)));

    [Fact]
    public void All_ten_model_cases_are_present()
    {
        Assert.Equal(10, Golden.CaseNames.Count);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Reproduces_every_model_and_pretraining_tensor(string caseName)
    {
        string dir = Golden.Case(caseName);
        ViTMAESpec spec = ViTMAESpec.Load(dir);
        using WeightSource weights = WeightSource.Open(Path.Combine(dir, "model.safetensors"));
        using SafeTensorsFile io = SafeTensorsFile.Open(Path.Combine(dir, "io.safetensors"));
        var shape = io.GetInfo("inputs.pixel_values").Shape;
        var options = new OnnxBuildOptions
        {
            Batch = (int)shape[0],
            Height = (int)shape[2],
            Width = (int)shape[3],
            OutputHiddenStates = true,
            OutputAttentions = true,
        };

        using OnnxReference reference = OnnxReference.Create(spec, weights, options);
        IReadOnlyDictionary<string, OnnxTensor> outputs = reference.Run(io.ReadFloat32("inputs.pixel_values"), io.ReadFloat32("inputs.noise"));

        var keys = io.Tensors.Keys
            .Where(k => k.StartsWith("model.", StringComparison.Ordinal) || k.StartsWith("pretraining.", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.NotEmpty(keys);
        var failures = new List<string?>();
        string worst = "-";
        double worstUsage = 0;
        foreach (string key in keys)
        {
            string name = key[(key.IndexOf('.', StringComparison.Ordinal) + 1)..];
            if (!outputs.TryGetValue(name, out OnnxTensor? actual))
            {
                failures.Add($"{key}: no output '{name}'");
                continue;
            }

            failures.Add(Golden.Compare(key, io, key, actual, out double usage));
            if (usage > worstUsage)
            {
                (worst, worstUsage) = (key, usage);
            }
        }

        // Every layer output the graph declares has a golden counterpart (none is missing from the comparison).
        foreach (string name in outputs.Keys)
        {
            if (!io.Contains("model." + name) && !io.Contains("pretraining." + name))
            {
                failures.Add($"{name}: output without a golden tensor");
            }
        }

        // len_keep exactly: L − (number of masked patches) per batch item.
        long lenKeep = io.ReadInt64("debug.len_keep")[0];
        float[] mask = outputs["mask"].Floats!;
        int patches = outputs["mask"].Shape[1];
        for (int b = 0; b < options.Batch; b++)
        {
            float masked = mask.AsSpan(b * patches, patches).ToArray().Sum();
            if (patches - masked != lenKeep)
            {
                failures.Add($"len_keep: batch item {b} keeps {patches - masked}, expected {lenKeep}");
            }
        }

        foreach (string? failure in failures.OfType<string>())
        {
            _output.WriteLine(failure);
        }

        _output.WriteLine($"{caseName}: compared {keys.Count} tensors; loss {outputs["loss"].Floats![0]}; "
            + $"closest to the tolerance: {worst} at {worstUsage:P1} of it");
        Golden.AssertAll(failures, caseName);
    }

    [Theory]
    [MemberData(nameof(InterpolationCases))]
    public void Interpolated_position_tables_match_huggingface(string caseName)
    {
        string dir = Golden.Case(caseName);
        ViTMAESpec spec = ViTMAESpec.Load(dir);
        using WeightSource weights = WeightSource.Open(Path.Combine(dir, "model.safetensors"));
        using SafeTensorsFile io = SafeTensorsFile.Open(Path.Combine(dir, "io.safetensors"));
        var shape = io.GetInfo("inputs.pixel_values").Shape;
        int gridH = (int)shape[2] / spec.PatchSize, gridW = (int)shape[3] / spec.PatchSize;
        Assert.NotEqual((spec.ImageHeight, spec.ImageWidth), ((int)shape[2], (int)shape[3]));

        float[] encoder = PositionTables.ResizeEncoderTable(weights.ReadFloat32("vit.embeddings.position_embeddings"), spec.HiddenSize, gridH, gridW);
        float[] decoder = PositionTables.ResizeDecoderTable(weights.ReadFloat32("decoder.decoder_pos_embed"), spec.DecoderHiddenSize, gridH * gridW);
        AssertClose(io.ReadFloat32("debug.position_embeddings_used"), encoder, 1e-5);
        AssertClose(io.ReadFloat32("debug.decoder_pos_embed_used"), decoder, 1e-5);
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs((double)expected[i] - actual[i]));
        }

        Assert.True(max <= tolerance, $"max |a−b| = {max:E3} > {tolerance:E1}");
    }
}
