using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using ViTMAE.Compiled.Configuration;

namespace ViTMAE.Compiled;

/// <summary>
/// Every tensor of a ViTMAE model for one config, with its Hugging Face key, shape and role, in the order of Hugging
/// Face's <c>ViTMAEForPreTraining</c> state dict. The one place where key names are spelt: loading, random
/// initialisation, saving and the optimizer's parameter groups all iterate it. (The ONNX backend and the tests keep
/// their own hand-written layouts on purpose: they are independent oracles.)
/// </summary>
public sealed class WeightCatalog : IReadOnlyList<WeightSpec>
{
    /// <summary>Key prefix of encoder layer tensors: <c>vit.encoder.layer.{i}.</c>.</summary>
    public const string EncoderLayerPrefix = "vit.encoder.layer.";

    /// <summary>Key prefix of decoder layer tensors: <c>decoder.decoder_layers.{i}.</c>.</summary>
    public const string DecoderLayerPrefix = "decoder.decoder_layers.";

    private readonly WeightSpec[] _entries;
    private readonly long[] _offsets;
    private readonly Dictionary<string, int> _index;

    private WeightCatalog(ViTMAESpec spec, List<WeightSpec> entries)
    {
        Spec = spec;
        _entries = entries.ToArray();
        _offsets = new long[_entries.Length + 1];
        _index = new Dictionary<string, int>(_entries.Length, StringComparer.Ordinal);
        for (int i = 0; i < _entries.Length; i++)
        {
            _offsets[i + 1] = _offsets[i] + _entries[i].ElementCount;
            _index.Add(_entries[i].Key, i);
        }
    }

    /// <summary>The tensor names of one pre-LN transformer layer (<c>ViTMAELayer</c>), after <c>{prefix}{i}.</c>.</summary>
    public static class LayerTensor
    {
        /// <summary><c>attention.attention.query</c> (+ <c>.weight</c>, <c>.bias</c>).</summary>
        public const string Query = "attention.attention.query";

        /// <summary><c>attention.attention.key</c>.</summary>
        public const string Key = "attention.attention.key";

        /// <summary><c>attention.attention.value</c>.</summary>
        public const string Value = "attention.attention.value";

        /// <summary><c>attention.output.dense</c>.</summary>
        public const string AttentionOutput = "attention.output.dense";

        /// <summary><c>intermediate.dense</c>.</summary>
        public const string Intermediate = "intermediate.dense";

        /// <summary><c>output.dense</c>.</summary>
        public const string Output = "output.dense";

        /// <summary><c>layernorm_before</c>.</summary>
        public const string LayerNormBefore = "layernorm_before";

        /// <summary><c>layernorm_after</c>.</summary>
        public const string LayerNormAfter = "layernorm_after";
    }

    /// <summary>Keys of the tensors outside the layers.</summary>
    public static class Keys
    {
        /// <summary><c>vit.embeddings.cls_token</c>.</summary>
        public const string ClsToken = "vit.embeddings.cls_token";

        /// <summary><c>vit.embeddings.position_embeddings</c>.</summary>
        public const string PositionEmbeddings = "vit.embeddings.position_embeddings";

        /// <summary><c>vit.embeddings.patch_embeddings.projection</c> (+ <c>.weight</c>, <c>.bias</c>).</summary>
        public const string PatchProjection = "vit.embeddings.patch_embeddings.projection";

        /// <summary><c>vit.layernorm</c>.</summary>
        public const string LayerNorm = "vit.layernorm";

        /// <summary><c>decoder.decoder_embed</c>.</summary>
        public const string DecoderEmbed = "decoder.decoder_embed";

        /// <summary><c>decoder.mask_token</c>.</summary>
        public const string MaskToken = "decoder.mask_token";

        /// <summary><c>decoder.decoder_pos_embed</c>.</summary>
        public const string DecoderPositionEmbeddings = "decoder.decoder_pos_embed";

        /// <summary><c>decoder.decoder_norm</c>.</summary>
        public const string DecoderNorm = "decoder.decoder_norm";

        /// <summary><c>decoder.decoder_pred</c>.</summary>
        public const string DecoderPred = "decoder.decoder_pred";
    }

    /// <summary>The config the catalog was built for.</summary>
    public ViTMAESpec Spec { get; }

    /// <summary>Number of tensors.</summary>
    public int Count => _entries.Length;

    /// <summary>Elements of all tensors together.</summary>
    public long TotalElements => _offsets[^1];

    /// <summary>Elements of the trainable tensors.</summary>
    public long TrainableElements
    {
        get
        {
            long n = 0;
            foreach (WeightSpec entry in _entries)
            {
                n += entry.IsTrainable ? entry.ElementCount : 0;
            }

            return n;
        }
    }

    /// <summary>Tensor <paramref name="index"/> in state-dict order.</summary>
    public WeightSpec this[int index] => _entries[index];

    /// <summary>The tensor with key <paramref name="key"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor in this model.</exception>
    public WeightSpec this[string key] => _entries[IndexOf(key)];

    /// <summary>Builds the catalog of <paramref name="spec"/>.</summary>
    public static WeightCatalog For(ViTMAESpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        int d = spec.HiddenSize, dd = spec.DecoderHiddenSize, tableRows = spec.NumPatches + 1;
        var entries = new List<WeightSpec>
        {
            // Embeddings: CLS token, the (checkpoint-stored, frozen) sin-cos position table incl. CLS, and the patch
            // projection, a stride-p convolution that runs as a GEMM over patches.
            new(Keys.ClsToken, WeightRole.ClsToken, 1, 1, d),
            new(Keys.PositionEmbeddings, WeightRole.PositionTable, 1, tableRows, d),
            new(Keys.PatchProjection + ".weight", WeightRole.PatchProjection, d, spec.NumChannels, spec.PatchSize, spec.PatchSize),
            new(Keys.PatchProjection + ".bias", WeightRole.Bias, d),
        };
        for (int layer = 0; layer < spec.NumHiddenLayers; layer++)
        {
            AddLayer(entries, LayerPrefix(decoder: false, layer), d, spec.IntermediateSize, spec.QkvBias);
        }

        entries.Add(new WeightSpec(Keys.LayerNorm + ".weight", WeightRole.LayerNormWeight, d));
        entries.Add(new WeightSpec(Keys.LayerNorm + ".bias", WeightRole.LayerNormBias, d));

        // Decoder input: projection to the decoder width, the mask token, the decoder's position table incl. CLS.
        entries.Add(new WeightSpec(Keys.DecoderEmbed + ".weight", WeightRole.LinearWeight, dd, d));
        entries.Add(new WeightSpec(Keys.DecoderEmbed + ".bias", WeightRole.Bias, dd));
        entries.Add(new WeightSpec(Keys.MaskToken, WeightRole.MaskToken, 1, 1, dd));
        entries.Add(new WeightSpec(Keys.DecoderPositionEmbeddings, WeightRole.PositionTable, 1, tableRows, dd));
        for (int layer = 0; layer < spec.DecoderNumHiddenLayers; layer++)
        {
            AddLayer(entries, LayerPrefix(decoder: true, layer), dd, spec.DecoderIntermediateSize, spec.QkvBias);
        }

        entries.Add(new WeightSpec(Keys.DecoderNorm + ".weight", WeightRole.LayerNormWeight, dd));
        entries.Add(new WeightSpec(Keys.DecoderNorm + ".bias", WeightRole.LayerNormBias, dd));
        entries.Add(new WeightSpec(Keys.DecoderPred + ".weight", WeightRole.LinearWeight, spec.PatchDim, dd));
        entries.Add(new WeightSpec(Keys.DecoderPred + ".bias", WeightRole.Bias, spec.PatchDim));
        return new WeightCatalog(spec, entries);
    }

    /// <summary><c>vit.encoder.layer.{layer}.</c> or <c>decoder.decoder_layers.{layer}.</c>.</summary>
    public static string LayerPrefix(bool decoder, int layer) =>
        (decoder ? DecoderLayerPrefix : EncoderLayerPrefix) + layer.ToString(CultureInfo.InvariantCulture) + ".";

    /// <summary>Index of the tensor <paramref name="key"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor in this model.</exception>
    public int IndexOf(string key) =>
        _index.TryGetValue(key, out int index) ? index : throw new KeyNotFoundException("no tensor '" + key + "' in this model");

    /// <summary>Whether the model has a tensor <paramref name="key"/> (e.g. query biases only when <c>qkv_bias</c>).</summary>
    public bool Contains(string key) => _index.ContainsKey(key);

    /// <summary>Offset of tensor <paramref name="index"/> in a buffer holding every tensor in catalog order.</summary>
    public long Offset(int index) => _offsets[index];

    /// <inheritdoc/>
    public IEnumerator<WeightSpec> GetEnumerator() => ((IEnumerable<WeightSpec>)_entries).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _entries.GetEnumerator();

    private static void AddLayer(List<WeightSpec> entries, string p, int hidden, int intermediate, bool qkvBias)
    {
        foreach (string projection in new[] { LayerTensor.Query, LayerTensor.Key, LayerTensor.Value })
        {
            entries.Add(new WeightSpec(p + projection + ".weight", WeightRole.LinearWeight, hidden, hidden));
            if (qkvBias)
            {
                entries.Add(new WeightSpec(p + projection + ".bias", WeightRole.Bias, hidden));
            }
        }

        entries.Add(new WeightSpec(p + LayerTensor.AttentionOutput + ".weight", WeightRole.LinearWeight, hidden, hidden));
        entries.Add(new WeightSpec(p + LayerTensor.AttentionOutput + ".bias", WeightRole.Bias, hidden));
        entries.Add(new WeightSpec(p + LayerTensor.Intermediate + ".weight", WeightRole.LinearWeight, intermediate, hidden));
        entries.Add(new WeightSpec(p + LayerTensor.Intermediate + ".bias", WeightRole.Bias, intermediate));
        entries.Add(new WeightSpec(p + LayerTensor.Output + ".weight", WeightRole.LinearWeight, hidden, intermediate));
        entries.Add(new WeightSpec(p + LayerTensor.Output + ".bias", WeightRole.Bias, hidden));
        entries.Add(new WeightSpec(p + LayerTensor.LayerNormBefore + ".weight", WeightRole.LayerNormWeight, hidden));
        entries.Add(new WeightSpec(p + LayerTensor.LayerNormBefore + ".bias", WeightRole.LayerNormBias, hidden));
        entries.Add(new WeightSpec(p + LayerTensor.LayerNormAfter + ".weight", WeightRole.LayerNormWeight, hidden));
        entries.Add(new WeightSpec(p + LayerTensor.LayerNormAfter + ".bias", WeightRole.LayerNormBias, hidden));
    }
}
