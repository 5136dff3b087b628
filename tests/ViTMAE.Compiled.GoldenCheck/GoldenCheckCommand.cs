using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace ViTMAE.Compiled.GoldenCheck;

/// <summary>
/// The command line: <c>GoldenCheck [--dump-source DIR] &lt;case-dir&gt; [&lt;case-dir&gt; ...]</c>.
/// Exit code 0 when every tensor passes, 1 on any failure, 2 on a usage error.
/// </summary>
public static class GoldenCheckCommand
{
    /// <summary>Every tensor of every case passed.</summary>
    public const int ExitPassed = 0;

    /// <summary>At least one tensor (or stage) failed.</summary>
    public const int ExitFailed = 1;

    /// <summary>Bad arguments, a missing folder or a folder without the golden files.</summary>
    public const int ExitUsage = 2;

    /// <summary>The usage text.</summary>
    public const string Usage =
        "usage: GoldenCheck [--dump-source <dir>] <case-dir> [<case-dir> ...]\n" +
        "  <case-dir>  a golden case folder (config.json, model.safetensors, io.safetensors, optional meta.json),\n" +
        "              or a folder whose subfolders are such cases (e.g. ../shared/golden)\n" +
        "  --dump-source <dir>  also write each case's generated C# to <dir>/<case>/\n" +
        "Each reference tensor passes when shapes match and max|ours - ref| <= 1e-4 * max(1, max|ref|)\n" +
        "(mask, ids_restore and len_keep exactly; NaN only where the reference has NaN).\n" +
        "max_rel = max over elements of |ours - ref| / max(1e-12, |ref|) (informational).\n" +
        "Exit code: 0 all passed, 1 any failure, 2 usage error.";

    /// <summary>Runs the command, writing the report to <paramref name="stdout"/> and usage errors to <paramref name="stderr"/>.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var folders = new List<string>();
        string? dumpSource = null;
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg is "-h" or "--help" or "-?")
            {
                stdout.WriteLine(Usage);
                return ExitPassed;
            }

            if (arg == "--dump-source")
            {
                if (i + 1 >= args.Count)
                {
                    return UsageError(stderr, "--dump-source needs a folder");
                }

                dumpSource = args[++i];
            }
            else if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                return UsageError(stderr, "unknown option " + arg);
            }
            else
            {
                folders.Add(arg);
            }
        }

        if (folders.Count == 0)
        {
            return UsageError(stderr, "no case folder given");
        }

        // Validate everything before running anything: a typo should not cost a full run.
        var cases = new List<GoldenCase>();
        foreach (string folder in folders)
        {
            if (Directory.Exists(folder) && !File.Exists(Path.Combine(folder, GoldenCase.ConfigFileName)) && GoldenCase.FindCases(folder) is { Count: > 0 } children)
            {
                foreach (string child in children)
                {
                    if (GoldenCase.Validate(child) is { } childProblem)
                    {
                        return UsageError(stderr, childProblem);
                    }

                    cases.Add(GoldenCase.Open(child));
                }

                continue;
            }

            if (GoldenCase.Validate(folder) is { } problem)
            {
                return UsageError(stderr, problem);
            }

            cases.Add(GoldenCase.Open(folder));
        }

        int passed = 0, failed = 0;
        var failedCases = new List<string>();
        var options = new GoldenRunOptions { SourceDumpDirectory = dumpSource };
        foreach (GoldenCase c in cases)
        {
            stdout.WriteLine("== " + c.Name + "  (" + c.Directory + ")");
            stdout.Flush();
            GoldenCaseResult result = c.Run(options);
            stdout.WriteLine("   input " + FormatShape(result.InputShape) + ", config image " + result.ConfigImageSize.Height.ToString(CultureInfo.InvariantCulture) + "x" +
                             result.ConfigImageSize.Width.ToString(CultureInfo.InvariantCulture) +
                             (result.ExtraResolutions is null ? "" : ", ViTMAEResolutions=" + result.ExtraResolutions) +
                             "; compile " + Seconds(result.CompileTime) + ", load " + Seconds(result.LoadTime) + ", forward " + Seconds(result.ForwardTime) +
                             ", pretraining " + Seconds(result.PreTrainingTime));
            foreach (string warning in result.Warnings)
            {
                stdout.WriteLine("   warning: " + warning);
            }

            foreach (string error in result.Errors)
            {
                stdout.WriteLine("   ERROR " + error.Replace("\n", "\n   ", StringComparison.Ordinal));
            }

            int width = result.Tensors.Max(t => t.Name.Length);
            foreach (TensorResult t in result.Tensors)
            {
                stdout.WriteLine("   " + t.Format(width));
            }

            int casePassed = result.Tensors.Count(t => t.Passed);
            int caseFailed = result.Tensors.Count - casePassed;
            passed += casePassed;
            failed += caseFailed;
            if (!result.Passed)
            {
                failedCases.Add(c.Name);
            }

            stdout.WriteLine("   " + c.Name + ": " + casePassed.ToString(CultureInfo.InvariantCulture) + " passed, " + caseFailed.ToString(CultureInfo.InvariantCulture) + " failed" +
                             (result.Errors.Count > 0 ? ", " + result.Errors.Count.ToString(CultureInfo.InvariantCulture) + " stage error(s)" : ""));
            stdout.Flush();

            // Let the load context and the weights of a large model go before the next case.
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        if (cases.Count > 1)
        {
            stdout.WriteLine("cases: " + (cases.Count - failedCases.Count).ToString(CultureInfo.InvariantCulture) + " of " + cases.Count.ToString(CultureInfo.InvariantCulture) + " passed" +
                             (failedCases.Count > 0 ? "; failing: " + string.Join(", ", failedCases) : ""));
        }

        stdout.WriteLine(passed.ToString(CultureInfo.InvariantCulture) + " passed, " + failed.ToString(CultureInfo.InvariantCulture) + " failed");
        stdout.Flush();
        return failed > 0 || failedCases.Count > 0 ? ExitFailed : ExitPassed;
    }

    private static int UsageError(TextWriter stderr, string message)
    {
        stderr.WriteLine("GoldenCheck: " + message + " (--help for usage)");
        return ExitUsage;
    }

    private static string FormatShape(IReadOnlyList<long> shape) => shape.Count == 0 ? "?" : TensorComparer.FormatShape(shape.ToArray());

    private static string Seconds(TimeSpan t) =>
        t == TimeSpan.Zero ? "-" : t.TotalSeconds >= 1 ? t.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s" : t.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture) + " ms";
}
