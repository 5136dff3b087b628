using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ViTMAE.Compiled.Weights;

/// <summary>
/// Writes <c>.safetensors</c> files, for tests, tools and golden data. The output follows the reference
/// implementation: <c>__metadata__</c> first, then the tensor entries in ordinal name order; data laid out by
/// descending element size, then name, so every tensor is aligned to its element size; the header padded
/// with spaces to a multiple of 8 bytes. The same tensors always produce the same bytes.
/// </summary>
/// <remarks>Data is copied when added, so callers may reuse their buffers.</remarks>
public sealed class SafeTensorsWriter
{
    private readonly Dictionary<string, Entry> _tensors = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, string> _metadata = new(StringComparer.Ordinal);

    private sealed record Entry(string Name, DType DType, int[] Shape, byte[] Data);

    /// <summary>Number of tensors added.</summary>
    public int Count => _tensors.Count;

    /// <summary>Adds a <c>__metadata__</c> entry (replacing an earlier value for the same key).</summary>
    public SafeTensorsWriter AddMetadata(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        _metadata[key] = value;
        return this;
    }

    /// <summary>Adds an F32 tensor; <paramref name="values"/> must hold product(<paramref name="shape"/>) elements.</summary>
    public SafeTensorsWriter AddFloat32(string name, ReadOnlySpan<float> values, params ReadOnlySpan<int> shape)
    {
        byte[] data = MemoryMarshal.AsBytes(values).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            for (int i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), values[i]);
            }
        }

        return Add(name, DType.F32, shape, data);
    }

    /// <summary>Adds an I64 tensor; <paramref name="values"/> must hold product(<paramref name="shape"/>) elements.</summary>
    public SafeTensorsWriter AddInt64(string name, ReadOnlySpan<long> values, params ReadOnlySpan<int> shape)
    {
        byte[] data = MemoryMarshal.AsBytes(values).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            for (int i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(i * 8), values[i]);
            }
        }

        return Add(name, DType.I64, shape, data);
    }

    /// <summary>Adds a U8 tensor; <paramref name="values"/> must hold product(<paramref name="shape"/>) elements.</summary>
    public SafeTensorsWriter AddUInt8(string name, ReadOnlySpan<byte> values, params ReadOnlySpan<int> shape) =>
        Add(name, DType.U8, shape, values.ToArray());

    /// <summary>
    /// Adds a tensor of any dtype from its raw little-endian bytes (e.g. hand-made F16 or BF16 data);
    /// <paramref name="data"/> must be exactly product(<paramref name="shape"/>) × dtype size bytes.
    /// </summary>
    public SafeTensorsWriter AddRaw(string name, DType dtype, ReadOnlySpan<byte> data, params ReadOnlySpan<int> shape) =>
        Add(name, dtype, shape, data.ToArray());

    private SafeTensorsWriter Add(string name, DType dtype, ReadOnlySpan<int> shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name == SafeTensorsHeader.MetadataKey)
        {
            throw new ArgumentException($"'{SafeTensorsHeader.MetadataKey}' is reserved for metadata.", nameof(name));
        }

        if (_tensors.ContainsKey(name))
        {
            throw new ArgumentException($"A tensor named '{name}' was already added.", nameof(name));
        }

        long elements = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(shape), $"Tensor '{name}': dimensions must be non-negative.");
            }

            elements = checked(elements * d);
        }

        long bits = checked(elements * dtype.BitSize());
        if (bits % 8 != 0 || bits / 8 != data.Length)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"Tensor '{name}': shape {WeightErrors.FormatShape(Array.ConvertAll(shape.ToArray(), d => (long)d))} of {dtype.ToSafeTensorsName()} needs {bits / 8.0} bytes, got {data.Length}."),
                nameof(shape));
        }

        _tensors.Add(name, new Entry(name, dtype, shape.ToArray(), data));
        return this;
    }

    /// <summary>Writes the file to <paramref name="stream"/>.</summary>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);

        // Data layout: larger elements first (then name), so each tensor starts aligned to its element size.
        var layout = new List<Entry>(_tensors.Values);
        layout.Sort(static (a, b) =>
        {
            int bySize = b.DType.BitSize().CompareTo(a.DType.BitSize());
            return bySize != 0 ? bySize : string.CompareOrdinal(a.Name, b.Name);
        });
        var offsets = new Dictionary<string, long>(StringComparer.Ordinal);
        long offset = 0;
        foreach (Entry entry in layout)
        {
            offsets.Add(entry.Name, offset);
            offset += entry.Data.Length;
        }

        var names = new List<string>(_tensors.Keys);
        names.Sort(StringComparer.Ordinal);
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (_metadata.Count > 0)
            {
                json.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach (KeyValuePair<string, string> item in _metadata)
                {
                    json.WriteString(item.Key, item.Value);
                }

                json.WriteEndObject();
            }

            foreach (string name in names)
            {
                Entry entry = _tensors[name];
                json.WriteStartObject(name);
                json.WriteString("dtype", entry.DType.ToSafeTensorsName());
                json.WriteStartArray("shape");
                foreach (int d in entry.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offsets[name]);
                json.WriteNumberValue(offsets[name] + entry.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        int padding = (8 - (buffer.WrittenCount % 8)) % 8;
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)(buffer.WrittenCount + padding));
        stream.Write(prefix);
        stream.Write(buffer.WrittenSpan);
        for (int i = 0; i < padding; i++)
        {
            stream.WriteByte((byte)' ');
        }

        foreach (Entry entry in layout)
        {
            stream.Write(entry.Data);
        }
    }

    /// <summary>Writes the file to <paramref name="path"/>, replacing an existing file.</summary>
    public void WriteTo(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        WriteTo(stream);
    }

    /// <summary>The file's bytes.</summary>
    public byte[] ToArray()
    {
        using var stream = new MemoryStream();
        WriteTo(stream);
        return stream.ToArray();
    }
}
