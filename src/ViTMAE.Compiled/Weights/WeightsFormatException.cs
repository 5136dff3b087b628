using System;

namespace ViTMAE.Compiled.Weights;

/// <summary>
/// A safetensors file or sharded index is malformed: bad header length, header not UTF-8 JSON, a bad
/// tensor entry, offsets outside the data (truncated file), overlapping tensors, or a missing shard.
/// </summary>
public sealed class WeightsFormatException : ViTMAEException
{
    /// <summary>Creates the exception for <paramref name="filePath"/>; the message is prefixed with the file name.</summary>
    public WeightsFormatException(string filePath, string? tensorName, string message, Exception? innerException = null)
        : base(WeightErrors.Prefix(filePath) + message, innerException!)
    {
        FilePath = filePath;
        TensorName = tensorName;
    }

    /// <summary>Creates an exception with a message.</summary>
    public WeightsFormatException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public WeightsFormatException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception with no message.</summary>
    public WeightsFormatException() { }

    /// <summary>Path of the offending file, as given to the loader.</summary>
    public string? FilePath { get; }

    /// <summary>The tensor whose entry is at fault, when the problem is a single entry.</summary>
    public string? TensorName { get; }
}
