using System;
using System.Collections.Immutable;

namespace ViTMAE.Compiled.Onnx;

/// <summary>One output of <see cref="OnnxReference.Run"/>: its name, shape and either float or int64 data.</summary>
public sealed class OnnxTensor
{
    /// <summary>Creates a float tensor.</summary>
    public OnnxTensor(string name, ImmutableArray<int> shape, float[] values)
    {
        Name = name ?? throw new ArgumentNullException(nameof(name));
        Shape = shape;
        Floats = values ?? throw new ArgumentNullException(nameof(values));
    }

    /// <summary>Creates an int64 tensor.</summary>
    public OnnxTensor(string name, ImmutableArray<int> shape, long[] values)
    {
        Name = name ?? throw new ArgumentNullException(nameof(name));
        Shape = shape;
        Int64s = values ?? throw new ArgumentNullException(nameof(values));
    }

    /// <summary>The graph output's name, e.g. <c>logits</c> or <c>hidden_states.3</c>.</summary>
    public string Name { get; }

    /// <summary>The shape (empty for a scalar such as <c>loss</c>).</summary>
    public ImmutableArray<int> Shape { get; }

    /// <summary>Row-major values of a float tensor, otherwise <see langword="null"/>.</summary>
    public float[]? Floats { get; }

    /// <summary>Row-major values of an int64 tensor (<c>ids_restore</c>), otherwise <see langword="null"/>.</summary>
    public long[]? Int64s { get; }

    /// <summary>Number of elements.</summary>
    public int Length => Floats?.Length ?? Int64s!.Length;

    /// <summary>A short description: name, dtype and shape.</summary>
    public override string ToString() => $"{Name}: {(Floats is null ? "int64" : "float32")} [{string.Join(", ", Shape)}]";
}
