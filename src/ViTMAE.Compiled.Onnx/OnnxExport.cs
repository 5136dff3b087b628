using System;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Onnx.Graph;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Onnx;

/// <summary>
/// Exports a ViTMAE checkpoint as a standard ONNX model file (opset 17, ai.onnx operators only) that ONNX Runtime and
/// other ONNX consumers load directly. Every shape is fixed by the config and the resolution except the batch axis,
/// which is the symbolic dimension <c>batch</c> unless <see cref="OnnxBuildOptions.Batch"/> fixes it (as in models
/// exported by Hugging Face's tooling).
/// </summary>
public static class OnnxExport
{
    /// <summary>
    /// Default size of all weights above which they are stored as external data: just under protobuf's 2 GiB limit
    /// on one message, leaving room for the graph itself.
    /// </summary>
    public const long DefaultExternalDataThreshold = 2_000_000_000;

    /// <summary>
    /// Writes the model for <paramref name="config"/> and <paramref name="weights"/> to <paramref name="outPath"/>.
    /// When the weights exceed <paramref name="externalDataThreshold"/> bytes, every initializer of at least 1 KiB is
    /// stored in <c>&lt;file name&gt;.data</c> beside the model (ONNX external data, 4 KiB-aligned); keep the two files
    /// together.
    /// </summary>
    /// <returns>The paths written.</returns>
    /// <exception cref="ArgumentException">The options do not fit the config.</exception>
    /// <exception cref="MissingWeightException">A tensor the config needs is absent.</exception>
    /// <exception cref="WeightShapeException">A tensor has the wrong shape for the config.</exception>
    public static OnnxExportResult Write(
        ViTMAESpec config,
        WeightSource weights,
        string outPath,
        OnnxBuildOptions? options = null,
        long externalDataThreshold = DefaultExternalDataThreshold)
    {
        ArgumentException.ThrowIfNullOrEmpty(outPath);
        ArgumentOutOfRangeException.ThrowIfNegative(externalDataThreshold);
        OnnxModel model = ViTMAEGraph.Build(config, weights, options ?? new OnnxBuildOptions());
        string? dataPath = model.WriteTo(outPath, externalDataThreshold);
        return new OnnxExportResult(System.IO.Path.GetFullPath(outPath), dataPath, model.PayloadBytes);
    }
}

/// <summary>What <see cref="OnnxExport.Write"/> wrote.</summary>
/// <param name="ModelPath">The <c>.onnx</c> file.</param>
/// <param name="ExternalDataPath">The external data file, or <see langword="null"/> when all weights are inline.</param>
/// <param name="WeightBytes">Total bytes of the initializers (weights and constants).</param>
public sealed record OnnxExportResult(string ModelPath, string? ExternalDataPath, long WeightBytes);
