using System;

namespace ViTMAE.Compiled.Weights;

/// <summary>A tensor the model needs is not in the checkpoint.</summary>
public sealed class MissingWeightException : ViTMAEException
{
    /// <summary>Creates the exception; the message names the file and the tensor and, if known, the key that exists instead.</summary>
    public MissingWeightException(string filePath, string tensorName, string message, string? existingAlternative)
        : base(WeightErrors.Prefix(filePath) + message)
    {
        FilePath = filePath;
        TensorName = tensorName;
        ExistingAlternative = existingAlternative;
    }

    /// <summary>Creates an exception with a message.</summary>
    public MissingWeightException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public MissingWeightException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception with no message.</summary>
    public MissingWeightException() { }

    /// <summary>The checkpoint that was searched (a <c>.safetensors</c> file or a sharded index).</summary>
    public string? FilePath { get; }

    /// <summary>The key that was asked for.</summary>
    public string? TensorName { get; }

    /// <summary>
    /// A key that does exist and differs only by the <c>vit.</c> prefix (a ViTMAEModel checkpoint read as
    /// ViTMAEForPreTraining or vice versa), or <see langword="null"/>.
    /// </summary>
    public string? ExistingAlternative { get; }
}
