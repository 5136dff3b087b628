using System;
using System.IO;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using ViTMAE.Compiled.Benchmarks.Models;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Onnx;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Benchmarks;

/// <summary>
/// vit-mae-base, random weights (the cost does not depend on the values), fp32: each workload run by the generated
/// code and by ONNX Runtime (all graph optimisations, the same intra-op thread count, no spinning) on the same
/// weights and inputs. ONNX Runtime is the baseline of each category, so the Ratio column is ours / ORT.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 9)]
public class ForwardBenchmarks
{
    private VitMaeBase _model = null!;
    private VitMaeBaseUnmasked _unmasked = null!;
    private IViTMAESession _session = null!, _unmaskedSession = null!;
    private OnnxReference _ortPreTraining = null!, _ortMasked = null!, _ortUnmasked = null!;
    private float[] _pixels = null!, _noise = null!, _unmaskedNoise = null!;

    /// <summary>Images per call.</summary>
    [Params(1, 8)]
    public int Batch { get; set; }

    /// <summary>Threads of both engines.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string weights = RandomWeights();
        _model = VitMaeBase.Load(weights);
        _unmasked = VitMaeBaseUnmasked.Load(weights);
        _session = _model.CreateSession(Batch, seed: 0, degreeOfParallelism: Threads);
        _unmaskedSession = _unmasked.CreateSession(Batch, seed: 0, degreeOfParallelism: Threads);

        var settings = new OnnxSessionSettings { IntraOpNumThreads = Threads };
        using WeightSource source = WeightSource.Open(weights);
        _ortPreTraining = OnnxReference.Create(VitMaeBase.CompiledSpec, source, new OnnxBuildOptions { Batch = Batch }, settings);
        _ortMasked = OnnxReference.Create(VitMaeBase.CompiledSpec, source, new OnnxBuildOptions { Batch = Batch, EncoderOnly = true }, settings);
        _ortUnmasked = OnnxReference.Create(VitMaeBaseUnmasked.CompiledSpec, source, new OnnxBuildOptions { Batch = Batch, EncoderOnly = true }, settings);

        var random = new Random(42);
        _pixels = new float[Batch * 3 * 224 * 224];
        _noise = new float[Batch * VitMaeBase.NumPatches];
        for (int i = 0; i < _pixels.Length; i++)
        {
            _pixels[i] = (random.NextSingle() * 4) - 2;
        }

        for (int i = 0; i < _noise.Length; i++)
        {
            _noise[i] = random.NextSingle();
        }

        _unmaskedNoise = _noise;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        (_session as IDisposable)?.Dispose();
        (_unmaskedSession as IDisposable)?.Dispose();
        _ortPreTraining.Dispose();
        _ortMasked.Dispose();
        _ortUnmasked.Dispose();
    }

    [Benchmark, BenchmarkCategory("ViTMAEForPreTraining")]
    public float PreTraining_Generated() => _session.ForwardPreTraining(new ViTMAEInputs(_pixels, Batch) { Noise = _noise }).Loss;

    [Benchmark(Baseline = true), BenchmarkCategory("ViTMAEForPreTraining")]
    public object PreTraining_OnnxRuntime() => _ortPreTraining.Run(_pixels, _noise);

    [Benchmark, BenchmarkCategory("ViTMAEModel masked")]
    public float ModelMasked_Generated() => _session.Forward(new ViTMAEInputs(_pixels, Batch) { Noise = _noise }).LastHiddenState.Span[0];

    [Benchmark(Baseline = true), BenchmarkCategory("ViTMAEModel masked")]
    public object ModelMasked_OnnxRuntime() => _ortMasked.Run(_pixels, _noise);

    [Benchmark, BenchmarkCategory("ViTMAEModel unmasked")]
    public float ModelUnmasked_Generated() => _unmaskedSession.Forward(new ViTMAEInputs(_pixels, Batch) { Noise = _unmaskedNoise }).LastHiddenState.Span[0];

    [Benchmark(Baseline = true), BenchmarkCategory("ViTMAEModel unmasked")]
    public object ModelUnmasked_OnnxRuntime() => _ortUnmasked.Run(_pixels, _unmaskedNoise);

    /// <summary>A deterministic random vit-mae-base checkpoint, written once to the temp folder (shared with <c>vitmae bench</c>).</summary>
    internal static string RandomWeights() => RandomInit.CachedCheckpoint(VitMaeBase.CompiledSpec, "vit-mae-base", seed: 0);
}
