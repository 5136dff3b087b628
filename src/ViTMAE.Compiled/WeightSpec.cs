using System;
using System.Collections.Generic;
using System.Globalization;

namespace ViTMAE.Compiled;

/// <summary>
/// One tensor a compiled model reads from a Hugging Face checkpoint: its key (as in
/// <c>ViTMAEForPreTraining</c>'s state dict) and its shape. Generated classes list them in <c>WeightLayout</c>.
/// </summary>
public sealed class WeightSpec : IEquatable<WeightSpec>
{
    private readonly int[] _shape;

    /// <summary>Creates a spec for the tensor <paramref name="key"/> of the given shape.</summary>
    public WeightSpec(string key, params int[] shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(shape);
        Key = key;
        _shape = (int[])shape.Clone();
    }

    /// <summary>Hugging Face key, e.g. <c>vit.encoder.layer.0.attention.attention.query.weight</c>.</summary>
    public string Key { get; }

    /// <summary>Shape of the tensor, outermost dimension first.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>Number of elements: the product of <see cref="Shape"/>.</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (int d in _shape)
            {
                n *= d;
            }

            return n;
        }
    }

    /// <summary>True for tensors of the decoder (<c>decoder.*</c>), which only ViTMAEForPreTraining checkpoints hold.</summary>
    public bool IsDecoder => Key.StartsWith("decoder.", StringComparison.Ordinal);

    /// <summary>Shape as text, e.g. <c>[768, 3, 16, 16]</c>.</summary>
    public string ShapeText => FormatShape(_shape);

    /// <summary>Formats a shape as <c>[a, b, c]</c>.</summary>
    public static string FormatShape(IReadOnlyList<int> shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var parts = new string[shape.Count];
        for (int i = 0; i < parts.Length; i++)
        {
            parts[i] = shape[i].ToString(CultureInfo.InvariantCulture);
        }

        return "[" + string.Join(", ", parts) + "]";
    }

    /// <summary>
    /// Adds the tensors of one pre-LN transformer layer as Hugging Face names them (<c>ViTMAELayer</c>):
    /// <c>{prefix}{index}.attention.attention.{query,key,value}</c>, <c>attention.output.dense</c>,
    /// <c>intermediate.dense</c>, <c>output.dense</c>, <c>layernorm_before</c>, <c>layernorm_after</c>.
    /// </summary>
    public static void AddTransformerLayer(ICollection<WeightSpec> layout, string prefix, int index, int hidden, int intermediate, bool qkvBias)
    {
        ArgumentNullException.ThrowIfNull(layout);
        string p = prefix + index.ToString(CultureInfo.InvariantCulture) + ".";
        foreach (string projection in new[] { "query", "key", "value" })
        {
            layout.Add(new WeightSpec(p + "attention.attention." + projection + ".weight", hidden, hidden));
            if (qkvBias)
            {
                layout.Add(new WeightSpec(p + "attention.attention." + projection + ".bias", hidden));
            }
        }

        layout.Add(new WeightSpec(p + "attention.output.dense.weight", hidden, hidden));
        layout.Add(new WeightSpec(p + "attention.output.dense.bias", hidden));
        layout.Add(new WeightSpec(p + "intermediate.dense.weight", intermediate, hidden));
        layout.Add(new WeightSpec(p + "intermediate.dense.bias", intermediate));
        layout.Add(new WeightSpec(p + "output.dense.weight", hidden, intermediate));
        layout.Add(new WeightSpec(p + "output.dense.bias", hidden));
        layout.Add(new WeightSpec(p + "layernorm_before.weight", hidden));
        layout.Add(new WeightSpec(p + "layernorm_before.bias", hidden));
        layout.Add(new WeightSpec(p + "layernorm_after.weight", hidden));
        layout.Add(new WeightSpec(p + "layernorm_after.bias", hidden));
    }

    /// <inheritdoc/>
    public bool Equals(WeightSpec? other) => other is not null && Key == other.Key && _shape.AsSpan().SequenceEqual(other._shape);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as WeightSpec);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Key, _shape.Length);

    /// <summary>"key [shape]".</summary>
    public override string ToString() => Key + " " + ShapeText;
}
