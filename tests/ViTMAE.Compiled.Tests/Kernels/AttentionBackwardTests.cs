using System;
using ViTMAE.Compiled.Kernels;
using ViTMAE.Compiled.Threading;
using static ViTMAE.Compiled.Tests.Kernels.KernelTestSupport;

namespace ViTMAE.Compiled.Tests.Kernels;

/// <summary>AttentionKernel.Backward: dQ | dK | dV of one image from the forward's probabilities.</summary>
public class AttentionBackwardTests
{
    public static TheoryData<string> Paths => PathData();

    private const double U = 1.0 / (1 << 24);
    private const float Sentinel = -777f;

    private sealed record Inputs(float[] Qkv, float[] Mask, float[] Probs, float[] DContext, int T, int Heads, int HeadDim);

    /// <summary>Random q, k, v in ±1.5 and dContext in ±1; the probabilities from the kernel's own forward (same path).</summary>
    private static Inputs Make(Random rng, int t, int heads, int hd, float[] mask, SimdPath p)
    {
        int d = heads * hd;
        float[] qkv = Random(rng, t * 3 * d, 1.5f), dc = Random(rng, t * d);
        float[] probs = new float[heads * t * t], ctx = new float[t * d];
        AttentionKernel.Forward(qkv, mask, ctx, probs, t, heads, hd, new float[AttentionKernel.ScratchLength(t, hd)], p);
        return new Inputs(qkv, mask, probs, dc, t, heads, hd);
    }

    private static float[] Run(Inputs a, SimdPath p, ComputePool? pool = null, int workers = 1)
    {
        int size = a.T * 3 * a.Heads * a.HeadDim;
        float[] dqkv = new float[size + 11];
        dqkv.AsSpan().Fill(Sentinel);
        float[] scratch = new float[workers * AttentionKernel.BackwardScratchLength(a.T, a.HeadDim)];
        scratch.AsSpan().Fill(float.NaN); // the kernel must not use scratch it has not written
        AttentionKernel.Backward(a.Qkv, a.Probs, a.Mask, a.DContext, dqkv, a.T, a.Heads, a.HeadDim, scratch, p, pool);
        for (int i = size; i < dqkv.Length; i++) Assert.Equal(Sentinel, dqkv[i]);
        return dqkv.AsSpan(0, size).ToArray();
    }

    /// <summary>
    /// Per-element tolerance. Every quantity is a sum of products whose float evaluation errs by at most (terms + a few)·u
    /// relative to the sum of the products' absolute values; the probabilities add their own relative error, which is the
    /// absolute error of the logits, ≤ (headDim + 4)·u·s·Σ_c|q_c·k_c|, plus (T + 8)·u from exp and the softmax sum. So the
    /// error of each gradient is bounded by 4·((T + headDim + 8)·u + δP) times the same computation done on absolute
    /// values (|P|·|dC| for dV, P·(|dC|·|V| + Σ P·|dC|·|V|) for dS, then |dS|·|K| and |dS|·|Q|), which this builds in double.
    /// </summary>
    private static Func<int, double> Tolerance(Inputs a)
    {
        int t = a.T, hd = a.HeadDim, d = a.Heads * hd, ld = 3 * d;
        double s = 1 / Math.Sqrt(hd);
        var bound = new double[t * ld];
        var p = new double[t * t];
        var ads = new double[t * t];
        for (int h = 0; h < a.Heads; h++)
        {
            int qo = h * hd, ko = d + qo, vo = 2 * d + qo;
            double m = a.Mask.Length == 0 ? 1 : Math.Abs(a.Mask[h]);
            double deltaP = 0;
            for (int i = 0; i < t; i++)
            {
                double max = double.NegativeInfinity, sum = 0;
                for (int j = 0; j < t; j++)
                {
                    double dot = 0, abs = 0;
                    for (int c = 0; c < hd; c++)
                    {
                        dot += (double)a.Qkv[i * ld + qo + c] * a.Qkv[j * ld + ko + c];
                        abs += Math.Abs((double)a.Qkv[i * ld + qo + c] * a.Qkv[j * ld + ko + c]);
                    }
                    p[i * t + j] = dot * s;
                    max = Math.Max(max, p[i * t + j]);
                    deltaP = Math.Max(deltaP, (hd + 4) * U * s * abs);
                }
                for (int j = 0; j < t; j++) sum += p[i * t + j] = Math.Exp(p[i * t + j] - max);
                double rho = 0;
                for (int j = 0; j < t; j++)
                {
                    p[i * t + j] /= sum;
                    double adp = 0;
                    for (int c = 0; c < hd; c++) adp += Math.Abs((double)a.DContext[i * d + qo + c] * a.Qkv[j * ld + vo + c]);
                    ads[i * t + j] = m * adp;
                    rho += p[i * t + j] * ads[i * t + j];
                }
                for (int j = 0; j < t; j++) ads[i * t + j] = p[i * t + j] * (ads[i * t + j] + rho);
            }
            double factor = 4 * ((t + hd + 8) * U + deltaP + (t + 8) * U);
            for (int i = 0; i < t; i++)
            for (int c = 0; c < hd; c++)
            {
                double dq = 0, dk = 0, dv = 0;
                for (int j = 0; j < t; j++)
                {
                    dq += ads[i * t + j] * Math.Abs(a.Qkv[j * ld + ko + c]);
                    dk += ads[j * t + i] * Math.Abs(a.Qkv[j * ld + qo + c]);
                    dv += m * p[j * t + i] * Math.Abs(a.DContext[j * d + qo + c]);
                }
                bound[i * ld + qo + c] = factor * s * dq;
                bound[i * ld + ko + c] = factor * s * dk;
                bound[i * ld + vo + c] = factor * dv;
            }
        }
        return i => bound[i] + 1e-30;
    }

    private static float[] MaskFor(bool masked, int heads) =>
        !masked ? [] : heads == 1 ? [0.75f] : heads == 2 ? [0f, 1.25f] : [0.5f, 0f, 1.5f, 1f];

    [Theory]
    [MemberData(nameof(Paths))]
    public void Backward_matches_the_double_reference(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(71);
        foreach (int t in new[] { 1, 2, 17, 50, 197 })
        foreach (int hd in new[] { 8, 12, 16, 64 })
        foreach (bool masked in new[] { false, true })
        {
            int heads = t == 197 ? (masked ? 2 : 1) : masked ? 4 : 3;
            if (t == 197 && hd == 12 && p == SimdPath.Scalar) continue; // the same code as hd = 8 and 16; keeps the oracle's time down
            Inputs a = Make(rng, t, heads, hd, MaskFor(masked, heads), p);
            float[] want = new float[t * 3 * heads * hd];
            ReferenceKernels.AttentionBackward(a.Qkv, a.Mask, a.DContext, want, t, heads, hd);
            float[] got = Run(a, p);
            AssertClose(want, got, Tolerance(a), $"{path} T={t} heads={heads} headDim={hd} mask=[{string.Join(", ", a.Mask)}]");
            if (masked && heads > 1)
            {
                // The head with mask 0 gets exactly zero gradients.
                int d = heads * hd, zero = Array.IndexOf(a.Mask, 0f);
                for (int i = 0; i < t; i++)
                for (int part = 0; part < 3; part++)
                for (int c = 0; c < hd; c++)
                    Assert.Equal(0f, got[i * 3 * d + part * d + zero * hd + c]);
            }
        }
    }

    /// <summary>Σ w⊙context in double (the forward of ReferenceKernels.Attention without its final rounding).</summary>
    private static double Loss(double[] qkv, float[] mask, float[] w, int t, int heads, int hd)
    {
        int d = heads * hd, ld = 3 * d;
        double s = 1 / Math.Sqrt(hd), loss = 0;
        var p = new double[t];
        for (int h = 0; h < heads; h++)
        {
            double m = mask.Length == 0 ? 1 : mask[h];
            for (int i = 0; i < t; i++)
            {
                double max = double.NegativeInfinity, sum = 0;
                for (int j = 0; j < t; j++)
                {
                    double dot = 0;
                    for (int c = 0; c < hd; c++) dot += qkv[i * ld + h * hd + c] * qkv[j * ld + d + h * hd + c];
                    p[j] = dot * s;
                    max = Math.Max(max, p[j]);
                }
                for (int j = 0; j < t; j++) sum += p[j] = Math.Exp(p[j] - max);
                for (int c = 0; c < hd; c++)
                {
                    double acc = 0;
                    for (int j = 0; j < t; j++) acc += p[j] / sum * m * qkv[j * ld + 2 * d + h * hd + c];
                    loss += w[i * d + h * hd + c] * acc;
                }
            }
        }
        return loss;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Backward_agrees_with_central_finite_differences(string path)
    {
        // loss = Σ w⊙attention(qkv) in double with dContext = w; central differences with h = 1e-4 in double: truncation
        // h²/6·|∂³loss| ≲ 1e-8 (the softmax of logits of size ~3 has bounded derivatives) and cancellation ~1e-16·|loss|/h
        // ≲ 1e-10, so the comparison measures the kernel's float error (the tolerance above, plus 1e-7) and checks the
        // gradient formulas independently of the reference backward. Masks with a zero and non-unit entries.
        SimdPath p = Parse(path);
        var rng = new Random(72);
        foreach (var (t, heads, hd, masked, samples) in new[] { (5, 3, 8, false, 0), (5, 4, 8, true, 0), (17, 2, 12, true, 0), (50, 3, 16, false, 400), (50, 4, 16, true, 400) })
        {
            Inputs a = Make(rng, t, heads, hd, MaskFor(masked, heads), p);
            float[] got = Run(a, p);
            Func<int, double> tol = Tolerance(a);
            double[] qkv = Array.ConvertAll(a.Qkv, v => (double)v);
            const double h = 1e-4;
            int count = samples == 0 ? qkv.Length : samples;
            for (int n = 0; n < count; n++)
            {
                int i = samples == 0 ? n : rng.Next(qkv.Length);
                double keep = qkv[i];
                qkv[i] = keep + h;
                double plus = Loss(qkv, a.Mask, a.DContext, t, heads, hd);
                qkv[i] = keep - h;
                double minus = Loss(qkv, a.Mask, a.DContext, t, heads, hd);
                qkv[i] = keep;
                double fd = (plus - minus) / (2 * h);
                Assert.True(Math.Abs(got[i] - fd) <= tol(i) + 1e-7,
                    $"{path} T={t} heads={heads} headDim={hd} mask=[{string.Join(", ", a.Mask)}]: d/dqkv[{i}] kernel {got[i]:R}, finite differences {fd:R}, tolerance {tol(i) + 1e-7:E3}");
            }
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Backward_is_bit_identical_on_any_pool(int workers)
    {
        var rng = new Random(73);
        using var pool = new ComputePool(workers);
        foreach (var (t, heads, hd, masked) in new[] { (197, 12, 64, false), (50, 4, 12, true), (13, 3, 64, false) })
        {
            Inputs a = Make(rng, t, heads, hd, MaskFor(masked, heads), SimdPath.Auto);
            float[] serial = Run(a, SimdPath.Auto);
            for (int repeat = 0; repeat < 3; repeat++)
                Assert.Equal(serial, Run(a, SimdPath.Auto, pool, workers));
        }
    }

    [Fact]
    public void Scratch_rule_zero_tokens_and_misuse()
    {
        Assert.Equal(480 * 224, AttentionKernel.BackwardScratchLength(197, 64));
        Assert.Equal(320 * 64, AttentionKernel.BackwardScratchLength(50, 64));
        Assert.Equal(288 * 32, AttentionKernel.BackwardScratchLength(13, 64));
        Assert.Equal(0, AttentionKernel.BackwardScratchLength(0, 8));
        int t = 5, heads = 2, hd = 4, d = heads * hd;
        float[] qkv = new float[t * 3 * d], probs = new float[heads * t * t], dc = new float[t * d], dq = new float[t * 3 * d];
        float[] s = new float[AttentionKernel.BackwardScratchLength(t, hd)];
        var ex = Assert.Throws<ArgumentException>(() => AttentionKernel.Backward(qkv, probs.AsSpan(1), [], dc, dq, t, heads, hd, s));
        Assert.Contains($"probs has {heads * t * t - 1} floats, expected at least heads × tokens × tokens = {heads * t * t}", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => AttentionKernel.Backward(qkv.AsSpan(1), probs, [], dc, dq, t, heads, hd, s));
        Assert.Throws<ArgumentException>(() => AttentionKernel.Backward(qkv, probs, [], dc.AsSpan(1), dq, t, heads, hd, s));
        Assert.Throws<ArgumentException>(() => AttentionKernel.Backward(qkv, probs, [], dc, dq.AsSpan(1), t, heads, hd, s));
        Assert.Throws<ArgumentException>(() => AttentionKernel.Backward(qkv, probs, [1f], dc, dq, t, heads, hd, s));
        Assert.Throws<ArgumentException>(() => AttentionKernel.Backward(qkv, probs, [], dc, dq, t, heads, hd, s.AsSpan(1)));
        Assert.Throws<ArgumentException>(() => AttentionKernel.Backward(qkv, probs, [], dc, qkv, t, heads, hd, s)); // overlap
        AttentionKernel.Backward([], [], [], [], [], 0, heads, hd, []); // no tokens: nothing to do
    }

    [Fact]
    public void Backward_does_not_allocate()
    {
        var rng = new Random(74);
        Inputs a = Make(rng, 50, 4, 64, [1f, 0f, 0.5f, 2f], SimdPath.Auto);
        float[] dq = new float[50 * 3 * 256], s = new float[2 * AttentionKernel.BackwardScratchLength(50, 64)];
        using var pool = new ComputePool(2);
        void Call()
        {
            AttentionKernel.Backward(a.Qkv, a.Probs, a.Mask, a.DContext, dq, 50, 4, 64, s);
            AttentionKernel.Backward(a.Qkv, a.Probs, [], a.DContext, dq, 50, 4, 64, s, pool);
        }
        Call();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Call();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
