namespace ViTMAE.Compiled.Onnx;

/// <summary>
/// What graph <see cref="OnnxReference.Build"/> makes. Shapes are static: batch and input resolution are fixed when
/// the graph is built.
/// </summary>
public sealed record OnnxBuildOptions
{
    /// <summary>Batch size B of <c>pixel_values</c> <c>[B,C,H,W]</c> and <c>noise</c> <c>[B,L]</c> (default 1).</summary>
    public int Batch { get; init; } = 1;

    /// <summary>
    /// Input height; <see langword="null"/> (default) means the config's <c>image_size</c>. A resolution other than the
    /// config's is Hugging Face's <c>interpolate_pos_encoding=True</c>: the position tables are resized bicubically.
    /// </summary>
    public int? Height { get; init; }

    /// <summary>Input width; <see langword="null"/> (default) means the config's <c>image_size</c>.</summary>
    public int? Width { get; init; }

    /// <summary>
    /// Build Hugging Face's <c>ViTMAEModel</c> (encoder only: <c>last_hidden_state</c>, <c>mask</c>, <c>ids_restore</c>)
    /// instead of <c>ViTMAEForPreTraining</c>. Works with checkpoints whose keys lack the <c>vit.</c> prefix.
    /// </summary>
    public bool EncoderOnly { get; init; }

    /// <summary>Also output <c>hidden_states.N</c> (and <c>decoder_hidden_states.N</c> unless encoder-only).</summary>
    public bool OutputHiddenStates { get; init; }

    /// <summary>Also output <c>attentions.N</c> (and <c>decoder_attentions.N</c> unless encoder-only).</summary>
    public bool OutputAttentions { get; init; }
}
