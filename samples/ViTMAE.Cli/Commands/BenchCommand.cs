using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using ViTMAE.Cli.Models;
using ViTMAE.Compiled;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Platform;
using ViTMAE.Compiled.Training;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Cli;

/// <summary>
/// <c>vitmae bench [--weights …] [--batch N] [--threads N] [--iterations N]</c>: median time of the three workloads of
/// docs/BENCHMARKS.md on the vit-mae-base shape, one line each. The first call after load (which pays for page faults
/// and caches) is reported separately, as is the load itself (reading and packing the weights).
/// <c>vitmae bench --train [--model fashion-mnist|vit-mae-base] [--batch N] …</c>: the median training step (forward,
/// backward, AdamW) of the Fashion-MNIST config (batch 64 by default) and of vit-mae-base (batch 8).
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var weights = new Option<string?>("--weights") { Description = "A Hugging Face checkpoint (default: deterministic random weights)" };
        var batch = new Option<int>("--batch") { Description = "Images per call", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Threads per call (default: every processor)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var iterations = new Option<int>("--iterations") { Description = "Timed calls per workload", DefaultValueFactory = _ => 10 };
        var train = new Option<bool>("--train") { Description = "Time training steps (forward + backward + AdamW) instead of inference" };
        var model = new Option<string?>("--model") { Description = "With --train: fashion-mnist or vit-mae-base (default: both)" };
        var export = new Option<string?>("--export") { Description = "With --train: write each model's initial run, inputs and first loss to <folder>/<model>/ (for tests/ViTMAE.Compiled.Benchmarks/pytorch)" };
        var command = new Command("bench", "Time ViTMAEForPreTraining, ViTMAEModel masked and unmasked, or training steps") { weights, batch, threads, iterations, train, model, export };
        command.SetAction(r => r.GetValue(train)
            ? RunTraining(r.GetValue(model), r.GetValue(weights), r.GetResult(batch) is { Implicit: false } ? r.GetValue(batch) : null, r.GetValue(threads), r.GetValue(iterations), r.GetValue(export))
            : Run(r.GetValue(weights), r.GetValue(batch), r.GetValue(threads), r.GetValue(iterations)));
        return command;
    }

    private static int RunTraining(string? modelName, string? weightsPath, int? batchOption, int threads, int iterations, string? exportFolder)
    {
        if (batchOption < 1 || iterations < 1 || threads < 1)
        {
            throw new CliUsageException("--batch, --threads and --iterations must be at least 1");
        }

        IReadOnlyList<CompiledModels.Entry> models = modelName is null ? CompiledModels.All : [CompiledModels.ByName(modelName)];
        if (weightsPath is not null && models.Count != 1)
        {
            throw new CliUsageException("--weights with --train needs --model (the checkpoint must fit one config)");
        }

        Console.WriteLine("cpu: " + CpuInfo.Describe());
        if (IsaDispatch.Note() is string note)
        {
            Console.WriteLine("note: " + note);
        }

        foreach (CompiledModels.Entry model in models)
        {
            MeasureTraining(model, weightsPath, batchOption ?? model.DefaultTrainingBatch, threads, iterations, exportFolder);
        }

        return 0;
    }

    private static void MeasureTraining(CompiledModels.Entry model, string? weightsPath, int batch, int threads, int iterations, string? exportFolder)
    {
        ModelParameters parameters;
        if (weightsPath is null)
        {
            Console.Error.WriteLine($"{model.Name}: weights: a deterministic RANDOM initialisation (seed 0); the step's cost does not depend on the values");
            parameters = ModelParameters.Random(model.Layout, seed: 0);
        }
        else
        {
            using WeightSource source = WeightSource.Open(weightsPath);
            parameters = ModelParameters.Load(model.Layout, source);
        }

        // The MAE recipe's optimizer settings; the learning rate is small so that the timed steps stay in a sane regime.
        var options = new TrainingOptions { LearningRate = 1.5e-4 * batch / 256, WeightDecay = 0.05 };
        float[] pixels = SyntheticPixels(batch, model.Spec.NumChannels, model.Spec.ImageHeight, model.Spec.ImageWidth);
        var random = new Random(7);
        float[] noise = new float[batch * model.Spec.NumPatches];
        for (int i = 0; i < noise.Length; i++)
        {
            noise[i] = random.NextSingle();
        }

        using TrainingSession trainer = model.CreateTrainer(parameters, options, batch, 0, threads);
        var inputs = new ViTMAEInputs(pixels, batch) { Noise = noise };
        float firstLoss = trainer.Loss(inputs);
        if (exportFolder is not null)
        {
            // What the PyTorch script needs to check it computes the same model before it times it.
            string folder = Path.Combine(exportFolder, model.Name);
            trainer.Save(folder);
            new SafeTensorsWriter()
                .AddFloat32("pixel_values", pixels, batch, model.Spec.NumChannels, model.Spec.ImageHeight, model.Spec.ImageWidth)
                .AddFloat32("noise", noise, batch, model.Spec.NumPatches)
                .AddMetadata("loss", firstLoss.ToString("R", CultureInfo.InvariantCulture))
                .AddMetadata("learning_rate", options.LearningRate.ToString("R", CultureInfo.InvariantCulture))
                .AddMetadata("training_flops_per_image", model.TrainingFlopsPerImage.ToString(CultureInfo.InvariantCulture))
                .WriteTo(Path.Combine(folder, "inputs.safetensors"));
        }

        var timer = Stopwatch.StartNew();
        trainer.Step(inputs);
        double first = timer.Elapsed.TotalMilliseconds;
        trainer.Step(inputs); // warm
        var samples = new double[iterations];
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < iterations; i++)
        {
            timer.Restart();
            trainer.Step(inputs);
            samples[i] = timer.Elapsed.TotalMilliseconds;
        }

        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Array.Sort(samples);
        double median = iterations % 2 == 1 ? samples[iterations / 2] : (samples[(iterations / 2) - 1] + samples[iterations / 2]) / 2;
        double gflops = model.TrainingFlopsPerImage * (double)batch / (median * 1e6);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ViTMAEForPreTraining-train model={model.Name} batch={batch} threads={threads} median_ms={median:F2} gflops={gflops:F1} first_call_ms={first:F2} min_ms={samples[0]:F2} max_ms={samples[^1]:F2} loss0={firstLoss:R} alloc_bytes_per_step={allocated / iterations}"));
    }

    private static int Run(string? weightsPath, int batch, int threads, int iterations)
    {
        if (batch < 1 || iterations < 1)
        {
            throw new CliUsageException("--batch and --iterations must be at least 1");
        }

        if (threads < 1)
        {
            throw new CliUsageException("--threads must be at least 1");
        }

        // The machine first: a time means little without the CPU and the kernel width that produced it.
        Console.WriteLine("cpu: " + CpuInfo.Describe());
        if (IsaDispatch.Note() is string note)
        {
            Console.WriteLine("note: " + note);
        }

        // The inference benchmark measures vit-mae-base: its cost does not depend on the weights' values.
        string path = weightsPath ?? RandomInit.CachedCheckpoint(VitMaeBase.CompiledSpec, "vit-mae-base", seed: 0);
        Console.Error.WriteLine(weightsPath is null ? "weights: a deterministic RANDOM initialisation (seed 0) of vit-mae-base; timings are real" : "weights: " + weightsPath);
        var load = Stopwatch.StartNew();
        VitMaeBase masked = VitMaeBase.Load(path);
        Console.Error.WriteLine($"load: {load.Elapsed.TotalMilliseconds:F0} ms (read + pack)");
        load.Restart();
        VitMaeBaseUnmasked unmasked = VitMaeBaseUnmasked.Load(path);
        Console.Error.WriteLine($"load (unmasked class): {load.Elapsed.TotalMilliseconds:F0} ms");

        float[] pixels = SyntheticPixels(batch, VitMaeBase.NumChannels, VitMaeBase.ImageHeight, VitMaeBase.ImageWidth);
        using (var session = masked.CreateSession(batch, seed: 0, threads))
        {
            Measure("ViTMAEForPreTraining", session, pixels, batch, threads, iterations, VitMaeBase.PreTrainingFlopsPerImage, preTraining: true);
            Measure("ViTMAEModel-masked", session, pixels, batch, threads, iterations, VitMaeBase.ModelFlopsPerImage, preTraining: false);
        }

        using (var session = unmasked.CreateSession(batch, seed: 0, threads))
        {
            Measure("ViTMAEModel-unmasked", session, pixels, batch, threads, iterations, VitMaeBaseUnmasked.ModelFlopsPerImage, preTraining: false);
        }
        return 0;
    }

    private static void Measure(string workload, IViTMAESession session, float[] pixels, int batch, int threads, int iterations, long flopsPerImage, bool preTraining)
    {
        var timer = Stopwatch.StartNew();
        Call(session, pixels, batch, preTraining);
        double first = timer.Elapsed.TotalMilliseconds;
        Call(session, pixels, batch, preTraining); // warm
        var samples = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            timer.Restart();
            Call(session, pixels, batch, preTraining);
            samples[i] = timer.Elapsed.TotalMilliseconds;
        }

        Array.Sort(samples);
        double median = iterations % 2 == 1 ? samples[iterations / 2] : (samples[(iterations / 2) - 1] + samples[iterations / 2]) / 2;
        double gflops = flopsPerImage * (double)batch / (median * 1e6);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{workload} batch={batch} threads={threads} median_ms={median:F2} gflops={gflops:F1} first_call_ms={first:F2} min_ms={samples[0]:F2} max_ms={samples[^1]:F2}"));
    }

    private static void Call(IViTMAESession session, float[] pixels, int batch, bool preTraining)
    {
        var inputs = new ViTMAEInputs(pixels, batch);
        if (preTraining)
        {
            session.ForwardPreTraining(inputs);
        }
        else
        {
            session.Forward(inputs);
        }
    }

    /// <summary>A smooth, deterministic test pattern in normalised pixel units (the cost does not depend on the values).</summary>
    private static float[] SyntheticPixels(int batch, int c, int h, int w)
    {
        var pixels = new float[batch * c * h * w];
        for (int i = 0; i < pixels.Length; i++)
        {
            int x = i % w, y = i / w % h, ch = i / (w * h) % c;
            pixels[i] = MathF.Sin((x * 0.05f) + (ch * 1.3f)) * MathF.Cos(y * 0.07f);
        }

        return pixels;
    }
}
