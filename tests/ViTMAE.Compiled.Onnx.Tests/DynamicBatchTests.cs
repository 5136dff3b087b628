using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.GoldenCheck;
using ViTMAE.Compiled.Onnx.Proto;
using ViTMAE.Compiled.Weights;
using Xunit.Abstractions;

namespace ViTMAE.Compiled.Onnx.Tests;

/// <summary>
/// The batch axis (issue 14): by default a graph has the symbolic batch dimension <c>batch</c> and ONNX Runtime runs it
/// at any batch, with the same per-image numbers as Hugging Face and as the fixed-batch graphs; <c>Batch = N</c> still
/// builds a static graph that refuses another batch.
/// </summary>
public sealed class DynamicBatchTests
{
    private readonly ITestOutputHelper _output;

    public DynamicBatchTests(ITestOutputHelper output) => _output = output;

    /// <summary>The golden cases with a batch of 3, as pre-training and encoder-only graphs.</summary>
    public static TheoryData<string, bool> BatchCases
    {
        get
        {
            var data = new TheoryData<string, bool>();
            foreach (string name in Golden.CaseNames.Where(c => c.EndsWith("-batch", StringComparison.Ordinal)))
            {
                data.Add(name, false);
                data.Add(name, true);
            }

            return data;
        }
    }

    [Fact]
    public void Both_batch_golden_cases_are_present()
    {
        Assert.Equal(4, BatchCases.Count());
    }

    [Theory]
    [MemberData(nameof(BatchCases))]
    public void Default_graph_runs_batch_1_and_3_with_the_numbers_of_huggingface_and_the_fixed_graphs(string caseName, bool encoderOnly)
    {
        using Golden.OpenCase golden = Golden.Open(caseName);
        (ViTMAESpec spec, WeightSource weights, SafeTensorsFile io, float[] pixels, float[] noise) = golden;
        long[] shape = io.GetInfo("inputs.pixel_values").Shape.ToArray();
        const int batch = 3;
        Assert.Equal(batch, shape[0]);
        int image = pixels.Length / batch, patches = noise.Length / batch;

        var options = new OnnxBuildOptions
        {
            Height = (int)shape[2],
            Width = (int)shape[3],
            EncoderOnly = encoderOnly,
            OutputHiddenStates = true,
            OutputAttentions = true,
        };
        Assert.Null(options.Batch); // the default
        using OnnxReference symbolic = OnnxReference.Create(spec, weights, options);
        using OnnxReference fixed3 = OnnxReference.Create(spec, weights, options with { Batch = batch });
        using OnnxReference fixed1 = OnnxReference.Create(spec, weights, options with { Batch = 1 });
        Assert.Null(symbolic.Batch);
        Assert.Equal(-1, symbolic.PixelValuesShape[0]);
        Assert.Equal(fixed3.OutputNames.ToArray(), symbolic.OutputNames.ToArray());

        string context = $"{caseName}{(encoderOnly ? " (encoder only)" : "")}";
        var failures = new List<string?>();
        var stats = new Stats();

        // Batch 3: every tensor against Hugging Face's (the golden rule), and against the static batch-3 graph.
        IReadOnlyDictionary<string, OnnxTensor> three = symbolic.Run(pixels, noise);
        IReadOnlyDictionary<string, OnnxTensor> threeFixed = fixed3.Run(pixels, noise);
        foreach (var (name, tensor) in three)
        {
            Assert.Equal(batch, tensor.Shape.IsEmpty ? batch : tensor.Shape[0]);
            failures.Add(GoldenKey(io, name, encoderOnly) is string key
                ? stats.Add("batch 3 vs HF", Compare($"batch 3 vs HF: {name}", tensor, GoldenTensor(io, key)))
                : $"{name}: no golden tensor");
            failures.Add(stats.Add("dynamic vs fixed, batch 3", Compare($"batch 3 vs Batch=3 graph: {name}", tensor, threeFixed[name])));
        }

        // Batch 1: each image alone through the same graph, against the static batch-1 graph on that image (every
        // output, loss included), against the same image's slice of the batch-3 run and of Hugging Face's tensors.
        for (int b = 0; b < batch; b++)
        {
            float[] onePixels = pixels.AsSpan(b * image, image).ToArray();
            float[] oneNoise = noise.AsSpan(b * patches, patches).ToArray();
            IReadOnlyDictionary<string, OnnxTensor> one = symbolic.Run(onePixels, oneNoise);
            IReadOnlyDictionary<string, OnnxTensor> oneFixed = fixed1.Run(onePixels, oneNoise);
            Assert.Equal(three.Keys.Order(StringComparer.Ordinal), one.Keys.Order(StringComparer.Ordinal));
            foreach (var (name, tensor) in one)
            {
                failures.Add(stats.Add("dynamic vs fixed, batch 1", Compare($"image {b} vs Batch=1 graph: {name}", tensor, oneFixed[name])));
                if (tensor.Shape.IsEmpty)
                {
                    continue; // the loss averages over the batch: only the batch-1 graphs compare it
                }

                Assert.Equal(1, tensor.Shape[0]);
                failures.Add(stats.Add("batch 1 vs batch-3 slice", Compare($"image {b} vs its batch-3 slice: {name}", tensor, Item(three[name], b))));
                string key = GoldenKey(io, name, encoderOnly)!;
                failures.Add(stats.Add("batch 1 vs HF slice", Compare($"image {b} vs HF slice: {name}", tensor, Item(GoldenTensor(io, key), b))));
            }
        }

        foreach (string line in stats.Lines())
        {
            _output.WriteLine($"{context}: {line}");
        }

        Golden.AssertAll(failures, context);
    }

    [Fact]
    public void Batch_axis_is_symbolic_by_default_and_fixed_on_request_in_the_model_and_in_onnx_runtime()
    {
        string dir = Golden.Case("tiny-default");
        ViTMAESpec spec = ViTMAESpec.Load(dir);
        using WeightSource weights = WeightSource.Open(Path.Combine(dir, "model.safetensors"));
        foreach (bool encoderOnly in new[] { false, true })
        {
            foreach (int? batch in new int?[] { null, 1, 2 })
            {
                var options = new OnnxBuildOptions { Batch = batch, EncoderOnly = encoderOnly, OutputHiddenStates = true, OutputAttentions = true };
                byte[] bytes = OnnxReference.Build(spec, weights, options);
                string label = $"Batch = {batch?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}{(encoderOnly ? ", encoder only" : "")}";

                // The protobuf: dim_param "batch" (or dim_value N) on axis 0 of every input and output, the rest fixed.
                var model = ModelProto.Parser.ParseFrom(bytes);
                Assert.Equal(17, Assert.Single(model.OpsetImport).Version);
                foreach (ValueInfoProto value in model.Graph.Input.Concat(model.Graph.Output))
                {
                    var dims = value.Type.TensorType.Shape.Dim;
                    if (value.Name == "loss")
                    {
                        Assert.Empty(dims);
                        continue;
                    }

                    Assert.Equal(batch is null ? "batch" : string.Empty, dims[0].DimParam);
                    Assert.Equal((long)(batch ?? 0), dims[0].DimValue);
                    Assert.All(dims.Skip(1), d => Assert.True(d.DimValue > 0 && d.DimParam.Length == 0, $"{label}: {value.Name} has a non-fixed axis"));
                }

                Assert.Contains(model.MetadataProps, p => p.Key == "vitmae.batch" && p.Value == (batch?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "dynamic"));
                Assert.Contains(batch is null ? "dynamic batch" : $"at batch {batch},", model.DocString, StringComparison.Ordinal);
                Assert.All(model.Graph.Node, n => Assert.Contains(n.OpType, ExportTests.StandardOps));
                Assert.Equal(batch is null, model.Graph.Node.Any(n => n.OpType == "Shape"));

                // ONNX Runtime's view: -1 and the symbol for the symbolic axis, the number otherwise.
                using SessionOptions sessionOptions = new OnnxSessionSettings().CreateSessionOptions();
                using var session = new InferenceSession(bytes, sessionOptions);
                Assert.Equal(["pixel_values", "noise"], session.InputMetadata.Keys.ToArray());
                foreach (var (name, metadata) in session.InputMetadata.Concat(session.OutputMetadata))
                {
                    if (name == "loss")
                    {
                        Assert.Empty(metadata.Dimensions);
                        continue;
                    }

                    Assert.Equal(batch ?? -1, metadata.Dimensions[0]);
                    Assert.Equal(batch is null ? "batch" : string.Empty, metadata.SymbolicDimensions[0] ?? string.Empty);
                    Assert.All(metadata.Dimensions.Skip(1), d => Assert.True(d > 0, $"{label}: {name} [{string.Join(", ", metadata.Dimensions)}]"));
                }

                Assert.Equal([batch ?? -1, 3, 32, 32], session.InputMetadata["pixel_values"].Dimensions);
                Assert.Equal([batch ?? -1, 16], session.InputMetadata["noise"].Dimensions);
                using OnnxReference reference = OnnxReference.Create(spec, weights, options);
                Assert.Equal(batch, reference.Batch);
                Assert.Equal([batch ?? -1, 3, 32, 32], reference.PixelValuesShape.ToArray());
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fixed_batch_graph_refuses_another_batch_and_the_default_graph_runs_it(bool encoderOnly)
    {
        using Golden.OpenCase golden = Golden.Open("tiny-batch");
        (ViTMAESpec spec, WeightSource weights, SafeTensorsFile io, float[] pixels, float[] noise) = golden;

        // ONNX Runtime itself refuses batch 3 on a Batch = 1 graph: the issue's error.
        byte[] fixedBytes = OnnxReference.Build(spec, weights, new OnnxBuildOptions { Batch = 1, EncoderOnly = encoderOnly });
        var error = Assert.Throws<OnnxRuntimeException>(() => RunSession(fixedBytes, pixels, noise, 3));
        Assert.Contains("Got invalid dimensions for input: pixel_values", error.Message, StringComparison.Ordinal);
        Assert.Contains("Got: 3 Expected: 1", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, RunSession(fixedBytes, pixels[..(3 * 32 * 32)], noise[..16], 1)); // its own batch runs

        // The same through OnnxReference: its length check stops it first.
        using OnnxReference fixedReference = OnnxReference.Create(spec, weights, new OnnxBuildOptions { Batch = 1, EncoderOnly = encoderOnly });
        Assert.Throws<ArgumentException>(() => fixedReference.Run(pixels, noise));

        // The default graph runs batch 3 and batch 1 in one session.
        byte[] symbolicBytes = OnnxReference.Build(spec, weights, new OnnxBuildOptions { EncoderOnly = encoderOnly });
        Assert.Equal(3, RunSession(symbolicBytes, pixels, noise, 3));
        Assert.Equal(1, RunSession(symbolicBytes, pixels[..(3 * 32 * 32)], noise[..16], 1));
    }

    /// <summary>Runs <paramref name="model"/> in a plain InferenceSession at batch <paramref name="batch"/>; returns last_hidden_state's batch axis.</summary>
    private static long RunSession(byte[] model, float[] pixels, float[] noise, long batch)
    {
        using SessionOptions sessionOptions = new OnnxSessionSettings().CreateSessionOptions();
        using var session = new InferenceSession(model, sessionOptions);
        using OrtValue pixelValue = OrtValue.CreateTensorValueFromMemory(pixels, [batch, 3, 32, 32]);
        using OrtValue noiseValue = OrtValue.CreateTensorValueFromMemory(noise, [batch, 16]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["pixel_values", "noise"], [pixelValue, noiseValue], ["last_hidden_state"]);
        return outputs[0].GetTensorTypeAndShape().Shape[0];
    }

    /// <summary>The golden key of output <paramref name="name"/>: <c>model.*</c> for the encoder, <c>pretraining.*</c> first otherwise.</summary>
    private static string? GoldenKey(SafeTensorsFile io, string name, bool encoderOnly)
    {
        if (!encoderOnly && io.Contains("pretraining." + name))
        {
            return "pretraining." + name;
        }

        return io.Contains("model." + name) ? "model." + name : null;
    }

    private static OnnxTensor GoldenTensor(SafeTensorsFile io, string key)
    {
        TensorInfo info = io.GetInfo(key);
        System.Collections.Immutable.ImmutableArray<int> shape = [.. info.Shape.ToArray().Select(d => (int)d)];
        return info.DType == DType.I64 ? new OnnxTensor(key, shape, io.ReadInt64(key)) : new OnnxTensor(key, shape, io.ReadFloat32(key));
    }

    /// <summary>Batch item <paramref name="b"/> of <paramref name="tensor"/> as a batch of 1.</summary>
    private static OnnxTensor Item(OnnxTensor tensor, int b)
    {
        int per = tensor.Length / tensor.Shape[0];
        System.Collections.Immutable.ImmutableArray<int> shape = tensor.Shape.SetItem(0, 1);
        return tensor.Int64s is long[] longs
            ? new OnnxTensor(tensor.Name, shape, longs.AsSpan(b * per, per).ToArray())
            : new OnnxTensor(tensor.Name, shape, tensor.Floats!.AsSpan(b * per, per).ToArray());
    }

    /// <summary>The golden harness's rule between two of our tensors: floats within 1e-4·max(1, max|expected|), masks and ids exactly.</summary>
    private static TensorResult Compare(string name, OnnxTensor actual, OnnxTensor expected)
    {
        long[] expectedShape = [.. expected.Shape.Select(d => (long)d)];
        if (expected.Int64s is long[] ids)
        {
            if (actual.Int64s is null || !actual.Shape.SequenceEqual(expected.Shape))
            {
                return TensorResult.Failure(name, $"{actual} vs {expected}");
            }

            return TensorComparer.CompareExact(name, actual.Int64s.Select(v => (int)v).ToArray(), ids, expectedShape);
        }

        if (actual.Floats is null)
        {
            return TensorResult.Failure(name, $"{actual} vs {expected}");
        }

        bool exact = actual.Name == "mask";
        return TensorComparer.Compare(name, actual.Floats, actual.Shape.AsSpan(), expected.Floats, expectedShape, exact);
    }

    /// <summary>Worst max-abs and max-rel per comparison kind, for the test output; returns the failure line, if any.</summary>
    private sealed class Stats
    {
        private readonly Dictionary<string, (double MaxAbs, double MaxRel, int Count, int Identical)> _kinds = new(StringComparer.Ordinal);

        public string? Add(string kind, TensorResult result)
        {
            var (maxAbs, maxRel, count, identical) = _kinds.GetValueOrDefault(kind);
            double abs = double.IsNaN(result.MaxAbs) ? maxAbs : Math.Max(maxAbs, result.MaxAbs);
            double rel = double.IsNaN(result.MaxRel) ? maxRel : Math.Max(maxRel, result.MaxRel);
            _kinds[kind] = (abs, rel, count + 1, identical + (result.MaxAbs == 0 ? 1 : 0));
            return result.Passed ? null : result.Format();
        }

        public IEnumerable<string> Lines() => _kinds.Select(k =>
            $"{k.Key}: {k.Value.Count} tensors, {k.Value.Identical} bit-identical, worst max_abs={TensorResult.Number(k.Value.MaxAbs)} max_rel={TensorResult.Number(k.Value.MaxRel)}");
    }
}
