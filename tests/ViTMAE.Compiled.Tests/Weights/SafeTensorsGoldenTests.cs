using System.Linq;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Tests.Weights;

/// <summary>The files Hugging Face's own code wrote (../shared/golden) open and read as expected.</summary>
public sealed class SafeTensorsGoldenTests
{
    [Fact]
    public void Golden_model_checkpoint_opens_and_lists_its_tensors()
    {
        using var file = SafeTensorsFile.Open(WeightsTestSupport.Golden("tiny-default/model.safetensors"));

        Assert.Equal("pt", file.Metadata["format"]);
        TensorInfo cls = file.Tensors["vit.embeddings.cls_token"];
        Assert.Equal(DType.F32, cls.DType);
        Assert.Equal(new long[] { 1, 1, 64 }, cls.Shape);
        Assert.Equal(new long[] { 64, 64 }, file.Tensors["vit.encoder.layer.0.attention.attention.query.weight"].Shape);
        Assert.Contains("decoder.decoder_pred.weight", file.Tensors.Keys);
        Assert.All(file.Tensors.Values, t => Assert.Equal(DType.F32, t.DType));

        float[] values = file.ReadFloat32("vit.embeddings.cls_token");
        Assert.Equal(64, values.Length);
        Assert.Contains(values, v => v != 0);
        Assert.All(values, v => Assert.True(float.IsFinite(v)));

        // The data section is exactly covered by the tensors.
        Assert.Equal(file.FileLength - file.DataStart, file.Tensors.Values.Sum(t => t.ByteLength));
    }

    [Fact]
    public void Golden_checkpoint_binds_through_WeightSource()
    {
        using var weights = WeightSource.Open(System.IO.Path.GetDirectoryName(WeightsTestSupport.Golden("tiny-default/model.safetensors"))!);

        Assert.False(weights.IsSharded);
        Assert.Equal("vit.", weights.DetectPrefix());
        Assert.Equal(64, weights.Require("vit.embeddings.cls_token", 1, 1, 64).Length);
        Assert.Equal(64 * 64, weights.RequireSpan("vit.encoder.layer.0.attention.attention.query.weight", 64, 64).Length);
        Assert.Equal(weights.ReadFloat32("vit.layernorm.bias"), weights.RequireSpan("vit.layernorm.bias", 64).ToArray());
    }

    [Fact]
    public void Golden_io_file_holds_int64_ids_restore()
    {
        using var file = SafeTensorsFile.Open(WeightsTestSupport.Golden("tiny-default/io.safetensors"));

        Assert.Equal("tiny", file.Metadata["preset"]);
        TensorInfo ids = file.Tensors["model.ids_restore"];
        Assert.Equal(DType.I64, ids.DType);
        Assert.Equal(new long[] { 1, 16 }, ids.Shape);
        // ids_restore is a permutation of the 16 patch indices.
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (long)i), file.ReadInt64("model.ids_restore").Order());

        Assert.Empty(file.Tensors["debug.len_keep"].Shape);
        Assert.Equal([4L], file.ReadInt64("debug.len_keep")); // int(16 × (1 − 0.75))

        Assert.Equal(new long[] { 1, 3, 32, 32 }, file.Tensors["inputs.pixel_values"].Shape);
        Assert.Throws<UnsupportedDTypeException>(() => file.ReadFloat32("model.ids_restore"));
    }
}
