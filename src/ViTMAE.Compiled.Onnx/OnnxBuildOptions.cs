namespace ViTMAE.Compiled.Onnx;

/// <summary>
/// What graph <see cref="OnnxReference.Build"/> makes. The input resolution (and so the patch count, the tokens kept and
/// every shape other than the batch) is fixed when the graph is built. The batch is a symbolic dimension by default, as
/// in models exported by Hugging Face's tooling, or a fixed number when <see cref="Batch"/> is set.
/// </summary>
public sealed record OnnxBuildOptions
{
    /// <summary>The symbolic name (ONNX <c>dim_param</c>) of the batch axis when <see cref="Batch"/> is <see langword="null"/>.</summary>
    public const string BatchDimensionName = "batch";

    /// <summary>
    /// Batch size B of <c>pixel_values</c> <c>[B,C,H,W]</c>, <c>noise</c> <c>[B,L]</c> and every output.
    /// <see langword="null"/> (the default) makes B a symbolic dimension named <see cref="BatchDimensionName"/> on every
    /// input and output, so one graph runs any batch of at least 1; a number fixes B (a static graph that ONNX Runtime
    /// refuses to run at another batch).
    /// </summary>
    public int? Batch { get; init; }

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
