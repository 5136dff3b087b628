using System;
using System.IO;
using System.Text;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Tests.Weights;

/// <summary>One test per failure: the right exception type, and a message naming file, tensor, expected and found.</summary>
public sealed class SafeTensorsErrorTests : IDisposable
{
    private const string QueryWeight = "vit.encoder.layer.0.attention.attention.query.weight";
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // ---- binding errors (WeightSource.Require) ----

    [Fact]
    public void Missing_key_names_the_file_and_the_key()
    {
        using var weights = WeightSource.Open(Write(new SafeTensorsWriter().AddFloat32("vit.layernorm.weight", new float[4], 4)));

        var e = Assert.Throws<MissingWeightException>(() => weights.Require("vit.embeddings.cls_token", 1, 1, 4));
        Assert.Equal("vit.embeddings.cls_token", e.TensorName);
        Assert.Null(e.ExistingAlternative);
        Assert.Contains("model.safetensors", e.Message, StringComparison.Ordinal);
        Assert.Contains("'vit.embeddings.cls_token' not found", e.Message, StringComparison.Ordinal);
        Assert.Null(weights.DetectPrefix());
        Assert.False(weights.Contains("vit.embeddings.cls_token"));
    }

    [Fact]
    public void Missing_vit_prefix_says_the_file_looks_like_a_ViTMAEModel_checkpoint()
    {
        using var weights = WeightSource.Open(Write(new SafeTensorsWriter().AddFloat32("embeddings.cls_token", new float[4], 1, 1, 4)));

        Assert.Equal("", weights.DetectPrefix());
        var e = Assert.Throws<MissingWeightException>(() => weights.Require("vit.embeddings.cls_token", 1, 1, 4));
        Assert.Equal("vit.embeddings.cls_token", e.TensorName);
        Assert.Equal("embeddings.cls_token", e.ExistingAlternative);
        Assert.Contains("'vit.embeddings.cls_token' not found", e.Message, StringComparison.Ordinal);
        Assert.Contains("'embeddings.cls_token' instead", e.Message, StringComparison.Ordinal);
        Assert.Contains("ViTMAEModel", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Extra_vit_prefix_says_the_file_looks_like_a_ViTMAEForPreTraining_checkpoint()
    {
        using var weights = WeightSource.Open(Write(new SafeTensorsWriter().AddFloat32("vit.embeddings.cls_token", new float[4], 1, 1, 4)));

        Assert.Equal("vit.", weights.DetectPrefix());
        var e = Assert.Throws<MissingWeightException>(() => weights.ReadFloat32("embeddings.cls_token"));
        Assert.Equal("vit.embeddings.cls_token", e.ExistingAlternative);
        Assert.Contains("ViTMAEForPreTraining", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shape_mismatch_names_tensor_found_and_expected_shape()
    {
        using var weights = WeightSource.Open(Write(new SafeTensorsWriter().AddFloat32(QueryWeight, new float[64 * 32], 64, 32)));

        var e = Assert.Throws<WeightShapeException>(() => weights.Require(QueryWeight, 64, 64));
        Assert.Equal($"model.safetensors: tensor '{QueryWeight}' has shape [64, 32], expected [64, 64]", e.Message);
        Assert.Equal(QueryWeight, e.TensorName);
        Assert.Equal(new long[] { 64, 64 }, e.ExpectedShape);
        Assert.Equal(new long[] { 64, 32 }, e.ActualShape);

        var rank = Assert.Throws<WeightShapeException>(() => weights.Require(QueryWeight, 64 * 32));
        Assert.Contains("has shape [64, 32], expected [2048]", rank.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_dtype_names_tensor_found_dtype_and_supported_list()
    {
        string json = """{"vit.layernorm.weight":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}""";
        using var weights = WeightSource.Open(_dir.Write("model.safetensors", WeightsTestSupport.Raw(json, 16)));

        var e = Assert.Throws<UnsupportedDTypeException>(() => weights.Require("vit.layernorm.weight", 2));
        Assert.Equal("vit.layernorm.weight", e.TensorName);
        Assert.Equal(DType.F64, e.DType);
        Assert.Contains("model.safetensors", e.Message, StringComparison.Ordinal);
        Assert.Contains("'vit.layernorm.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("dtype F64", e.Message, StringComparison.Ordinal);
        Assert.Contains("F32, F16, BF16", e.Message, StringComparison.Ordinal);

        var u8 = Assert.Throws<UnsupportedDTypeException>(() => weights.ReadUInt8("vit.layernorm.weight"));
        Assert.Contains("U8, BOOL", u8.Message, StringComparison.Ordinal);
    }

    // ---- malformed files (SafeTensorsFile.Open) ----

    [Fact]
    public void Truncated_file_is_reported_with_the_tensor_and_offsets()
    {
        byte[] bytes = new SafeTensorsWriter().AddFloat32("a", new float[4], 4).AddFloat32("b", new float[4], 4).ToArray();
        var e = OpenFails(bytes.AsSpan(0, bytes.Length - 3).ToArray());
        Assert.Equal("b", e.TensorName);
        Assert.Contains("tensor 'b'", e.Message, StringComparison.Ordinal);
        Assert.Contains("[16, 32]", e.Message, StringComparison.Ordinal);
        Assert.Contains("(29 bytes)", e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Header_that_is_not_json_is_rejected()
    {
        var e = OpenFails(WeightsTestSupport.Raw("{\"a\": {\"dtype\": \"F32\",", 0));
        Assert.Contains("not valid JSON", e.Message, StringComparison.Ordinal);
        Assert.Contains("bad.safetensors", e.Message, StringComparison.Ordinal);

        Assert.Contains("must be a JSON object, found an array", OpenFails(WeightsTestSupport.Raw("[1, 2]", 0)).Message, StringComparison.Ordinal);
        Assert.Contains("not valid JSON", OpenFails(WeightsTestSupport.Raw("", 0)).Message, StringComparison.Ordinal);
        Assert.Contains("not valid JSON", OpenFails(WeightsTestSupport.Raw(new string('[', 10_000), 0)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Header_that_is_not_utf8_is_rejected()
    {
        byte[] header = [.. Encoding.UTF8.GetBytes("{\"a"), 0xFF, 0xFE, .. Encoding.UTF8.GetBytes("\":{}}")];
        var e = OpenFails(WeightsTestSupport.Raw((ulong)header.Length, header, []));
        Assert.Contains("not valid UTF-8", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Offsets_outside_the_file_are_rejected()
    {
        var past = OpenFails(WeightsTestSupport.Raw("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[100,108]}}""", 8));
        Assert.Equal("w", past.TensorName);
        Assert.Contains("[100, 108]", past.Message, StringComparison.Ordinal);
        Assert.Contains("(8 bytes)", past.Message, StringComparison.Ordinal);

        var huge = OpenFails(WeightsTestSupport.Raw("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[9223372036854775800,9223372036854775807]}}""", 8));
        Assert.Contains("past the end", huge.Message, StringComparison.Ordinal);

        var beyondLong = OpenFails(WeightsTestSupport.Raw("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}}""", 8));
        Assert.Contains("must be two non-negative integers", beyondLong.Message, StringComparison.Ordinal);

        var reversed = OpenFails(WeightsTestSupport.Raw("""{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}""", 8));
        Assert.Contains("begin > end", reversed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Overlapping_offsets_are_rejected()
    {
        string json = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""";
        var e = OpenFails(WeightsTestSupport.Raw(json, 12));
        Assert.Equal("b", e.TensorName);
        Assert.Contains("tensor 'b'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'a' [0, 8]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[4, 12]", e.Message, StringComparison.Ordinal);
        Assert.Contains("overlap", e.Message, StringComparison.Ordinal);

        // Zero-sized tensors may share an offset with anything.
        string empty = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}}""";
        using var ok = SafeTensorsFile.Open(_dir.Write("ok.safetensors", WeightsTestSupport.Raw(empty, 8)));
        Assert.Equal(2, ok.Tensors.Count);
    }

    [Fact]
    public void Byte_size_must_match_shape_times_dtype_size()
    {
        var e = OpenFails(WeightsTestSupport.Raw("""{"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}}""", 8));
        Assert.Equal("w", e.TensorName);
        Assert.Contains("span 8 bytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("BF16 with shape [2, 3] needs 12 bytes", e.Message, StringComparison.Ordinal);

        var overflow = OpenFails(WeightsTestSupport.Raw("""{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}""", 8));
        Assert.Contains("more than 2^63 bytes", overflow.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"w":{"shape":[1],"data_offsets":[0,4]}}""", "no \"dtype\" string")]
    [InlineData("""{"w":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}""", "unknown dtype \"F31\"")]
    [InlineData("""{"w":{"dtype":"F32","data_offsets":[0,4]}}""", "no \"shape\" array")]
    [InlineData("""{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", "must hold non-negative integers")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}""", "must hold non-negative integers")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1]}}""", "no \"data_offsets\" array")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}""", "must be two non-negative integers")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}""", "must be two non-negative integers")]
    [InlineData("""{"w":[1]}""", "the entry must be an object")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", "the key 'w' twice")]
    [InlineData("""{"__metadata__":{"n":1}}""", "value 'n' must be a string")]
    [InlineData("""{"__metadata__":[]}""", "must be an object of strings")]
    public void Malformed_entries_are_rejected(string json, string expected)
    {
        var e = OpenFails(WeightsTestSupport.Raw(json, 8));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.StartsWith("bad.safetensors: ", e.Message, StringComparison.Ordinal);
    }

    // Fuzzing finding S1: an unpaired surrogate escape is valid JSON syntax, and System.Text.Json threw
    // InvalidOperationException when the loader read the name or value. Now refused, with where and what.
    [Theory]
    [InlineData("""{"\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "a property name at line 1, column 3", @"found \ud800, a high surrogate, followed by the end of the string")]
    [InlineData("""{"w":{"\udc00":"F32","shape":[1],"data_offsets":[0,4]}}""", "a property name at line 1, column 8", @"found \udc00, a low surrogate with no high-surrogate escape before it")]
    [InlineData("""{"w":{"dtype":"F3\udc00","shape":[1],"data_offsets":[0,4]}}""", "a string at line 1, column 18", @"found \udc00, a low surrogate")]
    [InlineData("""{"__metadata__":{"format":"p\ud83dt"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "a string at line 1, column 29", @"found \ud83d, a high surrogate, followed by ""t""")]
    [InlineData("""{"w\ud800\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "a property name at line 1, column 4", @"found \ud800, a high surrogate, followed by ""\ud800""")]
    public void Unpaired_surrogate_escapes_in_the_header_are_a_format_error(string json, string where, string found)
    {
        var e = OpenFails(WeightsTestSupport.Raw(json, 8));
        Assert.Null(e.InnerException);
        Assert.StartsWith("bad.safetensors: the header is not valid JSON text: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(where + " holds an unpaired UTF-16 surrogate escape", e.Message, StringComparison.Ordinal);
        Assert.Contains(@"expected a high-surrogate escape (\ud800-\udbff) followed by a low-surrogate one (\udc00-\udfff)", e.Message, StringComparison.Ordinal);
        Assert.Contains(found, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Surrogate_pairs_and_other_escapes_in_the_header_are_read()
    {
        string json = """{"__metadata__":{"note":"\ud83d\ude00 \\ud800 \"q\""},"w\u00e9\ud83d\ude00":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""";
        using var file = SafeTensorsFile.Open(_dir.Write("ok.safetensors", WeightsTestSupport.Raw(json, 4)));
        Assert.Equal("w\u00e9\U0001F600", Assert.Single(file.Tensors).Key);
        Assert.Equal("\U0001F600 \\ud800 \"q\"", file.Metadata["note"]);
    }

    [Fact]
    public void Header_that_is_not_utf8_names_the_byte_and_its_position()
    {
        byte[] header = [.. Encoding.UTF8.GetBytes("{\n\"w"), 0xC3, 0x28, .. Encoding.UTF8.GetBytes("\":{}}")];
        var e = OpenFails(WeightsTestSupport.Raw((ulong)header.Length, header, []));
        Assert.Contains("the header is not valid UTF-8: expected UTF-8 text, found byte 0xC3 at byte offset 4 (line 2, column 3)", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(100_000_001UL)]
    [InlineData(1UL << 63)]
    [InlineData(ulong.MaxValue)]
    public void Header_length_beyond_the_limit_is_rejected(ulong headerLength)
    {
        var e = OpenFails(WeightsTestSupport.Raw(headerLength, Encoding.UTF8.GetBytes("{}"), []));
        Assert.Contains($"header length {headerLength} exceeds the limit of 100000000 bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Header_length_beyond_the_file_is_rejected()
    {
        var e = OpenFails(WeightsTestSupport.Raw(1000, Encoding.UTF8.GetBytes("{}"), []));
        Assert.Contains("header length 1000 exceeds the 2 bytes after the length prefix", e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void File_shorter_than_8_bytes_is_rejected(int length)
    {
        var e = OpenFails(new byte[length]);
        Assert.Contains($"the file is {length} bytes long, shorter than the 8-byte header length", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Minimal_files_open()
    {
        using (var empty = SafeTensorsFile.Open(_dir.Write("empty.safetensors", WeightsTestSupport.Raw("{}", 0))))
        {
            Assert.Empty(empty.Tensors);
            Assert.Empty(empty.Metadata);
        }

        using var padded = SafeTensorsFile.Open(_dir.Write("padded.safetensors", WeightsTestSupport.Raw("""{"__metadata__":null}   """, 0)));
        Assert.Empty(padded.Metadata);
    }

    [Fact]
    public void Missing_file_and_use_after_dispose()
    {
        Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Open(_dir.File("nope.safetensors")));
        Assert.Throws<FileNotFoundException>(() => WeightSource.Open(_dir.File("nope.safetensors")));
        Assert.Throws<FileNotFoundException>(() => WeightSource.Open(_dir.Path));

        var file = SafeTensorsFile.Open(Write(new SafeTensorsWriter().AddFloat32("a", [1f], 1)));
        file.Dispose();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.ReadFloat32("a"));
    }

    private string Write(SafeTensorsWriter writer)
    {
        string path = _dir.File("model.safetensors");
        writer.WriteTo(path);
        return path;
    }

    private WeightsFormatException OpenFails(byte[] bytes)
    {
        string path = _dir.Write("bad.safetensors", bytes);
        var e = Assert.Throws<WeightsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith("bad.safetensors: ", e.Message, StringComparison.Ordinal);
        File.Delete(path);
        return e;
    }
}
