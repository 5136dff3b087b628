using System;
using System.Linq;
using ViTMAE.Compiled.Runtime;
using ViTMAE.Compiled.Modeling;

namespace ViTMAE.Compiled.Tests.Modeling;

public class MaskingTests
{
    private static (int[] Shuffle, int[] Restore, float[] Mask) Run(float[] noise, int keep)
    {
        int l = noise.Length;
        var shuffle = new int[l];
        var restore = new int[l];
        var mask = new float[l];
        Masking.RandomMasking(noise, shuffle, restore, mask, keep, new ulong[l]);
        return (shuffle, restore, mask);
    }

    [Fact]
    public void Shuffle_is_argsort_restore_its_inverse_and_mask_marks_removed_patches()
    {
        float[] noise = { 0.9f, 0.1f, 0.5f, 0.3f, 0.7f };
        (int[] shuffle, int[] restore, float[] mask) = Run(noise, keep: 2);
        Assert.Equal(new[] { 1, 3, 2, 4, 0 }, shuffle);            // ascending noise
        Assert.Equal(new[] { 4, 0, 2, 1, 3 }, restore);            // argsort(shuffle)
        Assert.Equal(new[] { 1f, 0f, 1f, 0f, 1f }, mask);          // kept: patches 1 and 3
    }

    [Fact]
    public void Random_noise_properties_hold_for_many_sizes()
    {
        var random = new Random(1234);
        for (int trial = 0; trial < 200; trial++)
        {
            int l = random.Next(1, 300);
            int keep = random.Next(0, l + 1);
            float[] noise = Enumerable.Range(0, l).Select(_ => random.NextSingle()).ToArray();
            (int[] shuffle, int[] restore, float[] mask) = Run(noise, keep);
            for (int i = 0; i < l; i++)
            {
                Assert.Equal(i, restore[shuffle[i]]);
                Assert.Equal(i, shuffle[restore[i]]);
                if (i > 0)
                {
                    Assert.True(noise[shuffle[i - 1]] <= noise[shuffle[i]]);
                }
            }

            Assert.Equal(l - keep, mask.Sum());
            Assert.All(shuffle.Take(keep), p => Assert.Equal(0f, mask[p]));
        }
    }

    [Fact]
    public void Ties_are_broken_by_patch_index_and_nan_sorts_last()
    {
        (int[] shuffle, _, _) = Run(new[] { 0.5f, float.NaN, 0.5f, -0f, 0f, 0.5f }, keep: 3);
        Assert.Equal(new[] { 3, 4, 0, 2, 5, 1 }, shuffle);
    }

    [Fact]
    public void Mismatched_spans_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Masking.RandomMasking(new float[4], new int[3], new int[4], new float[4], 2, new ulong[4]));
        Assert.Throws<ArgumentException>(() => Masking.RandomMasking(new float[4], new int[4], new int[4], new float[4], 5, new ulong[4]));
    }
}

public class PatchesTests
{
    [Theory]
    [InlineData(3, 32, 32, 8)]
    [InlineData(1, 16, 48, 16)]
    [InlineData(4, 6, 9, 3)]
    [InlineData(3, 5, 5, 1)]
    public void Unpatchify_inverts_patchify(int c, int h, int w, int p)
    {
        float[] pixels = Enumerable.Range(0, c * h * w).Select(i => (float)i).ToArray();
        var patches = new float[pixels.Length];
        Patches.Patchify(pixels, patches, c, h, w, p);
        var back = new float[pixels.Length];
        Patches.Unpatchify(patches, back, c, h, w, p);
        Assert.Equal(pixels, back);
    }

    [Fact]
    public void Patch_values_are_ordered_row_column_channel()
    {
        // [C=2, H=2, W=4], p=2 → 2 patches of 8 values: (i, j, c) with c fastest.
        float[] pixels = { 0, 1, 2, 3, 4, 5, 6, 7, /* c1 */ 10, 11, 12, 13, 14, 15, 16, 17 };
        var patches = new float[16];
        Patches.Patchify(pixels, patches, 2, 2, 4, 2);
        Assert.Equal(new float[] { 0, 10, 1, 11, 4, 14, 5, 15, 2, 12, 3, 13, 6, 16, 7, 17 }, patches);
    }

    [Fact]
    public void Conv_weight_reordered_to_patch_order_equals_the_convolution()
    {
        // A stride-p convolution of one patch equals the dot product of the reordered weight with the patch values.
        const int d = 3, c = 2, p = 2;
        var random = new Random(7);
        float[] weight = Enumerable.Range(0, d * c * p * p).Select(_ => (float)random.Next(-4, 5)).ToArray();
        float[] pixels = Enumerable.Range(0, c * p * p).Select(_ => (float)random.Next(-4, 5)).ToArray(); // [C, p, p]
        float[] reordered = Patches.ConvWeightToPatchOrder(weight, d, c, p);
        var patch = new float[c * p * p];
        Patches.Patchify(pixels, patch, c, p, p, p);
        for (int o = 0; o < d; o++)
        {
            float conv = 0, gemm = 0;
            for (int i = 0; i < c * p * p; i++)
            {
                conv += weight[o * c * p * p + i] * pixels[i]; // [C, p, p] order on both sides
                gemm += reordered[o * c * p * p + i] * patch[i];
            }

            Assert.Equal(conv, gemm);
        }
    }

    [Fact]
    public void Geometry_errors_name_the_problem()
    {
        var ex = Assert.Throws<ArgumentException>(() => Patches.Patchify(new float[3 * 30 * 32], new float[3 * 30 * 32], 3, 30, 32, 8));
        Assert.Contains("30x32", ex.Message, StringComparison.Ordinal);
    }
}

public class BlocksTests
{
    [Fact]
    public void Loss_is_nan_when_nothing_is_masked_like_hugging_face()
    {
        float loss = Blocks.PixelLoss(new float[8], new float[8], new float[2], 4, normPixLoss: false);
        Assert.True(float.IsNaN(loss));
    }

    [Fact]
    public void Loss_averages_per_patch_mse_over_removed_patches_only()
    {
        float[] target = { 0, 0, 0, 0, 1, 1, 1, 1 };
        float[] pred = { 1, 1, 1, 1, 1, 1, 1, 3 };
        // patch 0: mse 1 (kept → ignored); patch 1: mse 1 (removed).
        Assert.Equal(1f, Blocks.PixelLoss(target, pred, new float[] { 0, 1 }, 4, false));
        Assert.Equal(1f, Blocks.PixelLoss(target, pred, new float[] { 1, 1 }, 4, false));
    }

    [Fact]
    public void Norm_pix_loss_uses_the_unbiased_variance()
    {
        float[] target = { 1, 2, 3, 4 };
        double mean = 2.5, variance = (2.25 + 0.25 + 0.25 + 2.25) / 3; // n − 1
        double[] normalised = target.Select(t => (t - mean) / Math.Sqrt(variance + 1e-6)).ToArray();
        float[] pred = new float[4];
        double expected = normalised.Select(v => v * v).Average();
        Assert.Equal(expected, Blocks.PixelLoss(target, pred, new float[] { 1 }, 4, true), 6);
    }

    [Fact]
    public void Unshuffle_puts_kept_tokens_back_in_image_order_and_mask_tokens_elsewhere()
    {
        // L = 3, kept 1 (patch 2), D = 1. ids_restore: patch 2 was first in noise order.
        float[] tokens = { 100, 7 };          // CLS, kept patch
        float[] mask = { -1 };
        float[] pos = { 0.5f, 10, 20, 30 };
        int[] restore = { 1, 2, 0 };
        var hidden = new float[4];
        Blocks.Unshuffle(tokens, mask, pos, restore, hidden, 1);
        Assert.Equal(new[] { 100.5f, 9f, 19f, 37f }, hidden);
    }

    [Fact]
    public void Gather_prepends_cls_plus_its_position_and_keeps_noise_order()
    {
        float[] emb = { 1, 2, 3, 4 }; // L = 4, D = 1
        float[] pos = { 0.25f, 9, 9, 9, 9 };
        var hidden = new float[3];
        Blocks.GatherKept(emb, new float[] { 5 }, pos, new[] { 3, 1, 0, 2 }, hidden, 2);
        Assert.Equal(new[] { 5.25f, 4f, 2f }, hidden);
    }
}
