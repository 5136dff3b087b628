using System;

namespace ViTMAE.Compiled.Modeling;

/// <summary>
/// Inputs of a forward pass, mirroring Hugging Face's <c>ViTMAEModel.forward</c> arguments. Spans are borrowed for
/// the duration of the call only.
/// </summary>
public readonly ref struct ViTMAEInputs
{
    /// <summary>Pixel values <c>[batch, channels, height, width]</c>, row-major, already normalised.</summary>
    public ViTMAEInputs(ReadOnlySpan<float> pixelValues, int batch)
    {
        PixelValues = pixelValues;
        Batch = batch;
    }

    /// <summary><c>pixel_values</c> <c>[B, C, H, W]</c>.</summary>
    public ReadOnlySpan<float> PixelValues { get; }

    /// <summary>B: images in the batch.</summary>
    public int Batch { get; }

    /// <summary>Input height in pixels; 0 means the config's <c>image_size</c>. Another size must be declared at build time (<c>ViTMAEResolutions</c>).</summary>
    public int Height { get; init; }

    /// <summary>Input width in pixels; 0 means the config's <c>image_size</c>.</summary>
    public int Width { get; init; }

    /// <summary>
    /// <c>noise</c> <c>[B, L]</c> that decides the random masking (kept patches are those with the smallest noise).
    /// Empty: the session draws uniform noise from its seeded generator.
    /// </summary>
    public ReadOnlySpan<float> Noise { get; init; }

    /// <summary><c>head_mask</c>: <c>[heads]</c> (every layer) or <c>[layers, heads]</c> multipliers of the attention probabilities. Empty: none.</summary>
    public ReadOnlySpan<float> HeadMask { get; init; }

    /// <summary>Decoder head mask for <c>ViTMAEForPreTraining</c> (HF passes none to the decoder; this is an extension). Empty: none.</summary>
    public ReadOnlySpan<float> DecoderHeadMask { get; init; }

    /// <summary><c>output_hidden_states</c>: also return the input of every layer and the last layer's output.</summary>
    public bool OutputHiddenStates { get; init; }

    /// <summary><c>output_attentions</c>: also return every layer's attention probabilities.</summary>
    public bool OutputAttentions { get; init; }
}
