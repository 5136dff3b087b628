using System;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Numerics.Tensors;

namespace ViTMAE.Compiled.Weights;

/// <summary>
/// Converts raw little-endian tensor bytes to the element types the runtime works in. The sources may be
/// unaligned (safetensors offsets are arbitrary), so every load here is an unaligned load.
/// </summary>
internal static class TensorConversions
{
    internal static readonly DType[] Float32Sources = [DType.F32, DType.F16, DType.BF16];
    internal static readonly DType[] Int64Sources = [DType.I64, DType.I32, DType.I16, DType.I8, DType.U32, DType.U16, DType.U8, DType.Bool];
    internal static readonly DType[] UInt8Sources = [DType.U8, DType.Bool];

    internal static bool CanReadAsFloat32(DType dtype) => Array.IndexOf(Float32Sources, dtype) >= 0;

    internal static bool CanReadAsInt64(DType dtype) => Array.IndexOf(Int64Sources, dtype) >= 0;

    internal static bool CanReadAsUInt8(DType dtype) => Array.IndexOf(UInt8Sources, dtype) >= 0;

    /// <summary>F32 copies, F16 converts through <see cref="Half"/> (vectorised), BF16 shifts its bits into the top half.</summary>
    internal static void ToFloat32(DType dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        switch (dtype)
        {
            case DType.F32 when BitConverter.IsLittleEndian:
                source.CopyTo(MemoryMarshal.AsBytes(destination));
                break;
            case DType.F32:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source.Slice(i * 4));
                }

                break;
            case DType.F16 when BitConverter.IsLittleEndian:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case DType.F16:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(source.Slice(i * 2));
                }

                break;
            case DType.BF16:
                BFloat16ToFloat32(source, destination);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not convertible to float32.");
        }
    }

    /// <summary>bfloat16 is the upper half of a float32: widen each 16-bit word to 32 bits and shift left by 16.</summary>
    private static void BFloat16ToFloat32(ReadOnlySpan<byte> source, Span<float> destination)
    {
        int n = destination.Length;
        int i = 0;
        if (BitConverter.IsLittleEndian)
        {
            ref ushort src = ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(source));
            ref uint dst = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(destination));
            if (Vector256.IsHardwareAccelerated)
            {
                for (; i <= n - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
                {
                    (Vector256<uint> lower, Vector256<uint> upper) = Vector256.Widen(Vector256.LoadUnsafe(ref src, (nuint)i));
                    Vector256.ShiftLeft(lower, 16).StoreUnsafe(ref dst, (nuint)i);
                    Vector256.ShiftLeft(upper, 16).StoreUnsafe(ref dst, (nuint)(i + Vector256<uint>.Count));
                }
            }
            else if (Vector128.IsHardwareAccelerated)
            {
                for (; i <= n - Vector128<ushort>.Count; i += Vector128<ushort>.Count)
                {
                    (Vector128<uint> lower, Vector128<uint> upper) = Vector128.Widen(Vector128.LoadUnsafe(ref src, (nuint)i));
                    Vector128.ShiftLeft(lower, 16).StoreUnsafe(ref dst, (nuint)i);
                    Vector128.ShiftLeft(upper, 16).StoreUnsafe(ref dst, (nuint)(i + Vector128<uint>.Count));
                }
            }
        }

        for (; i < n; i++)
        {
            destination[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(i * 2)) << 16);
        }
    }

    /// <summary>Widens any integer dtype that fits losslessly in an <see cref="long"/>.</summary>
    internal static void ToInt64(DType dtype, ReadOnlySpan<byte> source, Span<long> destination)
    {
        switch (dtype)
        {
            case DType.I64 when BitConverter.IsLittleEndian:
                source.CopyTo(MemoryMarshal.AsBytes(destination));
                break;
            case DType.I64:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = BinaryPrimitives.ReadInt64LittleEndian(source.Slice(i * 8));
                }

                break;
            case DType.I32:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = BinaryPrimitives.ReadInt32LittleEndian(source.Slice(i * 4));
                }

                break;
            case DType.U32:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = BinaryPrimitives.ReadUInt32LittleEndian(source.Slice(i * 4));
                }

                break;
            case DType.I16:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = BinaryPrimitives.ReadInt16LittleEndian(source.Slice(i * 2));
                }

                break;
            case DType.U16:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(i * 2));
                }

                break;
            case DType.I8:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = (sbyte)source[i];
                }

                break;
            case DType.U8:
            case DType.Bool:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = source[i];
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not convertible to int64.");
        }
    }
}
