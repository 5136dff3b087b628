using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace ViTMAE.Compiled.Generator.Model
{
    /// <summary>Which part of the model a step belongs to.</summary>
    internal enum PlanStage
    {
        Embeddings,
        Encoder,
        Decoder,
        Loss,
    }

    /// <summary>What a Linear step does with its product before storing it.</summary>
    internal enum LinearEpilogue
    {
        /// <summary>output = x·Wᵀ + b.</summary>
        None,

        /// <summary>output = act(x·Wᵀ + b).</summary>
        Activation,

        /// <summary>output += x·Wᵀ + b (the residual connection).</summary>
        Accumulate,
    }

    /// <summary>
    /// One step of the forward pass of one image: what it computes, the arena buffers it reads and writes (buffer
    /// lifetimes come from walking the steps), its FLOPs and a shape text for comments and the plan summary. The emitter
    /// writes one call per step; the backward pass walks the same list in reverse.
    /// </summary>
    internal abstract record Step(string Name, PlanStage Stage)
    {
        /// <summary>Arena buffers the step reads.</summary>
        public abstract IEnumerable<string> Reads { get; }

        /// <summary>Arena buffers the step writes (a buffer updated in place is both read and written).</summary>
        public abstract IEnumerable<string> Writes { get; }

        /// <summary>Floating-point operations for one image (a multiply-add counts 2).</summary>
        public virtual long Flops => 0;

        /// <summary>The shapes in words, e.g. "[50, 768] x [768 -> 2304], bias".</summary>
        public abstract string Describe();

        /// <summary>Every buffer the step touches.</summary>
        public IEnumerable<string> Touches => Reads.Concat(Writes).Distinct();

        protected static string I(int value) => value.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary><c>patchify</c>: pixels [C, H, W] → patches [L, p·p·C] (row, column, channel order).</summary>
    internal sealed record PatchifyStep(int Patches, int PatchDim) : Step("patchify", PlanStage.Embeddings)
    {
        public override IEnumerable<string> Reads => new string[0];

        public override IEnumerable<string> Writes => new[] { Buffers.Patches };

        public override string Describe() => "pixels -> [" + I(Patches) + ", " + I(PatchDim) + "]";
    }

    /// <summary>A Linear layer y = x·Wᵀ + b on <see cref="M"/> rows (per image), with an epilogue.</summary>
    internal sealed record LinearStep(
        string Name, PlanStage Stage, string Weight, string Input, string Output, int M, int N, int K, LinearEpilogue Epilogue, string Activation, string Note)
        : Step(Name, Stage)
    {
        public override IEnumerable<string> Reads => Epilogue == LinearEpilogue.Accumulate ? new[] { Input, Output } : new[] { Input };

        public override IEnumerable<string> Writes => new[] { Output };

        public override long Flops => 2L * M * N * K;

        public override string Describe()
        {
            string epilogue = Epilogue switch
            {
                LinearEpilogue.Activation => "bias + " + Activation,
                LinearEpilogue.Accumulate => "bias + residual",
                _ => "bias",
            };
            return "[" + I(M) + ", " + I(K) + "] x [" + I(K) + " -> " + I(N) + "], " + epilogue + (Note.Length > 0 ? ", " + Note : "");
        }
    }

    /// <summary>Adds the position table rows 1..L to the patch embeddings (before masking, as Hugging Face does).</summary>
    internal sealed record AddPositionsStep(int Patches, int Dim) : Step("position_embeddings", PlanStage.Embeddings)
    {
        public override IEnumerable<string> Reads => new[] { Buffers.Embeddings };

        public override IEnumerable<string> Writes => new[] { Buffers.Embeddings };

        public override string Describe() => "[" + I(Patches) + ", " + I(Dim) + "] += positions[1:]";
    }

    /// <summary>Random masking: argsort of the noise, <c>ids_restore</c>, the mask of removed patches.</summary>
    internal sealed record MaskingStep(int Patches, int Kept) : Step("random_masking", PlanStage.Embeddings)
    {
        public override IEnumerable<string> Reads => new string[0];

        public override IEnumerable<string> Writes => new[] { Buffers.Mask };

        public override string Describe() => "keep " + I(Kept) + " of " + I(Patches) + " patches (lowest noise first)";
    }

    /// <summary>The encoder input: CLS + position 0, then the kept patches in noise order.</summary>
    internal sealed record GatherKeptStep(int Tokens, int Dim) : Step("gather_kept", PlanStage.Embeddings)
    {
        public override IEnumerable<string> Reads => new[] { Buffers.Embeddings };

        public override IEnumerable<string> Writes => new[] { Buffers.Hidden };

        public override string Describe() => "CLS + kept -> [" + I(Tokens) + ", " + I(Dim) + "]";
    }

    /// <summary>A LayerNorm over rows of <see cref="Dim"/> features.</summary>
    internal sealed record LayerNormStep(string Name, PlanStage Stage, string Weight, string Input, string Output, int Rows, int Dim) : Step(Name, Stage)
    {
        public override IEnumerable<string> Reads => new[] { Input };

        public override IEnumerable<string> Writes => new[] { Output };

        public override string Describe() => "[" + I(Rows) + ", " + I(Dim) + "]";
    }

    /// <summary>Multi-head self-attention per image: softmax(Q·Kᵀ/√d)·V for every head, from the fused Q|K|V rows.</summary>
    internal sealed record AttentionStep(string Name, PlanStage Stage, string Input, string Output, int Tokens, int Heads, int HeadDim) : Step(Name, Stage)
    {
        public override IEnumerable<string> Reads => new[] { Input };

        public override IEnumerable<string> Writes => new[] { Output };

        /// <summary>Q·Kᵀ and P·V: 2 · (2·T²·headDim) per head.</summary>
        public override long Flops => 4L * Tokens * Tokens * HeadDim * Heads;

        public override string Describe() =>
            I(Heads) + " heads x [" + I(Tokens) + ", " + I(HeadDim) + "] x [" + I(HeadDim) + ", " + I(Tokens) + "] scores, softmax, x [" + I(Tokens) + ", " + I(HeadDim) + "]";
    }

    /// <summary>The decoder input: decoder_embed's rows, mask tokens for the removed patches, unshuffled, + positions.</summary>
    internal sealed record UnshuffleStep(int Tokens, int Dim) : Step("unshuffle", PlanStage.Decoder)
    {
        public override IEnumerable<string> Reads => new[] { Buffers.DecoderTokens };

        public override IEnumerable<string> Writes => new[] { Buffers.DecoderHidden };

        public override string Describe() => "mask tokens + unshuffle + positions -> [" + I(Tokens) + ", " + I(Dim) + "]";
    }

    /// <summary>The pixel loss: per-patch MSE against the (optionally normalised) patches, mean over removed patches.</summary>
    internal sealed record LossStep(int Patches, int PatchDim, bool NormPixLoss) : Step("loss", PlanStage.Loss)
    {
        public override IEnumerable<string> Reads => new[] { Buffers.Patches, Buffers.Logits, Buffers.Mask };

        public override IEnumerable<string> Writes => new string[0];

        public override string Describe() => "MSE over [" + I(Patches) + ", " + I(PatchDim) + "]" + (NormPixLoss ? ", per-patch normalised target" : "") + ", mean over removed patches";
    }

    /// <summary>
    /// <see cref="Count"/> pre-LN transformer layers with the same shapes: the encoder or the decoder. One
    /// <see cref="LayerPlan"/> describes the steps of every layer; the emitter writes its body once, for both stacks.
    /// </summary>
    internal sealed record LayerStackStep(string Name, PlanStage Stage, int Count, LayerPlan Layer) : Step(Name, Stage)
    {
        public override IEnumerable<string> Reads => Layer.Steps.SelectMany(s => s.Reads).Distinct();

        public override IEnumerable<string> Writes => Layer.Steps.SelectMany(s => s.Writes).Distinct();

        public override long Flops => Count * Layer.Steps.Sum(s => s.Flops);

        public override string Describe() => I(Count) + " layers of [" + I(Layer.Tokens) + ", " + I(Layer.Hidden) + "]";
    }

    /// <summary>
    /// One pre-LN transformer layer (<c>ViTMAELayer</c>) at given shapes: its steps, in order, over the stack's buffers
    /// (<see cref="X"/> is the residual stream, updated in place).
    /// </summary>
    internal sealed record LayerPlan(
        string Prefix, int Tokens, int Hidden, int Heads, int HeadDim, int Intermediate, string Activation,
        string X, string Norm, string Qkv, string Context, string Mlp, EquatableArray<Step> Steps);

    /// <summary>The names of the buffers only the training arena has: the layer stacks' blocks, statistics and gradients.</summary>
    internal static class TrainingBuffers
    {
        public const string EncoderLayers = "encoder_layers";
        public const string DecoderLayers = "decoder_layers";
        public const string FinalStats = "final_stats";
        public const string DecoderNormStats = "decoder_norm_stats";
        public const string DLogits = "d_logits";
        public const string DDecoderNorm = "d_decoder_norm";
        public const string DecoderResidualGrad = "d_decoder_residual";
        public const string DecoderNormGrad = "d_decoder_layer_norm";
        public const string DecoderQkvGrad = "d_decoder_qkv";
        public const string DecoderContextGrad = "d_decoder_context";
        public const string DecoderMlpGrad = "d_decoder_mlp";
        public const string DDecoderTokens = "d_decoder_tokens";
        public const string DLastHiddenState = "d_last_hidden_state";
        public const string EncoderResidualGrad = "d_encoder_residual";
        public const string EncoderNormGrad = "d_encoder_layer_norm";
        public const string EncoderQkvGrad = "d_encoder_qkv";
        public const string EncoderContextGrad = "d_encoder_context";
        public const string EncoderMlpGrad = "d_encoder_mlp";
        public const string DEmbeddings = "d_embeddings";
        public const string DPatches = "d_patches";
    }

    /// <summary>The names of the arena buffers of the forward pass.</summary>
    internal static class Buffers
    {
        public const string Patches = "patches";
        public const string Embeddings = "embeddings";
        public const string Mask = "mask";
        public const string Hidden = "hidden";
        public const string LastHiddenState = "last_hidden_state";
        public const string DecoderTokens = "decoder_tokens";
        public const string DecoderHidden = "decoder_hidden";
        public const string DecoderNorm = "decoder_norm";
        public const string Logits = "logits";
    }
}
