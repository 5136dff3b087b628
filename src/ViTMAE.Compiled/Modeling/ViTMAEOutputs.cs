using System;

namespace ViTMAE.Compiled.Modeling;

/// <summary>
/// Outputs of <c>ViTMAEModel</c>: views over the session's workspace, valid until the session's next call.
/// Names and shapes follow Hugging Face's <c>ViTMAEModelOutput</c>.
/// </summary>
public readonly ref struct ViTMAEModelOutput
{
    /// <summary>Creates the output views.</summary>
    public ViTMAEModelOutput(TensorView lastHiddenState, TensorView mask, ReadOnlySpan<int> idsRestore, TensorView hiddenStates, TensorView attentions)
    {
        LastHiddenState = lastHiddenState;
        Mask = mask;
        IdsRestore = idsRestore;
        HiddenStates = hiddenStates;
        Attentions = attentions;
    }

    /// <summary><c>last_hidden_state</c> <c>[B, 1 + len_keep, hidden]</c>: after the final LayerNorm; CLS first, then kept patches in ascending-noise order.</summary>
    public TensorView LastHiddenState { get; }

    /// <summary><c>mask</c> <c>[B, L]</c>: 1 for removed patches, 0 for kept ones, in image order.</summary>
    public TensorView Mask { get; }

    /// <summary><c>ids_restore</c> <c>[B, L]</c>: the inverse of the noise sort (HF gives int64; values are the same).</summary>
    public ReadOnlySpan<int> IdsRestore { get; }

    /// <summary><c>hidden_states</c> <c>[layers + 1, B, T, hidden]</c> when requested (entry 0 = embeddings, last = before the final LayerNorm), else empty.</summary>
    public TensorView HiddenStates { get; }

    /// <summary><c>attentions</c> <c>[layers, B, heads, T, T]</c> (post-softmax, post-head-mask) when requested, else empty.</summary>
    public TensorView Attentions { get; }
}

/// <summary>Outputs of <c>ViTMAEForPreTraining</c>: views over the session's workspace, valid until its next call.</summary>
public readonly ref struct ViTMAEPreTrainingOutput
{
    /// <summary>Creates the output views.</summary>
    public ViTMAEPreTrainingOutput(float loss, TensorView logits, ViTMAEModelOutput encoder, TensorView decoderHiddenStates, TensorView decoderAttentions)
    {
        Loss = loss;
        Logits = logits;
        Encoder = encoder;
        DecoderHiddenStates = decoderHiddenStates;
        DecoderAttentions = decoderAttentions;
    }

    /// <summary>
    /// <c>loss</c>: mean over removed patches of the per-patch MSE between <see cref="Logits"/> and the (optionally
    /// normalised) patchified pixels. NaN when no patch is removed (mask_ratio 0), as in Hugging Face.
    /// </summary>
    public float Loss { get; }

    /// <summary><c>logits</c> <c>[B, L, patch_size² · channels]</c>: predicted pixels per patch, image order.</summary>
    public TensorView Logits { get; }

    /// <summary><c>mask</c> <c>[B, L]</c>.</summary>
    public TensorView Mask => Encoder.Mask;

    /// <summary><c>ids_restore</c> <c>[B, L]</c>.</summary>
    public ReadOnlySpan<int> IdsRestore => Encoder.IdsRestore;

    /// <summary>The encoder's outputs (last hidden state, its hidden states and attentions when requested).</summary>
    public ViTMAEModelOutput Encoder { get; }

    /// <summary><c>decoder_hidden_states</c> <c>[decoder_layers + 1, B, 1 + L, decoder_hidden]</c> when requested, else empty.</summary>
    public TensorView DecoderHiddenStates { get; }

    /// <summary><c>decoder_attentions</c> <c>[decoder_layers, B, decoder_heads, 1 + L, 1 + L]</c> when requested, else empty.</summary>
    public TensorView DecoderAttentions { get; }
}

/// <summary>A compiled ViTMAE model with its weights: immutable, thread-safe; each caller uses its own session.</summary>
public interface IViTMAEModel
{
    /// <summary>The configuration the class was compiled from.</summary>
    Configuration.ViTMAESpec Spec { get; }

    /// <summary>True when the weights include the decoder (a <c>ViTMAEForPreTraining</c> checkpoint).</summary>
    bool HasDecoder { get; }

    /// <summary>Input resolutions (height, width) this class was compiled for: the config's, then declared extras.</summary>
    ReadOnlySpan<(int Height, int Width)> Resolutions { get; }

    /// <summary>
    /// Creates a workspace for batches of up to <paramref name="maxBatch"/> images; <paramref name="seed"/> seeds its
    /// noise; <paramref name="degreeOfParallelism"/> threads share each call (0: every processor). Dispose it to stop
    /// its threads.
    /// </summary>
    IViTMAESession CreateSession(int maxBatch = 1, int seed = 0, int degreeOfParallelism = 0);
}

/// <summary>A per-caller workspace: owns all scratch memory, reused by every call; not thread-safe.</summary>
public interface IViTMAESession : IDisposable
{
    /// <summary>Largest batch this session accepts.</summary>
    int MaxBatch { get; }

    /// <summary>Threads that share each call (the caller included).</summary>
    int DegreeOfParallelism { get; }

    /// <summary><c>ViTMAEModel.forward</c>: embeddings, random masking, encoder, final LayerNorm.</summary>
    ViTMAEModelOutput Forward(in ViTMAEInputs inputs);

    /// <summary><c>ViTMAEForPreTraining.forward</c>: the encoder, the decoder, the pixel loss.</summary>
    ViTMAEPreTrainingOutput ForwardPreTraining(in ViTMAEInputs inputs);
}
