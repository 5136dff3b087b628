using System;
using System.Globalization;

namespace ViTMAE.Compiled.Modeling;

/// <summary>The shape of a tensor of rank 0 to 5, stored inline (no allocation).</summary>
public readonly struct TensorShape : IEquatable<TensorShape>
{
    private readonly int _d0, _d1, _d2, _d3, _d4;

    /// <summary>Creates a shape from its dimensions (at most five).</summary>
    public TensorShape(params ReadOnlySpan<int> dims)
    {
        if (dims.Length > 5)
        {
            throw new ArgumentOutOfRangeException(nameof(dims), dims.Length, "a TensorShape holds at most five dimensions");
        }

        Rank = dims.Length;
        _d0 = dims.Length > 0 ? dims[0] : 0;
        _d1 = dims.Length > 1 ? dims[1] : 0;
        _d2 = dims.Length > 2 ? dims[2] : 0;
        _d3 = dims.Length > 3 ? dims[3] : 0;
        _d4 = dims.Length > 4 ? dims[4] : 0;
    }

    /// <summary>Number of dimensions.</summary>
    public int Rank { get; }

    /// <summary>Dimension <paramref name="axis"/>.</summary>
    public int this[int axis] => (uint)axis < (uint)Rank
        ? axis switch { 0 => _d0, 1 => _d1, 2 => _d2, 3 => _d3, _ => _d4 }
        : throw new ArgumentOutOfRangeException(nameof(axis), axis, "axis outside the shape's rank " + Rank.ToString(CultureInfo.InvariantCulture));

    /// <summary>Product of the dimensions (1 for a scalar).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            for (int i = 0; i < Rank; i++)
            {
                n *= this[i];
            }

            return n;
        }
    }

    /// <summary>The dimensions as a new array (for tools and messages, not for hot paths).</summary>
    public int[] ToArray()
    {
        var dims = new int[Rank];
        for (int i = 0; i < Rank; i++)
        {
            dims[i] = this[i];
        }

        return dims;
    }

    /// <summary>The shape without its first axis.</summary>
    public TensorShape DropFirst() => Rank switch
    {
        0 or 1 => default,
        2 => new TensorShape(_d1),
        3 => new TensorShape(_d1, _d2),
        4 => new TensorShape(_d1, _d2, _d3),
        _ => new TensorShape(_d1, _d2, _d3, _d4),
    };

    /// <summary>"[2, 50, 768]".</summary>
    public override string ToString() => WeightSpec.FormatShape(ToArray());

    /// <inheritdoc/>
    public bool Equals(TensorShape other) => Rank == other.Rank && _d0 == other._d0 && _d1 == other._d1 && _d2 == other._d2 && _d3 == other._d3 && _d4 == other._d4;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is TensorShape other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Rank, _d0, _d1, _d2, _d3, _d4);

    /// <summary>Equality of shapes.</summary>
    public static bool operator ==(TensorShape left, TensorShape right) => left.Equals(right);

    /// <summary>Inequality of shapes.</summary>
    public static bool operator !=(TensorShape left, TensorShape right) => !left.Equals(right);
}

/// <summary>
/// A read-only, row-major float32 tensor over memory owned by someone else (a session's workspace): the data and
/// its shape, without copying. Valid until the owner's next forward call.
/// </summary>
public readonly ref struct TensorView
{
    /// <summary>Wraps <paramref name="data"/> with <paramref name="shape"/>; the lengths must agree.</summary>
    public TensorView(ReadOnlySpan<float> data, TensorShape shape)
    {
        if (data.Length != shape.ElementCount)
        {
            throw new ArgumentException("tensor data holds " + data.Length.ToString(CultureInfo.InvariantCulture) + " values, shape " + shape + " needs " + shape.ElementCount.ToString(CultureInfo.InvariantCulture), nameof(data));
        }

        Span = data;
        Shape = shape;
    }

    /// <summary>The values, row-major.</summary>
    public ReadOnlySpan<float> Span { get; }

    /// <summary>The shape.</summary>
    public TensorShape Shape { get; }

    /// <summary>True for an output that was not requested.</summary>
    public bool IsEmpty => Shape.Rank == 0 && Span.IsEmpty;

    /// <summary>Entry <paramref name="index"/> along the first axis (e.g. one layer of <c>hidden_states</c>, one image of a batch).</summary>
    public TensorView this[int index]
    {
        get
        {
            if (Shape.Rank == 0 || (uint)index >= (uint)Shape[0])
            {
                throw new ArgumentOutOfRangeException(nameof(index), index, "index outside the first axis of a tensor of shape " + Shape);
            }

            TensorShape inner = Shape.DropFirst();
            int size = (int)inner.ElementCount;
            return new TensorView(Span.Slice(index * size, size), inner);
        }
    }

    /// <summary>Copies the values into a new array (for tools and tests; hot paths read <see cref="Span"/>).</summary>
    public float[] ToArray() => Span.ToArray();
}
