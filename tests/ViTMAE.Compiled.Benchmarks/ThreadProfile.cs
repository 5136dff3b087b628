using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using ViTMAE.Compiled.Benchmarks.Models;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Platform;

namespace ViTMAE.Compiled.Benchmarks;

/// <summary>
/// Whether threads hurt: the tiny model (every kernel a few microseconds) and vit-mae-base ViTMAEForPreTraining at
/// batch 1, on 1 and 2 threads, on an idle machine and with a busy loop holding one core (a thread of this process
/// at normal priority, which the scheduler treats like another process's). Median, 90th percentile and maximum per
/// call. Not a BenchmarkDotNet job: the point is the behaviour under load, which BenchmarkDotNet's process isolation
/// and outlier removal would hide.
/// <c>dotnet run -c Release --project tests/ViTMAE.Compiled.Benchmarks -- threads</c>.
/// </summary>
internal static class ThreadProfile
{
    public static void Run()
    {
        Console.WriteLine("cpu: " + CpuInfo.Describe());
        string baseWeights = ForwardBenchmarks.RandomWeights();
        string tinyWeights = RandomInit.CachedCheckpoint(Tiny.CompiledSpec, "tiny", seed: 0);
        var tiny = Tiny.Load(tinyWeights);
        var vitBase = VitMaeBase.Load(baseWeights);
        Console.WriteLine("| Model | Load | Threads | Median ms | p90 ms | Max ms |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: | ---: |");
        foreach (bool busy in new[] { false, true })
        {
            using var hog = busy ? new BusyCore() : null;
            foreach (int threads in new[] { 1, 2 })
            {
                Measure("tiny", busy, threads, tiny, 32 * 32 * 3, calls: 4000);
                Measure("vit-mae-base", busy, threads, vitBase, 224 * 224 * 3, calls: 40);
            }
        }
    }

    private static void Measure(string name, bool busy, int threads, IViTMAEModel model, int pixelsPerImage, int calls)
    {
        float[] pixels = new float[pixelsPerImage];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = MathF.Sin(i * 0.01f);
        }

        using IViTMAESession session = model.CreateSession(1, seed: 0, degreeOfParallelism: threads);
        var inputs = new ViTMAEInputs(pixels, 1);
        for (int i = 0; i < Math.Min(calls, 200); i++)
        {
            session.ForwardPreTraining(inputs);
        }

        double[] ms = new double[calls];
        var timer = new Stopwatch();
        for (int i = 0; i < calls; i++)
        {
            timer.Restart();
            session.ForwardPreTraining(inputs);
            ms[i] = timer.Elapsed.TotalMilliseconds;
        }

        Array.Sort(ms);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {(busy ? "one core busy" : "idle")} | {threads} | {ms[calls / 2]:F3} | {ms[calls * 9 / 10]:F3} | {ms[^1]:F3} |"));
    }

    /// <summary>A thread spinning at normal priority until disposed: one core's worth of competing load.</summary>
    private sealed class BusyCore : IDisposable
    {
        private volatile bool _stop;
        private readonly Thread _thread;

        public BusyCore()
        {
            _thread = new Thread(() =>
            {
                double x = 1;
                while (!_stop)
                {
                    x = Math.Sqrt(x + 1);
                }

                GC.KeepAlive(x);
            }) { IsBackground = true, Name = "busy core" };
            _thread.Start();
        }

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
        }
    }
}
