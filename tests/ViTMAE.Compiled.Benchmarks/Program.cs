using BenchmarkDotNet.Running;

// dotnet run -c Release --project tests/ViTMAE.Compiled.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(ViTMAE.Compiled.Benchmarks.ForwardBenchmarks).Assembly).Run(args);
