using System;
using System.ComponentModel;

namespace ViTMAE.Compiled.Runtime;

/// <summary>
/// The gradient of one pre-LN transformer layer's parameters: views into a gradient buffer laid out like the model's
/// <see cref="WeightCatalog"/> (Hugging Face shapes: Linear weights [out, in]). The query, key and value biases are empty
/// without <c>qkv_bias</c>.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class TransformerLayerGradients
{
    internal TransformerLayerGradients(WeightCatalog catalog, float[] buffer, bool decoder, int layer)
    {
        string p = WeightCatalog.LayerPrefix(decoder, layer);
        Memory<float> Tensor(string key) => catalog.Contains(p + key) ? buffer.AsMemory((int)catalog.Offset(catalog.IndexOf(p + key)), (int)catalog[p + key].ElementCount) : Memory<float>.Empty;
        LayerNormBeforeWeight = Tensor(WeightCatalog.LayerTensor.LayerNormBefore + ".weight");
        LayerNormBeforeBias = Tensor(WeightCatalog.LayerTensor.LayerNormBefore + ".bias");
        QueryWeight = Tensor(WeightCatalog.LayerTensor.Query + ".weight");
        QueryBias = Tensor(WeightCatalog.LayerTensor.Query + ".bias");
        KeyWeight = Tensor(WeightCatalog.LayerTensor.Key + ".weight");
        KeyBias = Tensor(WeightCatalog.LayerTensor.Key + ".bias");
        ValueWeight = Tensor(WeightCatalog.LayerTensor.Value + ".weight");
        ValueBias = Tensor(WeightCatalog.LayerTensor.Value + ".bias");
        AttentionOutputWeight = Tensor(WeightCatalog.LayerTensor.AttentionOutput + ".weight");
        AttentionOutputBias = Tensor(WeightCatalog.LayerTensor.AttentionOutput + ".bias");
        LayerNormAfterWeight = Tensor(WeightCatalog.LayerTensor.LayerNormAfter + ".weight");
        LayerNormAfterBias = Tensor(WeightCatalog.LayerTensor.LayerNormAfter + ".bias");
        IntermediateWeight = Tensor(WeightCatalog.LayerTensor.Intermediate + ".weight");
        IntermediateBias = Tensor(WeightCatalog.LayerTensor.Intermediate + ".bias");
        OutputWeight = Tensor(WeightCatalog.LayerTensor.Output + ".weight");
        OutputBias = Tensor(WeightCatalog.LayerTensor.Output + ".bias");
    }

#pragma warning disable CS1591 // One property per Hugging Face tensor of the layer, named after it.
    public Memory<float> LayerNormBeforeWeight { get; }
    public Memory<float> LayerNormBeforeBias { get; }
    public Memory<float> QueryWeight { get; }
    public Memory<float> QueryBias { get; }
    public Memory<float> KeyWeight { get; }
    public Memory<float> KeyBias { get; }
    public Memory<float> ValueWeight { get; }
    public Memory<float> ValueBias { get; }
    public Memory<float> AttentionOutputWeight { get; }
    public Memory<float> AttentionOutputBias { get; }
    public Memory<float> LayerNormAfterWeight { get; }
    public Memory<float> LayerNormAfterBias { get; }
    public Memory<float> IntermediateWeight { get; }
    public Memory<float> IntermediateBias { get; }
    public Memory<float> OutputWeight { get; }
    public Memory<float> OutputBias { get; }
#pragma warning restore CS1591
}

/// <summary>
/// Where a generated backward pass adds its parameter gradients: a buffer laid out like the model's
/// <see cref="WeightCatalog"/> (one slice per Hugging Face tensor, in its shape), with a view per tensor. The patch
/// projection's gradient is computed in patch order [D, p, p, C] into <see cref="PatchEmbeddingWeight"/> and converted
/// to the convolution's [D, C, p, p] by <see cref="FlushPatchWeight"/>. Frozen tensors (the position tables) get no
/// gradient. Views are built once; nothing is allocated per step.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class ModelGradients
{
    /// <summary>Views into <paramref name="buffer"/> (at least <see cref="WeightCatalog.TotalElements"/> floats).</summary>
    public ModelGradients(WeightCatalog catalog, float[] buffer)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(buffer);
        if (buffer.Length < catalog.TotalElements)
        {
            throw new ArgumentException($"the gradient buffer holds {buffer.Length} floats; the model has {catalog.TotalElements} parameters", nameof(buffer));
        }

        Catalog = catalog;
        Values = buffer;
        Memory<float> Tensor(string key) => buffer.AsMemory((int)catalog.Offset(catalog.IndexOf(key)), (int)catalog[key].ElementCount);
        ClsToken = Tensor(WeightCatalog.Keys.ClsToken);
        PatchProjectionWeight = Tensor(WeightCatalog.Keys.PatchProjection + ".weight");
        _patchOrder = new float[PatchProjectionWeight.Length];
        PatchEmbeddingWeight = _patchOrder;
        PatchEmbeddingBias = Tensor(WeightCatalog.Keys.PatchProjection + ".bias");
        Encoder = new TransformerLayerGradients[catalog.Spec.NumHiddenLayers];
        for (int layer = 0; layer < Encoder.Length; layer++)
        {
            Encoder[layer] = new TransformerLayerGradients(catalog, buffer, decoder: false, layer);
        }

        NormWeight = Tensor(WeightCatalog.Keys.LayerNorm + ".weight");
        NormBias = Tensor(WeightCatalog.Keys.LayerNorm + ".bias");
        DecoderEmbedWeight = Tensor(WeightCatalog.Keys.DecoderEmbed + ".weight");
        DecoderEmbedBias = Tensor(WeightCatalog.Keys.DecoderEmbed + ".bias");
        MaskToken = Tensor(WeightCatalog.Keys.MaskToken);
        Decoder = new TransformerLayerGradients[catalog.Spec.DecoderNumHiddenLayers];
        for (int layer = 0; layer < Decoder.Length; layer++)
        {
            Decoder[layer] = new TransformerLayerGradients(catalog, buffer, decoder: true, layer);
        }

        DecoderNormWeight = Tensor(WeightCatalog.Keys.DecoderNorm + ".weight");
        DecoderNormBias = Tensor(WeightCatalog.Keys.DecoderNorm + ".bias");
        DecoderPredWeight = Tensor(WeightCatalog.Keys.DecoderPred + ".weight");
        DecoderPredBias = Tensor(WeightCatalog.Keys.DecoderPred + ".bias");
    }

    /// <summary>The model's tensors.</summary>
    public WeightCatalog Catalog { get; }

    /// <summary>The gradient buffer (catalog layout).</summary>
    public float[] Values { get; }

    private readonly float[] _patchOrder;

    /// <summary>
    /// The patch embedding GEMM's weight gradient, in patch order [D, p·p·C] (see <see cref="FlushPatchWeight"/>); its bias
    /// gradient is <see cref="PatchEmbeddingBias"/>, the projection's bias.
    /// </summary>
    public Memory<float> PatchEmbeddingWeight { get; }

    /// <summary><c>vit.embeddings.patch_embeddings.projection.bias</c>.</summary>
    public Memory<float> PatchEmbeddingBias { get; }

    /// <summary><c>vit.embeddings.patch_embeddings.projection.weight</c> in PyTorch's layout [D, C, p, p].</summary>
    public Memory<float> PatchProjectionWeight { get; }

    /// <summary>The encoder layers' gradients.</summary>
    public TransformerLayerGradients[] Encoder { get; }

    /// <summary>The decoder layers' gradients.</summary>
    public TransformerLayerGradients[] Decoder { get; }

#pragma warning disable CS1591 // One property per Hugging Face tensor, named after it.
    public Memory<float> ClsToken { get; }
    public Memory<float> NormWeight { get; }
    public Memory<float> NormBias { get; }
    public Memory<float> DecoderEmbedWeight { get; }
    public Memory<float> DecoderEmbedBias { get; }
    public Memory<float> MaskToken { get; }
    public Memory<float> DecoderNormWeight { get; }
    public Memory<float> DecoderNormBias { get; }
    public Memory<float> DecoderPredWeight { get; }
    public Memory<float> DecoderPredBias { get; }
#pragma warning restore CS1591

    /// <summary>
    /// Adds the patch-order weight gradient a backward pass accumulated into <see cref="PatchProjectionWeight"/> ([D, C, p, p]) and
    /// clears it. Called once per backward pass.
    /// </summary>
    public void FlushPatchWeight()
    {
        Configuration.ViTMAESpec s = Catalog.Spec;
        Patches.AddPatchOrderToConvWeight(_patchOrder, PatchProjectionWeight.Span, s.HiddenSize, s.NumChannels, s.PatchSize);
        Array.Clear(_patchOrder);
    }

    /// <summary>Sets every gradient to zero.</summary>
    public void Clear()
    {
        Array.Clear(Values);
        Array.Clear(_patchOrder);
    }
}
