using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Onnx.Graph;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Onnx;

/// <summary>
/// The ONNX Runtime reference backend: builds a standard ONNX graph (opset 17, ai.onnx operators only) for a
/// config and a checkpoint read at run time, and runs it. A deliberately plain, independent code path — it shares
/// neither kernels nor plan with the generated code — used to cross-check it.
/// </summary>
/// <remarks>
/// Inputs are <c>pixel_values</c> <c>[B,C,H,W]</c> and <c>noise</c> <c>[B,L]</c>; masking is deterministic from the
/// noise exactly as in Hugging Face (stable ascending argsort). B is either fixed by the graph or, for a graph with a
/// symbolic batch (the default), taken from the lengths of the inputs of each <see cref="Run"/>. Outputs: <c>loss</c> (NaN when no patch is masked, as
/// in Hugging Face), <c>logits</c>, <c>mask</c>, <c>ids_restore</c> (int64), <c>last_hidden_state</c>, and on request
/// <c>hidden_states.N</c>, <c>attentions.N</c>, <c>decoder_hidden_states.N</c>, <c>decoder_attentions.N</c>.
/// An instance is not thread-safe for concurrent <see cref="Run"/> calls.
/// </remarks>
public sealed class OnnxReference : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string? _temporaryDirectory;
    private readonly long[] _pixelShape;
    private readonly long[] _noiseShape;

    private OnnxReference(InferenceSession session, string? temporaryDirectory)
    {
        _session = session;
        _temporaryDirectory = temporaryDirectory;
        _pixelShape = InputShape("pixel_values", 4);
        _noiseShape = InputShape("noise", 2);
        if ((_pixelShape[0] < 0) != (_noiseShape[0] < 0) || (_pixelShape[0] >= 0 && _pixelShape[0] != _noiseShape[0]))
        {
            throw new NotSupportedException(
                $"pixel_values [{string.Join(", ", _pixelShape)}] and noise [{string.Join(", ", _noiseShape)}] disagree on the batch axis.");
        }

        Batch = _pixelShape[0] < 0 ? null : (int)_pixelShape[0];
        OutputNames = [.. session.OutputNames];
    }

    /// <summary>
    /// Shape of the <c>pixel_values</c> input <c>[B,C,H,W]</c>, as ONNX Runtime reports it: B is −1 when the batch is
    /// symbolic.
    /// </summary>
    public ImmutableArray<int> PixelValuesShape => [.. _pixelShape.Select(d => (int)d)];

    /// <summary>Shape of the <c>noise</c> input <c>[B,L]</c>; B is −1 when the batch is symbolic.</summary>
    public ImmutableArray<int> NoiseShape => [.. _noiseShape.Select(d => (int)d)];

    /// <summary>The graph's fixed batch, or <see langword="null"/> when the batch is symbolic (any batch runs).</summary>
    public int? Batch { get; }

    /// <summary>The graph's output names in declaration order.</summary>
    public ImmutableArray<string> OutputNames { get; }

    /// <summary>Builds the ONNX graph for <paramref name="config"/> and <paramref name="weights"/> and serialises it.</summary>
    /// <exception cref="ArgumentException">The options do not fit the config (batch, resolution, mask ratio).</exception>
    /// <exception cref="MissingWeightException">A tensor the config needs is absent.</exception>
    /// <exception cref="WeightShapeException">A tensor has the wrong shape for the config.</exception>
    /// <exception cref="InvalidOperationException">The weights exceed 2 GiB (use <see cref="OnnxExport.Write"/>).</exception>
    public static byte[] Build(ViTMAESpec config, WeightSource weights, OnnxBuildOptions? options = null) =>
        ViTMAEGraph.Build(config, weights, options ?? new OnnxBuildOptions()).ToBytes();

    /// <summary>
    /// Builds the graph and opens an ONNX Runtime session on it. Models whose weights exceed 2 GiB are written to a
    /// temporary folder with external data (removed on <see cref="Dispose"/>) and loaded from there.
    /// </summary>
    public static OnnxReference Create(ViTMAESpec config, WeightSource weights, OnnxBuildOptions? options = null, OnnxSessionSettings? session = null)
    {
        OnnxModel model = ViTMAEGraph.Build(config, weights, options ?? new OnnxBuildOptions());
        session ??= new OnnxSessionSettings();
        using SessionOptions sessionOptions = session.CreateSessionOptions();
        if (model.PayloadBytes <= OnnxExport.DefaultExternalDataThreshold)
        {
            return new OnnxReference(new InferenceSession(model.ToBytes(), sessionOptions), null);
        }

        string directory = Path.Combine(Path.GetTempPath(), "vitmae-onnx-" + Guid.NewGuid().ToString("N"));
        try
        {
            string path = Path.Combine(directory, "model.onnx");
            model.WriteTo(path, OnnxExport.DefaultExternalDataThreshold);
            return new OnnxReference(new InferenceSession(path, sessionOptions), directory);
        }
        catch
        {
            TryDelete(directory);
            throw;
        }
    }

    /// <summary>Opens a model written by <see cref="OnnxExport.Write"/> (or any graph with the same inputs and outputs).</summary>
    public static OnnxReference Load(string modelPath, OnnxSessionSettings? session = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        session ??= new OnnxSessionSettings();
        using SessionOptions sessionOptions = session.CreateSessionOptions();
        return new OnnxReference(new InferenceSession(modelPath, sessionOptions), null);
    }

    /// <summary>
    /// Runs the model. <paramref name="pixelValues"/> is row-major <see cref="PixelValuesShape"/>, <paramref name="noise"/>
    /// row-major <see cref="NoiseShape"/>; with a symbolic batch, B is <paramref name="noise"/>'s length over L and
    /// <paramref name="pixelValues"/> must hold as many images. Returns every output by name.
    /// </summary>
    /// <exception cref="ArgumentException">An input has the wrong length.</exception>
    public IReadOnlyDictionary<string, OnnxTensor> Run(float[] pixelValues, float[] noise)
    {
        ArgumentNullException.ThrowIfNull(pixelValues);
        ArgumentNullException.ThrowIfNull(noise);
        long batch = Batch ?? RuntimeBatch(noise.Length, _noiseShape[1]);
        long[] pixelShape = [batch, .. _pixelShape.AsSpan(1)];
        long[] noiseShape = [batch, .. _noiseShape.AsSpan(1)];
        CheckLength(pixelValues, pixelShape, nameof(pixelValues));
        CheckLength(noise, noiseShape, nameof(noise));

        using OrtValue pixelValue = OrtValue.CreateTensorValueFromMemory(pixelValues, pixelShape);
        using OrtValue noiseValue = OrtValue.CreateTensorValueFromMemory(noise, noiseShape);
        using var runOptions = new RunOptions();
        using IDisposableReadOnlyCollection<OrtValue> outputs = _session.Run(
            runOptions, ["pixel_values", "noise"], [pixelValue, noiseValue], OutputNames);

        var result = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        for (int i = 0; i < outputs.Count; i++)
        {
            OrtValue value = outputs[i];
            OrtTensorTypeAndShapeInfo info = value.GetTensorTypeAndShape();
            ImmutableArray<int> shape = [.. info.Shape.Select(d => checked((int)d))];
            string name = OutputNames[i];
            result[name] = info.ElementDataType switch
            {
                TensorElementType.Float => new OnnxTensor(name, shape, value.GetTensorDataAsSpan<float>().ToArray()),
                TensorElementType.Int64 => new OnnxTensor(name, shape, value.GetTensorDataAsSpan<long>().ToArray()),
                _ => throw new NotSupportedException($"Output '{name}' has unsupported element type {info.ElementDataType}."),
            };
        }

        return result;
    }

    /// <summary>Closes the session (and removes the temporary model folder, if one was needed).</summary>
    public void Dispose()
    {
        _session.Dispose();
        if (_temporaryDirectory is not null)
        {
            TryDelete(_temporaryDirectory);
        }
    }

    /// <summary>The input's shape: static, except that the batch axis (the first) may be symbolic (−1).</summary>
    private long[] InputShape(string input, int rank)
    {
        if (!_session.InputMetadata.TryGetValue(input, out NodeMetadata? metadata))
        {
            throw new ArgumentException($"The model has no '{input}' input.");
        }

        int[] dims = metadata.Dimensions;
        if (dims.Length != rank || dims.Skip(1).Any(d => d <= 0) || dims[0] == 0)
        {
            throw new NotSupportedException(
                $"Input '{input}' has shape [{string.Join(", ", dims)}]; OnnxReference expects the graphs it builds "
                + $"(rank {rank}, every axis fixed except possibly the batch).");
        }

        return [.. dims.Select(d => d < 0 ? -1L : d)];
    }

    /// <summary>B for a symbolic-batch graph: <paramref name="noiseLength"/> must be a positive multiple of L.</summary>
    private static long RuntimeBatch(int noiseLength, long patches)
    {
        if (noiseLength == 0 || noiseLength % patches != 0)
        {
            throw new ArgumentException(
                $"noise must hold B·{patches} values for a batch B ≥ 1 (got {noiseLength}).", "noise");
        }

        return noiseLength / patches;
    }

    private static void CheckLength(float[] values, long[] shape, string parameter)
    {
        long expected = 1;
        foreach (long d in shape)
        {
            expected *= d;
        }

        if (values.Length != expected)
        {
            throw new ArgumentException($"Expected {expected} values for shape [{string.Join(", ", shape)}], got {values.Length}.", parameter);
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary folder is harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
