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
    /// <summary>The largest file read: 1 GiB of data (Fashion-MNIST's training images are 47 MB).</summary>
    public const long MaxBytes = 1L << 30;

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

        using FileStream file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            return Read(stream, path);
        }
        catch (InvalidDataException e)
        {
            throw new DatasetFormatException(path, "a gzip stream", "corrupt compressed data (" + e.Message + ")");
        }
    }

    private static IdxFile Read(Stream stream, string path)
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

        var data = new byte[count];
        if (!Fill(stream, data))
        {
            throw new DatasetFormatException(path, $"{count} data bytes ({string.Join('×', shape)})", "a truncated file");
        }

        return new IdxFile(shape, data);
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
