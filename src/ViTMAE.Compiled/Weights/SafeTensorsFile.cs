using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO;
using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ViTMAE.Compiled.Weights;

/// <summary>
/// A read-only, memory-mapped <c>.safetensors</c> file (or one held in memory: <see cref="FromMemory"/>).
/// </summary>
/// <remarks>
/// <para>Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// (<c>{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}</c>, offsets relative
/// to the byte after the header), then the little-endian tensor data.</para>
/// <para><see cref="Open"/> validates the whole header before returning, so every later read is in bounds:
/// N ≤ <see cref="MaxHeaderLength"/> and ≤ file length − 8; valid UTF-8 JSON object; each entry has a known dtype,
/// a shape of non-negative integers, <c>begin ≤ end ≤ data length</c> and exactly
/// <c>product(shape) × dtype size</c> bytes; no two non-empty tensors overlap. Any violation raises
/// <see cref="WeightsFormatException"/>; no byte sequence makes the loader read outside the file.
/// (Gaps between tensors are allowed.) The file must not be truncated by another process while it is mapped.</para>
/// <para>Spans returned by <see cref="GetBytes(string)"/> and <see cref="TryGetFloat32Span(string, out ReadOnlySpan{float})"/> point into the mapping and
/// are valid until <see cref="Dispose"/>. Reads are safe from several threads; <see cref="Dispose"/> is not.</para>
/// </remarks>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    /// <summary>Largest accepted header, in bytes (the reference implementation's limit).</summary>
    public const long MaxHeaderLength = 100_000_000;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private System.Buffers.MemoryHandle _pin;
    private byte* _pointer;
    private readonly Dictionary<string, TensorInfo> _tensors;

    private SafeTensorsFile(string filePath, long fileLength, long headerLength, MemoryMappedFile? map, MemoryMappedViewAccessor? view,
        System.Buffers.MemoryHandle pin, byte* pointer, SafeTensorsHeader.Result header)
    {
        FilePath = filePath;
        FileLength = fileLength;
        HeaderLength = headerLength;
        _map = map;
        _view = view;
        _pin = pin;
        _pointer = pointer;
        _tensors = header.Tensors;
        Metadata = header.Metadata;
    }

    /// <summary>The path the file was opened with.</summary>
    public string FilePath { get; }

    /// <summary>Size of the file in bytes.</summary>
    public long FileLength { get; }

    /// <summary>Length N of the JSON header (excluding the 8-byte length prefix).</summary>
    public long HeaderLength { get; }

    /// <summary>File offset of the data section: 8 + <see cref="HeaderLength"/>.</summary>
    public long DataStart => 8 + HeaderLength;

    /// <summary>The tensors by name; enumeration is in ordinal name order.</summary>
    public IReadOnlyDictionary<string, TensorInfo> Tensors => _tensors;

    /// <summary>The <c>__metadata__</c> string map (empty if the header has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Memory-maps <paramref name="path"/> read-only and validates its header.</summary>
    /// <exception cref="WeightsFormatException">The file is not a well-formed safetensors file.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        FileStream stream = OpenRegularFile(path);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        byte* pointer = null;
        try
        {
            long fileLength = stream.Length;
            if (fileLength < 8)
            {
                throw new WeightsFormatException(path, null, string.Create(CultureInfo.InvariantCulture,
                    $"the file is {fileLength} bytes long, shorter than the 8-byte header length"));
            }

            Span<byte> prefix = stackalloc byte[9];
            int got = stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            bool jsonStart = got == prefix.Length && prefix[8] == (byte)'{';
            if (!jsonStart && (headerLength > MaxHeaderLength || headerLength > (ulong)(fileLength - 8)))
            {
                // Neither a plausible length nor a JSON object after it: some other kind of file.
                throw new WeightsFormatException(path, null, NotSafeTensors(prefix[..got], headerLength, fileLength));
            }

            CheckHeaderLength(path, headerLength, fileLength);

            map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            pointer += view.PointerOffset;

            long n = (long)headerLength;
            var header = SafeTensorsHeader.Parse(new ReadOnlySpan<byte>(pointer + 8, checked((int)n)), 8 + n, fileLength - 8 - n, path);
            return new SafeTensorsFile(path, fileLength, n, map, view, default, pointer, header);
        }
        catch
        {
            if (pointer != null)
            {
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            }

            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A safetensors file held in memory (e.g. one embedded in an assembly as a resource), validated exactly as
    /// <see cref="Open"/> validates a file. The memory is pinned until <see cref="Dispose"/> and must not change.
    /// </summary>
    /// <param name="data">The file's bytes.</param>
    /// <param name="name">What error messages call it (in place of a path), e.g. <c>"embedded:models/x/model.safetensors"</c>.</param>
    /// <exception cref="WeightsFormatException">The bytes are not a well-formed safetensors file.</exception>
    public static SafeTensorsFile FromMemory(ReadOnlyMemory<byte> data, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ReadOnlySpan<byte> bytes = data.Span;
        if (bytes.Length < 8)
        {
            throw new WeightsFormatException(name, null, string.Create(CultureInfo.InvariantCulture,
                $"the data is {bytes.Length} bytes long, shorter than the 8-byte header length"));
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        CheckHeaderLength(name, headerLength, bytes.Length);

        int n = (int)headerLength;
        var header = SafeTensorsHeader.Parse(bytes.Slice(8, n), 8 + n, bytes.Length - 8 - n, name);
        System.Buffers.MemoryHandle pin = data.Pin();
        return new SafeTensorsFile(name, bytes.Length, n, map: null, view: null, pin, (byte*)pin.Pointer, header);
    }

    /// <summary>
    /// Opens <paramref name="path"/> for reading if it is a regular file of at least 8 bytes. The size is read first, without
    /// opening: a FIFO, a device or /proc file reports 0 bytes and is refused before an open that could block forever. Path
    /// errors (a NUL or other invalid character, too long) become <see cref="WeightsFormatException"/>.
    /// </summary>
    private static FileStream OpenRegularFile(string path)
    {
        long length;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists && !Directory.Exists(path))
            {
                throw new FileNotFoundException($"Weights file '{path}' not found.", path);
            }

            if ((info.Attributes & FileAttributes.Directory) != 0 || Directory.Exists(path))
            {
                throw new WeightsFormatException(path, null, "the path is a directory, not a safetensors file");
            }

            length = info.Length; // FileNotFoundException when it does not exist
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new WeightsFormatException(path, null, $"the path is not a valid file name ({ex.Message})", ex);
        }

        if (length < 8)
        {
            throw new WeightsFormatException(path, null, string.Create(CultureInfo.InvariantCulture,
                $"the file is {length} bytes long, shorter than the 8-byte header length (an empty file, a FIFO or a device is not a safetensors file)"));
        }

        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.RandomAccess);
    }

    /// <summary>The header length must be within <see cref="MaxHeaderLength"/> and the <paramref name="length"/> − 8 bytes after the prefix.</summary>
    private static void CheckHeaderLength(string name, ulong headerLength, long length)
    {
        if (headerLength > MaxHeaderLength)
        {
            throw new WeightsFormatException(name, null, string.Create(CultureInfo.InvariantCulture,
                $"the header length {headerLength} exceeds the limit of {MaxHeaderLength} bytes"));
        }

        if (headerLength > (ulong)(length - 8))
        {
            throw new WeightsFormatException(name, null, string.Create(CultureInfo.InvariantCulture,
                $"the header length {headerLength} exceeds the {length - 8} bytes after the length prefix: the file is truncated"));
        }
    }

    /// <summary>Why a file is not safetensors, with a hint when it is a PyTorch checkpoint (zip or pickle).</summary>
    private static string NotSafeTensors(ReadOnlySpan<byte> prefix, ulong headerLength, long fileLength)
    {
        string head = Convert.ToHexString(prefix);
        bool zip = prefix.Length >= 4 && prefix[0] == (byte)'P' && prefix[1] == (byte)'K' && prefix[2] == 3 && prefix[3] == 4;
        bool pickle = prefix.Length >= 2 && prefix[0] == 0x80 && prefix[1] is >= 2 and <= 5;
        string what = string.Create(CultureInfo.InvariantCulture,
            $"not a safetensors file: its first bytes ({head}) read as a header length give {headerLength}, more than the file's {fileLength} bytes, and no JSON header follows");
        return zip || pickle
            ? what + "; it looks like a PyTorch checkpoint (pytorch_model.bin), which is not read: convert it with Hugging Face's save_pretrained(..., safe_serialization=True)"
            : what;
    }

    /// <summary>Whether the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>Looks up a tensor's entry.</summary>
    public bool TryGetInfo(string name, [NotNullWhen(true)] out TensorInfo? info) => _tensors.TryGetValue(name, out info);

    /// <summary>The entry of <paramref name="name"/>.</summary>
    /// <exception cref="MissingWeightException">No such tensor (the message says if only the <c>vit.</c> prefix differs).</exception>
    public TensorInfo GetInfo(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _tensors.TryGetValue(name, out TensorInfo? info)
            ? info
            : throw WeightErrors.Missing(FilePath, name, _tensors.ContainsKey, _tensors.Count);
    }

    /// <summary>The tensor's raw little-endian bytes, straight from the mapping (valid until <see cref="Dispose"/>).</summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    /// <exception cref="ViTMAEException">The tensor is 2 GiB or larger and cannot be a span.</exception>
    public ReadOnlySpan<byte> GetBytes(string name) => GetBytes(GetInfo(name));

    /// <summary>The raw bytes of an entry of this file.</summary>
    internal ReadOnlySpan<byte> GetBytes(TensorInfo info)
    {
        byte* pointer = _pointer;
        ObjectDisposedException.ThrowIf(pointer == null, this);
        if (info.ByteLength > int.MaxValue)
        {
            throw new ViTMAEException(string.Create(CultureInfo.InvariantCulture,
                $"{WeightErrors.Prefix(FilePath)}tensor '{info.Name}' is {info.ByteLength} bytes, too large for a single span"));
        }

        return new ReadOnlySpan<byte>(pointer + info.FileOffset, (int)info.ByteLength);
    }

    /// <summary>Reads an F32, F16 or BF16 tensor into a new float array.</summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is not F32, F16 or BF16.</exception>
    public float[] ReadFloat32(string name)
    {
        TensorInfo info = GetInfo(name);
        CheckFloat32(info);
        float[] result = Allocate<float>(info, "float32");
        ToFloat32(info, result);
        return result;
    }

    /// <summary>Reads an F32, F16 or BF16 tensor into <paramref name="destination"/>, whose length must equal the element count.</summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is not F32, F16 or BF16.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public void ReadFloat32(string name, Span<float> destination)
    {
        TensorInfo info = GetInfo(name);
        CheckFloat32(info);
        CheckLength(info, destination.Length);
        ToFloat32(info, destination);
    }

    /// <summary>
    /// Converts a float tensor into <paramref name="destination"/> (its element count), in pieces of at most 1 GiB when
    /// its bytes pass 2 GiB and cannot be one span: a merged embedding file's tensors (3 GB for a million vit-mae-base
    /// images) still read into one array.
    /// </summary>
    private void ToFloat32(TensorInfo info, Span<float> destination)
    {
        if (info.ByteLength <= int.MaxValue)
        {
            TensorConversions.ToFloat32(info.DType, GetBytes(info), destination);
            return;
        }

        byte* pointer = _pointer;
        ObjectDisposedException.ThrowIf(pointer == null, this);
        int elementBytes = info.DType.BitSize() / 8;
        const int PieceElements = 1 << 28; // 1 GiB of F32, 512 MiB of F16/BF16
        for (int done = 0; done < destination.Length;)
        {
            int n = Math.Min(PieceElements, destination.Length - done);
            var bytes = new ReadOnlySpan<byte>(pointer + info.FileOffset + ((long)done * elementBytes), n * elementBytes);
            TensorConversions.ToFloat32(info.DType, bytes, destination.Slice(done, n));
            done += n;
        }
    }

    /// <summary>
    /// A zero-copy float view of an F32 tensor whose data is 4-byte aligned (valid until <see cref="Dispose"/>);
    /// <see langword="false"/> for other dtypes or unaligned data, which must be read with <see cref="ReadFloat32(string)"/>.
    /// </summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    public bool TryGetFloat32Span(string name, out ReadOnlySpan<float> values) => TryGetFloat32Span(GetInfo(name), out values);

    internal bool TryGetFloat32Span(TensorInfo info, out ReadOnlySpan<float> values)
    {
        values = default;
        if (info.DType != DType.F32 || !BitConverter.IsLittleEndian)
        {
            return false;
        }

        ReadOnlySpan<byte> bytes = GetBytes(info);
        if ((((nuint)_pointer + (nuint)info.FileOffset) & 3) != 0)
        {
            return false;
        }

        values = MemoryMarshal.Cast<byte, float>(bytes);
        return true;
    }

    /// <summary>Reads an integer tensor (I64, I32, I16, I8, U32, U16, U8 or BOOL) widened to int64.</summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is a float or U64.</exception>
    public long[] ReadInt64(string name)
    {
        TensorInfo info = GetInfo(name);
        CheckInt64(info);
        ReadOnlySpan<byte> bytes = GetBytes(info);
        long[] result = Allocate<long>(info, "int64");
        TensorConversions.ToInt64(info.DType, bytes, result);
        return result;
    }

    /// <summary>Reads an integer tensor into <paramref name="destination"/>, whose length must equal the element count.</summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is a float or U64.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public void ReadInt64(string name, Span<long> destination)
    {
        TensorInfo info = GetInfo(name);
        CheckInt64(info);
        CheckLength(info, destination.Length);
        TensorConversions.ToInt64(info.DType, GetBytes(info), destination);
    }

    /// <summary>Reads a U8 or BOOL tensor into a new byte array.</summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is not U8 or BOOL.</exception>
    public byte[] ReadUInt8(string name)
    {
        TensorInfo info = GetInfo(name);
        CheckUInt8(info);
        return GetBytes(info).ToArray();
    }

    /// <summary>Reads a U8 or BOOL tensor into <paramref name="destination"/>, whose length must equal the element count.</summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is not U8 or BOOL.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public void ReadUInt8(string name, Span<byte> destination)
    {
        TensorInfo info = GetInfo(name);
        CheckUInt8(info);
        CheckLength(info, destination.Length);
        GetBytes(info).CopyTo(destination);
    }

    /// <summary>Unmaps the file (or unpins the memory). Spans obtained earlier must not be used afterwards.</summary>
    public void Dispose()
    {
        if (_pointer == null)
        {
            return;
        }

        _pointer = null;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _map!.Dispose();
        }

        _pin.Dispose();
    }

    /// <summary>
    /// The array a widening read returns (F16/BF16 → float doubles the bytes, U8 → long multiplies them by 8): refused
    /// with a typed error when the element count exceeds the largest array or the allocation fails.
    /// </summary>
    private T[] Allocate<T>(TensorInfo info, string type)
    {
        if (info.ElementCount > Array.MaxLength)
        {
            throw new WeightsFormatException(FilePath, info.Name, string.Create(CultureInfo.InvariantCulture,
                $"tensor '{info.Name}' {info.ShapeText} has {info.ElementCount} elements, more than an array can hold ({Array.MaxLength})"));
        }

        try
        {
            return new T[info.ElementCount];
        }
        catch (OutOfMemoryException ex)
        {
            // One large allocation failed; nothing else was touched, so this is an input error, not a broken process.
            throw new WeightsFormatException(FilePath, info.Name, string.Create(CultureInfo.InvariantCulture,
                $"tensor '{info.Name}' {info.ShapeText} needs {info.ElementCount * Unsafe.SizeOf<T>()} bytes as {type}, more than this process can allocate"), ex);
        }
    }

    internal void CheckFloat32(TensorInfo info)
    {
        if (!TensorConversions.CanReadAsFloat32(info.DType))
        {
            throw new UnsupportedDTypeException(FilePath, info.Name, info.DType, "float32", TensorConversions.Float32Sources);
        }
    }

    private void CheckInt64(TensorInfo info)
    {
        if (!TensorConversions.CanReadAsInt64(info.DType))
        {
            throw new UnsupportedDTypeException(FilePath, info.Name, info.DType, "int64", TensorConversions.Int64Sources);
        }
    }

    private void CheckUInt8(TensorInfo info)
    {
        if (!TensorConversions.CanReadAsUInt8(info.DType))
        {
            throw new UnsupportedDTypeException(FilePath, info.Name, info.DType, "uint8", TensorConversions.UInt8Sources);
        }
    }

    internal void CheckLength(TensorInfo info, int destinationLength)
    {
        if (destinationLength != info.ElementCount)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{WeightErrors.Prefix(FilePath)}tensor '{info.Name}' {info.ShapeText} has {info.ElementCount} elements, the destination holds {destinationLength}"),
                "destination");
        }
    }
}
