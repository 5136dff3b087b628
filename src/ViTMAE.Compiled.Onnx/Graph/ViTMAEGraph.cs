using System;
using System.Collections.Generic;
using System.Globalization;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Onnx.Proto;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Onnx.Graph;

/// <summary>
/// Builds Hugging Face's ViTMAE (<c>ViTMAEForPreTraining</c>, or <c>ViTMAEModel</c> when encoder-only) as an ONNX
/// graph from a config and a checkpoint, following <c>modeling_vit_mae.py</c> operation by operation
/// (DESIGN.md §2). Weights become initializers under their checkpoint names; Linear weights are stored transposed
/// (<c>name.T</c>, <c>[in, out]</c>) so each projection is one MatMul plus one Add.
/// </summary>
/// <remarks>
/// Every shape is fixed at build time except the batch, which is either fixed (<see cref="OnnxBuildOptions.Batch"/>
/// set) or the symbolic dimension <c>batch</c>. In the symbolic case nothing in the graph depends on a batch number:
/// Reshape targets copy the batch axis (0), and the Expand targets that need B (CLS and mask tokens, the [B,L] masking
/// constants) take it from <c>Shape(pixel_values)[0:1]</c> at run time.
/// </remarks>
internal sealed class ViTMAEGraph
{
    /// <summary>The ai.onnx opset the graph targets (LayerNormalization exists from 17).</summary>
    public const int Opset = 17;

    private const TensorProto.Types.DataType F32 = TensorProto.Types.DataType.Float;
    private const TensorProto.Types.DataType I64 = TensorProto.Types.DataType.Int64;

    private readonly ViTMAESpec _spec;
    private readonly WeightSource _weights;
    private readonly OnnxBuildOptions _options;
    private readonly OnnxGraphBuilder _g;
    private readonly string _prefix;

    // The batch: a fixed number, or null for the symbolic dimension.
    private readonly int? _b;

    // Fixed shapes: channels, resolution, patch grid, patches L, kept K, encoder tokens T = 1 + K.
    private readonly int _c, _h, _w, _p, _gridH, _gridW, _l, _k, _t;

    // pixel_values, and (symbolic batch only) its batch size as a 1-D int64 [1] computed once in the graph.
    private string _pixels = string.Empty;
    private string? _runtimeBatch;

    private ViTMAEGraph(ViTMAESpec spec, WeightSource weights, OnnxBuildOptions options)
    {
        _spec = spec;
        _weights = weights;
        _options = options;
        _b = options.Batch;
        _c = spec.NumChannels;
        _h = options.Height ?? spec.ImageHeight;
        _w = options.Width ?? spec.ImageWidth;
        _p = spec.PatchSize;
        _gridH = _h / _p;
        _gridW = _w / _p;
        _l = _gridH * _gridW;
        _k = ViTMAESpec.KeptPatches(_l, spec.MaskRatio);
        _t = 1 + _k;
        Validate();

        _prefix = weights.DetectPrefix() ?? throw new MissingWeightException(
            $"{weights.SourcePath}: no ViTMAE encoder weights found (expected keys 'vit.embeddings.*' or 'embeddings.*').");
        if (!options.EncoderOnly && _prefix.Length == 0)
        {
            throw new MissingWeightException(
                $"{weights.SourcePath}: this is a ViTMAEModel checkpoint (keys without 'vit.', no decoder); "
                + "build with EncoderOnly = true or use a ViTMAEForPreTraining checkpoint.");
        }

        _g = new OnnxGraphBuilder(options.EncoderOnly ? "ViTMAEModel" : "ViTMAEForPreTraining")
        {
            SymbolicDimensionName = OnnxBuildOptions.BatchDimensionName,
        };
    }

    /// <summary>The batch axis of a graph input or output: the fixed size, or the symbolic dimension.</summary>
    private long IoBatch => _b ?? OnnxGraphBuilder.SymbolicDimension;

    /// <summary>The batch axis of a Reshape target: the fixed size, or 0 (Reshape copies the input's batch axis).</summary>
    private long ReshapeBatch => _b ?? 0;

    /// <summary>
    /// Expand <paramref name="x"/> (whose batch axis is 1 or B) to <c>[B, ..rest]</c>: a constant target when the batch is
    /// fixed, else one built at run time from <c>Shape(pixel_values)[0:1]</c> and the constant <paramref name="rest"/>.
    /// </summary>
    private string ExpandToBatch(string x, params long[] rest)
    {
        if (_b is int batch)
        {
            return _g.Expand(x, [batch, .. rest]);
        }

        if (_runtimeBatch is null)
        {
            string scope = _g.Scope;
            _g.Scope = "batch";
            _runtimeBatch = _g.Shape(_pixels, start: 0, end: 1);
            _g.Scope = scope;
        }

        return _g.ExpandTo(x, _g.Concat(0, _runtimeBatch, _g.Int64s(rest)));
    }

    /// <summary>Builds the graph for <paramref name="spec"/> and <paramref name="weights"/>.</summary>
    public static OnnxModel Build(ViTMAESpec spec, WeightSource weights, OnnxBuildOptions options)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(options);
        return new ViTMAEGraph(spec, weights, options).BuildModel();
    }

    private void Validate()
    {
        static void Require(bool condition, string message)
        {
            if (!condition)
            {
                throw new ArgumentException(message);
            }
        }

        Require(_options.Batch is null or >= 1, $"Batch must be at least 1, or null for a symbolic batch (got {_options.Batch}).");
        Require(_h >= _p && _w >= _p, $"The input {_h}x{_w} is smaller than one {_p}x{_p} patch.");
        Require(_spec.HiddenSize % _spec.NumAttentionHeads == 0,
            $"hidden_size {_spec.HiddenSize} is not divisible by num_attention_heads {_spec.NumAttentionHeads}.");
        Require(_options.EncoderOnly || _spec.DecoderHiddenSize % _spec.DecoderNumAttentionHeads == 0,
            $"decoder_hidden_size {_spec.DecoderHiddenSize} is not divisible by decoder_num_attention_heads {_spec.DecoderNumAttentionHeads}.");
        // patchify (the loss target) reshapes the image into whole patches, as Hugging Face's does.
        Require(_options.EncoderOnly || (_h % _p == 0 && _w % _p == 0),
            $"ViTMAEForPreTraining needs an input divisible by the patch size {_p} (got {_h}x{_w}).");
        Require(_k >= 1, $"mask_ratio {_spec.MaskRatio.ToString("R", CultureInfo.InvariantCulture)} keeps no patch of {_l}.");
        Require(Array.IndexOf(ViTMAESpec.SupportedActivations, _spec.HiddenAct) >= 0,
            $"hidden_act '{_spec.HiddenAct}' is not supported (expected one of {string.Join(", ", ViTMAESpec.SupportedActivations)}).");
    }

    private OnnxModel BuildModel()
    {
        int d = _spec.HiddenSize;
        string pixels = _pixels = _g.Input("pixel_values", F32, IoBatch, _c, _h, _w);
        string noise = _g.Input("noise", F32, IoBatch, _l);

        // ---- embeddings: patch projection + position table, then random masking, then CLS -----------------------
        var (tokens, mask, idsRestore) = Embeddings(pixels, noise);

        // ---- encoder -----------------------------------------------------------------------------------------------
        string x = tokens;
        var hiddenStates = new List<string> { x };
        var attentions = new List<string>();
        for (int i = 0; i < _spec.NumHiddenLayers; i++)
        {
            _g.Scope = $"encoder.layer.{i}";
            x = Layer(x, $"{_prefix}encoder.layer.{i}", _t, d, _spec.NumAttentionHeads, _spec.IntermediateSize, out string probs);
            hiddenStates.Add(x);
            attentions.Add(probs);
        }

        _g.Scope = "encoder";
        string lastHidden = LayerNorm(x, $"{_prefix}layernorm", d);

        if (!_options.EncoderOnly)
        {
            // ---- decoder and loss ------------------------------------------------------------------------------------
            var (logits, decoderHidden, decoderAttentions) = Decoder(lastHidden, idsRestore);
            _g.Scope = "loss";
            string loss = Loss(pixels, logits, mask);
            _g.Scope = string.Empty;
            _g.Output("loss", loss, F32);
            _g.Output("logits", logits, F32, IoBatch, _l, _spec.PatchDim);
            _g.Output("mask", mask, F32, IoBatch, _l);
            _g.Output("ids_restore", idsRestore, I64, IoBatch, _l);
            _g.Output("last_hidden_state", lastHidden, F32, IoBatch, _t, d);
            AddLayerOutputs("hidden_states", hiddenStates, "attentions", attentions, _t, d, _spec.NumAttentionHeads);
            AddLayerOutputs("decoder_hidden_states", decoderHidden, "decoder_attentions", decoderAttentions,
                _l + 1, _spec.DecoderHiddenSize, _spec.DecoderNumAttentionHeads);
        }
        else
        {
            _g.Scope = string.Empty;
            _g.Output("last_hidden_state", lastHidden, F32, IoBatch, _t, d);
            _g.Output("mask", mask, F32, IoBatch, _l);
            _g.Output("ids_restore", idsRestore, I64, IoBatch, _l);
            AddLayerOutputs("hidden_states", hiddenStates, "attentions", attentions, _t, d, _spec.NumAttentionHeads);
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["vitmae.architecture"] = _options.EncoderOnly ? "ViTMAEModel" : "ViTMAEForPreTraining",
            ["vitmae.config"] = _spec.Describe(),
            ["vitmae.batch"] = BatchText,
            ["vitmae.height"] = _h.ToString(CultureInfo.InvariantCulture),
            ["vitmae.width"] = _w.ToString(CultureInfo.InvariantCulture),
            ["vitmae.num_patches"] = _l.ToString(CultureInfo.InvariantCulture),
            ["vitmae.len_keep"] = _k.ToString(CultureInfo.InvariantCulture),
        };
        string batch = _b is int fixedBatch ? $"batch {fixedBatch}" : $"dynamic batch (symbolic '{OnnxBuildOptions.BatchDimensionName}')";
        string doc = $"{metadata["vitmae.architecture"]} ({_spec.Describe()}) at {batch}, {_h}x{_w}: "
            + $"{_l} patches, {_k} kept. Built by ViTMAE.Compiled.Onnx from a Hugging Face checkpoint.";
        return _g.ToModel(Opset, metadata, doc);
    }

    /// <summary>The <c>vitmae.batch</c> metadata: the fixed batch, or <c>dynamic</c>.</summary>
    private string BatchText => _b?.ToString(CultureInfo.InvariantCulture) ?? "dynamic";

    private void AddLayerOutputs(string hiddenName, List<string> hidden, string attentionName, List<string> attentions, int tokens, int dim, int heads)
    {
        if (_options.OutputHiddenStates)
        {
            for (int i = 0; i < hidden.Count; i++)
            {
                _g.Output($"{hiddenName}.{i}", hidden[i], F32, IoBatch, tokens, dim);
            }
        }

        if (_options.OutputAttentions)
        {
            for (int i = 0; i < attentions.Count; i++)
            {
                _g.Output($"{attentionName}.{i}", attentions[i], F32, IoBatch, heads, tokens, tokens);
            }
        }
    }

    /// <summary>
    /// ViTMAEEmbeddings: Conv stride p → [B,L,D], + position table (before masking), random masking driven by
    /// <paramref name="noise"/>, then CLS (cls_token + pos[0]) prepended. Returns tokens [B,T,D], mask [B,L],
    /// ids_restore [B,L].
    /// </summary>
    private (string Tokens, string Mask, string IdsRestore) Embeddings(string pixels, string noise)
    {
        _g.Scope = "embeddings";
        int d = _spec.HiddenSize;
        string e = $"{_prefix}embeddings";

        // Patch embedding: a stride-p convolution, then [B,D,gh,gw] → [B,L,D].
        string convW = _g.Initializer($"{e}.patch_embeddings.projection.weight",
            _weights.Require($"{e}.patch_embeddings.projection.weight", d, _c, _p, _p), d, _c, _p, _p);
        string convB = _g.Initializer($"{e}.patch_embeddings.projection.bias",
            _weights.Require($"{e}.patch_embeddings.projection.bias", d), d);
        string patches = _g.Conv(pixels, convW, convB, [_p, _p], [_p, _p]);
        patches = _g.Transpose(_g.Reshape(patches, ReshapeBatch, d, _l), 0, 2, 1);

        // Position table [1, 1+N, D] from the checkpoint, resized when the resolution differs (interpolate_pos_encoding).
        float[] pos = _weights.Require($"{e}.position_embeddings", 1, _spec.NumPatches + 1, d);
        bool sameAsConfig = _h == _spec.ImageHeight && _w == _spec.ImageWidth;
        // HF returns the table unchanged when the patch count matches and the image is square.
        if (!sameAsConfig && !(_l == _spec.NumPatches && _h == _w))
        {
            pos = PositionTables.ResizeEncoderTable(pos, d, _gridH, _gridW);
        }

        float[] patchPos = pos.AsSpan(d).ToArray();
        string embedded = _g.Add(patches, _g.Initializer($"{e}.position_embeddings.patches", patchPos, 1, _l, d));

        // Random masking (HF random_masking): ids_shuffle = argsort(noise) ascending. TopK with largest=0, sorted=1
        // breaks ties by the lower index (ONNX spec), i.e. it is a stable argsort.
        _g.Scope = "masking";
        var (_, idsShuffle) = _g.TopK(noise, _l, axis: 1, largest: false, sorted: true);

        // ids_restore = argsort(ids_shuffle): the inverse permutation, ids_restore[ids_shuffle[i]] = i.
        // With a fixed batch the [B, L] constants are initializers; with a symbolic one, [1, L] rows expanded to [B, L].
        int rows = _b ?? 1;
        var arange = new long[rows * _l];
        for (int i = 0; i < arange.Length; i++)
        {
            arange[i] = i % _l;
        }

        string positions = _g.InitializerInt64("masking.arange", arange, rows, _l);
        string zeros = _g.InitializerInt64("masking.zeros", new long[rows * _l], rows, _l);
        if (_b is null)
        {
            positions = ExpandToBatch(positions, _l);
            zeros = ExpandToBatch(zeros, _l);
        }

        string idsRestore = _g.ScatterElements(zeros, idsShuffle, positions, axis: 1);

        // Keep the first len_keep of the shuffled order; the kept tokens stay in ascending-noise order.
        string idsKeep = _g.Slice(idsShuffle, axis: 1, start: 0, end: _k);
        string gatherIndex = ExpandToBatch(_g.Unsqueeze(idsKeep, 2), _k, d);
        string kept = _g.GatherElements(embedded, gatherIndex, axis: 1);

        // mask (1 = removed) in image order: a patch is removed iff its rank in the shuffle is ≥ len_keep.
        var maskByRank = new float[_l];
        for (int i = _k; i < _l; i++)
        {
            maskByRank[i] = 1f;
        }

        string mask = _g.Gather(_g.Initializer("masking.mask_by_rank", maskByRank, _l), idsRestore, axis: 0);

        // CLS token: cls_token + pos[0], prepended after masking.
        _g.Scope = "embeddings";
        float[] cls = _weights.Require($"{e}.cls_token", 1, 1, d);
        for (int i = 0; i < d; i++)
        {
            cls[i] += pos[i];
        }

        string clsTokens = ExpandToBatch(_g.Initializer($"{e}.cls_token_with_position", cls, 1, 1, d), 1, d);
        string tokens = _g.Concat(1, clsTokens, kept);
        return (tokens, mask, idsRestore);
    }

    /// <summary>
    /// ViTMAEDecoder: decoder_embed on [CLS + kept], mask tokens appended for the removed patches, unshuffled with
    /// ids_restore (CLS stays first), + decoder position table, layers, decoder_norm, decoder_pred, CLS dropped.
    /// </summary>
    private (string Logits, List<string> Hidden, List<string> Attentions) Decoder(string encoded, string idsRestore)
    {
        _g.Scope = "decoder";
        int d = _spec.HiddenSize;
        int dd = _spec.DecoderHiddenSize;
        string x = Linear(encoded, "decoder.decoder_embed", d, dd, bias: true);

        string cls = _g.Slice(x, axis: 1, start: 0, end: 1);
        string visible = _g.Slice(x, axis: 1, start: 1, end: _t);
        float[] maskTokenValues = _weights.Require("decoder.mask_token", 1, 1, dd);
        string sequence = visible;
        if (_l > _k) // with mask_ratio 0 there is nothing to append (and no unused initializer is left in the graph)
        {
            string maskToken = _g.Initializer("decoder.mask_token", maskTokenValues, 1, 1, dd);
            sequence = _g.Concat(1, visible, ExpandToBatch(maskToken, _l - _k, dd));
        }

        string unshuffleIndex = ExpandToBatch(_g.Unsqueeze(idsRestore, 2), _l, dd);
        string unshuffled = _g.GatherElements(sequence, unshuffleIndex, axis: 1);
        x = _g.Concat(1, cls, unshuffled);

        float[] pos = _weights.Require("decoder.decoder_pos_embed", 1, _spec.NumPatches + 1, dd);
        if (_h != _spec.ImageHeight || _w != _spec.ImageWidth)
        {
            // HF resizes the decoder table along the flattened sequence (not as a 2-D grid).
            pos = PositionTables.ResizeDecoderTable(pos, dd, _l);
        }

        x = _g.Add(x, _g.Initializer("decoder.decoder_pos_embed.resized", pos, 1, _l + 1, dd));

        var hidden = new List<string> { x };
        var attentions = new List<string>();
        for (int i = 0; i < _spec.DecoderNumHiddenLayers; i++)
        {
            _g.Scope = $"decoder.decoder_layers.{i}";
            x = Layer(x, $"decoder.decoder_layers.{i}", _l + 1, dd, _spec.DecoderNumAttentionHeads, _spec.DecoderIntermediateSize, out string probs);
            hidden.Add(x);
            attentions.Add(probs);
        }

        _g.Scope = "decoder";
        x = LayerNorm(x, "decoder.decoder_norm", dd);
        x = Linear(x, "decoder.decoder_pred", dd, _spec.PatchDim, bias: true);
        string logits = _g.Slice(x, axis: 1, start: 1, end: _l + 1);
        return (logits, hidden, attentions);
    }

    /// <summary>
    /// ViTMAEForPreTraining.forward_loss: target = patchify(pixels) ((row, col, channel) per patch, channel fastest),
    /// optionally normalised per patch with unbiased variance; loss = Σ(mse·mask)/Σmask (NaN when nothing is masked).
    /// </summary>
    private string Loss(string pixels, string logits, string mask)
    {
        int pd = _spec.PatchDim;
        string target = _g.Reshape(pixels, ReshapeBatch, _c, _gridH, _p, _gridW, _p);
        target = _g.Transpose(target, 0, 2, 4, 3, 5, 1); // n c h p w q → n h w p q c
        target = _g.Reshape(target, ReshapeBatch, _l, pd);
        if (_spec.NormPixLoss)
        {
            string mean = _g.ReduceMean(target, [-1], keepDims: true);
            string centred = _g.Sub(target, mean);
            string sumSquares = _g.ReduceSum(_g.Mul(centred, centred), [-1], keepDims: true);
            string variance = _g.Div(sumSquares, _g.Scalar(pd - 1)); // torch.var default: unbiased (n − 1)
            target = _g.Div(centred, _g.Sqrt(_g.Add(variance, _g.Scalar(1e-6f))));
        }

        string diff = _g.Sub(logits, target);
        string perPatch = _g.ReduceMean(_g.Mul(diff, diff), [-1], keepDims: false); // [B, L]
        string masked = _g.ReduceSum(_g.Mul(perPatch, mask), null, keepDims: false);
        string count = _g.ReduceSum(mask, null, keepDims: false);
        return _g.Div(masked, count);
    }

    /// <summary>
    /// One pre-LN transformer layer (ViTMAELayer): x += Wo·Attn(LN_before(x)); x += W2·act(W1·LN_after(x)).
    /// <paramref name="probs"/> receives the post-softmax attention probabilities [B, heads, T, T].
    /// </summary>
    private string Layer(string x, string prefix, int tokens, int dim, int heads, int intermediate, out string probs)
    {
        int headDim = dim / heads;

        // Self-attention.
        string h = LayerNorm(x, $"{prefix}.layernorm_before", dim);
        string q = Linear(h, $"{prefix}.attention.attention.query", dim, dim, _spec.QkvBias);
        string k = Linear(h, $"{prefix}.attention.attention.key", dim, dim, _spec.QkvBias);
        string v = Linear(h, $"{prefix}.attention.attention.value", dim, dim, _spec.QkvBias);
        q = _g.Transpose(_g.Reshape(q, ReshapeBatch, tokens, heads, headDim), 0, 2, 1, 3); // [B,H,T,hd]
        k = _g.Transpose(_g.Reshape(k, ReshapeBatch, tokens, heads, headDim), 0, 2, 3, 1); // [B,H,hd,T]
        v = _g.Transpose(_g.Reshape(v, ReshapeBatch, tokens, heads, headDim), 0, 2, 1, 3); // [B,H,T,hd]
        string scores = _g.Mul(_g.MatMul(q, k), _g.Scalar((float)(1.0 / Math.Sqrt(headDim))));
        probs = _g.Softmax(scores, axis: -1);
        string context = _g.MatMul(probs, v);
        context = _g.Reshape(_g.Transpose(context, 0, 2, 1, 3), ReshapeBatch, tokens, dim);
        x = _g.Add(x, Linear(context, $"{prefix}.attention.output.dense", dim, dim, bias: true));

        // MLP.
        h = LayerNorm(x, $"{prefix}.layernorm_after", dim);
        h = Activation(Linear(h, $"{prefix}.intermediate.dense", dim, intermediate, bias: true));
        return _g.Add(x, Linear(h, $"{prefix}.output.dense", intermediate, dim, bias: true));
    }

    /// <summary>
    /// hidden_act as Hugging Face's ACT2FN defines it: "gelu" exact erf; "gelu_new" and "gelu_pytorch_tanh" the tanh
    /// approximation; "gelu_fast" the same with its own constant form; "quick_gelu" x·σ(1.702x); "silu"/"swish" x·σ(x);
    /// "relu"; "selu" (PyTorch constants).
    /// </summary>
    private string Activation(string x)
    {
        switch (_spec.HiddenAct)
        {
            case "gelu":
                // 0.5·x·(1 + erf(x/√2))
                string erf = _g.Erf(_g.Div(x, _g.Scalar((float)Math.Sqrt(2.0))));
                return _g.Mul(_g.Mul(x, _g.Scalar(0.5f)), _g.Add(erf, _g.Scalar(1f)));
            case "gelu_new":
            case "gelu_pytorch_tanh":
                // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
                string cube = _g.Pow(x, _g.Scalar(3f));
                string inner = _g.Add(x, _g.Mul(cube, _g.Scalar(0.044715f)));
                string tanh = _g.Tanh(_g.Mul(inner, _g.Scalar((float)Math.Sqrt(2.0 / Math.PI))));
                return _g.Mul(_g.Mul(x, _g.Scalar(0.5f)), _g.Add(tanh, _g.Scalar(1f)));
            case "gelu_fast":
                // 0.5·x·(1 + tanh(0.7978845608·x·(1 + 0.044715·x²))) (HF FastGELUActivation)
                string square = _g.Mul(x, x);
                string fastInner = _g.Mul(_g.Mul(x, _g.Scalar(0.7978845608f)), _g.Add(_g.Mul(square, _g.Scalar(0.044715f)), _g.Scalar(1f)));
                return _g.Mul(_g.Mul(x, _g.Scalar(0.5f)), _g.Add(_g.Tanh(fastInner), _g.Scalar(1f)));
            case "quick_gelu":
                // x·σ(1.702·x) (HF QuickGELUActivation)
                return _g.Mul(x, _g.Sigmoid(_g.Mul(x, _g.Scalar(1.702f))));
            case "silu":
            case "swish":
                // x·σ(x) (nn.SiLU)
                return _g.Mul(x, _g.Sigmoid(x));
            case "relu":
                return _g.Relu(x);
            case "selu":
                return _g.Selu(x, alpha: 1.6732632423543772848170429916717f, gamma: 1.0507009873554804934193349852946f);
            default:
                throw new NotSupportedException($"hidden_act '{_spec.HiddenAct}' is not supported.");
        }
    }

    /// <summary>nn.Linear: x·Wᵀ + b, with W [out, in] from the checkpoint stored transposed as <c>name.weight.T</c>.</summary>
    private string Linear(string x, string name, int inFeatures, int outFeatures, bool bias)
    {
        float[] weight = _weights.Require($"{name}.weight", outFeatures, inFeatures);
        var transposed = new float[weight.Length];
        for (int o = 0; o < outFeatures; o++)
        {
            for (int i = 0; i < inFeatures; i++)
            {
                transposed[i * outFeatures + o] = weight[o * inFeatures + i];
            }
        }

        string y = _g.MatMul(x, _g.Initializer($"{name}.weight.T", transposed, inFeatures, outFeatures));
        if (bias)
        {
            y = _g.Add(y, _g.Initializer($"{name}.bias", _weights.Require($"{name}.bias", outFeatures), outFeatures));
        }

        return y;
    }

    /// <summary>nn.LayerNorm over the last axis with the config's eps.</summary>
    private string LayerNorm(string x, string name, int dim)
    {
        string scale = _g.Initializer($"{name}.weight", _weights.Require($"{name}.weight", dim), dim);
        string bias = _g.Initializer($"{name}.bias", _weights.Require($"{name}.bias", dim), dim);
        return _g.LayerNormalization(x, scale, bias, (float)_spec.LayerNormEps);
    }
}
