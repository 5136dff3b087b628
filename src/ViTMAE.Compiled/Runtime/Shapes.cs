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
}

/// <summary>
/// The constants of one stack of pre-LN transformer layers (the encoder's or the decoder's at one resolution), emitted as
/// a struct: one generated layer body, generic over it, serves both stacks. Arena offsets are per image, in floats.
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

    /// <summary>Arena offset of the residual stream x [T, D]: the stack's input, updated in place by each layer.</summary>
    static abstract int XOffset { get; }

    /// <summary>Arena offset of the LayerNorm output [T, D] (layernorm_before, then layernorm_after).</summary>
    static abstract int NormOffset { get; }

    /// <summary>Arena offset of query|key|value [T, 3D].</summary>
    static abstract int QkvOffset { get; }

    /// <summary>Arena offset of the attention context [T, D].</summary>
    static abstract int ContextOffset { get; }

    /// <summary>Arena offset of the MLP activation [T, I].</summary>
    static abstract int MlpOffset { get; }
}

/// <summary>The arena buffers one layer of a stack reads and writes, bound once per layer call.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly ref struct LayerBuffers
{
    private LayerBuffers(Span<float> x, Span<float> norm, Span<float> qkv, Span<float> context, Span<float> mlp)
    {
        X = x;
        Norm = norm;
        Qkv = qkv;
        Context = context;
        Mlp = mlp;
    }

    /// <summary>Residual stream [B·T, D].</summary>
    public Span<float> X { get; }

    /// <summary>LayerNorm output [B·T, D].</summary>
    public Span<float> Norm { get; }

    /// <summary>query|key|value [B·T, 3D].</summary>
    public Span<float> Qkv { get; }

    /// <summary>Attention context [B·T, D].</summary>
    public Span<float> Context { get; }

    /// <summary>MLP activation [B·T, I].</summary>
    public Span<float> Mlp { get; }

    /// <summary>The buffers of stack <typeparamref name="TLayer"/> for a batch of <paramref name="batch"/> images.</summary>
    public static LayerBuffers Bind<TLayer>(Workspace workspace, int batch) where TLayer : struct, ILayerShape
    {
        ArgumentNullException.ThrowIfNull(workspace);
        int t = TLayer.Tokens, d = TLayer.Hidden;
        return new LayerBuffers(
            workspace.Buffer(TLayer.XOffset, t * d, batch),
            workspace.Buffer(TLayer.NormOffset, t * d, batch),
            workspace.Buffer(TLayer.QkvOffset, t * 3 * d, batch),
            workspace.Buffer(TLayer.ContextOffset, t * d, batch),
            workspace.Buffer(TLayer.MlpOffset, t * TLayer.Intermediate, batch));
    }
}
