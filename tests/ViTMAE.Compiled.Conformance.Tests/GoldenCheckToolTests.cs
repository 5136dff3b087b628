using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using ViTMAE.Compiled.GoldenCheck;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Conformance.Tests;

/// <summary>The checker itself: exit codes, the summary line, and that a wrong tensor is caught.</summary>
public sealed class GoldenCheckToolTests : IDisposable
{
    private static readonly Regex SummaryLine = new(@"^(\d+) passed, (\d+) failed$", RegexOptions.CultureInvariant);

    private readonly string _temp = Path.Combine(Path.GetTempPath(), "vitmae-goldencheck-" + Guid.NewGuid().ToString("N"));

    public GoldenCheckToolTests() => Directory.CreateDirectory(_temp);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_temp, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static (int ExitCode, string[] Out, string Err) RunTool(params string[] args)
    {
        using var stdout = new StringWriter(CultureInfo.InvariantCulture);
        using var stderr = new StringWriter(CultureInfo.InvariantCulture);
        int code = GoldenCheckCommand.Run(args, stdout, stderr);
        return (code, stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray(), stderr.ToString());
    }

    /// <summary>A copy of <paramref name="caseName"/> whose io.safetensors has <paramref name="tensor"/>[0] changed by <paramref name="delta"/>.</summary>
    private string CorruptedCopy(string caseName, string tensor, float delta)
    {
        string source = GoldenData.Case(caseName);
        string target = Path.Combine(_temp, caseName + "-corrupted");
        Directory.CreateDirectory(target);
        File.Copy(Path.Combine(source, "config.json"), Path.Combine(target, "config.json"));
        File.Copy(Path.Combine(source, "model.safetensors"), Path.Combine(target, "model.safetensors"));
        // The training reference travels with the case: without it the copy would check fewer tensors than the original.
        if (File.Exists(Path.Combine(source, "grads.safetensors")))
            File.Copy(Path.Combine(source, "grads.safetensors"), Path.Combine(target, "grads.safetensors"));
        var writer = new SafeTensorsWriter();
        using (SafeTensorsFile io = SafeTensorsFile.Open(Path.Combine(source, "io.safetensors")))
        {
            foreach ((string name, TensorInfo info) in io.Tensors)
            {
                int[] shape = info.Shape.Select(d => checked((int)d)).ToArray();
                if (name == tensor)
                {
                    float[] values = io.ReadFloat32(name);
                    values[0] += delta;
                    writer.AddFloat32(name, values, shape);
                }
                else
                {
                    writer.AddRaw(name, info.DType, io.GetBytes(name), shape);
                }
            }
        }

        writer.WriteTo(Path.Combine(target, "io.safetensors"));
        return target;
    }

    private static string? LineOf(string[] lines, string tensor) =>
        lines.FirstOrDefault(l => l.TrimStart().StartsWith(tensor + " ", StringComparison.Ordinal));

    [Fact]
    public void A_corrupted_reference_tensor_fails_the_check()
    {
        string corrupted = CorruptedCopy("tiny-default", "pretraining.logits", 1f);
        var (code, lines, err) = RunTool(corrupted);

        Assert.Equal("", err);
        Assert.Equal(GoldenCheckCommand.ExitFailed, code);
        Match summary = SummaryLine.Match(lines[^1]);
        Assert.True(summary.Success, "last line: " + lines[^1]);
        Assert.True(int.Parse(summary.Groups[2].Value, CultureInfo.InvariantCulture) >= 1, lines[^1]);
        string? logits = LineOf(lines, "pretraining.logits");
        Assert.NotNull(logits);
        Assert.Contains("FAIL", logits, StringComparison.Ordinal);

        // When the model reproduces the untouched case, the corruption must be the only failure, by exactly 1.
        GoldenCaseResult original = GoldenCase.Open(GoldenData.Case("tiny-default")).Run();
        if (original.Passed)
        {
            GoldenCaseResult result = GoldenCase.Open(corrupted).Run();
            TensorResult bad = Assert.Single(result.Failures);
            Assert.Equal("pretraining.logits", bad.Name);
            Assert.InRange(bad.MaxAbs, 0.999, 1.001);
            Assert.Equal(original.Tensors.Count - 1, int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public void A_missing_folder_is_a_usage_error()
    {
        var (code, lines, err) = RunTool(Path.Combine(_temp, "does-not-exist"));
        Assert.Equal(GoldenCheckCommand.ExitUsage, code);
        Assert.Empty(lines);
        Assert.Contains("no such folder", err, StringComparison.Ordinal);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void No_arguments_is_a_usage_error()
    {
        var (code, _, err) = RunTool();
        Assert.Equal(GoldenCheckCommand.ExitUsage, code);
        Assert.Contains("no case folder", err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_without_the_golden_files_is_a_usage_error()
    {
        string folder = Path.Combine(_temp, "incomplete");
        Directory.CreateDirectory(folder);
        File.Copy(Path.Combine(GoldenData.Case("tiny-default"), "config.json"), Path.Combine(folder, "config.json"));
        var (code, _, err) = RunTool(folder);
        Assert.Equal(GoldenCheckCommand.ExitUsage, code);
        Assert.Contains("missing model.safetensors, io.safetensors", err, StringComparison.Ordinal);
    }

    [Fact]
    public void The_executable_exits_with_2_on_a_missing_folder()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "ViTMAE.Compiled.GoldenCheck.dll");
        Assert.True(File.Exists(dll), dll);
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add(Path.Combine(_temp, "does-not-exist"));
        using var process = System.Diagnostics.Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), "the tool did not exit");
        Assert.Equal(GoldenCheckCommand.ExitUsage, process.ExitCode);
        Assert.Equal("", stdout);
        Assert.StartsWith("GoldenCheck: no such folder", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Generator_diagnostics_fail_compilation()
    {
        string config = File.ReadAllText(Path.Combine(GoldenData.Case("tiny-default"), "config.json")).Replace("\"hidden_size\": 64", "\"hidden_size\": \"64\"", StringComparison.Ordinal);
        ModelCompilationException e = Assert.Throws<ModelCompilationException>(() => InMemoryModelCompiler.Compile(config, new ModelCompileOptions()));
        Assert.Equal("generator", e.Stage);
        Assert.Contains(e.Diagnostics, d => d.Contains("VMAE002", StringComparison.Ordinal));
    }

    [Fact]
    public void The_generated_class_compiles_in_memory_with_the_golden_len_keep()
    {
        string folder = GoldenData.Case("small-odd-default");
        long lenKeep;
        using (SafeTensorsFile io = SafeTensorsFile.Open(Path.Combine(folder, "io.safetensors")))
        {
            lenKeep = io.ReadInt64("debug.len_keep")[0];
        }

        using CompiledModel compiled = InMemoryModelCompiler.Compile(File.ReadAllText(Path.Combine(folder, "config.json")), new ModelCompileOptions());
        Assert.Equal("GoldenCheck.Generated.GoldenModel", compiled.ModelType.FullName);
        Assert.Equal((int)lenKeep, compiled.GetConstant("LenKeep"));
        Assert.NotEqual(typeof(GoldenCheckToolTests).Assembly, compiled.ModelType.Assembly);
        Assert.True(compiled.ModelType.Assembly.IsCollectible);
    }

    [Fact]
    public void The_load_context_is_unloaded_after_a_case()
    {
        WeakReference context = RunOnceAndUnload(GoldenData.Case("tiny-default"));
        for (int i = 0; i < 20 && context.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.False(context.IsAlive, "the generated assembly's load context was not collected (something still references the model)");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference RunOnceAndUnload(string folder)
    {
        using CompiledModel compiled = InMemoryModelCompiler.Compile(File.ReadAllText(Path.Combine(folder, "config.json")), new ModelCompileOptions());
        var context = new WeakReference(System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(compiled.ModelType.Assembly));
        if (compiled.ModelType.GetMethod("Load", [typeof(string)]) is not null)
        {
            var session = compiled.Load(Path.Combine(folder, "model.safetensors")).CreateSession();
            Assert.Equal(1, session.MaxBatch);
        }

        return context;
    }

    [Fact]
    public void Every_reference_tensor_gets_a_result_line()
    {
        string folder = GoldenData.Case("tiny-interp");
        var (_, lines, err) = RunTool(folder);
        Assert.Equal("", err);
        List<string> expected;
        using (SafeTensorsFile io = SafeTensorsFile.Open(Path.Combine(folder, "io.safetensors")))
        {
            expected = io.Tensors.Keys.Where(n => n.StartsWith("model.", StringComparison.Ordinal) || n.StartsWith("pretraining.", StringComparison.Ordinal) || n == "debug.len_keep").ToList();
        }

        foreach (string name in expected)
        {
            string? line = LineOf(lines, name);
            Assert.True(line is not null, "no line for " + name);
            Assert.Matches(@"max_abs=\S+  max_rel=\S+  (OK|FAIL)", line);
        }

        Match summary = SummaryLine.Match(lines[^1]);
        Assert.True(summary.Success, lines[^1]);
        Assert.Equal(expected.Count, int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture) + int.Parse(summary.Groups[2].Value, CultureInfo.InvariantCulture));
        Assert.Contains(lines, l => l.Contains("ViTMAEResolutions=32x48", StringComparison.Ordinal));
    }
}
