using System;
using ViTMAE.Compiled.Kernels;
using static ViTMAE.Compiled.Tests.Kernels.KernelTestSupport;

namespace ViTMAE.Compiled.Tests.Kernels;

public class AttentionKernelTests
{
    public static TheoryData<string> Paths => PathData();

    private static void Check(SimdPath p, Random rng, int tokens, int heads, int headDim, bool mask, bool withProbs)
    {
        int d = heads * headDim;
        float[] qkv = Random(rng, tokens * 3 * d, 1.5f);
        float[] headMask = mask ? Random(rng, heads, 1f, 1f) : [];
        if (mask && heads > 1) headMask[1] = 0f; // a pruned head
        float[] wantCtx = new float[tokens * d], wantProbs = withProbs ? new float[heads * tokens * tokens] : [];
        ReferenceKernels.Attention(qkv, wantCtx, tokens, heads, headDim, headMask, wantProbs);

        float[] ctx = new float[tokens * d + 9];
        ctx.AsSpan().Fill(-777f);
        float[] probs = withProbs ? new float[heads * tokens * tokens] : [];
        float[] scratch = new float[AttentionKernel.ScratchLength(tokens, headDim)];
        scratch.AsSpan().Fill(float.NaN); // the kernel must not read scratch it has not written
        AttentionKernel.Forward(qkv, headMask, ctx, probs, tokens, heads, headDim, scratch, p);

        string what = $"{p} T={tokens} heads={heads} headDim={headDim} mask={mask} probs={withProbs}";
        for (int i = tokens * d; i < ctx.Length; i++) Assert.Equal(-777f, ctx[i]);
        // Probabilities ≤ 1 and |V| ≤ 1.5: absolute tolerances well above fp32 noise, far below any indexing mistake.
        AssertClose(wantCtx, ctx.AsSpan(0, tokens * d), _ => 2e-5, what + " context");
        if (withProbs) AssertClose(wantProbs, probs, _ => 2e-6, what + " probs");
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Attention_matches_reference(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(21);
        foreach (int tokens in new[] { 1, 5, 50 })
        foreach (int heads in new[] { 1, 3, 12 })
        foreach (int headDim in new[] { 64, 7, 32, 20 })
        foreach (bool mask in new[] { false, true })
        foreach (bool probs in new[] { false, true })
        {
            if (heads == 12 && headDim != 64 && tokens == 50) continue; // keep the oracle's run time small
            Check(p, rng, tokens, heads, headDim, mask, probs);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Attention_vit_base_shapes(string path)
    {
        var rng = new Random(22);
        Check(Parse(path), rng, 197, 12, 64, mask: false, withProbs: true);
        Check(Parse(path), rng, 197, 16, 32, mask: true, withProbs: false);
    }

    [Fact]
    public void Scratch_length_rule()
    {
        Assert.Equal(132 * 224, AttentionKernel.ScratchLength(197, 64));
        Assert.Equal(132 * 64, AttentionKernel.ScratchLength(50, 64));
        Assert.Equal(68 * 224, AttentionKernel.ScratchLength(197, 32));
        Assert.Equal(6 * 32, AttentionKernel.ScratchLength(1, 1));
        Assert.Equal(224, AttentionKernel.PaddedTokens(197));
        float[] qkv = new float[5 * 3 * 8], ctx = new float[5 * 8];
        Assert.Throws<ArgumentException>(() =>
            AttentionKernel.Forward(qkv, [], ctx, [], 5, 2, 4, new float[AttentionKernel.ScratchLength(5, 4) - 1]));
        Assert.Throws<ArgumentException>(() =>
            AttentionKernel.Forward(qkv, [], ctx, new float[10], 5, 2, 4, new float[AttentionKernel.ScratchLength(5, 4)]));
    }

    [Fact]
    public void Forward_does_not_allocate()
    {
        var rng = new Random(23);
        int t = 50, heads = 12, hd = 64, d = heads * hd;
        float[] qkv = Random(rng, t * 3 * d), ctx = new float[t * d], probs = new float[heads * t * t];
        float[] mask = Random(rng, heads), scratch = new float[AttentionKernel.ScratchLength(t, hd)];
        // Steady state: both variants (with and without head mask / probabilities) warmed first, so that one-time
        // costs of a first call on a path (type loading, tier-up) are not counted.
        for (int i = 0; i < 3; i++)
        {
            AttentionKernel.Forward(qkv, mask, ctx, probs, t, heads, hd, scratch);
            AttentionKernel.Forward(qkv, [], ctx, [], t, heads, hd, scratch);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        AttentionKernel.Forward(qkv, mask, ctx, probs, t, heads, hd, scratch);
        AttentionKernel.Forward(qkv, [], ctx, [], t, heads, hd, scratch);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
