using Microsoft.ML.OnnxRuntime;

namespace ViTMAE.Compiled.Onnx;

/// <summary>
/// ONNX Runtime session settings used by <see cref="OnnxReference"/>. Every setting is explicit so that timings and
/// results do not depend on ONNX Runtime's defaults (which, e.g., use every core and spin).
/// </summary>
public sealed record OnnxSessionSettings
{
    /// <summary>Graph optimisation level (default <see cref="GraphOptimizationLevel.ORT_ENABLE_ALL"/>).</summary>
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>Intra-op threads (default 1). Inter-op execution is always sequential with one thread.</summary>
    public int IntraOpNumThreads { get; init; } = 1;

    /// <summary>
    /// Whether idle intra-op workers spin (<c>session.intra_op.allow_spinning</c>; default <see langword="false"/>:
    /// spinning collapses throughput when another process holds the other core).
    /// </summary>
    public bool AllowSpinning { get; init; }

    /// <summary>Creates the <see cref="SessionOptions"/> these settings describe; the caller disposes it.</summary>
    public SessionOptions CreateSessionOptions()
    {
        var options = new SessionOptions();
        try
        {
            options.GraphOptimizationLevel = OptimizationLevel;
            options.ExecutionMode = ExecutionMode.ORT_SEQUENTIAL;
            options.IntraOpNumThreads = IntraOpNumThreads;
            options.InterOpNumThreads = 1;
            string spin = AllowSpinning ? "1" : "0";
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", spin);
            options.AddSessionConfigEntry("session.inter_op.allow_spinning", spin);
            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }
}
