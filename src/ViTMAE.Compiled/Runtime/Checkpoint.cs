using System;
using System.ComponentModel;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Runtime;

/// <summary>
/// Reads a Hugging Face ViTMAE checkpoint by the keys of <c>ViTMAEForPreTraining</c>'s state dict
/// (<c>vit.*</c>, <c>decoder.*</c>), whether the file is a <c>ViTMAEForPreTraining</c> checkpoint or a
/// <c>ViTMAEModel</c> one (encoder keys without the <c>vit.</c> prefix, no decoder).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class Checkpoint
{
    private const string EncoderPrefix = "vit.";
    private readonly bool _bareEncoderKeys;

    /// <summary>Wraps an open weight source and finds out which kind of checkpoint it is.</summary>
    public Checkpoint(WeightSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Source = source;
        _bareEncoderKeys = !source.Contains("vit.embeddings.cls_token") && source.Contains("embeddings.cls_token");
        HasDecoder = source.Contains("decoder.decoder_embed.weight");
    }

    /// <summary>The weights being read.</summary>
    public WeightSource Source { get; }

    /// <summary>True when the checkpoint holds the decoder (<c>ViTMAEForPreTraining</c>).</summary>
    public bool HasDecoder { get; }

    /// <summary>
    /// The tensor <paramref name="key"/> (a <c>ViTMAEForPreTraining</c> key) as float32, checked against
    /// <paramref name="shape"/>. Throws <see cref="MissingWeightException"/>, <see cref="WeightShapeException"/> or
    /// <see cref="UnsupportedDTypeException"/> naming the tensor.
    /// </summary>
    public float[] Require(string key, params ReadOnlySpan<int> shape)
    {
        return Source.Require(StoredKey(key), shape);
    }

    /// <summary>
    /// The key under which this checkpoint stores the <c>ViTMAEForPreTraining</c> tensor <paramref name="key"/>:
    /// the same key, or without <c>vit.</c> in a <c>ViTMAEModel</c> checkpoint.
    /// </summary>
    public string StoredKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _bareEncoderKeys && key.StartsWith(EncoderPrefix, StringComparison.Ordinal) ? key[EncoderPrefix.Length..] : key;
    }

    /// <summary>The tensor of a <see cref="WeightCatalog"/> entry, checked against the entry's shape.</summary>
    public float[] Require(WeightSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return Require(spec.Key, spec.ShapeArray());
    }
}
