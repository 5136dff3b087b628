using System;
using System.Collections.Generic;

namespace ViTMAE.Compiled.Weights;

/// <summary>A tensor's element type cannot be converted to what the caller asked for.</summary>
public sealed class UnsupportedDTypeException : ViTMAEException
{
    /// <summary>Creates the exception with a message naming file, tensor, found dtype and the supported ones.</summary>
    public UnsupportedDTypeException(string filePath, string tensorName, DType dtype, string requested, IReadOnlyList<DType> supported)
        : base($"{WeightErrors.Prefix(filePath)}tensor '{tensorName}' has dtype {dtype.ToSafeTensorsName()}, which cannot be read as {requested}; supported dtypes: {WeightErrors.FormatDTypes(supported)}")
    {
        FilePath = filePath;
        TensorName = tensorName;
        DType = dtype;
        SupportedDTypes = supported;
    }

    /// <summary>Creates an exception with a message.</summary>
    public UnsupportedDTypeException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public UnsupportedDTypeException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an exception with no message.</summary>
    public UnsupportedDTypeException() { }

    /// <summary>The file holding the tensor.</summary>
    public string? FilePath { get; }

    /// <summary>The tensor's key.</summary>
    public string? TensorName { get; }

    /// <summary>The dtype found in the file.</summary>
    public DType? DType { get; }

    /// <summary>The dtypes the requested read accepts.</summary>
    public IReadOnlyList<DType> SupportedDTypes { get; } = Array.Empty<DType>();
}
