using System;
using System.Buffers.Binary;
using System.Linq;
using System.Text;
using System.Text.Json;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Tests.Weights;

public sealed class SafeTensorsRoundTripTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Float32_round_trips_with_shapes_and_metadata()
    {
        float[] w = Enumerable.Range(0, 6).Select(i => i * 0.5f - 1).ToArray();
        float[] b = [float.NaN, float.PositiveInfinity, -0f];
        string path = _dir.File("f32.safetensors");
        new SafeTensorsWriter()
            .AddFloat32("layer.weight", w, 2, 3)
            .AddFloat32("layer.bias", b, 3)
            .AddFloat32("scalar", [42f])
            .AddFloat32("empty", [], 0, 4)
            .AddMetadata("format", "pt")
            .WriteTo(path);

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(["empty", "layer.bias", "layer.weight", "scalar"], file.Tensors.Keys);
        Assert.Equal("pt", file.Metadata["format"]);

        TensorInfo info = file.Tensors["layer.weight"];
        Assert.Equal(DType.F32, info.DType);
        Assert.Equal(new long[] { 2, 3 }, info.Shape);
        Assert.Equal(6, info.ElementCount);
        Assert.Equal(24, info.ByteLength);
        Assert.Equal(w, file.ReadFloat32("layer.weight"));
        Assert.Equal(BitsOf(b), BitsOf(file.ReadFloat32("layer.bias")));
        Assert.Empty(file.Tensors["scalar"].Shape);
        Assert.Equal([42f], file.ReadFloat32("scalar"));
        Assert.Equal(0, file.Tensors["empty"].ElementCount);
        Assert.Empty(file.ReadFloat32("empty"));

        var destination = new float[6];
        file.ReadFloat32("layer.weight", destination);
        Assert.Equal(w, destination);
        Assert.Throws<ArgumentException>(() => file.ReadFloat32("layer.weight", new float[5]));

        Assert.True(file.TryGetFloat32Span("layer.weight", out ReadOnlySpan<float> view));
        Assert.Equal(w, view.ToArray());
        Assert.Equal(w, MemoryMarshalHelpers.ToFloats(file.GetBytes("layer.weight")));
    }

    [Fact]
    public void Float16_bytes_written_by_hand_convert_through_Half()
    {
        // 1, -2, 65504 (max), smallest subnormal, +inf, -0, 0.333 (rounded), NaN
        ushort[] bits = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x8000, 0x3555, 0x7E00];
        string path = WriteRaw("f16.safetensors", DType.F16, Words(bits), bits.Length);

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(DType.F16, file.Tensors["t"].DType);
        float[] values = file.ReadFloat32("t");
        Assert.Equal(1f, values[0]);
        Assert.Equal(-2f, values[1]);
        Assert.Equal(65504f, values[2]);
        Assert.Equal(MathF.Pow(2, -24), values[3]);
        Assert.Equal(float.PositiveInfinity, values[4]);
        Assert.True(float.IsNegative(values[5]) && values[5] == 0);
        Assert.Equal(0.33325195f, values[6]);
        Assert.True(float.IsNaN(values[7]));
        Assert.False(file.TryGetFloat32Span("t", out _));
    }

    [Fact]
    public void BFloat16_bytes_written_by_hand_are_the_top_half_of_float32()
    {
        // 1, -2, 3.140625, +inf, smallest normal, NaN
        ushort[] bits = [0x3F80, 0xC000, 0x4049, 0x7F80, 0x0080, 0x7FC0];
        string path = WriteRaw("bf16.safetensors", DType.BF16, Words(bits), 2, 3);

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(new long[] { 2, 3 }, file.Tensors["t"].Shape);
        float[] values = file.ReadFloat32("t");
        Assert.Equal([1f, -2f, 3.140625f, float.PositiveInfinity, BitConverter.Int32BitsToSingle(0x00800000)], values[..5]);
        Assert.True(float.IsNaN(values[5]));
    }

    [Theory]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void Every_16_bit_pattern_converts_like_the_scalar_definition(DType dtype)
    {
        // 65536 patterns + 3 more so the vector loop has a tail; odd count of words.
        ushort[] bits = Enumerable.Range(0, 65536 + 3).Select(i => (ushort)(i * 40503)).ToArray();
        string path = WriteRaw("all.safetensors", dtype, Words(bits), bits.Length);

        using var file = SafeTensorsFile.Open(path);
        float[] values = file.ReadFloat32("t");
        for (int i = 0; i < bits.Length; i++)
        {
            float expected = dtype == DType.F16
                ? (float)BitConverter.UInt16BitsToHalf(bits[i])
                : BitConverter.Int32BitsToSingle(bits[i] << 16);
            Assert.True(float.IsNaN(expected) ? float.IsNaN(values[i]) : BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(values[i]),
                $"0x{bits[i]:X4}: expected {expected}, got {values[i]}");
        }
    }

    [Fact]
    public void Unaligned_half_data_still_reads()
    {
        // A U8 tensor of 1 byte first puts the F16 data at an odd offset (the writer would align it; write by hand).
        byte[] data = [7, 0x00, 0x3C, 0x00, 0xC0];
        string json = """{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"h":{"dtype":"F16","shape":[2],"data_offsets":[1,5]}}""";
        string path = _dir.Write("odd.safetensors", WeightsTestSupport.Raw(json, data));
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal([1f, -2f], file.ReadFloat32("h"));
        Assert.Equal([(byte)7], file.ReadUInt8("a"));
    }

    [Fact]
    public void Int64_and_UInt8_round_trip()
    {
        long[] ids = [3, 0, long.MaxValue, -1, long.MinValue, 2];
        byte[] mask = [0, 1, 255];
        string path = _dir.File("ints.safetensors");
        new SafeTensorsWriter().AddInt64("ids", ids, 2, 3).AddUInt8("mask", mask, 3).WriteTo(path);

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(DType.I64, file.Tensors["ids"].DType);
        Assert.Equal(ids, file.ReadInt64("ids"));
        Assert.Equal(DType.U8, file.Tensors["mask"].DType);
        Assert.Equal(mask, file.ReadUInt8("mask"));
        Assert.Equal([0L, 1, 255], file.ReadInt64("mask"));
        var destination = new long[6];
        file.ReadInt64("ids", destination);
        Assert.Equal(ids, destination);
    }

    [Fact]
    public void Narrow_integer_dtypes_widen_to_int64()
    {
        byte[] data = [.. Words([0xFFFF, 0x0002]), 0xFE, 0x01];
        string json = """{"i16":{"dtype":"I16","shape":[2],"data_offsets":[0,4]},"i8":{"dtype":"I8","shape":[2],"data_offsets":[4,6]}}""";
        string path = _dir.Write("narrow.safetensors", WeightsTestSupport.Raw(json, data));
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal([-1L, 2], file.ReadInt64("i16"));
        Assert.Equal([-2L, 1], file.ReadInt64("i8"));
    }

    [Fact]
    public void Writer_output_matches_the_reference_layout()
    {
        byte[] bytes = new SafeTensorsWriter()
            .AddUInt8("b", [1, 2, 3], 3)
            .AddFloat32("a", [1f], 1)
            .AddInt64("c", [5L], 1)
            .AddMetadata("k", "v")
            .ToArray();

        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        int padding = header.Length - header.TrimEnd(' ').Length;
        Assert.InRange(padding, 0, 7); // padded with spaces only, to a multiple of 8
        Assert.StartsWith("{\"__metadata__\":{\"k\":\"v\"},\"a\":", header, StringComparison.Ordinal);

        using JsonDocument doc = JsonDocument.Parse(header);
        Assert.Equal(["__metadata__", "a", "b", "c"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        // Data by descending element size: I64 c at 0, F32 a at 8, U8 b at 12.
        Assert.Equal(0, doc.RootElement.GetProperty("c").GetProperty("data_offsets")[0].GetInt64());
        Assert.Equal(8, doc.RootElement.GetProperty("a").GetProperty("data_offsets")[0].GetInt64());
        Assert.Equal(12, doc.RootElement.GetProperty("b").GetProperty("data_offsets")[0].GetInt64());
        Assert.Equal(8 + (int)n + 15, bytes.Length);

        byte[] again = new SafeTensorsWriter().AddInt64("c", [5L], 1).AddFloat32("a", [1f], 1).AddUInt8("b", [1, 2, 3], 3).AddMetadata("k", "v").ToArray();
        Assert.Equal(bytes, again);
    }

    [Fact]
    public void Writer_rejects_bad_input()
    {
        var writer = new SafeTensorsWriter().AddFloat32("x", [1f, 2f], 2);
        Assert.Throws<ArgumentException>(() => writer.AddFloat32("x", [1f], 1));
        Assert.Throws<ArgumentException>(() => writer.AddFloat32("y", [1f, 2f], 3));
        Assert.Throws<ArgumentException>(() => writer.AddFloat32("__metadata__", [1f], 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.AddFloat32("z", [], -1));
    }

    private string WriteRaw(string fileName, DType dtype, byte[] data, params int[] shape)
    {
        string path = _dir.File(fileName);
        new SafeTensorsWriter().AddRaw("t", dtype, data, shape).WriteTo(path);
        return path;
    }

    private static byte[] Words(ushort[] words)
    {
        var bytes = new byte[words.Length * 2];
        for (int i = 0; i < words.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), words[i]);
        }

        return bytes;
    }

    private static int[] BitsOf(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();
}

internal static class MemoryMarshalHelpers
{
    public static float[] ToFloats(ReadOnlySpan<byte> bytes)
    {
        var result = new float[bytes.Length / 4];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i * 4));
        }

        return result;
    }
}
