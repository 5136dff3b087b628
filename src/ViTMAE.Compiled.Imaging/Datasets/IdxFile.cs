using System;
using System.Buffers.Binary;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;

namespace ViTMAE.Compiled.Imaging.Datasets;

/// <summary>
/// An IDX file of unsigned bytes (the MNIST / Fashion-MNIST format): big-endian magic <c>0x00 0x00 0x08 rank</c>, then
/// rank big-endian int32 dimensions, then the bytes in row-major order. A <c>.gz</c> file is inflated on the way.
/// </summary>
/// <remarks>
/// Hand-written because the format is a 4-byte magic and a few big-endian integers; no NuGet package served here reads
/// it. Only the unsigned-byte type (0x08) is read: it is the type of every MNIST-family file.
/// </remarks>
public sealed class IdxFile
{
    /// <summary>The largest file read: 256 MiB of data (Fashion-MNIST's training images are 47 MB), within the 512 MiB
    /// a hostile input may cost (docs/RELIABILITY.md).</summary>
    public const long MaxBytes = 256L << 20;

    private IdxFile(int[] shape, byte[] data)
    {
        Shape = shape;
        Data = data;
    }

    /// <summary>The dimensions, e.g. [60000, 28, 28] for images, [60000] for labels.</summary>
    public int[] Shape { get; }

    /// <summary>The values, row-major.</summary>
    public byte[] Data { get; }

    /// <summary>Reads <paramref name="path"/> (inflating it when it ends in <c>.gz</c>).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DatasetFormatException">It is not an unsigned-byte IDX file, or it is truncated or too large.</exception>
    public static IdxFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException("IDX file not found: " + path, path);
        }

        // A FIFO or device reports no length and would block the open: only regular, non-empty files are read.
        long length = new FileInfo(path).Length;
        if (length == 0)
        {
            throw new DatasetFormatException(path, "a regular IDX file", "an empty file (or not a regular file)");
        }

        using FileStream file = File.OpenRead(path);
        bool gzip = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
        uint inflated = gzip ? GzipInflatedSize(file, length) : 0;
        using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            return Read(stream, path, gzip ? long.MaxValue : length, inflated);
        }
        catch (InvalidDataException e)
        {
            throw new DatasetFormatException(path, "a gzip stream", "corrupt compressed data (" + e.Message + ")");
        }
    }

    private static IdxFile Read(Stream stream, string path, long available, uint inflatedSize)
    {
        Span<byte> magic = stackalloc byte[4];
        if (!Fill(stream, magic))
        {
            throw new DatasetFormatException(path, "an IDX header (4 bytes of magic)", "a file shorter than 4 bytes");
        }

        if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] is 0 or > 4)
        {
            throw new DatasetFormatException(path, "IDX magic 00 00 08 <rank 1-4> (unsigned bytes)",
                string.Join(' ', magic.ToArray().Select(b => b.ToString("X2", CultureInfo.InvariantCulture))));
        }

        var shape = new int[magic[3]];
        Span<byte> dimension = stackalloc byte[4];
        long count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (!Fill(stream, dimension))
            {
                throw new DatasetFormatException(path, $"{shape.Length} dimensions after the magic", $"the file ends in dimension {i}");
            }

            shape[i] = BinaryPrimitives.ReadInt32BigEndian(dimension);
            if (shape[i] <= 0)
            {
                throw new DatasetFormatException(path, "positive dimensions", $"dimension {i} = {shape[i]}");
            }

            count *= shape[i];
            if (count > MaxBytes)
            {
                throw new DatasetFormatException(path, $"at most {MaxBytes} values", $"dimensions {string.Join('×', shape.Take(i + 1))} = {count} or more");
            }
        }

        // The header's size is a claim, checked before anything is allocated: a plain file must be that long, a gzip file's
        // trailer (ISIZE: the inflated length mod 2^32) must say so. A short file claiming 256 MiB costs nothing.
        long header = 4 + (4L * shape.Length);
        if (available != long.MaxValue ? available - header < count : (uint)(header + count) != inflatedSize)
        {
            string found = available != long.MaxValue ? $"a file of {available} bytes (truncated)" : $"a gzip stream whose trailer says {inflatedSize} bytes inflated, not {header + count}";
            throw new DatasetFormatException(path, $"{count} data bytes ({string.Join('×', shape)})", found);
        }

        var data = new byte[count];
        if (!Fill(stream, data))
        {
            throw new DatasetFormatException(path, $"{count} data bytes ({string.Join('×', shape)})", "a truncated file");
        }

        return new IdxFile(shape, data);
    }

    /// <summary>A gzip file's last four bytes (ISIZE, little-endian); the stream is left at its start.</summary>
    private static uint GzipInflatedSize(FileStream file, long length)
    {
        if (length < 18)
        {
            return 0; // shorter than a gzip header and trailer: the inflater reports it
        }

        Span<byte> trailer = stackalloc byte[4];
        file.Seek(-4, SeekOrigin.End);
        file.ReadExactly(trailer);
        file.Seek(0, SeekOrigin.Begin);
        return BinaryPrimitives.ReadUInt32LittleEndian(trailer);
    }

    private static bool Fill(Stream stream, Span<byte> buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = stream.Read(buffer[done..]);
            if (n == 0)
            {
                return false;
            }

            done += n;
        }

        return true;
    }
}
