// The parsed form of a Hugging Face ViTMAE config.json: every ViTMAEConfig field with HF's defaults.
// Shared by the generator (internal) and the runtime library (made public there by a partial declaration).

using System;
using System.Globalization;

namespace ViTMAE.Compiled.Configuration
{
    /// <summary>
    /// A ViTMAE model configuration: the fields of Hugging Face's <c>ViTMAEConfig</c> (transformers 4.x) with the
    /// same defaults (facebook/vit-mae-base). Immutable and compared by value.
    /// </summary>
    sealed partial record ViTMAESpec
    {
        /// <summary>
        /// Values allowed for <see cref="HiddenAct"/> (Hugging Face ACT2FN names): exact-erf GELU, tanh GELU, ReLU, SELU,
        /// gelu_fast, gelu_pytorch_tanh (the tanh GELU again), quick_gelu, and silu / swish (one function).
        /// </summary>
        public static readonly string[] SupportedActivations = { "gelu", "gelu_new", "relu", "selu", "gelu_fast", "gelu_pytorch_tanh", "quick_gelu", "silu", "swish" };

        /// <summary><c>model_type</c> of a ViTMAE config.</summary>
        public const string ModelTypeName = "vit_mae";

        /// <summary><c>hidden_size</c>: width of the encoder (default 768).</summary>
        public int HiddenSize { get; init; } = 768;

        /// <summary><c>num_hidden_layers</c>: encoder layers (default 12).</summary>
        public int NumHiddenLayers { get; init; } = 12;

        /// <summary><c>num_attention_heads</c>: encoder heads (default 12).</summary>
        public int NumAttentionHeads { get; init; } = 12;

        /// <summary><c>intermediate_size</c>: encoder MLP width (default 3072).</summary>
        public int IntermediateSize { get; init; } = 3072;

        /// <summary><c>hidden_act</c>: "gelu" (exact erf), "gelu_new" or "gelu_pytorch_tanh" (tanh approximation), "gelu_fast",
        /// "quick_gelu", "relu", "selu", "silu" or "swish" (default "gelu").</summary>
        public string HiddenAct { get; init; } = "gelu";

        /// <summary><c>hidden_dropout_prob</c> (default 0.0; inference ignores dropout).</summary>
        public double HiddenDropoutProb { get; init; }

        /// <summary><c>attention_probs_dropout_prob</c> (default 0.0; inference ignores dropout).</summary>
        public double AttentionProbsDropoutProb { get; init; }

        /// <summary><c>initializer_range</c> (default 0.02; used only for random initialisation).</summary>
        public double InitializerRange { get; init; } = 0.02;

        /// <summary><c>layer_norm_eps</c> (default 1e-12; the original MAE used 1e-6).</summary>
        public double LayerNormEps { get; init; } = 1e-12;

        /// <summary>Image height from <c>image_size</c> (an int or <c>[h, w]</c>; default 224).</summary>
        public int ImageHeight { get; init; } = 224;

        /// <summary>Image width from <c>image_size</c> (default 224).</summary>
        public int ImageWidth { get; init; } = 224;

        /// <summary><c>patch_size</c> (an int or a square <c>[p, p]</c>; default 16).</summary>
        public int PatchSize { get; init; } = 16;

        /// <summary><c>num_channels</c> (default 3).</summary>
        public int NumChannels { get; init; } = 3;

        /// <summary><c>qkv_bias</c>: whether query/key/value projections have a bias (default true).</summary>
        public bool QkvBias { get; init; } = true;

        /// <summary><c>decoder_num_attention_heads</c> (default 16).</summary>
        public int DecoderNumAttentionHeads { get; init; } = 16;

        /// <summary><c>decoder_hidden_size</c> (default 512).</summary>
        public int DecoderHiddenSize { get; init; } = 512;

        /// <summary><c>decoder_num_hidden_layers</c> (default 8).</summary>
        public int DecoderNumHiddenLayers { get; init; } = 8;

        /// <summary><c>decoder_intermediate_size</c> (default 2048).</summary>
        public int DecoderIntermediateSize { get; init; } = 2048;

        /// <summary><c>mask_ratio</c>: fraction of patches removed, in [0, 1) (default 0.75).</summary>
        public double MaskRatio { get; init; } = 0.75;

        /// <summary><c>norm_pix_loss</c>: normalise each target patch by its mean and unbiased variance (default false).</summary>
        public bool NormPixLoss { get; init; }

        /// <summary>Patches along the height: <c>image_size[0] / patch_size</c>.</summary>
        public int GridHeight => ImageHeight / PatchSize;

        /// <summary>Patches along the width: <c>image_size[1] / patch_size</c>.</summary>
        public int GridWidth => ImageWidth / PatchSize;

        /// <summary>L, the number of patches.</summary>
        public int NumPatches => GridHeight * GridWidth;

        /// <summary>Patches kept by random masking: <c>int(L * (1 - mask_ratio))</c>, computed in double and truncated as HF does.</summary>
        public int LenKeep => KeptPatches(NumPatches, MaskRatio);

        /// <summary>Values per patch: <c>patch_size² · num_channels</c> (the width of the decoder's prediction).</summary>
        public int PatchDim => PatchSize * PatchSize * NumChannels;

        /// <summary>Encoder attention head width.</summary>
        public int HeadDim => HiddenSize / NumAttentionHeads;

        /// <summary>Decoder attention head width.</summary>
        public int DecoderHeadDim => DecoderHiddenSize / DecoderNumAttentionHeads;

        /// <summary>HF's <c>len_keep = int(L * (1 - mask_ratio))</c>: double arithmetic, truncation toward zero.</summary>
        public static int KeptPatches(int numPatches, double maskRatio) => (int)(numPatches * (1.0 - maskRatio));

        /// <summary>A one-line description, e.g. for logs: "vit_mae 224x224/16, hidden 768×12 (12 heads), decoder 512×8 (16 heads)".</summary>
        public string Describe() => string.Format(
            CultureInfo.InvariantCulture,
            "vit_mae {0}x{1}/{2}, {3} channels, encoder {4}x{5} ({6} heads, MLP {7}, {8}), decoder {9}x{10} ({11} heads, MLP {12}), mask_ratio {13}{14}",
            ImageHeight, ImageWidth, PatchSize, NumChannels, HiddenSize, NumHiddenLayers, NumAttentionHeads, IntermediateSize, HiddenAct,
            DecoderHiddenSize, DecoderNumHiddenLayers, DecoderNumAttentionHeads, DecoderIntermediateSize,
            MaskRatio.ToString("R", CultureInfo.InvariantCulture), NormPixLoss ? ", norm_pix_loss" : "");
    }
}
