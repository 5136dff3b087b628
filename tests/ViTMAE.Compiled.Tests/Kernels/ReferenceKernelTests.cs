using System;
using ViTMAE.Compiled.Kernels;

namespace ViTMAE.Compiled.Tests.Kernels;

/// <summary>The oracle checked against independent facts (published values, hand-computed cases).</summary>
public class ReferenceKernelTests
{
    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.1, 0.1124629160182849)]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(2.0, 0.9953222650189527)]
    [InlineData(2.5, 0.9995930479825550)]
    [InlineData(3.0, 0.9999779095030014)]
    [InlineData(-1.5, -0.9661051464753108)]
    public void Erf_matches_published_values(double x, double erf)
        => Assert.True(Math.Abs(ReferenceKernels.Erf(x) - erf) < 1e-15, $"erf({x}) = {ReferenceKernels.Erf(x):R}, want {erf:R}");

    [Theory]
    [InlineData(3.0, 2.209049699858544e-05)]
    [InlineData(4.0, 1.541725790028002e-08)]
    [InlineData(6.0, 2.151973671249892e-17)]
    [InlineData(10.0, 2.088487583762545e-45)]
    public void Erfc_is_relatively_accurate_in_the_tail(double x, double erfc)
        => Assert.True(Math.Abs(ReferenceKernels.Erfc(x) / erfc - 1) < 1e-13, $"erfc({x}) = {ReferenceKernels.Erfc(x):R}, want {erfc:R}");

    [Fact]
    public void Erf_series_and_continued_fraction_agree_at_the_switch()
    {
        // Either side of 2.5 the two methods must join smoothly (derivative 2/√π·e^(−x²) ≈ 1.09e-3 there).
        double below = ReferenceKernels.Erfc(2.5 - 1e-9), above = ReferenceKernels.Erfc(2.5 + 1e-9);
        Assert.True(Math.Abs(below - above - 2e-9 * 2 / Math.Sqrt(Math.PI) * Math.Exp(-6.25)) < 1e-15);
    }

    [Fact]
    public void Gelu_and_selu_known_values()
    {
        Assert.Equal(0.8413447460685429, ReferenceKernels.GeluErf(1.0), 15);
        Assert.Equal(-0.15865525393145707, ReferenceKernels.GeluErf(-1.0), 15);
        Assert.Equal(0.8411919906082768, ReferenceKernels.GeluTanh(1.0), 15);
        Assert.Equal(1.0507009873554805, ReferenceKernels.Selu(1.0), 15);
        Assert.Equal(-1.1113307378125628, ReferenceKernels.Selu(-1.0), 14);
    }

    [Fact]
    public void Linear_hand_example()
    {
        // x [2,3], W [2,3], b [2]
        float[] x = [1, 2, 3, 4, 5, 6], w = [1, 0, -1, 2, 1, 0], b = [10, 20], y = new float[4];
        ReferenceKernels.Linear(x, w, b, y, 2, 2, 3);
        Assert.Equal([1 - 3 + 10, 2 + 2 + 20, 4 - 6 + 10, 8 + 5 + 20], y);
        ReferenceKernels.Linear(x, w, [], y, 2, 2, 3);
        Assert.Equal([-2f, 4, -2, 13], y);
    }

    [Fact]
    public void LayerNorm_hand_example()
    {
        float[] x = [1, 2, 3, 4], y = new float[4];
        ReferenceKernels.LayerNorm(x, [1, 1, 1, 1], [0, 0, 0, 0], y, 1, 4, 0f);
        double s = Math.Sqrt(1.25); // biased variance of 1..4
        Assert.Equal([(float)(-1.5 / s), (float)(-0.5 / s), (float)(0.5 / s), (float)(1.5 / s)], y);
    }

    [Fact]
    public void Softmax_is_max_subtracted()
    {
        float[] row = [1000f, 1000f, float.NegativeInfinity];
        ReferenceKernels.Softmax(row);
        Assert.Equal([0.5f, 0.5f, 0f], row);
    }

    [Fact]
    public void Attention_with_one_token_returns_v_and_probability_one_times_mask()
    {
        // T = 1, heads = 2, headDim = 2: softmax of one score is 1, so context = V·mask.
        float[] qkv = [1, 2, 3, 4, /*K*/ 5, 6, 7, 8, /*V*/ 9, 10, 11, 12];
        float[] ctx = new float[4], probs = new float[2];
        ReferenceKernels.Attention(qkv, ctx, 1, 2, 2, [1f, 0.5f], probs);
        Assert.Equal([9f, 10, 5.5f, 6], ctx);
        Assert.Equal([1f, 0.5f], probs);
    }

    [Fact]
    public void Attention_two_tokens_hand_computed()
    {
        // One head, headDim 1: q = [1, 0], k = [0, ln 3 · 1] -> scores row 0 = [0, ln3], row 1 = [0, 0].
        float l3 = (float)Math.Log(3);
        float[] qkv = [1, 0, 10, 0, l3, 20];
        float[] ctx = new float[2], probs = new float[4];
        ReferenceKernels.Attention(qkv, ctx, 2, 1, 1, [], probs);
        Assert.Equal(0.25f, probs[0], 6);
        Assert.Equal(0.75f, probs[1], 6);
        Assert.Equal(0.5f, probs[2], 6);
        Assert.Equal(0.5f, probs[3], 6);
        Assert.Equal(17.5f, ctx[0], 4);
        Assert.Equal(15f, ctx[1], 4);
    }
}
