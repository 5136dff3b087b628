using System;
using System.IO;
using System.Linq;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Tests.Weights;

public sealed class WeightSourceTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private const string Index = """
        {
          "metadata": {"total_size": 40, "format": "pt"},
          "weight_map": {
            "vit.embeddings.cls_token": "model-00001-of-00002.safetensors",
            "vit.layernorm.weight": "model-00001-of-00002.safetensors",
            "decoder.mask_token": "model-00002-of-00002.safetensors",
            "decoder.ids": "model-00002-of-00002.safetensors"
          }
        }
        """;

    private void WriteShards()
    {
        new SafeTensorsWriter()
            .AddFloat32("vit.embeddings.cls_token", [1f, 2f, 3f, 4f], 1, 1, 4)
            .AddFloat32("vit.layernorm.weight", [5f, 6f], 2)
            .WriteTo(_dir.File("model-00001-of-00002.safetensors"));
        new SafeTensorsWriter()
            .AddFloat32("decoder.mask_token", [7f, 8f], 1, 1, 2)
            .AddInt64("decoder.ids", [9L], 1)
            .AddFloat32("not.in.the.index", [0f], 1)
            .WriteTo(_dir.File("model-00002-of-00002.safetensors"));
    }

    [Fact]
    public void Sharded_index_with_two_shards_looks_up_across_shards()
    {
        WriteShards();
        string index = _dir.Write(WeightSource.IndexFileName, System.Text.Encoding.UTF8.GetBytes(Index));

        using var weights = WeightSource.Open(index);
        Assert.True(weights.IsSharded);
        Assert.Equal(index, weights.SourcePath);
        Assert.Equal(2, weights.Files.Count);
        Assert.Equal(["decoder.ids", "decoder.mask_token", "vit.embeddings.cls_token", "vit.layernorm.weight"], weights.Names);
        Assert.Equal(4, weights.Count);
        Assert.False(weights.Contains("not.in.the.index"));
        Assert.Equal("40", weights.Metadata["total_size"]);
        Assert.Equal("pt", weights.Metadata["format"]);
        Assert.Equal("vit.", weights.DetectPrefix());

        Assert.Equal([1f, 2f, 3f, 4f], weights.Require("vit.embeddings.cls_token", 1, 1, 4));
        Assert.Equal([7f, 8f], weights.Require("decoder.mask_token", 1, 1, 2));
        Assert.Equal([9L], weights.ReadInt64("decoder.ids"));
        Assert.EndsWith("model-00002-of-00002.safetensors", weights.GetFile("decoder.mask_token").FilePath, StringComparison.Ordinal);
        var buffer = new float[2];
        weights.Require("vit.layernorm.weight", buffer, 2);
        Assert.Equal([5f, 6f], buffer);

        // Errors name the shard that holds the tensor, or the index when the key is absent.
        var shape = Assert.Throws<WeightShapeException>(() => weights.Require("decoder.mask_token", 1, 2));
        Assert.StartsWith("model-00002-of-00002.safetensors: tensor 'decoder.mask_token' has shape [1, 1, 2], expected [1, 2]", shape.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<MissingWeightException>(() => weights.Require("embeddings.cls_token", 1, 1, 4));
        Assert.StartsWith(WeightSource.IndexFileName + ": ", missing.Message, StringComparison.Ordinal);
        Assert.Equal("vit.embeddings.cls_token", missing.ExistingAlternative);
    }

    [Fact]
    public void Directory_prefers_the_single_file_then_the_index()
    {
        WriteShards();
        _dir.Write(WeightSource.IndexFileName, System.Text.Encoding.UTF8.GetBytes(Index));
        using (var sharded = WeightSource.Open(_dir.Path))
        {
            Assert.True(sharded.IsSharded);
        }

        new SafeTensorsWriter().AddFloat32("embeddings.cls_token", [1f], 1, 1, 1).WriteTo(_dir.File(WeightSource.SingleFileName));
        using var single = WeightSource.Open(_dir.Path);
        Assert.False(single.IsSharded);
        Assert.Equal(["embeddings.cls_token"], single.Names);
        Assert.Equal("", single.DetectPrefix());
    }

    [Fact]
    public void Index_listing_a_missing_shard_or_tensor_is_rejected()
    {
        WriteShards();
        string badShard = _dir.Write("a.index.json", System.Text.Encoding.UTF8.GetBytes(
            """{"weight_map": {"x": "model-00003-of-00003.safetensors"}}"""));
        var e1 = Assert.Throws<WeightsFormatException>(() => WeightSource.Open(badShard));
        Assert.Contains("shard 'model-00003-of-00003.safetensors'", e1.Message, StringComparison.Ordinal);
        Assert.Equal("x", e1.TensorName);

        string badTensor = _dir.Write("b.index.json", System.Text.Encoding.UTF8.GetBytes(
            """{"weight_map": {"decoder.mask_token": "model-00001-of-00002.safetensors"}}"""));
        var e2 = Assert.Throws<WeightsFormatException>(() => WeightSource.Open(badTensor));
        Assert.Contains("puts tensor 'decoder.mask_token' in 'model-00001-of-00002.safetensors', which does not contain it", e2.Message, StringComparison.Ordinal);

        string escape = _dir.Write("c.index.json", System.Text.Encoding.UTF8.GetBytes("""{"weight_map": {"x": "../x.safetensors"}}"""));
        Assert.Contains("outside the index's directory", Assert.Throws<WeightsFormatException>(() => WeightSource.Open(escape)).Message, StringComparison.Ordinal);

        string notJson = _dir.Write("d.index.json", System.Text.Encoding.UTF8.GetBytes("""{"weight_map": """));
        Assert.StartsWith("d.index.json: the index is not valid JSON", Assert.Throws<WeightsFormatException>(() => WeightSource.Open(notJson)).Message, StringComparison.Ordinal);

        string noMap = _dir.Write("e.index.json", System.Text.Encoding.UTF8.GetBytes("""{"metadata": {}}"""));
        Assert.Contains("no \"weight_map\" object", Assert.Throws<WeightsFormatException>(() => WeightSource.Open(noMap)).Message, StringComparison.Ordinal);
    }

    // Fuzzing finding S2: the index was parsed without checking its UTF-8 or its \u escapes, and reading a name or
    // value threw InvalidOperationException. Both are refused before any string is read, with the position.
    [Fact]
    public void Index_that_is_not_utf8_names_the_byte_and_its_position()
    {
        WriteShards();
        byte[] json = [.. System.Text.Encoding.UTF8.GetBytes("{\"weight_map\": {\"a"), 0xFF, .. System.Text.Encoding.UTF8.GetBytes("\": \"model-00001-of-00002.safetensors\"}}")];
        string index = _dir.Write("model.safetensors.index.json", json);
        var e = Assert.Throws<WeightsFormatException>(() => WeightSource.Open(index));
        Assert.Null(e.InnerException);
        Assert.Equal(index, e.FilePath);
        Assert.StartsWith("model.safetensors.index.json: the index is not valid UTF-8: expected UTF-8 text, found byte 0xFF at byte offset 18 (line 1, column 19)", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"weight_map": {"\ud800": "model-00001-of-00002.safetensors"}}""", "a property name at line 1, column 18", @"\ud800, a high surrogate, followed by the end of the string")]
    [InlineData("""{"weight_map": {"a": "model-0000\ud8001-of-00002.safetensors"}}""", "a string at line 1, column 33", @"\ud800, a high surrogate, followed by ""1""")]
    [InlineData("""{"metadata": {"format": "\udfff"}, "weight_map": {}}""", "a string at line 1, column 26", @"\udfff, a low surrogate with no high-surrogate escape before it")]
    [InlineData("""{"\udc00x": 1, "weight_map": {}}""", "a property name at line 1, column 3", @"\udc00, a low surrogate")]
    public void Unpaired_surrogate_escapes_in_the_index_are_a_format_error(string json, string where, string found)
    {
        WriteShards();
        string index = _dir.Write("model.safetensors.index.json", System.Text.Encoding.UTF8.GetBytes(json));
        var e = Assert.Throws<WeightsFormatException>(() => WeightSource.Open(index));
        Assert.Null(e.InnerException);
        Assert.StartsWith("model.safetensors.index.json: the index is not valid JSON text: " + where + " holds an unpaired UTF-16 surrogate escape", e.Message, StringComparison.Ordinal);
        Assert.Contains(@"expected a high-surrogate escape (\ud800-\udbff) followed by a low-surrogate one (\udc00-\udfff), found " + found, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_shard_fails_the_whole_open()
    {
        WriteShards();
        byte[] shard2 = File.ReadAllBytes(_dir.File("model-00002-of-00002.safetensors"));
        File.WriteAllBytes(_dir.File("model-00002-of-00002.safetensors"), shard2.AsSpan(0, shard2.Length - 1).ToArray());
        string index = _dir.Write(WeightSource.IndexFileName, System.Text.Encoding.UTF8.GetBytes(Index));

        var e = Assert.Throws<WeightsFormatException>(() => WeightSource.Open(index));
        Assert.EndsWith("model-00002-of-00002.safetensors", e.FilePath, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RequireSpan_converts_half_precision_and_views_float32()
    {
        byte[] half = [0x00, 0x3C, 0x00, 0xC0]; // 1, -2
        new SafeTensorsWriter()
            .AddRaw("h", DType.F16, half, 2)
            .AddFloat32("f", [3f, 4f], 2)
            .WriteTo(_dir.File(WeightSource.SingleFileName));
        using var weights = WeightSource.Open(_dir.Path);
        Assert.Equal([1f, -2f], weights.RequireSpan("h", 2).ToArray());
        Assert.Equal([3f, 4f], weights.RequireSpan("f", 2).ToArray());
        Assert.Equal(DType.F16, weights.RequireInfo("h", 2).DType);
        Assert.Equal(weights.Names.ToArray(), weights.Files[0].Tensors.Keys.ToArray());
    }
}
