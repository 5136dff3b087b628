using System;
using System.Buffers.Binary;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Tests.Weights;

/// <summary>
/// <see cref="SafeTensorsWriter.AddStreamed"/> and <see cref="SafeTensorsWriter.WriteFloat32"/>: tensors written by a
/// callback (what <c>vitmae merge</c> does for millions of embeddings), the same bytes as copied ones, past 2 GiB too;
/// and the header limit every reader applies, checked before anything is written.
/// </summary>
public sealed class SafeTensorsStreamingTests
{
    [Fact]
    public void A_streamed_tensor_gives_the_bytes_of_a_copied_one()
    {
        float[] a = Enumerable.Range(0, 24).Select(i => (i * 0.5f) - 3).ToArray();
        float[] b = Enumerable.Range(0, 6).Select(i => i * 1e-3f).ToArray();
        byte[] copied = new SafeTensorsWriter().AddMetadata("k", "v").AddFloat32("b", b, 6).AddFloat32("a", a, 4, 6).AddInt64("ids", [3, 4], 2).ToArray();
        var streamed = new SafeTensorsWriter().AddMetadata("k", "v")
            .AddStreamed("b", DType.F32, s => SafeTensorsWriter.WriteFloat32(s, b), 6)
            .AddStreamed("a", DType.F32, s => { SafeTensorsWriter.WriteFloat32(s, a.AsSpan(0, 10)); SafeTensorsWriter.WriteFloat32(s, a.AsSpan(10)); }, 4, 6)
            .AddInt64("ids", [3, 4], 2);

        Assert.Equal(copied, streamed.ToArray());
        Assert.Equal(BinaryPrimitives.ReadInt64LittleEndian(copied), streamed.HeaderLength);
        using SafeTensorsFile file = SafeTensorsFile.FromMemory(copied, "streamed");
        Assert.Equal(a, file.ReadFloat32("a"));
    }

    [Fact]
    public void A_callback_that_writes_the_wrong_length_is_an_error_naming_both_lengths()
    {
        var writer = new SafeTensorsWriter().AddStreamed("x", DType.F32, s => SafeTensorsWriter.WriteFloat32(s, [1f, 2f]), 3);
        var e = Assert.Throws<InvalidOperationException>(() => writer.ToArray());
        Assert.Contains("'x'", e.Message, StringComparison.Ordinal);
        Assert.Contains("wrote 8 bytes, its shape needs 12", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tensor_over_2_GiB_is_streamed_with_64_bit_offsets()
    {
        // 600 M floats = 2.4 GB: MemoryMarshal.AsBytes over it would overflow an int; the merged features of a million
        // vit-mae-base images are 3 GB per tensor. Written to a sink that keeps the header and counts the rest.
        const int Rows = 781_250, Hidden = 768;
        var features = new float[Rows * Hidden];
        features[^1] = 42f;
        var sink = new HeadAndCount(4096);
        new SafeTensorsWriter()
            .AddStreamed("cls", DType.F32, s => SafeTensorsWriter.WriteFloat32(s, features), Rows, Hidden)
            .AddFloat32("tail", [7f], 1)
            .WriteTo(sink);

        long header = BinaryPrimitives.ReadInt64LittleEndian(sink.Head);
        using JsonDocument json = JsonDocument.Parse(Encoding.UTF8.GetString(sink.Head, 8, (int)header));
        long bytes = (long)Rows * Hidden * sizeof(float);
        Assert.Equal([0L, bytes], json.RootElement.GetProperty("cls").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([bytes, bytes + 4], json.RootElement.GetProperty("tail").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(8 + header + bytes + 4, sink.Count);
        Assert.Equal(BitConverter.GetBytes(42f).Concat(BitConverter.GetBytes(7f)), sink.Last8);
    }

    [Fact]
    [Trait("Category", "LargeFile")]
    public void A_tensor_over_2_GiB_reads_into_one_array()
    {
        // A merged embedding file's tensors pass 2 GiB; they cannot be one span but still fit an array. The file is
        // sparse (its data a hole but for two values), so the test writes kilobytes, not gigabytes; mapping 2.4 GB of
        // it still takes ~15 s of page faults, so CI runs it once, not again on each narrower SIMD width (it has none).
        const long Count = 600_000_000, Bytes = Count * sizeof(float);
        string json = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $$$"""{"big":{"dtype":"F32","shape":[{{{Count}}}],"data_offsets":[0,{{{Bytes}}}]},"tail":{"dtype":"F32","shape":[1],"data_offsets":[{{{Bytes}}},{{{Bytes + 4}}}]}}""");
        json += new string(' ', (8 - (json.Length % 8)) % 8);
        using var dir = new TempDir();
        string path = dir.File("big.safetensors");
        long data = 8 + json.Length;
        using (var stream = new FileStream(path, FileMode.CreateNew))
        {
            stream.Write(BitConverter.GetBytes((long)json.Length));
            stream.Write(Encoding.UTF8.GetBytes(json));
            stream.SetLength(data + Bytes + 4);
            stream.Position = data + (1L << 31); // the first element past 2 GiB
            stream.Write(BitConverter.GetBytes(-1.5f));
            stream.Position = data + Bytes - 4;
            stream.Write(BitConverter.GetBytes(42f));
            stream.Write(BitConverter.GetBytes(7f));
        }

        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        float[] big = file.ReadFloat32("big");
        Assert.Equal(Count, big.LongLength);
        Assert.Equal((0f, -1.5f, 0f, 42f), (big[0], big[(1 << 29)], big[(1 << 29) + 1], big[^1]));
        Assert.Equal([7f], file.ReadFloat32("tail"));
        Assert.Throws<ViTMAEException>(() => file.GetBytes("big")); // a span cannot hold it: typed, not an overflow
    }

    [Fact]
    public void A_header_over_the_readers_limit_is_refused_before_the_file_exists()
    {
        // Two 50-MB values (the paths of two million images would make as much).
        var writer = new SafeTensorsWriter().AddMetadata("a", new string('p', 50_000_000)).AddMetadata("b", new string('q', 50_000_000)).AddFloat32("x", [1f], 1);
        Assert.True(writer.HeaderLength > SafeTensorsFile.MaxHeaderLength);

        using var dir = new TempDir();
        string path = dir.File("too-big.safetensors");
        var e = Assert.Throws<InvalidOperationException>(() => writer.WriteTo(path));
        Assert.Contains("over the 100000000 that readers accept", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    /// <summary>Keeps the first bytes written and the last eight, counts all of them.</summary>
    private sealed class HeadAndCount(int keep) : Stream
    {
        public byte[] Head { get; } = new byte[keep];

        public byte[] Last8 { get; } = new byte[8];

        public long Count { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Count;

        public override long Position { get => Count; set => throw new NotSupportedException(); }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (Count < Head.Length)
            {
                buffer[..(int)Math.Min(buffer.Length, Head.Length - Count)].CopyTo(Head.AsSpan((int)Count));
            }

            if (buffer.Length >= 8)
            {
                buffer[^8..].CopyTo(Last8);
            }
            else
            {
                Last8.AsSpan(buffer.Length).CopyTo(Last8);
                buffer.CopyTo(Last8.AsSpan(8 - buffer.Length));
            }

            Count += buffer.Length;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void WriteByte(byte value) => Write([value]);

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
