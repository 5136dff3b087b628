using System;
using ViTMAE.Compiled.Runtime;
using ViTMAE.Compiled.Modeling;

namespace ViTMAE.Compiled.Tests.Modeling;

public class InputCheckTests
{
    private static readonly (int, int)[] Resolutions = { (32, 32), (32, 48) };

    private static int Resolve(ViTMAEInputs inputs, int maxBatch = 2) =>
        InputCheck.Resolve(inputs, Resolutions, channels: 3, patchSize: 8, maxBatch, layers: 2, heads: 4, decoderLayers: 1, decoderHeads: 2);

    [Fact]
    public void Default_and_declared_resolutions_resolve()
    {
        Assert.Equal(0, Resolve(new ViTMAEInputs(new float[2 * 3 * 32 * 32], 2)));
        Assert.Equal(1, Resolve(new ViTMAEInputs(new float[3 * 32 * 48], 1) { Height = 32, Width = 48, Noise = new float[24], HeadMask = new float[8] }));
    }

    [Fact]
    public void Wrong_pixel_buffer_length_names_expected_shape()
    {
        var ex = Assert.Throws<ViTMAEInputException>(() => Resolve(new ViTMAEInputs(new float[100], 1)));
        Assert.Equal("pixel_values", ex.Input);
        Assert.Contains("has 100 values, expected [B, C, H, W] = [1, 3, 32, 32] = 3072", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Batch_above_the_session_maximum()
    {
        var ex = Assert.Throws<ViTMAEInputException>(() => Resolve(new ViTMAEInputs(new float[3 * 3 * 32 * 32], 3)));
        Assert.Contains("batch 3 is outside this session's range 1..2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Undeclared_resolution_lists_the_compiled_ones()
    {
        var ex = Assert.Throws<ViTMAEInputException>(() => Resolve(new ViTMAEInputs(new float[3 * 64 * 64], 1) { Height = 64, Width = 64 }));
        Assert.Contains("64x64 was not compiled; compiled resolutions: 32x32, 32x48", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Noise_of_the_wrong_length()
    {
        var ex = Assert.Throws<ViTMAEInputException>(() => Resolve(new ViTMAEInputs(new float[3 * 32 * 32], 1) { Noise = new float[15] }));
        Assert.Contains("noise: has 15 values, expected [B, L] = [1, 16] = 16", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(3, false)]
    [InlineData(4, true)]
    [InlineData(8, true)]
    [InlineData(12, false)]
    public void Head_mask_must_be_heads_or_layers_by_heads(int length, bool ok)
    {
        float[] pixels = new float[3 * 32 * 32], mask = new float[length];
        if (ok)
        {
            Assert.Equal(0, Resolve(new ViTMAEInputs(pixels, 1) { HeadMask = mask }));
        }
        else
        {
            var ex = Assert.Throws<ViTMAEInputException>(() => Resolve(new ViTMAEInputs(pixels, 1) { HeadMask = mask }));
            Assert.Contains("expected [heads] = [4] or [layers, heads] = [2, 4] = 8", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Layer_head_mask_slices_the_layer_row()
    {
        float[] mask = { 1, 2, 3, 4, 5, 6 };
        Assert.Equal(new float[] { 4, 5, 6 }, InputCheck.LayerHeadMask(mask, 1, 3).ToArray());
        Assert.Equal(new float[] { 1, 2, 3 }, InputCheck.LayerHeadMask(mask.AsSpan(0, 3), 1, 3).ToArray());
        Assert.True(InputCheck.LayerHeadMask(default, 1, 3).IsEmpty);
    }
}

public class PositionInterpolationTests
{
    [Fact]
    public void Same_grid_returns_the_table_unchanged()
    {
        float[] table = new float[(1 + 16) * 2];
        for (int i = 0; i < table.Length; i++)
        {
            table[i] = i * 0.5f;
        }

        Assert.Equal(table, PositionInterpolation.Encoder(table, 2, 4, 4));
        Assert.Equal(table, PositionInterpolation.Decoder(table, 2, 16)); // bicubic at scale 1 is the identity
    }

    [Fact]
    public void Matches_hugging_face_golden_tables()
    {
        using var model = ViTMAE.Compiled.Weights.SafeTensorsFile.Open(Tests.Weights.WeightsTestSupport.Golden("tiny-interp/model.safetensors"));
        using var io = ViTMAE.Compiled.Weights.SafeTensorsFile.Open(Tests.Weights.WeightsTestSupport.Golden("tiny-interp/io.safetensors"));
        float[] encoder = PositionInterpolation.Encoder(model.ReadFloat32("vit.embeddings.position_embeddings"), 64, 4, 6);
        float[] decoder = PositionInterpolation.Decoder(model.ReadFloat32("decoder.decoder_pos_embed"), 32, 24);
        AssertClose(io.ReadFloat32("debug.position_embeddings_used"), encoder);
        AssertClose(io.ReadFloat32("debug.decoder_pos_embed_used"), decoder);
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
        }

        Assert.True(max <= 1e-5, "max abs error " + max);
    }
}

public class RandomInitTests
{
    [Fact]
    public void SinCos_table_equals_the_hugging_face_initialisation_of_the_golden_encoder()
    {
        // The golden checkpoints hold HF's sin-cos table plus a small perturbation (~0.02), so a wrong formula, a swapped
        // row/column order or a wrong frequency shows up as a large difference while ours stays within the noise.
        using var model = ViTMAE.Compiled.Weights.SafeTensorsFile.Open(Tests.Weights.WeightsTestSupport.Golden("tiny-default/model.safetensors"));
        float[] golden = model.ReadFloat32("vit.embeddings.position_embeddings");
        float[] ours = RandomInit.SinCos2D(64, 4, addClsToken: true);
        Assert.Equal(golden.Length, ours.Length);
        double max = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            max = Math.Max(max, Math.Abs(golden[i] - ours[i]));
        }

        Assert.True(max < 0.15, "max abs error " + max);

        // The same table with rows and columns swapped (a classic mistake) is far from the golden one.
        float[] swapped = (float[])ours.Clone();
        for (int row = 0; row < 4; row++)
        {
            for (int col = 0; col < 4; col++)
            {
                Array.Copy(ours, (1 + (col * 4) + row) * 64, swapped, (1 + (row * 4) + col) * 64, 64);
            }
        }

        double swappedMax = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            swappedMax = Math.Max(swappedMax, Math.Abs(golden[i] - swapped[i]));
        }

        Assert.True(swappedMax > 0.5, "a row/column swap went unnoticed: " + swappedMax);
    }

    [Fact]
    public void Checkpoint_has_every_tensor_of_the_layout_and_is_deterministic()
    {
        var spec = ViTMAE.Compiled.Configuration.ViTMAESpec.Parse(System.IO.File.ReadAllText(Tests.Weights.WeightsTestSupport.Golden("small-odd-default/config.json")));
        string a = System.IO.Path.GetTempFileName(), b = System.IO.Path.GetTempFileName();
        try
        {
            RandomInit.WriteCheckpoint(spec, a, seed: 3);
            RandomInit.WriteCheckpoint(spec, b, seed: 3);
            Assert.Equal(System.IO.File.ReadAllBytes(a), System.IO.File.ReadAllBytes(b));
            using var source = ViTMAE.Compiled.Weights.WeightSource.Open(a);
            using var golden = ViTMAE.Compiled.Weights.WeightSource.Open(Tests.Weights.WeightsTestSupport.Golden("small-odd-default/model.safetensors"));
            Assert.Equal(System.Linq.Enumerable.Order(golden.Names, StringComparer.Ordinal), System.Linq.Enumerable.Order(source.Names, StringComparer.Ordinal));
            foreach (string name in golden.Names)
            {
                Assert.Equal(System.Linq.Enumerable.ToArray(golden.GetInfo(name).Shape), System.Linq.Enumerable.ToArray(source.GetInfo(name).Shape));
            }
        }
        finally
        {
            System.IO.File.Delete(a);
            System.IO.File.Delete(b);
        }
    }
}
