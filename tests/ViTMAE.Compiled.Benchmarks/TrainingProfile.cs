using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ViTMAE.Compiled.Benchmarks.Models;
using ViTMAE.Compiled.Kernels;
using ViTMAE.Compiled.Threading;

namespace ViTMAE.Compiled.Benchmarks;

/// <summary>
/// Where the time of one training step of the Fashion-MNIST config (batch 64) goes, by kernel kind: the GEMMs of the
/// forward, their input gradients (dX = dY·W) and weight gradients (dW += dYᵀ·X), attention forward and backward (per
/// image, as the generated code calls them), LayerNorm forward and backward, the GELU derivative, AdamW. Each row runs
/// the calls of every layer with the step's shapes. Not a BenchmarkDotNet job: the point is the split.
/// <c>DOTNET_TC_CallCountingDelayMs=0 dotnet run -c Release --project tests/ViTMAE.Compiled.Benchmarks -- train-blocks 1</c>.
/// </summary>
internal static class TrainingProfile
{
    private const int Warmup = 10, Rounds = 9, Batch = 64;

    public static void Run(int threads)
    {
        using var pool = new ComputePool(threads);
        var random = new Random(1);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (random.NextSingle() * 2 - 1) * 0.05f).ToArray();
        var rows = new List<(string Name, double Gflop, double Ms)>();

        const int E = FashionMnist.EncoderTokens, D = FashionMnist.DecoderTokens;
        const int H = FashionMnist.HiddenSize, I = FashionMnist.IntermediateSize, L = FashionMnist.NumHiddenLayers;
        const int Hd = FashionMnist.DecoderHiddenSize, Id = FashionMnist.DecoderIntermediateSize, Ld = FashionMnist.DecoderNumHiddenLayers;
        const int Me = Batch * E, Md = Batch * D;
        var linears = new (string Name, int M, int N, int K, int Count)[]
        {
            ("patch embedding", Batch * FashionMnist.NumPatches, H, FashionMnist.PatchDim, 1),
            ("encoder QKV", Me, 3 * H, H, L), ("encoder attention output", Me, H, H, L),
            ("encoder FC1", Me, I, H, L), ("encoder FC2", Me, H, I, L),
            ("decoder_embed", Me, Hd, H, 1),
            ("decoder QKV", Md, 3 * Hd, Hd, Ld), ("decoder attention output", Md, Hd, Hd, Ld),
            ("decoder FC1", Md, Id, Hd, Ld), ("decoder FC2", Md, Hd, Id, Ld),
            ("decoder_pred", Md, FashionMnist.PatchDim, Hd, 1),
        };

        foreach ((string name, int m, int n, int k, int count) in linears)
        {
            var w = new PackedLinear(R(n * k), R(n), n, k);
            w.EnableBackward();
            float[] x = R(m * k), y = new float[m * n], dW = new float[n * k], dB = new float[n];
            float[] scratch = new float[GradientKernels.WeightGradientScratch(m, n, k)];
            double gflop = 2.0 * m * n * k * count / 1e9;
            rows.Add((name + " forward", gflop, Median(() => { for (int i = 0; i < count; i++) w.Forward(x, y, m, pool: pool); })));
            if (name != "patch embedding")
                rows.Add((name + " dX", gflop, Median(() => { for (int i = 0; i < count; i++) w.BackwardInput(y, x, m, pool: pool); })));
            rows.Add((name + " dW", gflop, Median(() => { for (int i = 0; i < count; i++) GradientKernels.WeightGradient(y, n, x, dW, dB, m, n, k, scratch, pool); })));
        }

        void Attention(string name, int t, int heads, int headDim, int layers)
        {
            int d = heads * headDim;
            float[] qkv = R(t * 3 * d), context = new float[t * d], probs = new float[heads * t * t], dQkv = new float[t * 3 * d];
            float[] scratch = new float[Math.Max(AttentionKernel.ScratchLength(t, headDim), AttentionKernel.BackwardScratchLength(t, headDim)) * threads];
            double gflop = 4.0 * t * t * d * layers * Batch / 1e9;
            rows.Add((name + " forward", gflop, Median(() => { for (int l = 0; l < layers * Batch; l++) AttentionKernel.Forward(qkv, default, context, probs, t, heads, headDim, scratch, pool); })));
            rows.Add((name + " backward", 2 * gflop, Median(() => { for (int l = 0; l < layers * Batch; l++) AttentionKernel.Backward(qkv, probs, default, context, dQkv, t, heads, headDim, scratch, pool); })));
        }

        Attention($"encoder attention (T = {E})", E, FashionMnist.NumAttentionHeads, FashionMnist.HeadDim, L);
        Attention($"decoder attention (T = {D})", D, FashionMnist.DecoderNumAttentionHeads, FashionMnist.DecoderHeadDim, Ld);

        void LayerNorms(string name, int t, int d, int count)
        {
            float[] x = R(t * d), gamma = R(d), beta = R(d), y = new float[t * d], stats = new float[2 * t], dX = new float[t * d], dG = new float[d], dB = new float[d];
            rows.Add((name + " forward", 0, Median(() => { for (int i = 0; i < count; i++) LayerNormKernel.Forward(x, gamma, beta, y, stats, t, d, 1e-12f, pool); })));
            rows.Add((name + " backward", 0, Median(() => { for (int i = 0; i < count; i++) LayerNormKernel.Backward(y, x, gamma, stats, dX, dG, dB, t, d, false, pool); })));
        }

        LayerNorms($"encoder LayerNorms ({2 * L + 1})", Me, H, 2 * L + 1);
        LayerNorms($"decoder LayerNorms ({2 * Ld + 1})", Md, Hd, 2 * Ld + 1);

        float[] pre = R(Md * Id), dOut = R(Md * Id), dIn = new float[Md * Id];
        rows.Add(("GELU backward (every layer)", 0, Median(() =>
        {
            for (int i = 0; i < L; i++) Activations.Backward(Activation.GeluErf, pre.AsSpan(0, Me * I), dOut.AsSpan(0, Me * I), dIn.AsSpan(0, Me * I));
            for (int i = 0; i < Ld; i++) Activations.Backward(Activation.GeluErf, pre, dOut, dIn);
        })));

        // The whole step, split where the public API splits it: the kernels above should add up to most of it.
        using (var trainer = FashionMnist.CreateTrainer(Training.ModelParameters.Random(FashionMnist.WeightLayout, 0), new Training.TrainingOptions { LearningRate = 1e-6 }, Batch, 0, threads))
        {
            float[] pixels = R(Batch * FashionMnist.ImageHeight * FashionMnist.ImageWidth), noise = R(Batch * FashionMnist.NumPatches);
            double forward = Median(() => trainer.Loss(new Modeling.ViTMAEInputs(pixels, Batch) { Noise = noise }));
            double backward = Median(() => { trainer.ComputeGradients(new Modeling.ViTMAEInputs(pixels, Batch) { Noise = noise }); trainer.ZeroGradients(); });
            double step = Median(() => trainer.Step(new Modeling.ViTMAEInputs(pixels, Batch) { Noise = noise }));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"whole step: forward (Loss) {forward:F1} ms, forward + backward (ComputeGradients) {backward:F1} ms, Step (+ AdamW, re-pack) {step:F1} ms"));
        }

        Console.WriteLine($"fashion-mnist, batch {Batch}, threads={threads}");
        BlockProfile.PrintTable(rows, "F2");
    }

    private static double Median(Action body) => BlockProfile.Median(body, Warmup, Rounds);
}
