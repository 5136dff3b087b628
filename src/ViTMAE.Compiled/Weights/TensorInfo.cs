using System;
using System.Collections.Immutable;

namespace ViTMAE.Compiled.Weights;

/// <summary>One tensor entry of a safetensors header, already validated against the file.</summary>
public sealed class TensorInfo
{
    internal TensorInfo(string name, DType dtype, ImmutableArray<long> shape, long elementCount, long dataOffset, long byteLength, long fileOffset)
    {
        Name = name;
        DType = dtype;
        Shape = shape;
        ElementCount = elementCount;
        DataOffset = dataOffset;
        ByteLength = byteLength;
        FileOffset = fileOffset;
    }

    /// <summary>The tensor's key, e.g. <c>vit.embeddings.cls_token</c>.</summary>
    public string Name { get; }

    /// <summary>The element type stored in the file.</summary>
    public DType DType { get; }

    /// <summary>The dimensions, outermost first; empty for a scalar.</summary>
    public ImmutableArray<long> Shape { get; }

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>Product of <see cref="Shape"/> (1 for a scalar, 0 if any dimension is 0).</summary>
    public long ElementCount { get; }

    /// <summary>Start of the data relative to the end of the header (<c>data_offsets[0]</c>).</summary>
    public long DataOffset { get; }

    /// <summary>Start of the data relative to the start of the file.</summary>
    public long FileOffset { get; }

    /// <summary>Number of bytes (<c>data_offsets[1] - data_offsets[0]</c>).</summary>
    public long ByteLength { get; }

    /// <summary>Whether the shape equals <paramref name="shape"/> exactly (same rank, same dimensions).</summary>
    public bool ShapeEquals(ReadOnlySpan<int> shape)
    {
        if (shape.Length != Shape.Length)
        {
            return false;
        }

        for (int i = 0; i < shape.Length; i++)
        {
            if (Shape[i] != shape[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The shape as <c>[d0, d1, …]</c>, the format used in error messages.</summary>
    public string ShapeText => WeightErrors.FormatShape(Shape.AsSpan());

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {DType.ToSafeTensorsName()} {ShapeText} at [{DataOffset}, {DataOffset + ByteLength})";
}
