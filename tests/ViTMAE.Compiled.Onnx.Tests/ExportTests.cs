using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Onnx.Proto;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Onnx.Tests;

/// <summary>ONNX export: the written file loads in a fresh ONNX Runtime session and gives the same outputs.</summary>
public sealed class ExportTests
{
    private static readonly OnnxBuildOptions Options = new() { Batch = 3, OutputHiddenStates = true, OutputAttentions = true };

    /// <summary>Every operator a built graph may use: standard ai.onnx ones (Shape only with a symbolic batch).</summary>
    internal static readonly string[] StandardOps =
    [
        "Add", "Concat", "Conv", "Div", "Erf", "Expand", "Gather", "GatherElements", "Identity", "LayerNormalization",
        "MatMul", "Mul", "Pow", "ReduceMean", "ReduceSum", "Relu", "Reshape", "ScatterElements", "Selu", "Shape", "Slice",
        "Softmax", "Sqrt", "Sub", "Tanh", "TopK", "Transpose", "Unsqueeze",
    ];

    /// <summary>Runs a model file in a brand-new InferenceSession (no OnnxReference code involved).</summary>
    internal static Dictionary<string, float[]> RunFresh(string path, float[] pixels, long[] pixelShape, float[] noise, long[] noiseShape)
    {
        using SessionOptions options = new OnnxSessionSettings().CreateSessionOptions();
        using var session = new InferenceSession(path, options);
        using OrtValue pixelValue = OrtValue.CreateTensorValueFromMemory(pixels, pixelShape);
        using OrtValue noiseValue = OrtValue.CreateTensorValueFromMemory(noise, noiseShape);
        using var runOptions = new RunOptions();
        string[] names = [.. session.OutputNames];
        using var outputs = session.Run(runOptions, ["pixel_values", "noise"], [pixelValue, noiseValue], names);
        var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (int i = 0; i < names.Length; i++)
        {
            result[names[i]] = outputs[i].GetTensorTypeAndShape().ElementDataType == TensorElementType.Int64
                ? outputs[i].GetTensorDataAsSpan<long>().ToArray().Select(v => (float)v).ToArray()
                : outputs[i].GetTensorDataAsSpan<float>().ToArray();
        }

        return result;
    }

    private static void AssertSameOutputs(IReadOnlyDictionary<string, OnnxTensor> expected, Dictionary<string, float[]> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, tensor) in expected)
        {
            float[] want = tensor.Floats ?? tensor.Int64s!.Select(v => (float)v).ToArray();
            Assert.True(want.AsSpan().SequenceEqual(actual[name]), $"{name} differs after the export round trip");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Export_round_trip_gives_the_same_outputs(bool externalData)
    {
        using Golden.OpenCase golden = Golden.Open("small-odd-batch");
        (ViTMAESpec spec, WeightSource weights, SafeTensorsFile io, float[] pixels, float[] noise) = golden;

        using var temp = new TempDir();
        string path = temp.File("vitmae.onnx");
        OnnxExportResult result = OnnxExport.Write(spec, weights, path, Options, externalDataThreshold: externalData ? 1024 : OnnxExport.DefaultExternalDataThreshold);
        Assert.Equal(Path.GetFullPath(path), result.ModelPath);
        Assert.True(File.Exists(path));

        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var external = model.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External).ToList();
        if (externalData)
        {
            Assert.Equal(temp.File("vitmae.onnx.data"), result.ExternalDataPath);
            Assert.True(File.Exists(result.ExternalDataPath));
            Assert.NotEmpty(external);
            Assert.All(external, t =>
            {
                Assert.False(t.HasRawData);
                Assert.Equal("vitmae.onnx.data", t.ExternalData.Single(e => e.Key == "location").Value);
                Assert.Equal(0, long.Parse(t.ExternalData.Single(e => e.Key == "offset").Value, System.Globalization.CultureInfo.InvariantCulture) % 4096);
            });
            Assert.True(new FileInfo(path).Length < result.WeightBytes / 4, "the weights should live in the data file");
        }
        else
        {
            Assert.Null(result.ExternalDataPath);
            Assert.Empty(external);
            Assert.False(File.Exists(temp.File("vitmae.onnx.data")));
        }

        using OnnxReference reference = OnnxReference.Create(spec, weights, Options);
        IReadOnlyDictionary<string, OnnxTensor> expected = reference.Run(pixels, noise);
        var fresh = RunFresh(path, pixels, [3, 3, 48, 48], noise, [3, 9]);
        AssertSameOutputs(expected, fresh);

        // OnnxReference.Load opens the exported file too, and it still matches Hugging Face.
        using OnnxReference loaded = OnnxReference.Load(path);
        Assert.Equal(reference.PixelValuesShape.ToArray(), loaded.PixelValuesShape.ToArray());
        var again = loaded.Run(pixels, noise);
        Assert.Null(Golden.Compare("logits", io, "pretraining.logits", again["logits"]));
        Assert.Null(Golden.Compare("loss", io, "pretraining.loss", again["loss"]));
    }

    [Fact]
    public void Built_model_is_standard_onnx_opset_17()
    {
        string dir = Golden.Case("tiny-normpix");
        using WeightSource weights = WeightSource.Open(Path.Combine(dir, "model.safetensors"));
        byte[] bytes = OnnxReference.Build(ViTMAESpec.Load(dir), weights, Options);
        var model = ModelProto.Parser.ParseFrom(bytes);
        Assert.Equal(8, model.IrVersion);
        var opset = Assert.Single(model.OpsetImport);
        Assert.Equal(string.Empty, opset.Domain);
        Assert.Equal(17, opset.Version);

        Assert.All(model.Graph.Node, n =>
        {
            Assert.True(string.IsNullOrEmpty(n.Domain), $"{n.Name} uses domain '{n.Domain}'");
            Assert.Contains(n.OpType, StandardOps);
        });
        Assert.DoesNotContain(model.Graph.Node, n => n.OpType == "Shape"); // a fixed batch needs no shape computed at run time

        Assert.Equal(["pixel_values", "noise"], model.Graph.Input.Select(i => i.Name).ToArray());
        Assert.Equal(["loss", "logits", "mask", "ids_restore", "last_hidden_state"], model.Graph.Output.Take(5).Select(o => o.Name).ToArray());
        Assert.Equal((int)TensorProto.Types.DataType.Int64, model.Graph.Output.Single(o => o.Name == "ids_restore").Type.TensorType.ElemType);
        Assert.All(model.Graph.Initializer, t => Assert.True(t.HasRawData));
        Assert.Contains(model.MetadataProps, p => p.Key == "vitmae.len_keep" && p.Value == "4");
    }

    [Fact]
    public void Session_settings_are_explicit()
    {
        var settings = new OnnxSessionSettings();
        Assert.Equal(GraphOptimizationLevel.ORT_ENABLE_ALL, settings.OptimizationLevel);
        Assert.Equal(1, settings.IntraOpNumThreads);
        Assert.False(settings.AllowSpinning);

        // Every optimisation level and two threads give the same answer within the golden tolerance.
        string dir = Golden.Case("tiny-default");
        using WeightSource weights = WeightSource.Open(Path.Combine(dir, "model.safetensors"));
        using SafeTensorsFile io = SafeTensorsFile.Open(Path.Combine(dir, "io.safetensors"));
        foreach (var level in new[] { GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_BASIC })
        {
            var custom = new OnnxSessionSettings { OptimizationLevel = level, IntraOpNumThreads = 2, AllowSpinning = true };
            using OnnxReference reference = OnnxReference.Create(ViTMAESpec.Load(dir), weights, null, custom);
            var outputs = reference.Run(io.ReadFloat32("inputs.pixel_values"), io.ReadFloat32("inputs.noise"));
            Assert.Null(Golden.Compare("logits", io, "pretraining.logits", outputs["logits"]));
        }
    }

    [Fact]
    public void Run_rejects_inputs_of_the_wrong_length()
    {
        string dir = Golden.Case("tiny-default");
        using WeightSource weights = WeightSource.Open(Path.Combine(dir, "model.safetensors"));
        using OnnxReference reference = OnnxReference.Create(ViTMAESpec.Load(dir), weights);
        Assert.Null(reference.Batch); // the default graph has a symbolic batch: ORT reports it as -1
        Assert.Equal([-1, 3, 32, 32], reference.PixelValuesShape.ToArray());
        Assert.Equal([-1, 16], reference.NoiseShape.ToArray());
        Assert.Throws<ArgumentException>(() => reference.Run(new float[10], new float[16]));
        Assert.Throws<ArgumentException>(() => reference.Run(new float[3 * 32 * 32], new float[15]));
        Assert.Throws<ArgumentException>(() => reference.Run(new float[3 * 32 * 32], new float[2 * 16])); // noise says 2 images, pixels 1
        Assert.Throws<ArgumentException>(() => reference.Run([], []));

        using OnnxReference fixedBatch = OnnxReference.Create(ViTMAESpec.Load(dir), weights, new OnnxBuildOptions { Batch = 1 });
        Assert.Equal(1, fixedBatch.Batch);
        Assert.Equal([1, 3, 32, 32], fixedBatch.PixelValuesShape.ToArray());
        Assert.Equal([1, 16], fixedBatch.NoiseShape.ToArray());
        Assert.Throws<ArgumentException>(() => fixedBatch.Run(new float[2 * 3 * 32 * 32], new float[2 * 16]));
    }

    [Fact]
    public void Default_export_has_a_symbolic_batch_and_runs_batches_1_and_3()
    {
        using Golden.OpenCase golden = Golden.Open("tiny-batch");
        (ViTMAESpec spec, WeightSource weights, SafeTensorsFile io, float[] pixels, float[] noise) = golden;
        Assert.Equal(3, io.GetInfo("inputs.pixel_values").Shape[0]);

        using var temp = new TempDir();
        string path = temp.File("vitmae.onnx");
        OnnxExport.Write(spec, weights, path); // default options: symbolic batch
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        Assert.All(model.Graph.Input.Concat(model.Graph.Output).Where(v => v.Name != "loss"),
            v => Assert.Equal("batch", v.Type.TensorType.Shape.Dim[0].DimParam));
        Assert.Contains(model.MetadataProps, p => p.Key == "vitmae.batch" && p.Value == "dynamic");

        // One file, two batches, in a fresh ONNX Runtime session: batch 3 matches Hugging Face, batch 1 the same image in the batch.
        var three = RunFresh(path, pixels, [3, 3, 32, 32], noise, [3, 16]);
        Assert.Null(Golden.Compare("logits", io, "pretraining.logits", new OnnxTensor("logits", [3, 16, 192], three["logits"])));
        Assert.Null(Golden.Compare("loss", io, "pretraining.loss", new OnnxTensor("loss", [], three["loss"])));
        int image = 3 * 32 * 32, logits = 16 * 192;
        var one = RunFresh(path, pixels[(2 * image)..], [1, 3, 32, 32], noise[(2 * 16)..], [1, 16]);
        var result = GoldenCheck.TensorComparer.Compare("logits[2] at batch 1", one["logits"], [1, 16, 192],
            three["logits"].AsSpan(2 * logits, logits), [1, 16, 192], exact: false);
        Assert.True(result.Passed, result.Format());
        Assert.Equal(three["mask"].AsSpan(2 * 16, 16).ToArray(), one["mask"]);
    }
}
