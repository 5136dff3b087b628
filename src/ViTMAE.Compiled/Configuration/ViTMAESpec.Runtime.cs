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
        : base(source + ": invalid ViTMAE config:" + Environment.NewLine + string.Join(Environment.NewLine, (diagnostics ?? []).Select(d => "  " + d)))
    {
        Source = source;
        Diagnostics = diagnostics ?? [];
    }

    /// <summary>The file (or source name) that was parsed.</summary>
    public new string Source { get; }

    /// <summary>Every problem found, in document order of discovery.</summary>
    public IReadOnlyList<ConfigDiagnostic> Diagnostics { get; }
}
