using System;
using System.ComponentModel;
using ViTMAE.Compiled.Kernels;

namespace ViTMAE.Compiled.Runtime;

/// <summary>
/// The weights of one pre-LN transformer layer (<c>ViTMAELayer</c>), packed at load: query, key and value fused into one
/// GEMM, each Linear in the micro-kernel's panel layout. Immutable.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class TransformerLayerWeights
{
    private TransformerLayerWeights(
        float[] layerNormBeforeWeight, float[] layerNormBeforeBias, PackedLinear qkv, PackedLinear attentionOutput,
        float[] layerNormAfterWeight, float[] layerNormAfterBias, PackedLinear intermediate, PackedLinear output)
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
    public PackedLinear Qkv { get; }

    /// <summary><c>attention.output.dense</c> [hidden, hidden].</summary>
    public PackedLinear AttentionOutput { get; }

    /// <summary><c>layernorm_after.weight</c> [hidden].</summary>
    public float[] LayerNormAfterWeight { get; }

    /// <summary><c>layernorm_after.bias</c> [hidden].</summary>
    public float[] LayerNormAfterBias { get; }

    /// <summary><c>intermediate.dense</c> [intermediate, hidden].</summary>
    public PackedLinear Intermediate { get; }

    /// <summary><c>output.dense</c> [hidden, intermediate].</summary>
    public PackedLinear Output { get; }

    /// <summary>
    /// Re-packs the layer from new values of its tensors (a training step updates the Hugging Face-layout parameters, then
    /// re-packs). No allocation. Must not run while a call uses the weights.
    /// </summary>
    public void Refresh(WeightCatalog catalog, Training.ModelParameters parameters, bool decoder, int layer)
    {
        // The layer's keys are looked up once: building "vit.encoder.layer.N.…" strings on every optimizer step would allocate.
        int[] at = _refreshIndices ??= RefreshIndices(catalog, decoder, layer);
        ReadOnlySpan<float> Tensor(int slot) => at[slot] < 0 ? default : parameters[at[slot]];
        Tensor(0).CopyTo(LayerNormBeforeWeight);
        Tensor(1).CopyTo(LayerNormBeforeBias);
        Qkv.Repack(Tensor(2), Tensor(3), Tensor(4), Tensor(5), Tensor(6), Tensor(7));
        AttentionOutput.Repack(Tensor(8), Tensor(9));
        Tensor(10).CopyTo(LayerNormAfterWeight);
        Tensor(11).CopyTo(LayerNormAfterBias);
        Intermediate.Repack(Tensor(12), Tensor(13));
        Output.Repack(Tensor(14), Tensor(15));
    }

    // Catalog indices of the tensors Refresh reads, in its order (-1: a bias the config leaves out); set on the first refresh.
    private int[]? _refreshIndices;

    private static int[] RefreshIndices(WeightCatalog catalog, bool decoder, int layer)
    {
        string p = WeightCatalog.LayerPrefix(decoder, layer);
        string[] tensors =
        [
            WeightCatalog.LayerTensor.LayerNormBefore, WeightCatalog.LayerTensor.Query, WeightCatalog.LayerTensor.Key, WeightCatalog.LayerTensor.Value,
            WeightCatalog.LayerTensor.AttentionOutput, WeightCatalog.LayerTensor.LayerNormAfter, WeightCatalog.LayerTensor.Intermediate, WeightCatalog.LayerTensor.Output,
        ];
        var indices = new int[2 * tensors.Length];
        for (int i = 0; i < tensors.Length; i++)
        {
            indices[2 * i] = catalog.IndexOf(p + tensors[i] + ".weight");
            indices[(2 * i) + 1] = catalog.Contains(p + tensors[i] + ".bias") ? catalog.IndexOf(p + tensors[i] + ".bias") : -1;
        }

        return indices;
    }

    /// <summary>Packs every Linear of the layer a second time, for input gradients (<see cref="PackedLinear.EnableBackward"/>).</summary>
    public void EnableBackward()
    {
        Qkv.EnableBackward();
        AttentionOutput.EnableBackward();
        Intermediate.EnableBackward();
        Output.EnableBackward();
    }

    /// <summary>Reads and packs encoder or decoder layer <paramref name="layer"/> through the catalog's keys.</summary>
    public static TransformerLayerWeights Load(WeightCatalog catalog, Func<WeightSpec, float[]> read, bool decoder, int layer)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(read);
        string p = WeightCatalog.LayerPrefix(decoder, layer);
        float[] Tensor(string name) => read(catalog[p + name]);
        float[] Bias(string name) => catalog.Contains(p + name + ".bias") ? Tensor(name + ".bias") : [];
        int hidden = catalog[p + WeightCatalog.LayerTensor.Query + ".weight"].Shape[1];
        var qkv = PackedLinear.Concatenate(
            hidden,
            Tensor(WeightCatalog.LayerTensor.Query + ".weight"), Bias(WeightCatalog.LayerTensor.Query),
            Tensor(WeightCatalog.LayerTensor.Key + ".weight"), Bias(WeightCatalog.LayerTensor.Key),
            Tensor(WeightCatalog.LayerTensor.Value + ".weight"), Bias(WeightCatalog.LayerTensor.Value));
        return new TransformerLayerWeights(
            Tensor(WeightCatalog.LayerTensor.LayerNormBefore + ".weight"),
            Tensor(WeightCatalog.LayerTensor.LayerNormBefore + ".bias"),
            qkv,
            ModelWeights.Linear(catalog, read, p + WeightCatalog.LayerTensor.AttentionOutput),
            Tensor(WeightCatalog.LayerTensor.LayerNormAfter + ".weight"),
            Tensor(WeightCatalog.LayerTensor.LayerNormAfter + ".bias"),
            ModelWeights.Linear(catalog, read, p + WeightCatalog.LayerTensor.Intermediate),
            ModelWeights.Linear(catalog, read, p + WeightCatalog.LayerTensor.Output));
    }
}

/// <summary>
/// Every weight of a compiled model, read through its <see cref="WeightCatalog"/> and packed once: Linears in GEMM panels,
/// LayerNorm parameters and tokens as arrays, one position table per compiled resolution (the extra ones interpolated
/// at load). Immutable after load (except a trainer's own instance, see <see cref="Refresh"/>); one instance serves every session and thread. A <c>ViTMAEModel</c> checkpoint
/// (no decoder) loads the encoder alone.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class ModelWeights
{
    private ModelWeights(WeightCatalog catalog, Func<WeightSpec, float[]> read, bool hasDecoder, ReadOnlySpan<(int GridHeight, int GridWidth)> extraResolutions)
    {
        Configuration.ViTMAESpec s = catalog.Spec;
        Catalog = catalog;

        // Embeddings: the convolution weight [D, C, p, p] reordered to patchify order [D, p, p, C], packed as a GEMM.
        PatchEmbedding = new PackedLinear(
            Patches.ConvWeightToPatchOrder(read(catalog[WeightCatalog.Keys.PatchProjection + ".weight"]), s.HiddenSize, s.NumChannels, s.PatchSize),
            read(catalog[WeightCatalog.Keys.PatchProjection + ".bias"]), s.HiddenSize, s.PatchDim);
        ClsToken = read(catalog[WeightCatalog.Keys.ClsToken]);
        float[] positions = read(catalog[WeightCatalog.Keys.PositionEmbeddings]);
        PositionTables = new float[1 + extraResolutions.Length][];
        PositionTables[0] = positions;
        for (int i = 0; i < extraResolutions.Length; i++)
        {
            // Extra resolutions: HF's interpolate_pos_encoding, computed once here (bicubic over the 2-D grid).
            PositionTables[1 + i] = PositionInterpolation.Encoder(positions, s.HiddenSize, extraResolutions[i].GridHeight, extraResolutions[i].GridWidth);
        }

        Encoder = new TransformerLayerWeights[s.NumHiddenLayers];
        for (int layer = 0; layer < Encoder.Length; layer++)
        {
            Encoder[layer] = TransformerLayerWeights.Load(catalog, read, decoder: false, layer);
        }

        NormWeight = read(catalog[WeightCatalog.Keys.LayerNorm + ".weight"]);
        NormBias = read(catalog[WeightCatalog.Keys.LayerNorm + ".bias"]);
        if (!hasDecoder)
        {
            Decoder = [];
            return;
        }

        DecoderEmbed = Linear(catalog, read, WeightCatalog.Keys.DecoderEmbed);
        MaskToken = read(catalog[WeightCatalog.Keys.MaskToken]);
        float[] decoderPositions = read(catalog[WeightCatalog.Keys.DecoderPositionEmbeddings]);
        DecoderPositionTables = new float[1 + extraResolutions.Length][];
        DecoderPositionTables[0] = decoderPositions;
        for (int i = 0; i < extraResolutions.Length; i++)
        {
            // The decoder table is resized along the flattened sequence (HF's 1-D interpolation), not as a grid.
            DecoderPositionTables[1 + i] = PositionInterpolation.Decoder(decoderPositions, s.DecoderHiddenSize, extraResolutions[i].GridHeight * extraResolutions[i].GridWidth);
        }

        Decoder = new TransformerLayerWeights[s.DecoderNumHiddenLayers];
        for (int layer = 0; layer < Decoder.Length; layer++)
        {
            Decoder[layer] = TransformerLayerWeights.Load(catalog, read, decoder: true, layer);
        }

        DecoderNormWeight = read(catalog[WeightCatalog.Keys.DecoderNorm + ".weight"]);
        DecoderNormBias = read(catalog[WeightCatalog.Keys.DecoderNorm + ".bias"]);
        DecoderPred = Linear(catalog, read, WeightCatalog.Keys.DecoderPred);
    }

    // The patch projection's weight in patch order, reused by Refresh (allocated on its first call).
    private float[]? _patchOrder;

    /// <summary>The model's tensors.</summary>
    public WeightCatalog Catalog { get; }

    /// <summary>The patch projection as a GEMM over patchified pixels: [hidden, p·p·C].</summary>
    public PackedLinear PatchEmbedding { get; }

    /// <summary><c>cls_token</c> [hidden].</summary>
    public float[] ClsToken { get; }

    /// <summary>The encoder position table incl. CLS, per compiled resolution (index 0: the config's).</summary>
    public float[][] PositionTables { get; }

    /// <summary>The encoder layers.</summary>
    public TransformerLayerWeights[] Encoder { get; }

    /// <summary><c>vit.layernorm.weight</c>.</summary>
    public float[] NormWeight { get; }

    /// <summary><c>vit.layernorm.bias</c>.</summary>
    public float[] NormBias { get; }

    /// <summary>Whether the checkpoint had a decoder (ViTMAEForPreTraining).</summary>
    public bool HasDecoder => DecoderPred is not null;

    /// <summary><c>decoder.decoder_embed</c> [decoder_hidden, hidden].</summary>
    public PackedLinear? DecoderEmbed { get; }

    /// <summary><c>decoder.mask_token</c> [decoder_hidden].</summary>
    public float[]? MaskToken { get; }

    /// <summary>The decoder position table incl. CLS, per compiled resolution.</summary>
    public float[][]? DecoderPositionTables { get; }

    /// <summary>The decoder layers (empty without a decoder).</summary>
    public TransformerLayerWeights[] Decoder { get; }

    /// <summary><c>decoder.decoder_norm.weight</c>.</summary>
    public float[]? DecoderNormWeight { get; }

    /// <summary><c>decoder.decoder_norm.bias</c>.</summary>
    public float[]? DecoderNormBias { get; }

    /// <summary><c>decoder.decoder_pred</c> [p·p·C, decoder_hidden].</summary>
    public PackedLinear? DecoderPred { get; }

    /// <summary>
    /// Reads every tensor of <paramref name="catalog"/> from <paramref name="checkpoint"/> (shapes checked, dtypes converted)
    /// and packs it. <paramref name="extraResolutions"/> are the grids of the declared extra input resolutions.
    /// </summary>
    public static ModelWeights Load(WeightCatalog catalog, Checkpoint checkpoint, params ReadOnlySpan<(int GridHeight, int GridWidth)> extraResolutions)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(checkpoint);
        return new ModelWeights(catalog, checkpoint.Require, checkpoint.HasDecoder, extraResolutions);
    }

    /// <summary>
    /// Packs a training run's parameters (a <c>ViTMAEForPreTraining</c> model, decoder included). The instance belongs to the
    /// trainer: <see cref="Refresh"/> re-packs it after each optimizer step.
    /// </summary>
    public static ModelWeights FromParameters(Training.ModelParameters parameters, params ReadOnlySpan<(int GridHeight, int GridWidth)> extraResolutions)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return new ModelWeights(parameters.Catalog, parameters.Read, hasDecoder: true, extraResolutions);
    }

    /// <summary>
    /// Re-packs every trainable tensor from <paramref name="parameters"/> (same catalog), in place, without allocating: what a
    /// trainer does after each optimizer step. The position tables are frozen (as in Hugging Face) and are not re-read.
    /// Must not run while a call uses these weights; an instance shared between sessions must never be refreshed.
    /// </summary>
    /// <exception cref="ArgumentException">The parameters belong to another model.</exception>
    /// <exception cref="InvalidOperationException">These weights have no decoder.</exception>
    public void Refresh(Training.ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Values.Length != Catalog.TotalElements || parameters.Catalog.Count != Catalog.Count)
        {
            throw new ArgumentException("the parameters are laid out for another model", nameof(parameters));
        }

        if (!HasDecoder)
        {
            throw new InvalidOperationException("weights without a decoder (a ViTMAEModel checkpoint) cannot be trained");
        }

        Configuration.ViTMAESpec s = Catalog.Spec;
        _patchOrder ??= new float[s.HiddenSize * s.PatchDim];
        Patches.ConvWeightToPatchOrder(parameters[WeightCatalog.Keys.PatchProjection + ".weight"], _patchOrder, s.HiddenSize, s.NumChannels, s.PatchSize);
        PatchEmbedding.Repack(_patchOrder, parameters[WeightCatalog.Keys.PatchProjection + ".bias"]);
        parameters[WeightCatalog.Keys.ClsToken].CopyTo(ClsToken);
        for (int layer = 0; layer < Encoder.Length; layer++)
        {
            Encoder[layer].Refresh(Catalog, parameters, decoder: false, layer);
        }

        parameters[WeightCatalog.Keys.LayerNorm + ".weight"].CopyTo(NormWeight);
        parameters[WeightCatalog.Keys.LayerNorm + ".bias"].CopyTo(NormBias);
        DecoderEmbed!.Repack(parameters[WeightCatalog.Keys.DecoderEmbed + ".weight"], parameters[WeightCatalog.Keys.DecoderEmbed + ".bias"]);
        parameters[WeightCatalog.Keys.MaskToken].CopyTo(MaskToken);
        for (int layer = 0; layer < Decoder.Length; layer++)
        {
            Decoder[layer].Refresh(Catalog, parameters, decoder: true, layer);
        }

        parameters[WeightCatalog.Keys.DecoderNorm + ".weight"].CopyTo(DecoderNormWeight);
        parameters[WeightCatalog.Keys.DecoderNorm + ".bias"].CopyTo(DecoderNormBias);
        DecoderPred!.Repack(parameters[WeightCatalog.Keys.DecoderPred + ".weight"], parameters[WeightCatalog.Keys.DecoderPred + ".bias"]);
    }

    /// <summary>Packs every Linear a second time, for the input gradients of a backward pass (once; later calls do nothing).</summary>
    public void EnableBackward()
    {
        PatchEmbedding.EnableBackward();
        foreach (TransformerLayerWeights layer in Encoder)
        {
            layer.EnableBackward();
        }

        DecoderEmbed?.EnableBackward();
        foreach (TransformerLayerWeights layer in Decoder)
        {
            layer.EnableBackward();
        }

        DecoderPred?.EnableBackward();
    }

    /// <summary>Reads <c>{name}.weight</c> [out, in] and <c>{name}.bias</c> [out] and packs them.</summary>
    internal static PackedLinear Linear(WeightCatalog catalog, Func<WeightSpec, float[]> read, string name)
    {
        WeightSpec weight = catalog[name + ".weight"];
        return new PackedLinear(read(weight), read(catalog[name + ".bias"]), weight.Shape[0], weight.Shape[1]);
    }
}
