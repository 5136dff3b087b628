using System;
using BenchmarkDotNet.Attributes;
using ViTMAE.Compiled.Benchmarks.Models;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Training;

namespace ViTMAE.Compiled.Benchmarks;

/// <summary>
/// One training step of ViTMAEForPreTraining (forward, backward, AdamW), random weights, fp32: the Fashion-MNIST config at
/// batch 64 and vit-mae-base at batch 8. ONNX Runtime does not train, so the peer is PyTorch, run side by side by
/// pytorch/run.sh (it cannot run inside BenchmarkDotNet); this table gives the allocation column and BDN's statistics.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 7, invocationCount: 1)]
public class TrainingBenchmarks
{
    private TrainingSession _trainer = null!;
    private float[] _pixels = null!, _noise = null!;
    private int _batch;

    /// <summary>fashion-mnist (batch 64) or vit-mae-base (batch 8).</summary>
    [Params("fashion-mnist", "vit-mae-base")]
    public string Model { get; set; } = "";

    /// <summary>Threads of the step.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new TrainingOptions { LearningRate = 1e-5, WeightDecay = 0.05 };
        int imageFloats, patches;
        if (Model == "fashion-mnist")
        {
            _batch = 64;
            _trainer = FashionMnist.CreateTrainer(ModelParameters.Random(FashionMnist.WeightLayout, 0), options, _batch, seed: 0, Threads);
            imageFloats = FashionMnist.NumChannels * FashionMnist.ImageHeight * FashionMnist.ImageWidth;
            patches = FashionMnist.NumPatches;
        }
        else
        {
            _batch = 8;
            _trainer = VitMaeBase.CreateTrainer(ModelParameters.Random(VitMaeBase.WeightLayout, 0), options, _batch, seed: 0, Threads);
            imageFloats = VitMaeBase.NumChannels * VitMaeBase.ImageHeight * VitMaeBase.ImageWidth;
            patches = VitMaeBase.NumPatches;
        }

        var random = new Random(42);
        _pixels = new float[_batch * imageFloats];
        _noise = new float[_batch * patches];
        for (int i = 0; i < _pixels.Length; i++)
        {
            _pixels[i] = (random.NextSingle() * 4) - 2;
        }

        for (int i = 0; i < _noise.Length; i++)
        {
            _noise[i] = random.NextSingle();
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _trainer.Dispose();

    [Benchmark]
    public float TrainingStep() => _trainer.Step(new ViTMAEInputs(_pixels, _batch) { Noise = _noise });
}
