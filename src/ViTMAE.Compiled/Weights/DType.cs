using System;
using System.Diagnostics.CodeAnalysis;

namespace ViTMAE.Compiled.Weights;

/// <summary>
/// Element types of the safetensors format. The names in the file (<c>"F32"</c>, <c>"BF16"</c>,
/// <c>"F8_E4M3"</c>, …) map to these members without the underscores; <see cref="DTypeExtensions.ToSafeTensorsName"/>
/// gives the file spelling back.
/// </summary>
public enum DType
{
    /// <summary>Boolean, one byte per element (0 or 1). File name <c>BOOL</c>.</summary>
    Bool = 1,
    /// <summary>Unsigned 8-bit integer. File name <c>U8</c>.</summary>
    U8,
    /// <summary>Signed 8-bit integer. File name <c>I8</c>.</summary>
    I8,
    /// <summary>8-bit float, 5 exponent and 2 mantissa bits. File name <c>F8_E5M2</c>.</summary>
    F8E5M2,
    /// <summary>8-bit float, 4 exponent and 3 mantissa bits. File name <c>F8_E4M3</c>.</summary>
    F8E4M3,
    /// <summary>8-bit exponent-only scale format. File name <c>F8_E8M0</c>.</summary>
    F8E8M0,
    /// <summary>4-bit float (two elements per byte). File name <c>F4</c>.</summary>
    F4,
    /// <summary>6-bit float, 2 exponent and 3 mantissa bits. File name <c>F6_E2M3</c>.</summary>
    F6E2M3,
    /// <summary>6-bit float, 3 exponent and 2 mantissa bits. File name <c>F6_E3M2</c>.</summary>
    F6E3M2,
    /// <summary>Signed 16-bit integer. File name <c>I16</c>.</summary>
    I16,
    /// <summary>Unsigned 16-bit integer. File name <c>U16</c>.</summary>
    U16,
    /// <summary>IEEE 754 half precision (<see cref="Half"/>). File name <c>F16</c>.</summary>
    F16,
    /// <summary>bfloat16: the upper 16 bits of a float32. File name <c>BF16</c>.</summary>
    BF16,
    /// <summary>Signed 32-bit integer. File name <c>I32</c>.</summary>
    I32,
    /// <summary>Unsigned 32-bit integer. File name <c>U32</c>.</summary>
    U32,
    /// <summary>IEEE 754 single precision. File name <c>F32</c>.</summary>
    F32,
    /// <summary>IEEE 754 double precision. File name <c>F64</c>.</summary>
    F64,
    /// <summary>Signed 64-bit integer. File name <c>I64</c>.</summary>
    I64,
    /// <summary>Unsigned 64-bit integer. File name <c>U64</c>.</summary>
    U64,
    /// <summary>Complex number of two float32 values. File name <c>C64</c>.</summary>
    C64,
}

/// <summary>Sizes and file names of <see cref="DType"/> values.</summary>
public static class DTypeExtensions
{
    /// <summary>Bits per element (4 for <see cref="DType.F4"/>, 6 for the F6 formats, otherwise a multiple of 8).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined <see cref="DType"/>.</exception>
    public static int BitSize(this DType dtype) => dtype switch
    {
        DType.F4 => 4,
        DType.F6E2M3 or DType.F6E3M2 => 6,
        DType.Bool or DType.U8 or DType.I8 or DType.F8E5M2 or DType.F8E4M3 or DType.F8E8M0 => 8,
        DType.I16 or DType.U16 or DType.F16 or DType.BF16 => 16,
        DType.I32 or DType.U32 or DType.F32 => 32,
        DType.F64 or DType.I64 or DType.U64 or DType.C64 => 64,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };

    /// <summary>The dtype's name as written in a safetensors header, e.g. <c>"F8_E4M3"</c> or <c>"BOOL"</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined <see cref="DType"/>.</exception>
    public static string ToSafeTensorsName(this DType dtype) => dtype switch
    {
        DType.Bool => "BOOL",
        DType.U8 => "U8",
        DType.I8 => "I8",
        DType.F8E5M2 => "F8_E5M2",
        DType.F8E4M3 => "F8_E4M3",
        DType.F8E8M0 => "F8_E8M0",
        DType.F4 => "F4",
        DType.F6E2M3 => "F6_E2M3",
        DType.F6E3M2 => "F6_E3M2",
        DType.I16 => "I16",
        DType.U16 => "U16",
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        DType.I32 => "I32",
        DType.U32 => "U32",
        DType.F32 => "F32",
        DType.F64 => "F64",
        DType.I64 => "I64",
        DType.U64 => "U64",
        DType.C64 => "C64",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown dtype."),
    };

    /// <summary>Parses a header dtype name (case-sensitive, as the format specifies).</summary>
    /// <returns><see langword="true"/> if <paramref name="name"/> is a known safetensors dtype.</returns>
    public static bool TryParse(string? name, [NotNullWhen(true)] out DType? dtype)
    {
        dtype = name switch
        {
            "BOOL" => DType.Bool,
            "U8" => DType.U8,
            "I8" => DType.I8,
            "F8_E5M2" => DType.F8E5M2,
            "F8_E4M3" => DType.F8E4M3,
            "F8_E8M0" => DType.F8E8M0,
            "F4" => DType.F4,
            "F6_E2M3" => DType.F6E2M3,
            "F6_E3M2" => DType.F6E3M2,
            "I16" => DType.I16,
            "U16" => DType.U16,
            "F16" => DType.F16,
            "BF16" => DType.BF16,
            "I32" => DType.I32,
            "U32" => DType.U32,
            "F32" => DType.F32,
            "F64" => DType.F64,
            "I64" => DType.I64,
            "U64" => DType.U64,
            "C64" => DType.C64,
            _ => null,
        };
        return dtype is not null;
    }
}
