using System;
using System.Globalization;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project tests/ViTMAE.Compiled.Benchmarks -- --filter '*'     (the table of docs/BENCHMARKS.md)
// dotnet run -c Release --project tests/ViTMAE.Compiled.Benchmarks -- blocks [threads]  (the per-block profile)
// dotnet run -c Release --project tests/ViTMAE.Compiled.Benchmarks -- train-blocks [threads]  (the same for a training step)
// dotnet run -c Release --project tests/ViTMAE.Compiled.Benchmarks -- threads           (1 vs 2 threads, idle and with a busy core)
// dotnet run -c Release --project tests/ViTMAE.Compiled.Benchmarks -- --filter "*Training*"  (training steps; PyTorch beside them: pytorch/run.sh)
if (args.Length > 0 && args[0] == "blocks")
{
    ViTMAE.Compiled.Benchmarks.BlockProfile.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : Environment.ProcessorCount);
    return;
}

if (args.Length > 0 && args[0] == "train-blocks")
{
    ViTMAE.Compiled.Benchmarks.TrainingProfile.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : Environment.ProcessorCount);
    return;
}

if (args.Length > 0 && args[0] == "threads")
{
    ViTMAE.Compiled.Benchmarks.ThreadProfile.Run();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(ViTMAE.Compiled.Benchmarks.ForwardBenchmarks).Assembly).Run(args);
