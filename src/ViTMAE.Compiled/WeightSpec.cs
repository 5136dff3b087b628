using System;
using System.Collections.Generic;
using System.Globalization;

namespace ViTMAE.Compiled;

/// <summary>What a tensor of the model is: decides how it is loaded, initialised and trained.</summary>
public enum WeightRole
{
    /// <summary><c>vit.embeddings.cls_token</c> [1, 1, hidden]: trainable, no weight decay.</summary>
    ClsToken,

    /// <summary>A fixed 2-D sin-cos position table [1, 1 + L, dim] (<c>requires_grad=False</c> in Hugging Face): frozen.</summary>
    PositionTable,

    /// <summary>The patch projection, a stride-p convolution weight [hidden, channels, p, p]: weight decay.</summary>
    PatchProjection,

    /// <summary><c>decoder.mask_token</c> [1, 1, decoder_hidden]: trainable, no weight decay.</summary>
    MaskToken,

    /// <summary>A Linear weight [out, in]: weight decay.</summary>
    LinearWeight,

    /// <summary>A Linear or convolution bias [out]: no weight decay.</summary>
    Bias,

    /// <summary>A LayerNorm scale [dim]: no weight decay.</summary>
    LayerNormWeight,

    /// <summary>A LayerNorm shift [dim]: no weight decay.</summary>
    LayerNormBias,
}

/// <summary>
/// One tensor of a ViTMAE model: its Hugging Face key (as in <c>ViTMAEForPreTraining</c>'s state dict), its shape and its
/// role. <see cref="WeightCatalog"/> lists every tensor of a config; generated classes expose it as <c>WeightLayout</c>.
/// </summary>
public sealed class WeightSpec : IEquatable<WeightSpec>
{
    private readonly int[] _shape;

    /// <summary>Creates a spec for the tensor <paramref name="key"/> of the given role and shape.</summary>
    public WeightSpec(string key, WeightRole role, params int[] shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(shape);
        Key = key;
        Role = role;
        _shape = (int[])shape.Clone();
    }

    /// <summary>Hugging Face key, e.g. <c>vit.encoder.layer.0.attention.attention.query.weight</c>.</summary>
    public string Key { get; }

    /// <summary>What the tensor is.</summary>
    public WeightRole Role { get; }

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

    /// <summary>Whether training updates it: everything but the fixed sin-cos position tables (frozen in Hugging Face).</summary>
    public bool IsTrainable => Role != WeightRole.PositionTable;

    /// <summary>
    /// Whether AdamW decays it (the MAE recipe): tensors of two or more dimensions, i.e. Linear and patch-projection
    /// weights; not biases, LayerNorm parameters, <c>cls_token</c> or <c>mask_token</c>.
    /// </summary>
    public bool HasWeightDecay => Role is WeightRole.LinearWeight or WeightRole.PatchProjection;

    /// <summary>Shape as text, e.g. <c>[768, 3, 16, 16]</c>.</summary>
    public string ShapeText => FormatShape(_shape);

    /// <summary>The shape as a new array.</summary>
    public int[] ShapeArray() => (int[])_shape.Clone();

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

    /// <inheritdoc/>
    public bool Equals(WeightSpec? other) => other is not null && Key == other.Key && Role == other.Role && _shape.AsSpan().SequenceEqual(other._shape);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as WeightSpec);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Key, _shape.Length);

    /// <summary>"key [shape]".</summary>
    public override string ToString() => Key + " " + ShapeText;
}
