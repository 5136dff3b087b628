using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using ViTMAE.Compiled.Configuration;

namespace ViTMAE.Compiled.Weights;

/// <summary>
/// Parses and validates a safetensors JSON header. Every check happens here, before any tensor is read,
/// so that the readers can trust offsets and sizes: after a successful parse each tensor's byte range lies
/// inside the data section, matches <c>product(shape) × dtype size</c>, and overlaps no other tensor.
/// </summary>
internal static class SafeTensorsHeader
{
    internal const string MetadataKey = "__metadata__";

    internal sealed record Result(Dictionary<string, TensorInfo> Tensors, Dictionary<string, string> Metadata);

    /// <summary>
    /// Most entries a header may have. Checkpoints have hundreds to a few thousand tensors; the cap keeps a hostile 100 MB
    /// header of tiny entries from costing gigabytes of parsed objects (one million entries took ~600 MB).
    /// </summary>
    internal const int MaxEntries = 100_000;

    /// <param name="header">The header bytes (after the 8-byte length).</param>
    /// <param name="dataStart">File offset of the data section (8 + header length).</param>
    /// <param name="dataLength">Length of the data section in bytes.</param>
    /// <param name="filePath">Path used in error messages.</param>
    internal static Result Parse(ReadOnlySpan<byte> header, long dataStart, long dataLength, string filePath)
    {
        if (JsonText.FindInvalidUtf8(header) is JsonTextProblem notUtf8)
        {
            throw new WeightsFormatException(filePath, null, "the header is not valid UTF-8: " + notUtf8.Message);
        }

        Prescan(header, filePath);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header.ToArray());
        }
        catch (JsonException e)
        {
            throw new WeightsFormatException(filePath, null, $"the header is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new WeightsFormatException(filePath, null, $"the header must be a JSON object, found {Describe(root.ValueKind)}");
            }

            var entries = new List<TensorInfo>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in root.EnumerateObject())
            {
                string name = property.Name;
                if (!seen.Add(name))
                {
                    throw new WeightsFormatException(filePath, name, $"the header has the key '{name}' twice");
                }

                if (name == MetadataKey)
                {
                    ReadMetadata(property.Value, metadata, filePath);
                }
                else
                {
                    entries.Add(ReadEntry(name, property.Value, dataStart, dataLength, filePath));
                }
            }

            CheckOverlaps(entries, filePath);

            // Ordinal name order: enumeration of Tensors is deterministic and independent of the writer.
            entries.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
            var tensors = new Dictionary<string, TensorInfo>(entries.Count, StringComparer.Ordinal);
            foreach (TensorInfo entry in entries)
            {
                tensors.Add(entry.Name, entry);
            }

            return new Result(tensors, metadata);
        }
    }

    /// <summary>
    /// One forward-only pass (no allocation) before the header is parsed: refuses more than <see cref="MaxEntries"/>
    /// top-level keys, and strings or keys whose <c>\u</c> escapes are not valid UTF-16 (an unpaired surrogate such as
    /// <c>"\ud800"</c>: valid JSON syntax, but System.Text.Json throws InvalidOperationException when it decodes the string).
    /// </summary>
    private static void Prescan(ReadOnlySpan<byte> header, string filePath)
    {
        var reader = new Utf8JsonReader(header, new JsonReaderOptions { MaxDepth = 64 });
        int entries = 0;
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && ++entries > MaxEntries)
                {
                    throw new WeightsFormatException(filePath, null, string.Create(CultureInfo.InvariantCulture,
                        $"the header has more than {MaxEntries} entries, more than any checkpoint; refused before parsing it"));
                }

                if (JsonText.CheckEscapes(ref reader, header) is JsonTextProblem escape)
                {
                    throw new WeightsFormatException(filePath, null, "the header is not valid JSON text: " + escape.Message);
                }
            }
        }
        catch (JsonException)
        {
            // Malformed JSON is reported with its position by the full parse that follows.
        }
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string filePath)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new WeightsFormatException(filePath, null, $"'{MetadataKey}' must be an object of strings, found {Describe(value.ValueKind)}");
        }

        foreach (JsonProperty item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw new WeightsFormatException(filePath, null,
                    $"'{MetadataKey}' value '{item.Name}' must be a string, found {Describe(item.Value.ValueKind)}");
            }

            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
            {
                throw new WeightsFormatException(filePath, null, $"'{MetadataKey}' has the key '{item.Name}' twice");
            }
        }
    }

    private static TensorInfo ReadEntry(string name, JsonElement entry, long dataStart, long dataLength, string filePath)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw Bad(filePath, name, $"the entry must be an object, found {Describe(entry.ValueKind)}");
        }

        if (!entry.TryGetProperty("dtype", out JsonElement dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw Bad(filePath, name, "the entry has no \"dtype\" string");
        }

        string dtypeName = dtypeElement.GetString()!;
        if (!DTypeExtensions.TryParse(dtypeName, out DType? parsed))
        {
            throw Bad(filePath, name, $"unknown dtype \"{dtypeName}\"");
        }

        DType dtype = parsed.Value;

        if (!entry.TryGetProperty("shape", out JsonElement shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw Bad(filePath, name, "the entry has no \"shape\" array");
        }

        var shape = ImmutableArray.CreateBuilder<long>(shapeElement.GetArrayLength());
        long elements = 1;
        bool overflow = false;
        foreach (JsonElement dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long d) || d < 0)
            {
                throw Bad(filePath, name, $"shape {shapeElement.GetRawText()} must hold non-negative integers");
            }

            shape.Add(d);
            if (d != 0 && elements > long.MaxValue / d)
            {
                overflow = true;
            }
            else
            {
                elements *= d;
            }
        }

        ImmutableArray<long> shapeArray = shape.MoveToImmutable();
        if (shapeArray.Contains(0))
        {
            elements = 0;
            overflow = false;
        }

        if (!entry.TryGetProperty("data_offsets", out JsonElement offsets) || offsets.ValueKind != JsonValueKind.Array)
        {
            throw Bad(filePath, name, "the entry has no \"data_offsets\" array");
        }

        if (offsets.GetArrayLength() != 2
            || !TryGetOffset(offsets[0], out long begin)
            || !TryGetOffset(offsets[1], out long end))
        {
            throw Bad(filePath, name, $"data_offsets {offsets.GetRawText()} must be two non-negative integers [begin, end]");
        }

        string range = string.Create(CultureInfo.InvariantCulture, $"[{begin}, {end}]");
        if (begin > end)
        {
            throw Bad(filePath, name, $"data_offsets {range} have begin > end");
        }

        if (end > dataLength)
        {
            throw Bad(filePath, name, string.Create(CultureInfo.InvariantCulture,
                $"data_offsets {range} extend past the end of the data section ({dataLength} bytes): the file is truncated or the offsets are wrong"));
        }

        int bits = dtype.BitSize();
        long byteLength = end - begin;
        if (overflow || elements > long.MaxValue / bits || elements * bits % 8 != 0 || elements * bits / 8 != byteLength)
        {
            string expected = overflow || elements > long.MaxValue / bits
                ? "more than 2^63 bytes"
                : elements * bits % 8 != 0
                    ? string.Create(CultureInfo.InvariantCulture, $"{elements * bits} bits, not a whole number of bytes")
                    : string.Create(CultureInfo.InvariantCulture, $"{elements * bits / 8} bytes");
            throw Bad(filePath, name, string.Create(CultureInfo.InvariantCulture,
                $"data_offsets {range} span {byteLength} bytes, but dtype {dtypeName} with shape {WeightErrors.FormatShape(shapeArray.AsSpan())} needs {expected}"));
        }

        return new TensorInfo(name, dtype, shapeArray, elements, begin, byteLength, dataStart + begin);
    }

    private static bool TryGetOffset(JsonElement element, out long value)
    {
        value = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out value) && value >= 0;
    }

    private static void CheckOverlaps(List<TensorInfo> entries, string filePath)
    {
        var ranges = entries.FindAll(static e => e.ByteLength > 0);
        ranges.Sort(static (a, b) => a.DataOffset != b.DataOffset
            ? a.DataOffset.CompareTo(b.DataOffset)
            : string.CompareOrdinal(a.Name, b.Name));
        for (int i = 1; i < ranges.Count; i++)
        {
            TensorInfo previous = ranges[i - 1];
            TensorInfo current = ranges[i];
            if (current.DataOffset < previous.DataOffset + previous.ByteLength)
            {
                throw Bad(filePath, current.Name, string.Create(CultureInfo.InvariantCulture,
                    $"data_offsets [{current.DataOffset}, {current.DataOffset + current.ByteLength}] overlap those of tensor '{previous.Name}' [{previous.DataOffset}, {previous.DataOffset + previous.ByteLength}]"));
            }
        }
    }

    private static WeightsFormatException Bad(string filePath, string name, string problem) =>
        new(filePath, name, $"tensor '{name}': {problem}");

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
