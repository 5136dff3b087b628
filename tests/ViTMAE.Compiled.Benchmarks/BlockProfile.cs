using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using ViTMAE.Compiled.Benchmarks.Models;
using ViTMAE.Compiled.Kernels;
using ViTMAE.Compiled.Threading;

namespace ViTMAE.Compiled.Benchmarks;

/// <summary>
/// Where the time of one ViTMAEForPreTraining forward (vit-mae-base, batch 1) goes: every kernel call of the forward,
/// in its order and shapes, timed block by block (median of 11 rounds), with as many weight copies as the model has
/// layers so that weights stream from memory as they do in the model. Prints the markdown table of docs/BENCHMARKS.md.
/// Not a BenchmarkDotNet job: the point is the split, not a statistic. Run with the tiering delay off so that every
/// kernel is at Tier 1 from its first rounds:
/// <c>DOTNET_TC_CallCountingDelayMs=0 dotnet run -c Release --project tests/ViTMAE.Compiled.Benchmarks -- blocks 1</c>.
/// </summary>
internal static class BlockProfile
{
    private const int Warmup = 40, Rounds = 11;

    public static void Run(int threads)
    {
        using var pool = new ComputePool(threads);
        var random = new Random(1);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (random.NextSingle() * 2 - 1) * 0.05f).ToArray();
        var rows = new List<(string Name, double Gflop, double Ms)>();

        void Gemm(string name, int m, int n, int k, int layers, Epilogue epilogue = Epilogue.None, Activation activation = Activation.None)
        {
            PackedLinear[] weights = Enumerable.Range(0, layers).Select(_ => new PackedLinear(R(n * k), R(n), n, k)).ToArray();
            float[] a = R(m * k), c = new float[m * n];
            double ms = Median(() => { foreach (PackedLinear w in weights) w.Forward(a, c, m, epilogue, activation, pool); });
            rows.Add((name, 2.0 * m * n * k * layers / 1e9, ms));
        }

        void Attention(string name, int t, int heads, int headDim, int layers)
        {
            int d = heads * headDim;
            float[] qkv = R(t * 3 * d), context = new float[t * d], scratch = new float[AttentionKernel.ScratchLength(t, headDim) * threads];
            double ms = Median(() => { for (int l = 0; l < layers; l++) AttentionKernel.Forward(qkv, default, context, default, t, heads, headDim, scratch, pool); });
            rows.Add((name, 4.0 * t * t * d * layers / 1e9, ms));
        }

        void LayerNorms(string name, int t, int d, int count)
        {
            float[] x = R(t * d), gamma = R(d), beta = R(d), y = new float[t * d];
            double ms = Median(() => { for (int i = 0; i < count; i++) LayerNormKernel.Forward(x, gamma, beta, y, t, d, 1e-12f, pool); });
            rows.Add((name, 0, ms));
        }

        const int P = VitMaeBase.NumPatches, E = VitMaeBase.EncoderTokens, D = VitMaeBase.DecoderTokens;
        const int H = VitMaeBase.HiddenSize, I = VitMaeBase.IntermediateSize, L = VitMaeBase.NumHiddenLayers;
        const int Hd = VitMaeBase.DecoderHiddenSize, Id = VitMaeBase.DecoderIntermediateSize, Ld = VitMaeBase.DecoderNumHiddenLayers;
        Gemm("patch embedding", P, H, VitMaeBase.PatchDim, 1);
        Gemm("encoder QKV (fused)", E, 3 * H, H, L);
        Attention($"encoder attention (T = {E})", E, VitMaeBase.NumAttentionHeads, VitMaeBase.HeadDim, L);
        Gemm("encoder attention output + residual", E, H, H, L, Epilogue.Accumulate);
        Gemm("encoder FC1 + erf-GELU epilogue", E, I, H, L, Epilogue.Activation, Activation.GeluErf);
        Gemm("encoder FC2 + residual", E, H, I, L, Epilogue.Accumulate);
        LayerNorms($"encoder LayerNorms ({2 * L + 1})", E, H, 2 * L + 1);
        Gemm("decoder_embed", E, Hd, H, 1);
        Gemm("decoder QKV (fused)", D, 3 * Hd, Hd, Ld);
        Attention($"decoder attention (T = {D})", D, VitMaeBase.DecoderNumAttentionHeads, VitMaeBase.DecoderHeadDim, Ld);
        Gemm("decoder attention output + residual", D, Hd, Hd, Ld, Epilogue.Accumulate);
        Gemm("decoder FC1 + erf-GELU epilogue", D, Id, Hd, Ld, Epilogue.Activation, Activation.GeluErf);
        Gemm("decoder FC2 + residual", D, Hd, Id, Ld, Epilogue.Accumulate);
        LayerNorms($"decoder LayerNorms ({2 * Ld + 1})", D, Hd, 2 * Ld + 1);
        Gemm("decoder_pred", P, VitMaeBase.PatchDim, Hd, 1);

        Console.WriteLine($"threads={threads}");
        PrintTable(rows, "F1");
    }

    /// <summary>The markdown table of (block, GFLOP, ms) rows with their rates and a total line.</summary>
    internal static void PrintTable(List<(string Name, double Gflop, double Ms)> rows, string msFormat)
    {
        Console.WriteLine("| Block | GFLOP | ms | GFLOP/s |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        foreach ((string name, double gflop, double ms) in rows)
        {
            string flops = gflop > 0 ? gflop.ToString("F2", CultureInfo.InvariantCulture) : "—";
            string rate = gflop > 0 ? (gflop / ms * 1000).ToString("F0", CultureInfo.InvariantCulture) : "—";
            Console.WriteLine($"| {name} | {flops} | {ms.ToString(msFormat, CultureInfo.InvariantCulture)} | {rate} |");
        }

        double total = rows.Sum(r => r.Ms), totalFlop = rows.Sum(r => r.Gflop);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| total | {totalFlop:F2} | {total:F1} | {totalFlop / total * 1000:F0} |"));
    }

    private static double Median(Action body) => Median(body, Warmup, Rounds);

    /// <summary>The median time of <paramref name="rounds"/> runs of <paramref name="body"/> after <paramref name="warmup"/> unmeasured ones.</summary>
    internal static double Median(Action body, int warmup, int rounds)
    {
        for (int i = 0; i < warmup; i++) body();
        var times = new double[rounds];
        for (int i = 0; i < rounds; i++)
        {
            long start = Stopwatch.GetTimestamp();
            body();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(times);
        return times[rounds / 2];
    }
}
