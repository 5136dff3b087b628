using System;
using System.ComponentModel;
using ViTMAE.Compiled.Kernels;

namespace ViTMAE.Compiled.Runtime;

/// <summary>
/// The constants of one compiled input resolution, as static members of a struct the generator emits per resolution:
/// generated forward methods are generic over it, so the JIT compiles one body per resolution with every shape and
/// arena offset a constant (the way <c>PackedLinear</c>'s micro-kernel is generic over its row count). Offsets and sizes
/// are per image, in floats; a batch of B images uses B times each (see <see cref="Workspace.Buffer"/>).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IResolutionShape
{
    /// <summary>Index of the resolution among the compiled ones (0: the config's): selects the position tables.</summary>
    static abstract int Index { get; }

    /// <summary>Image height in pixels.</summary>
    static abstract int Height { get; }

    /// <summary>Image width in pixels.</summary>
    static abstract int Width { get; }

    /// <summary><c>num_channels</c>.</summary>
    static abstract int Channels { get; }

    /// <summary><c>patch_size</c>.</summary>
    static abstract int PatchSize { get; }

    /// <summary>Values per patch, <c>patch_size² · num_channels</c>.</summary>
    static abstract int PatchDim { get; }

    /// <summary>L: patches per image.</summary>
    static abstract int Patches { get; }

    /// <summary><c>len_keep</c>: patches the encoder sees.</summary>
    static abstract int Kept { get; }

    /// <summary>Encoder sequence: CLS + kept patches.</summary>
    static abstract int Tokens { get; }

    /// <summary>Decoder sequence: CLS + every patch.</summary>
    static abstract int DecoderTokens { get; }

    /// <summary><c>hidden_size</c>.</summary>
    static abstract int Hidden { get; }

    /// <summary><c>decoder_hidden_size</c>.</summary>
    static abstract int DecoderHidden { get; }

    /// <summary><c>num_hidden_layers</c>.</summary>
    static abstract int Layers { get; }

    /// <summary><c>decoder_num_hidden_layers</c>.</summary>
    static abstract int DecoderLayers { get; }

    /// <summary><c>layer_norm_eps</c> as float.</summary>
    static abstract float Eps { get; }

    /// <summary><c>norm_pix_loss</c>.</summary>
    static abstract bool NormPixLoss { get; }

    /// <summary>Arena offset of <c>patches</c> [L, P].</summary>
    static abstract int PatchesOffset { get; }

    /// <summary>Arena offset of <c>embeddings</c> [L, D].</summary>
    static abstract int EmbeddingsOffset { get; }

    /// <summary>Arena offset of <c>mask</c> [L].</summary>
    static abstract int MaskOffset { get; }

    /// <summary>Arena offset of <c>last_hidden_state</c> [T, D].</summary>
    static abstract int LastHiddenStateOffset { get; }

    /// <summary>Arena offset of <c>decoder_tokens</c> [T, Dd] (decoder_embed's output).</summary>
    static abstract int DecoderTokensOffset { get; }

    /// <summary>Arena offset of <c>decoder_norm</c> [Td, Dd] (decoder_norm's output).</summary>
    static abstract int DecoderNormOffset { get; }

    /// <summary>Arena offset of <c>logits</c> [L, P].</summary>
    static abstract int LogitsOffset { get; }

    /// <summary>
    /// True for the shapes of a training session: the forward keeps what the backward pass needs (per-layer blocks, LayerNorm
    /// statistics, pre-activations, attention probabilities) and the offsets below are those of the training arena.
    /// </summary>
    static abstract bool Training { get; }

    /// <summary>Training: the final LayerNorm's statistics [T, 2].</summary>
    static abstract int FinalStatsOffset { get; }

    /// <summary>Training: decoder_norm's statistics [Td, 2].</summary>
    static abstract int DecoderNormStatsOffset { get; }

    /// <summary>Training: ∂loss/∂logits [L, P].</summary>
    static abstract int DLogitsOffset { get; }

    /// <summary>Training: ∂loss/∂decoder_norm [Td, Dd].</summary>
    static abstract int DDecoderNormOffset { get; }

    /// <summary>Training: ∂loss/∂decoder_tokens [T, Dd].</summary>
    static abstract int DDecoderTokensOffset { get; }

    /// <summary>Training: ∂loss/∂last_hidden_state [T, D].</summary>
    static abstract int DLastHiddenStateOffset { get; }

    /// <summary>Training: ∂loss/∂embeddings [L, D].</summary>
    static abstract int DEmbeddingsOffset { get; }

    /// <summary>Training: ∂loss/∂patches [L, P] (pixel gradients).</summary>
    static abstract int DPatchesOffset { get; }
}

/// <summary>
/// The constants of one stack of pre-LN transformer layers (the encoder's or the decoder's at one resolution), emitted as
/// a struct: one generated layer body, generic over it, serves both stacks, for inference and for training. Arena offsets
/// are per image, in floats. For inference the layers share one set of buffers (the residual stream x is updated in place,
/// <see cref="Stride"/> = 0, the training-only buffers are empty); for training each layer keeps its own block (layer i at
/// i × <see cref="Stride"/>) and writes its output into the next layer's x.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface ILayerShape
{
    /// <summary>Tokens per image (T).</summary>
    static abstract int Tokens { get; }

    /// <summary>Width (D).</summary>
    static abstract int Hidden { get; }

    /// <summary>Attention heads.</summary>
    static abstract int Heads { get; }

    /// <summary>Head width (D / heads).</summary>
    static abstract int HeadDim { get; }

    /// <summary>MLP width (I).</summary>
    static abstract int Intermediate { get; }

    /// <summary><c>layer_norm_eps</c> as float.</summary>
    static abstract float Eps { get; }

    /// <summary><c>hidden_act</c>.</summary>
    static abstract Activation Activation { get; }

    /// <summary>Whether these are a training session's shapes (see the type's remarks).</summary>
    static abstract bool Training { get; }

    /// <summary>Floats between two layers' blocks (0 for inference).</summary>
    static abstract int Stride { get; }

    /// <summary>The layer's input x [T, D] (layer 0's is the stack's input; layer i's output is layer i + 1's x).</summary>
    static abstract int XOffset { get; }

    /// <summary>layernorm_before's output [T, D].</summary>
    static abstract int Norm1Offset { get; }

    /// <summary>Training: layernorm_before's statistics [T, 2].</summary>
    static abstract int Stats1Offset { get; }

    /// <summary>query|key|value [T, 3D].</summary>
    static abstract int QkvOffset { get; }

    /// <summary>Training: the attention probabilities [heads, T, T].</summary>
    static abstract int ProbsOffset { get; }

    /// <summary>The attention context [T, D].</summary>
    static abstract int ContextOffset { get; }

    /// <summary>x after the attention block [T, D] (inference: x itself).</summary>
    static abstract int XMidOffset { get; }

    /// <summary>layernorm_after's output [T, D].</summary>
    static abstract int Norm2Offset { get; }

    /// <summary>Training: layernorm_after's statistics [T, 2].</summary>
    static abstract int Stats2Offset { get; }

    /// <summary>Training: the MLP's pre-activation [T, I].</summary>
    static abstract int PreOffset { get; }

    /// <summary>The MLP's activation [T, I].</summary>
    static abstract int PostOffset { get; }

    /// <summary>Training: ∂loss/∂x of the stack, flowing back through the layers [T, D].</summary>
    static abstract int ResidualGradOffset { get; }

    /// <summary>Training: gradient of a LayerNorm output [T, D].</summary>
    static abstract int NormGradOffset { get; }

    /// <summary>Training: gradient of query|key|value [T, 3D].</summary>
    static abstract int QkvGradOffset { get; }

    /// <summary>Training: gradient of the attention context [T, D].</summary>
    static abstract int ContextGradOffset { get; }

    /// <summary>Training: gradient of the MLP activation and pre-activation [T, I].</summary>
    static abstract int MlpGradOffset { get; }
}

/// <summary>The arena buffers one layer of a stack reads and writes, bound once per layer call.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly ref struct LayerBuffers
{
    /// <summary>The layer's input x [B·T, D].</summary>
    public Span<float> X { get; init; }

    /// <summary>x after the attention block [B·T, D] (the same memory as <see cref="X"/> for inference).</summary>
    public Span<float> XMid { get; init; }

    /// <summary>The layer's output [B·T, D] (the same memory as <see cref="X"/> for inference; the next layer's x for training).</summary>
    public Span<float> Output { get; init; }

    /// <summary>layernorm_before's output [B·T, D].</summary>
    public Span<float> Norm1 { get; init; }

    /// <summary>layernorm_before's statistics [B·T, 2] (empty for inference).</summary>
    public Span<float> Stats1 { get; init; }

    /// <summary>query|key|value [B·T, 3D].</summary>
    public Span<float> Qkv { get; init; }

    /// <summary>Attention probabilities [B, heads, T, T] (empty for inference: the caller's optional output is used).</summary>
    public Span<float> Probs { get; init; }

    /// <summary>Attention context [B·T, D].</summary>
    public Span<float> Context { get; init; }

    /// <summary>layernorm_after's output [B·T, D].</summary>
    public Span<float> Norm2 { get; init; }

    /// <summary>layernorm_after's statistics [B·T, 2] (empty for inference).</summary>
    public Span<float> Stats2 { get; init; }

    /// <summary>The MLP's pre-activation [B·T, I] (empty for inference: the activation is fused into the GEMM).</summary>
    public Span<float> Pre { get; init; }

    /// <summary>The MLP's activation [B·T, I].</summary>
    public Span<float> Post { get; init; }

    /// <summary>The buffers of layer <paramref name="layer"/> of stack <typeparamref name="TLayer"/> for a batch of <paramref name="batch"/> images.</summary>
    public static LayerBuffers Bind<TLayer>(Workspace workspace, int batch, int layer) where TLayer : struct, ILayerShape
    {
        ArgumentNullException.ThrowIfNull(workspace);
        int t = TLayer.Tokens, d = TLayer.Hidden, i = TLayer.Intermediate, block = layer * TLayer.Stride;
        bool training = TLayer.Training;
        return new LayerBuffers
        {
            X = workspace.Buffer(block + TLayer.XOffset, t * d, batch),
            XMid = workspace.Buffer(block + TLayer.XMidOffset, t * d, batch),
            Output = workspace.Buffer(block + TLayer.Stride + TLayer.XOffset, t * d, batch),
            Norm1 = workspace.Buffer(block + TLayer.Norm1Offset, t * d, batch),
            Stats1 = training ? workspace.Buffer(block + TLayer.Stats1Offset, t * 2, batch) : default,
            Qkv = workspace.Buffer(block + TLayer.QkvOffset, t * 3 * d, batch),
            Probs = training ? workspace.Buffer(block + TLayer.ProbsOffset, TLayer.Heads * t * t, batch) : default,
            Context = workspace.Buffer(block + TLayer.ContextOffset, t * d, batch),
            Norm2 = workspace.Buffer(block + TLayer.Norm2Offset, t * d, batch),
            Stats2 = training ? workspace.Buffer(block + TLayer.Stats2Offset, t * 2, batch) : default,
            Pre = training ? workspace.Buffer(block + TLayer.PreOffset, t * i, batch) : default,
            Post = workspace.Buffer(block + TLayer.PostOffset, t * i, batch),
        };
    }
}

/// <summary>The gradient buffers of a stack's backward pass (shared by its layers), bound once per layer call.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly ref struct LayerGradientBuffers
{
    /// <summary>∂loss/∂x [B·T, D]: the layer's output gradient on entry, its input gradient on exit.</summary>
    public Span<float> Residual { get; init; }

    /// <summary>Gradient of a LayerNorm output [B·T, D].</summary>
    public Span<float> Norm { get; init; }

    /// <summary>Gradient of query|key|value [B·T, 3D].</summary>
    public Span<float> Qkv { get; init; }

    /// <summary>Gradient of the attention context [B·T, D].</summary>
    public Span<float> Context { get; init; }

    /// <summary>Gradient of the MLP activation, then of its pre-activation [B·T, I].</summary>
    public Span<float> Mlp { get; init; }

    /// <summary>The gradient buffers of stack <typeparamref name="TLayer"/> for a batch of <paramref name="batch"/> images.</summary>
    public static LayerGradientBuffers Bind<TLayer>(Workspace workspace, int batch) where TLayer : struct, ILayerShape
    {
        ArgumentNullException.ThrowIfNull(workspace);
        int t = TLayer.Tokens, d = TLayer.Hidden;
        return new LayerGradientBuffers
        {
            Residual = workspace.Buffer(TLayer.ResidualGradOffset, t * d, batch),
            Norm = workspace.Buffer(TLayer.NormGradOffset, t * d, batch),
            Qkv = workspace.Buffer(TLayer.QkvGradOffset, t * 3 * d, batch),
            Context = workspace.Buffer(TLayer.ContextGradOffset, t * d, batch),
            Mlp = workspace.Buffer(TLayer.MlpGradOffset, t * TLayer.Intermediate, batch),
        };
    }
}
