using System;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ViTMAE.Cli.Models;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Platform;

namespace ViTMAE.Cli;

/// <summary>
/// <c>vitmae bench [--weights …] [--batch N] [--threads N] [--iterations N]</c>: median time of the three workloads of
/// docs/BENCHMARKS.md on the vit-mae-base shape, one line each. The first call after load (which pays for page faults
/// and caches) is reported separately, as is the load itself (reading and packing the weights).
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var weights = new Option<string?>("--weights") { Description = "A Hugging Face checkpoint (default: deterministic random weights)" };
        var batch = new Option<int>("--batch") { Description = "Images per call", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Threads per call (default: every processor)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var iterations = new Option<int>("--iterations") { Description = "Timed calls per workload", DefaultValueFactory = _ => 10 };
        var command = new Command("bench", "Time ViTMAEForPreTraining, ViTMAEModel masked and unmasked") { weights, batch, threads, iterations };
        command.SetAction(r => Run(r.GetValue(weights), r.GetValue(batch), r.GetValue(threads), r.GetValue(iterations)));
        return command;
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

        string path = ModelSource.Resolve(weightsPath);
        var load = Stopwatch.StartNew();
        VitMaeBase masked = VitMaeBase.Load(path);
        Console.Error.WriteLine($"load: {load.Elapsed.TotalMilliseconds:F0} ms (read + pack)");
        load.Restart();
        VitMaeBaseUnmasked unmasked = VitMaeBaseUnmasked.Load(path);
        Console.Error.WriteLine($"load (unmasked class): {load.Elapsed.TotalMilliseconds:F0} ms");

        float[] pixels = SyntheticPixels(batch);
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
    private static float[] SyntheticPixels(int batch)
    {
        const int c = VitMaeBase.NumChannels, h = VitMaeBase.ImageHeight, w = VitMaeBase.ImageWidth;
        var pixels = new float[batch * c * h * w];
        for (int i = 0; i < pixels.Length; i++)
        {
            int x = i % w, y = i / w % h, ch = i / (w * h) % c;
            pixels[i] = MathF.Sin((x * 0.05f) + (ch * 1.3f)) * MathF.Cos(y * 0.07f);
        }

        return pixels;
    }
}
