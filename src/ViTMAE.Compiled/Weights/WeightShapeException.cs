using System;
using System.Collections.Immutable;

namespace ViTMAE.Compiled.Weights;

/// <summary>A tensor exists but its shape is not the one the model expects.</summary>
public sealed class WeightShapeException : ViTMAEException
{
    /// <summary>Creates the exception with a message naming file, tensor, found and expected shape.</summary>
    public WeightShapeException(string filePath, string tensorName, ImmutableArray<long> expectedShape, ImmutableArray<long> actualShape)
        : base($"{WeightErrors.Prefix(filePath)}tensor '{tensorName}' has shape {WeightErrors.FormatShape(actualShape.AsSpan())}, expected {WeightErrors.FormatShape(expectedShape.AsSpan())}")
    {
        FilePath = filePath;
        TensorName = tensorName;
        ExpectedShape = expectedShape;
        ActualShape = actualShape;
    }

    /// <summary>Creates an exception with a message.</summary>
    public WeightShapeException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public WeightShapeException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception with no message.</summary>
    public WeightShapeException() { }

    /// <summary>The file holding the tensor.</summary>
    public string? FilePath { get; }

    /// <summary>The tensor's key.</summary>
    public string? TensorName { get; }

    /// <summary>The shape the model needs.</summary>
    public ImmutableArray<long> ExpectedShape { get; }

    /// <summary>The shape in the file.</summary>
    public ImmutableArray<long> ActualShape { get; }
}
