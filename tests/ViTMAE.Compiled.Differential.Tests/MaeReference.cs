using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using ViTMAE.Compiled.Configuration;

namespace ViTMAE.Compiled.Differential.Tests;

/// <summary>
/// Hugging Face's <c>ViTMAEForPreTraining</c> loss in double precision with plain loops: no SIMD, no kernels of the
/// project, nothing shared with the generated code beyond the config and the parameter values (by Hugging Face key).
/// Written from <c>modeling_vit_mae.py</c>, for finite differences (<see cref="GradientTests"/>):
/// <list type="bullet">
/// <item>embeddings: Conv2d(C → D, kernel = stride = p) with bias, + <c>position_embeddings[:, 1:]</c>; random masking
/// by the given noise (ids_shuffle = stable ascending argsort, ties by index; keep the first
/// <c>len_keep = int(L · (1 − mask_ratio))</c>; ids_restore = argsort(ids_shuffle); mask[l] = ids_restore[l] ≥ len_keep);
/// then <c>cls_token + position_embeddings[:, 0]</c> prepended;</item>
/// <item>pre-LN layers: x += Wo·softmax(QKᵀ/√hd)·head_mask·V + bo on layernorm_before(x) (q/k/v bias if
/// <c>qkv_bias</c>); x += W2·act(W1·layernorm_after(x) + b1) + b2; then <c>vit.layernorm</c>;</item>
/// <item>decoder: decoder_embed, mask tokens appended, unshuffled by ids_restore (CLS first), + decoder_pos_embed,
/// layers (optional decoder head mask, an extension of this project), decoder_norm, decoder_pred, CLS dropped;</item>
/// <item>loss: target = patchify(pixels) ([L, p·p·C], (row, col, channel) order, channel fastest), per patch
/// (t − mean)/√(var + 1e-6) with the unbiased variance if <c>norm_pix_loss</c>; mean over the patch of (pred − target)²,
/// summed over removed patches and divided by their count.</item>
/// </list>
/// The position tables are read from the parameters (they are frozen parameters in Hugging Face, not recomputed).
/// <see cref="Loss"/> keeps every stage's input per image, so that a finite difference recomputes only from the stage
/// its parameter enters (<see cref="StageOf"/>, <see cref="LossFrom"/>), and only the image its pixel belongs to.
/// For ReLU and SELU, the evaluations also record on which side of the kink every pre-activation lies, so that a finite
/// difference can tell when its two evaluations straddle a kink, and the smallest |pre-activation| (<see cref="NearestKink"/>).
/// </summary>
public sealed class MaeReference
{
    private const double SeluAlpha = 1.6732632423543772848170429916717;
    private const double SeluScale = 1.0507009873554804934193349852946;

    private readonly ViTMAESpec _spec;
    private readonly bool _kinked;
    private ulong _signature;
    private double _nearestKink;

    // The inputs of the last full evaluation (Loss), and per image what each stage received, so that a finite
    // difference recomputes only from the stage its parameter enters (and only the image its pixel belongs to).
    private double[] _pixels = [];
    private float[] _noise = [];
    private double[]? _headMask, _decoderHeadMask;
    private ImageState[] _images = [];

    /// <summary>A reference for <paramref name="spec"/> over <paramref name="parameters"/> (Hugging Face key → values, row-major).</summary>
    public MaeReference(ViTMAESpec spec, Dictionary<string, double[]> parameters)
    {
        _spec = spec;
        Parameters = parameters;
        _kinked = spec.HiddenAct is "relu" or "selu";
    }

    /// <summary>The parameters; a finite difference changes one value, evaluates, and puts it back.</summary>
    public Dictionary<string, double[]> Parameters { get; }

    /// <summary>The smallest |pre-activation| of a ReLU/SELU in the last <see cref="Loss"/> call (+∞ for smooth activations).</summary>
    public double NearestKink => _nearestKink;

    /// <summary>L: patches per image (a square grid).</summary>
    private int Patches => (_spec.ImageHeight / _spec.PatchSize) * (_spec.ImageWidth / _spec.PatchSize);

    /// <summary>HF's <c>len_keep = int(seq_length * (1 - mask_ratio))</c>.</summary>
    private int Keep => (int)(Patches * (1.0 - _spec.MaskRatio));

    /// <summary>
    /// Stages of the computation, in order: 0 embeddings and masking; 1 … E the encoder layers; E + 1 <c>vit.layernorm</c>,
    /// <c>decoder_embed</c>, mask tokens, unshuffle and decoder position table; E + 2 … E + 1 + D' the decoder layers;
    /// E + 2 + D' <c>decoder_norm</c>, <c>decoder_pred</c> and the loss.
    /// </summary>
    private int LastStage => _spec.NumHiddenLayers + _spec.DecoderNumHiddenLayers + 2;

    /// <summary>The first stage that reads parameter <paramref name="key"/> (<see cref="LossFrom"/> recomputes from there).</summary>
    public int StageOf(string key)
    {
        int encoder = _spec.NumHiddenLayers;
        if (key.StartsWith("vit.embeddings.", StringComparison.Ordinal))
        {
            return 0;
        }

        if (key.StartsWith("vit.encoder.layer.", StringComparison.Ordinal))
        {
            return 1 + LayerIndex(key, "vit.encoder.layer.");
        }

        if (key.StartsWith("vit.layernorm.", StringComparison.Ordinal) || key.StartsWith("decoder.decoder_embed.", StringComparison.Ordinal)
            || key is "decoder.mask_token" or "decoder.decoder_pos_embed")
        {
            return encoder + 1;
        }

        if (key.StartsWith("decoder.decoder_layers.", StringComparison.Ordinal))
        {
            return encoder + 2 + LayerIndex(key, "decoder.decoder_layers.");
        }

        if (key.StartsWith("decoder.decoder_norm.", StringComparison.Ordinal) || key.StartsWith("decoder.decoder_pred.", StringComparison.Ordinal))
        {
            return LastStage;
        }

        throw new ArgumentException("not a ViTMAEForPreTraining parameter: " + key, nameof(key));

        static int LayerIndex(string key, string prefix) =>
            int.Parse(key.AsSpan(prefix.Length, key.IndexOf('.', prefix.Length) - prefix.Length), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The loss for pixel values <c>[B, C, H, W]</c> and noise <c>[B, L]</c>. <paramref name="headMask"/>: null, <c>[heads]</c>
    /// or <c>[layers, heads]</c> multipliers of the encoder's attention probabilities; <paramref name="decoderHeadMask"/> the
    /// same for the decoder. The arrays are kept (not copied) for <see cref="LossFrom"/>, with every stage's input.
    /// </summary>
    public double Loss(double[] pixels, int batch, float[] noise, double[]? headMask = null, double[]? decoderHeadMask = null)
    {
        _pixels = pixels;
        _noise = noise;
        _headMask = headMask;
        _decoderHeadMask = decoderHeadMask;
        _nearestKink = double.PositiveInfinity;
        _images = new ImageState[batch];
        double total = 0;
        for (int n = 0; n < batch; n++)
        {
            _images[n] = new ImageState(LastStage + 1);
            total += Run(n, 0, record: true, out _);
        }

        return total / (batch * (Patches - Keep));
    }

    /// <summary>
    /// The loss of the last <see cref="Loss"/> call's inputs with the current parameters and pixel values, recomputed from
    /// <paramref name="stage"/> on (earlier stages' outputs taken from that call), for every image or only
    /// <paramref name="image"/> (the others' losses taken from that call). <paramref name="sameKinks"/>: every ReLU/SELU
    /// pre-activation recomputed lies on the same side of its kink as in that call.
    /// </summary>
    public double LossFrom(int stage, int image, out bool sameKinks)
    {
        sameKinks = true;
        double total = 0;
        for (int n = 0; n < _images.Length; n++)
        {
            if (image >= 0 && n != image)
            {
                total += _images[n].Loss;
            }
            else
            {
                total += Run(n, stage, record: false, out bool same);
                sameKinks &= same;
            }
        }

        return total / (_images.Length * (Patches - Keep));
    }

    /// <summary>What one image's stages received in the recorded evaluation.</summary>
    private sealed class ImageState(int stages)
    {
        public int[] Shuffle = [], Restore = [];
        public readonly double[][] Inputs = new double[stages][];
        public readonly ulong[] Signatures = new ulong[stages];
        public double Loss;
    }

    /// <summary>Image <paramref name="n"/>'s sum of per-patch losses over its removed patches, from stage <paramref name="from"/> on.</summary>
    private double Run(int n, int from, bool record, out bool sameKinks)
    {
        ViTMAESpec s = _spec;
        ImageState state = _images[n];
        int encoder = s.NumHiddenLayers, last = LastStage;
        int l = Patches, keep = Keep, d = s.HiddenSize, dd = s.DecoderHiddenSize;
        sameKinks = true;
        double[] x = from == 0 ? [] : state.Inputs[from];
        double loss = 0;
        for (int stage = from; stage <= last; stage++)
        {
            if (record)
            {
                state.Inputs[stage] = x;
            }

            _signature = 14695981039346656037UL;
            if (stage == 0)
            {
                x = Embeddings(n, state, record);
            }
            else if (stage <= encoder)
            {
                int layer = stage - 1;
                x = Layer(x, 1 + keep, d, s.NumAttentionHeads, s.IntermediateSize, "vit.encoder.layer." + layer, HeadRow(_headMask, layer, s.NumAttentionHeads));
            }
            else if (stage == encoder + 1)
            {
                x = DecoderInput(x, state);
            }
            else if (stage < last)
            {
                int layer = stage - encoder - 2;
                x = Layer(x, 1 + l, dd, s.DecoderNumAttentionHeads, s.DecoderIntermediateSize, "decoder.decoder_layers." + layer, HeadRow(_decoderHeadMask, layer, s.DecoderNumAttentionHeads));
            }
            else
            {
                loss = PatchLosses(n, x, state);
            }

            if (record)
            {
                state.Signatures[stage] = _signature;
            }
            else
            {
                sameKinks &= state.Signatures[stage] == _signature;
            }
        }

        if (record)
        {
            state.Loss = loss;
        }

        return loss;
    }

    /// <summary>Patch embedding (Conv2d as a dot product per patch) + position rows 1..L, masking, CLS + pos[0]: <c>[1 + len_keep, D]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double[] Embeddings(int n, ImageState state, bool record)
    {
        ViTMAESpec s = _spec;
        int c = s.NumChannels, p = s.PatchSize, grid = s.GridHeight, size = grid * p, l = grid * grid;
        int d = s.HiddenSize, keep = Keep;
        double[] convW = Parameters["vit.embeddings.patch_embeddings.projection.weight"];
        double[] convB = Parameters["vit.embeddings.patch_embeddings.projection.bias"];
        double[] pos = Parameters["vit.embeddings.position_embeddings"];
        double[] cls = Parameters["vit.embeddings.cls_token"];
        double[] pixels = _pixels;

        // Random masking: stable ascending argsort of the noise (OrderBy is stable: ties keep index order).
        if (record)
        {
            state.Shuffle = Enumerable.Range(0, l).OrderBy(i => _noise[(n * l) + i]).ToArray();
            state.Restore = new int[l];
            for (int rank = 0; rank < l; rank++)
            {
                state.Restore[state.Shuffle[rank]] = rank;
            }
        }

        // [CLS + pos[0]; kept patches in shuffle order] (only the kept patches are embedded: the others are dropped).
        var x = new double[(1 + keep) * d];
        for (int o = 0; o < d; o++)
        {
            x[o] = cls[o] + pos[o];
        }

        for (int rank = 0; rank < keep; rank++)
        {
            int patch = state.Shuffle[rank], gy = patch / grid, gx = patch % grid;
            for (int o = 0; o < d; o++)
            {
                double sum = convB[o];
                for (int k = 0; k < c; k++)
                {
                    for (int i = 0; i < p; i++)
                    {
                        for (int j = 0; j < p; j++)
                        {
                            sum += convW[(((((o * c) + k) * p) + i) * p) + j] * pixels[(((((n * c) + k) * size) + (gy * p) + i) * size) + (gx * p) + j];
                        }
                    }
                }

                x[((1 + rank) * d) + o] = sum + pos[((1 + patch) * d) + o];
            }
        }

        return x;
    }

    /// <summary><c>vit.layernorm</c>, decoder_embed, mask tokens appended, unshuffled (CLS first), + decoder position table: <c>[1 + L, D']</c>.</summary>
    private double[] DecoderInput(double[] encoded, ImageState state)
    {
        ViTMAESpec s = _spec;
        int l = Patches, keep = Keep, d = s.HiddenSize, dd = s.DecoderHiddenSize;
        double[] maskToken = Parameters["decoder.mask_token"];
        double[] decoderPos = Parameters["decoder.decoder_pos_embed"];
        double[] x = LayerNorm(encoded, 1 + keep, d, "vit.layernorm");
        double[] y = Linear(x, 1 + keep, d, dd, "decoder.decoder_embed", bias: true);
        var sequence = new double[(1 + l) * dd];
        Array.Copy(y, 0, sequence, 0, dd);
        for (int patch = 0; patch < l; patch++)
        {
            int rank = state.Restore[patch];
            for (int o = 0; o < dd; o++)
            {
                sequence[((1 + patch) * dd) + o] = rank < keep ? y[((1 + rank) * dd) + o] : maskToken[o];
            }
        }

        for (int i = 0; i < sequence.Length; i++)
        {
            sequence[i] += decoderPos[i];
        }

        return sequence;
    }

    /// <summary>decoder_norm, decoder_pred, CLS dropped; Σ over removed patches of mean((pred − target)²).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double PatchLosses(int n, double[] decoded, ImageState state)
    {
        ViTMAESpec s = _spec;
        int c = s.NumChannels, p = s.PatchSize, grid = s.GridHeight, size = grid * p, l = grid * grid;
        int dd = s.DecoderHiddenSize, keep = Keep, patchDim = p * p * c;
        double[] x = LayerNorm(decoded, 1 + l, dd, "decoder.decoder_norm");
        double[] prediction = Linear(x, 1 + l, dd, patchDim, "decoder.decoder_pred", bias: true);
        double[] pixels = _pixels;
        var target = new double[patchDim];
        double total = 0;
        for (int patch = 0; patch < l; patch++)
        {
            if (state.Restore[patch] < keep)
            {
                continue; // mask 0: kept
            }

            // patchify: (row, col, channel) within the patch, channel fastest.
            int gy = patch / grid, gx = patch % grid;
            for (int i = 0; i < p; i++)
            {
                for (int j = 0; j < p; j++)
                {
                    for (int k = 0; k < c; k++)
                    {
                        target[(((i * p) + j) * c) + k] = pixels[(((((n * c) + k) * size) + (gy * p) + i) * size) + (gx * p) + j];
                    }
                }
            }

            if (s.NormPixLoss)
            {
                double mean = target.Average();
                double squares = target.Sum(t => (t - mean) * (t - mean));
                double std = Math.Sqrt((squares / (patchDim - 1)) + 1e-6); // torch.var: unbiased
                for (int i = 0; i < patchDim; i++)
                {
                    target[i] = (target[i] - mean) / std;
                }
            }

            double mse = 0;
            for (int i = 0; i < patchDim; i++)
            {
                double diff = prediction[((1 + patch) * patchDim) + i] - target[i];
                mse += diff * diff;
            }

            total += mse / patchDim;
        }

        return total;
    }

    private static double[]? HeadRow(double[]? mask, int layer, int heads) =>
        mask is null ? null : mask.Length == heads ? mask : mask.AsSpan(layer * heads, heads).ToArray();

    /// <summary>One pre-LN ViTMAELayer on <c>x [tokens, dim]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double[] Layer(double[] x, int tokens, int dim, int heads, int intermediate, string prefix, double[]? headMask)
    {
        int headDim = dim / heads;
        double scale = 1.0 / Math.Sqrt(headDim);
        double[] h = LayerNorm(x, tokens, dim, prefix + ".layernorm_before");
        double[] q = Linear(h, tokens, dim, dim, prefix + ".attention.attention.query", _spec.QkvBias);
        double[] k = Linear(h, tokens, dim, dim, prefix + ".attention.attention.key", _spec.QkvBias);
        double[] v = Linear(h, tokens, dim, dim, prefix + ".attention.attention.value", _spec.QkvBias);
        var context = new double[tokens * dim];
        var probs = new double[tokens];
        for (int head = 0; head < heads; head++)
        {
            int offset = head * headDim;
            for (int i = 0; i < tokens; i++)
            {
                double max = double.NegativeInfinity;
                for (int j = 0; j < tokens; j++)
                {
                    double dot = 0;
                    for (int e = 0; e < headDim; e++)
                    {
                        dot += q[(i * dim) + offset + e] * k[(j * dim) + offset + e];
                    }

                    probs[j] = dot * scale;
                    max = Math.Max(max, probs[j]);
                }

                double sum = 0;
                for (int j = 0; j < tokens; j++)
                {
                    probs[j] = Math.Exp(probs[j] - max);
                    sum += probs[j];
                }

                double factor = (headMask is null ? 1.0 : headMask[head]) / sum; // softmax, then × head_mask
                for (int e = 0; e < headDim; e++)
                {
                    double acc = 0;
                    for (int j = 0; j < tokens; j++)
                    {
                        acc += probs[j] * v[(j * dim) + offset + e];
                    }

                    context[(i * dim) + offset + e] = acc * factor;
                }
            }
        }

        double[] attention = Linear(context, tokens, dim, dim, prefix + ".attention.output.dense", bias: true);
        var residual = new double[tokens * dim];
        for (int i = 0; i < residual.Length; i++)
        {
            residual[i] = x[i] + attention[i];
        }

        h = LayerNorm(residual, tokens, dim, prefix + ".layernorm_after");
        double[] hidden = Linear(h, tokens, dim, intermediate, prefix + ".intermediate.dense", bias: true);
        for (int i = 0; i < hidden.Length; i++)
        {
            hidden[i] = Activation(hidden[i]);
        }

        double[] output = Linear(hidden, tokens, intermediate, dim, prefix + ".output.dense", bias: true);
        for (int i = 0; i < residual.Length; i++)
        {
            residual[i] += output[i];
        }

        return residual;
    }

    /// <summary>nn.Linear: <c>x [rows, in] · Wᵀ + b</c>, W <c>[out, in]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double[] Linear(double[] x, int rows, int inFeatures, int outFeatures, string name, bool bias)
    {
        double[] w = Parameters[name + ".weight"];
        double[]? b = bias ? Parameters[name + ".bias"] : null;
        var y = new double[rows * outFeatures];
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outFeatures; o++)
            {
                double sum = b is null ? 0 : b[o];
                for (int i = 0; i < inFeatures; i++)
                {
                    sum += x[(r * inFeatures) + i] * w[(o * inFeatures) + i];
                }

                y[(r * outFeatures) + o] = sum;
            }
        }

        return y;
    }

    /// <summary>nn.LayerNorm over the last axis (biased variance, the config's eps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double[] LayerNorm(double[] x, int rows, int dim, string name)
    {
        double[] w = Parameters[name + ".weight"], b = Parameters[name + ".bias"];
        var y = new double[rows * dim];
        for (int r = 0; r < rows; r++)
        {
            double mean = 0;
            for (int i = 0; i < dim; i++)
            {
                mean += x[(r * dim) + i];
            }

            mean /= dim;
            double variance = 0;
            for (int i = 0; i < dim; i++)
            {
                double t = x[(r * dim) + i] - mean;
                variance += t * t;
            }

            double inverse = 1.0 / Math.Sqrt((variance / dim) + _spec.LayerNormEps);
            for (int i = 0; i < dim; i++)
            {
                y[(r * dim) + i] = ((x[(r * dim) + i] - mean) * inverse * w[i]) + b[i];
            }
        }

        return y;
    }

    /// <summary>hidden_act as Hugging Face's ACT2FN defines it.</summary>
    private double Activation(double z)
    {
        if (_kinked)
        {
            _signature = (_signature ^ (z > 0 ? 1UL : 2UL)) * 1099511628211UL;
            _nearestKink = Math.Min(_nearestKink, Math.Abs(z));
        }

        switch (_spec.HiddenAct)
        {
            case "gelu":
                return 0.5 * z * (1 + Erf(z / Math.Sqrt(2.0)));
            case "gelu_new":
            case "gelu_pytorch_tanh":
                return 0.5 * z * (1 + Math.Tanh(Math.Sqrt(2.0 / Math.PI) * (z + (0.044715 * z * z * z))));
            case "gelu_fast":
                return 0.5 * z * (1 + Math.Tanh(0.7978845608 * z * (1 + (0.044715 * z * z))));
            case "quick_gelu":
                return z * Sigmoid(1.702 * z);
            case "silu":
            case "swish":
                return z * Sigmoid(z);
            case "relu":
                return Math.Max(z, 0);
            case "selu":
                return z > 0 ? SeluScale * z : SeluScale * SeluAlpha * (Math.Exp(z) - 1);
            default:
                throw new NotSupportedException("hidden_act " + _spec.HiddenAct);
        }
    }

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    /// <summary>
    /// erf in double precision (.NET has none): erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)), a series of
    /// positive terms (no cancellation), summed until the terms no longer change the sum; ±1 beyond |x| = 6
    /// (erfc(6) ≈ 2e-17). Smooth to rounding everywhere, which is all a finite difference needs.
    /// </summary>
    public static double Erf(double x)
    {
        double a = Math.Abs(x);
        if (a >= 6)
        {
            return Math.Sign(x);
        }

        double term = a, sum = a;
        for (int n = 1; n < 500; n++)
        {
            term *= 2 * a * a / ((2 * n) + 1);
            sum += term;
            if (term < sum * 1e-17)
            {
                break;
            }
        }

        return Math.CopySign(2 / Math.Sqrt(Math.PI) * Math.Exp(-a * a) * sum, x);
    }
}
