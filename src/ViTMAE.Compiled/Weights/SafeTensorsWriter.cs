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
/// <remarks>
/// Data added with the <c>Add…</c> methods is copied, so callers may reuse their buffers. A tensor added with
/// <see cref="AddStreamed"/> is written by a callback at <see cref="WriteTo(Stream)"/> instead: it may be larger than
/// an array can hold (a merge of millions of embeddings) and is never held in memory whole.
/// </remarks>
public sealed class SafeTensorsWriter
{
    private readonly Dictionary<string, Entry> _tensors = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, string> _metadata = new(StringComparer.Ordinal);

    private sealed record Entry(string Name, DType DType, int[] Shape, long Length, byte[]? Data, Action<Stream>? Write);

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

        return Add(name, DType.F32, shape, data, null);
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

        return Add(name, DType.I64, shape, data, null);
    }

    /// <summary>Adds a U8 tensor; <paramref name="values"/> must hold product(<paramref name="shape"/>) elements.</summary>
    public SafeTensorsWriter AddUInt8(string name, ReadOnlySpan<byte> values, params ReadOnlySpan<int> shape) =>
        Add(name, DType.U8, shape, values.ToArray(), null);

    /// <summary>
    /// Adds a tensor of any dtype from its raw little-endian bytes (e.g. hand-made F16 or BF16 data);
    /// <paramref name="data"/> must be exactly product(<paramref name="shape"/>) × dtype size bytes.
    /// </summary>
    public SafeTensorsWriter AddRaw(string name, DType dtype, ReadOnlySpan<byte> data, params ReadOnlySpan<int> shape) =>
        Add(name, dtype, shape, data.ToArray(), null);

    /// <summary>
    /// Adds a tensor whose little-endian bytes <paramref name="writeData"/> writes when the file is written (once per
    /// <see cref="WriteTo(Stream)"/>): exactly product(<paramref name="shape"/>) × dtype size bytes, which is checked.
    /// For tensors too large to copy or to hold in one array; <see cref="WriteFloat32"/> writes floats from spans.
    /// </summary>
    public SafeTensorsWriter AddStreamed(string name, DType dtype, Action<Stream> writeData, params ReadOnlySpan<int> shape)
    {
        ArgumentNullException.ThrowIfNull(writeData);
        return Add(name, dtype, shape, null, writeData);
    }

    /// <summary>Writes <paramref name="values"/> to <paramref name="stream"/> as little-endian float32, in pieces (any length).</summary>
    public static void WriteFloat32(Stream stream, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(stream);
        const int Piece = 1 << 18; // 1 MiB of bytes per write: AsBytes of the whole span would overflow past 2 GiB
        byte[]? swapped = BitConverter.IsLittleEndian ? null : new byte[Piece * sizeof(float)];
        while (!values.IsEmpty) // (an int index stepping by Piece could overflow on an array of Array.MaxLength floats)
        {
            ReadOnlySpan<float> piece = values[..Math.Min(Piece, values.Length)];
            values = values[piece.Length..];
            if (swapped is null)
            {
                stream.Write(MemoryMarshal.AsBytes(piece));
            }
            else
            {
                for (int i = 0; i < piece.Length; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(swapped.AsSpan(i * 4), piece[i]);
                }

                stream.Write(swapped, 0, piece.Length * sizeof(float));
            }
        }
    }

    private SafeTensorsWriter Add(string name, DType dtype, ReadOnlySpan<int> shape, byte[]? data, Action<Stream>? write)
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
        if (bits % 8 != 0 || (data is not null && bits / 8 != data.Length))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"Tensor '{name}': shape {WeightErrors.FormatShape(Array.ConvertAll(shape.ToArray(), d => (long)d))} of {dtype.ToSafeTensorsName()} needs {bits / 8.0} bytes, got {data?.Length}."),
                nameof(shape));
        }

        _tensors.Add(name, new Entry(name, dtype, shape.ToArray(), bits / 8, data, write));
        return this;
    }

    /// <summary>
    /// The length the header (JSON and padding) of the file would have now: with many or long metadata values it can
    /// exceed <see cref="SafeTensorsFile.MaxHeaderLength"/>, which <see cref="WriteTo(Stream)"/> refuses.
    /// </summary>
    public long HeaderLength
    {
        get
        {
            (ArrayBufferWriter<byte> header, _) = Header();
            return header.WrittenCount + Padding(header.WrittenCount);
        }
    }

    private static int Padding(int headerBytes) => (8 - (headerBytes % 8)) % 8;

    /// <summary>The header JSON and the tensors in data order.</summary>
    private (ArrayBufferWriter<byte> Json, List<Entry> Layout) Header()
    {
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
            offset += entry.Length;
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
                json.WriteNumberValue(offsets[name] + entry.Length);
                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return (buffer, layout);
    }

    /// <summary>Writes the file to <paramref name="stream"/>.</summary>
    /// <exception cref="InvalidOperationException">
    /// The header would exceed <see cref="SafeTensorsFile.MaxHeaderLength"/> (no safetensors reader would open the file;
    /// nothing is written), or a streamed tensor's callback wrote the wrong number of bytes.
    /// </exception>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        (ArrayBufferWriter<byte> buffer, List<Entry> layout) = CheckedHeader();
        Write(stream, buffer, layout);
    }

    private (ArrayBufferWriter<byte> Json, List<Entry> Layout) CheckedHeader()
    {
        (ArrayBufferWriter<byte> buffer, List<Entry> layout) = Header();
        long length = buffer.WrittenCount + Padding(buffer.WrittenCount);
        if (length > SafeTensorsFile.MaxHeaderLength)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"The safetensors header would be {length} bytes, over the {SafeTensorsFile.MaxHeaderLength} that readers accept (Hugging Face's safetensors too); nothing was written."));
        }

        return (buffer, layout);
    }

    private static void Write(Stream stream, ArrayBufferWriter<byte> buffer, List<Entry> layout)
    {
        int padding = Padding(buffer.WrittenCount);
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
            if (entry.Data is not null)
            {
                stream.Write(entry.Data);
                continue;
            }

            var counted = new CountingStream(stream);
            entry.Write!(counted);
            if (counted.Written != entry.Length)
            {
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"Tensor '{entry.Name}': its callback wrote {counted.Written} bytes, its shape needs {entry.Length}; the file written so far is invalid."));
            }
        }
    }

    /// <summary>Passes writes through to a stream and counts them (to check a streamed tensor's length).</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Written += count;
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Written += buffer.Length;
        }

        public override void WriteByte(byte value)
        {
            inner.WriteByte(value);
            Written++;
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>Writes the file to <paramref name="path"/>, replacing an existing file.</summary>
    public void WriteTo(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        (ArrayBufferWriter<byte> buffer, List<Entry> layout) = CheckedHeader(); // before the file is created
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        Write(stream, buffer, layout);
    }

    /// <summary>The file's bytes.</summary>
    public byte[] ToArray()
    {
        using var stream = new MemoryStream();
        WriteTo(stream);
        return stream.ToArray();
    }
}
