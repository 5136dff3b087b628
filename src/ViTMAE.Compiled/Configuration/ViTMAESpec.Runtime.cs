using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace ViTMAE.Compiled.Configuration;

// The shared parser sources declare these types without an access modifier (internal in the generator);
// the runtime library makes them public.

/// <summary>A ViTMAE configuration parsed from a Hugging Face <c>config.json</c>.</summary>
public sealed partial record ViTMAESpec
{
    /// <summary>Parses a config from JSON text. Throws <see cref="ViTMAEConfigException"/> listing every problem.</summary>
    public static ViTMAESpec Parse(string json, string sourceName = "config.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        var diagnostics = new List<ConfigDiagnostic>();
        ViTMAESpec? spec = ViTMAEConfigParser.Parse(json, diagnostics);
        return spec ?? throw new ViTMAEConfigException(sourceName, diagnostics);
    }

    /// <summary>Reads and parses a <c>config.json</c> file (or a model folder that contains one).</summary>
    public static ViTMAESpec Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        if (!File.Exists(file))
        {
            throw new FileNotFoundException("ViTMAE config not found: " + file, file);
        }

        // Size first, without opening: a FIFO or a device reports 0 bytes, and opening or reading it can block forever.
        // Parsed as the empty text it reports (VMAE001).
        return Parse(new FileInfo(file).Length == 0 ? string.Empty : File.ReadAllText(file), file);
    }

    /// <summary>
    /// The fields (by their config.json keys) in which <paramref name="other"/> differs from this config, each as
    /// <c>key: this vs other</c>, in key order. <paramref name="architectureOnly"/> leaves out what does not change the
    /// weights or what a forward pass computes from them (mask_ratio, the dropout probabilities, initializer_range).
    /// </summary>
    public IReadOnlyList<string> Differences(ViTMAESpec other, bool architectureOnly = false)
    {
        ArgumentNullException.ThrowIfNull(other);
        var result = new List<string>();
        void Add<T>(string key, T mine, T theirs, bool architecture = true)
        {
            if ((architecture || !architectureOnly) && !EqualityComparer<T>.Default.Equals(mine, theirs))
            {
                result.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{key}: {mine} vs {theirs}"));
            }
        }

        Add("attention_probs_dropout_prob", AttentionProbsDropoutProb, other.AttentionProbsDropoutProb, architecture: false);
        Add("decoder_hidden_size", DecoderHiddenSize, other.DecoderHiddenSize);
        Add("decoder_intermediate_size", DecoderIntermediateSize, other.DecoderIntermediateSize);
        Add("decoder_num_attention_heads", DecoderNumAttentionHeads, other.DecoderNumAttentionHeads);
        Add("decoder_num_hidden_layers", DecoderNumHiddenLayers, other.DecoderNumHiddenLayers);
        Add("hidden_act", HiddenAct, other.HiddenAct);
        Add("hidden_dropout_prob", HiddenDropoutProb, other.HiddenDropoutProb, architecture: false);
        Add("hidden_size", HiddenSize, other.HiddenSize);
        Add("image_size", ImageHeight + "x" + ImageWidth, other.ImageHeight + "x" + other.ImageWidth);
        Add("initializer_range", InitializerRange, other.InitializerRange, architecture: false);
        Add("intermediate_size", IntermediateSize, other.IntermediateSize);
        Add("layer_norm_eps", LayerNormEps, other.LayerNormEps);
        Add("mask_ratio", MaskRatio, other.MaskRatio, architecture: false);
        Add("norm_pix_loss", NormPixLoss, other.NormPixLoss);
        Add("num_attention_heads", NumAttentionHeads, other.NumAttentionHeads);
        Add("num_channels", NumChannels, other.NumChannels);
        Add("num_hidden_layers", NumHiddenLayers, other.NumHiddenLayers);
        Add("patch_size", PatchSize, other.PatchSize);
        Add("qkv_bias", QkvBias, other.QkvBias);
        return result;
    }

    /// <summary>
    /// Checks the <c>config.json</c> that lies with a checkpoint (in the folder <paramref name="checkpointPath"/>, or
    /// beside the file) against the config a class was compiled from: every field that changes the weights or the forward
    /// pass must be equal (mask_ratio, dropout and initializer_range may differ). A folder without a config.json, or whose
    /// config.json is another model type's, is not checked.
    /// </summary>
    /// <exception cref="ViTMAEConfigException">The checkpoint's config differs; the message names each differing field.</exception>
    public static void CheckCheckpointConfig(string checkpointPath, ViTMAESpec compiled)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointPath);
        ArgumentNullException.ThrowIfNull(compiled);
        string? folder = Directory.Exists(checkpointPath) ? checkpointPath : Path.GetDirectoryName(Path.GetFullPath(checkpointPath));
        string file = Path.Combine(folder ?? ".", "config.json");
        var info = new FileInfo(file);
        if (!info.Exists || info.Length == 0 || info.Length > (1 << 20))
        {
            return; // none, or not a regular file / not a config (a FIFO reports 0 bytes and is never opened)
        }

        string json = File.ReadAllText(file);
        if (!IsViTMAEConfig(json))
        {
            return;
        }

        ViTMAESpec stored = Parse(json, file);
        IReadOnlyList<string> differences = compiled.Differences(stored, architectureOnly: true);
        if (differences.Count > 0)
        {
            throw new ViTMAEConfigException(file, [new ConfigDiagnostic(ConfigDiagnosticIds.CheckpointMismatch,
                "the checkpoint's config differs from the compiled one (compiled vs checkpoint): " + string.Join("; ", differences)
                + ". Load it with a class compiled from this config.json.", new JsonSpan(0, 0, 1, 1, 1, 1))]);
        }

        static bool IsViTMAEConfig(string json)
        {
            try
            {
                using var document = System.Text.Json.JsonDocument.Parse(json);
                return document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                    && document.RootElement.TryGetProperty("model_type", out System.Text.Json.JsonElement type)
                    && type.ValueKind == System.Text.Json.JsonValueKind.String
                    && type.GetString() == ModelTypeName;
            }
            catch (System.Text.Json.JsonException)
            {
                return false; // not JSON: not a config of ours to check (HF would not load it either)
            }
        }
    }

    /// <summary>
    /// This configuration as Hugging Face's <c>save_pretrained</c> writes a <c>ViTMAEConfig</c>: every field, keys sorted,
    /// <c>model_type</c> <c>vit_mae</c>, <c>architectures</c> <c>ViTMAEForPreTraining</c>, float32 weights. A square image
    /// size is written as one number (HF's form), a non-square one as [height, width]. <see cref="Parse"/> reads it back
    /// to an equal spec.
    /// </summary>
    public string ToConfigJson()
    {
        var fields = new SortedDictionary<string, Action<System.Text.Json.Utf8JsonWriter>>(StringComparer.Ordinal)
        {
            ["architectures"] = w => { w.WriteStartArray(); w.WriteStringValue("ViTMAEForPreTraining"); w.WriteEndArray(); },
            ["attention_probs_dropout_prob"] = w => w.WriteNumberValue(AttentionProbsDropoutProb),
            ["decoder_hidden_size"] = w => w.WriteNumberValue(DecoderHiddenSize),
            ["decoder_intermediate_size"] = w => w.WriteNumberValue(DecoderIntermediateSize),
            ["decoder_num_attention_heads"] = w => w.WriteNumberValue(DecoderNumAttentionHeads),
            ["decoder_num_hidden_layers"] = w => w.WriteNumberValue(DecoderNumHiddenLayers),
            ["hidden_act"] = w => w.WriteStringValue(HiddenAct),
            ["hidden_dropout_prob"] = w => w.WriteNumberValue(HiddenDropoutProb),
            ["hidden_size"] = w => w.WriteNumberValue(HiddenSize),
            ["image_size"] = w =>
            {
                if (ImageHeight == ImageWidth)
                {
                    w.WriteNumberValue(ImageHeight);
                    return;
                }

                w.WriteStartArray();
                w.WriteNumberValue(ImageHeight);
                w.WriteNumberValue(ImageWidth);
                w.WriteEndArray();
            },
            ["initializer_range"] = w => w.WriteNumberValue(InitializerRange),
            ["intermediate_size"] = w => w.WriteNumberValue(IntermediateSize),
            ["layer_norm_eps"] = w => w.WriteNumberValue(LayerNormEps),
            ["mask_ratio"] = w => w.WriteNumberValue(MaskRatio),
            ["model_type"] = w => w.WriteStringValue("vit_mae"),
            ["norm_pix_loss"] = w => w.WriteBooleanValue(NormPixLoss),
            ["num_attention_heads"] = w => w.WriteNumberValue(NumAttentionHeads),
            ["num_channels"] = w => w.WriteNumberValue(NumChannels),
            ["num_hidden_layers"] = w => w.WriteNumberValue(NumHiddenLayers),
            ["patch_size"] = w => w.WriteNumberValue(PatchSize),
            ["qkv_bias"] = w => w.WriteBooleanValue(QkvBias),
            ["torch_dtype"] = w => w.WriteStringValue("float32"),
        };
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            foreach (KeyValuePair<string, Action<System.Text.Json.Utf8JsonWriter>> field in fields)
            {
                writer.WritePropertyName(field.Key);
                field.Value(writer);
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }
}

/// <summary>A problem in a config file: diagnostic ID, message and position in the JSON.</summary>
public sealed partial record ConfigDiagnostic;

/// <summary>Diagnostic IDs shared by the generator's compiler errors and <see cref="ViTMAEConfigException"/>.</summary>
public static partial class ConfigDiagnosticIds;

/// <summary>A position range in a JSON file (0-based line and column).</summary>
public readonly partial struct JsonSpan;

/// <summary>Raised when a config file is invalid; <see cref="Diagnostics"/> holds every problem found.</summary>
public sealed class ViTMAEConfigException : ViTMAEException
{
    /// <summary>Creates the exception for <paramref name="source"/> with its diagnostics.</summary>
    public ViTMAEConfigException(string source, IReadOnlyList<ConfigDiagnostic> diagnostics)
        : base(source + (diagnostics is { Count: > 0 } && diagnostics.All(d => d.Id == ConfigDiagnosticIds.CheckpointMismatch) ? ": does not match the compiled model:" : ": invalid ViTMAE config:")
            + Environment.NewLine + string.Join(Environment.NewLine, (diagnostics ?? []).Select(d => "  " + d)))
    {
        Source = source;
        Diagnostics = diagnostics ?? [];
    }

    /// <summary>The file (or source name) that was parsed.</summary>
    public new string Source { get; }

    /// <summary>Every problem found, in document order of discovery.</summary>
    public IReadOnlyList<ConfigDiagnostic> Diagnostics { get; }
}
