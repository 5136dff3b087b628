using System;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Modeling;

/// <summary>
/// Reads a Hugging Face ViTMAE checkpoint by the keys of <c>ViTMAEForPreTraining</c>'s state dict
/// (<c>vit.*</c>, <c>decoder.*</c>), whether the file is a <c>ViTMAEForPreTraining</c> checkpoint or a
/// <c>ViTMAEModel</c> one (encoder keys without the <c>vit.</c> prefix, no decoder).
/// </summary>
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

    /// <summary>Like <see cref="Require(string, ReadOnlySpan{int})"/>, for <see cref="WeightSpec"/> entries of a generated <c>WeightLayout</c>.</summary>
    public float[] Require(WeightSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        int[] shape = new int[spec.Shape.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            shape[i] = spec.Shape[i];
        }

        return Require(spec.Key, shape);
    }
}

/// <summary>
/// The weights of one pre-LN transformer layer (<c>ViTMAELayer</c>), packed at load: query, key and value fused
/// into one GEMM, each Linear in the micro-kernel's panel layout. Immutable.
/// </summary>
public sealed class TransformerLayerWeights
{
    private TransformerLayerWeights(
        float[] layerNormBeforeWeight, float[] layerNormBeforeBias, Kernels.PackedLinear qkv, Kernels.PackedLinear attentionOutput,
        float[] layerNormAfterWeight, float[] layerNormAfterBias, Kernels.PackedLinear intermediate, Kernels.PackedLinear output)
    {
        LayerNormBeforeWeight = layerNormBeforeWeight;
        LayerNormBeforeBias = layerNormBeforeBias;
        Qkv = qkv;
        AttentionOutput = attentionOutput;
        LayerNormAfterWeight = layerNormAfterWeight;
        LayerNormAfterBias = layerNormAfterBias;
        Intermediate = intermediate;
        Output = output;
    }

    /// <summary><c>layernorm_before.weight</c> [hidden].</summary>
    public float[] LayerNormBeforeWeight { get; }

    /// <summary><c>layernorm_before.bias</c> [hidden].</summary>
    public float[] LayerNormBeforeBias { get; }

    /// <summary><c>attention.attention.{query,key,value}</c> fused: [3·hidden, hidden].</summary>
    public Kernels.PackedLinear Qkv { get; }

    /// <summary><c>attention.output.dense</c> [hidden, hidden].</summary>
    public Kernels.PackedLinear AttentionOutput { get; }

    /// <summary><c>layernorm_after.weight</c> [hidden].</summary>
    public float[] LayerNormAfterWeight { get; }

    /// <summary><c>layernorm_after.bias</c> [hidden].</summary>
    public float[] LayerNormAfterBias { get; }

    /// <summary><c>intermediate.dense</c> [intermediate, hidden].</summary>
    public Kernels.PackedLinear Intermediate { get; }

    /// <summary><c>output.dense</c> [hidden, intermediate].</summary>
    public Kernels.PackedLinear Output { get; }

    /// <summary>Loads and packs layer <paramref name="index"/> under <paramref name="prefix"/> (e.g. <c>vit.encoder.layer.</c>).</summary>
    public static TransformerLayerWeights Load(Checkpoint checkpoint, string prefix, int index, int hidden, int intermediate, bool qkvBias)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        string p = prefix + index.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".";
        float[] Bias(string name, int n) => qkvBias ? checkpoint.Require(p + name, n) : [];
        var qkv = Kernels.PackedLinear.Concatenate(
            hidden,
            checkpoint.Require(p + "attention.attention.query.weight", hidden, hidden), Bias("attention.attention.query.bias", hidden),
            checkpoint.Require(p + "attention.attention.key.weight", hidden, hidden), Bias("attention.attention.key.bias", hidden),
            checkpoint.Require(p + "attention.attention.value.weight", hidden, hidden), Bias("attention.attention.value.bias", hidden));
        return new TransformerLayerWeights(
            checkpoint.Require(p + "layernorm_before.weight", hidden),
            checkpoint.Require(p + "layernorm_before.bias", hidden),
            qkv,
            Linear(checkpoint, p + "attention.output.dense", hidden, hidden),
            checkpoint.Require(p + "layernorm_after.weight", hidden),
            checkpoint.Require(p + "layernorm_after.bias", hidden),
            Linear(checkpoint, p + "intermediate.dense", intermediate, hidden),
            Linear(checkpoint, p + "output.dense", hidden, intermediate));
    }

    /// <summary>Loads <c>{name}.weight</c> [outFeatures, inFeatures] and <c>{name}.bias</c> [outFeatures] and packs them.</summary>
    public static Kernels.PackedLinear Linear(Checkpoint checkpoint, string name, int outFeatures, int inFeatures)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return new Kernels.PackedLinear(
            checkpoint.Require(name + ".weight", outFeatures, inFeatures),
            checkpoint.Require(name + ".bias", outFeatures),
            outFeatures,
            inFeatures);
    }
}
