using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using SharpFuzz;

namespace ViTMAE.Compiled.Fuzz;

/// <summary>
/// <code>
/// ViTMAE.Compiled.Fuzz &lt;target&gt;                       under afl-fuzz: SharpFuzz's out-of-process server (fuzz.sh starts it)
/// ViTMAE.Compiled.Fuzz --replay &lt;target&gt; &lt;path&gt;...    in-process, no AFL: every file (folders: their files) through the target
/// ViTMAE.Compiled.Fuzz --seeds &lt;corpus-folder&gt;          writes the hand-made seeds into &lt;corpus-folder&gt;/&lt;target&gt;/
/// </code>
/// Targets: safetensors, config, image.
/// </summary>
internal static class Program
{
    private const string Usage =
        "usage: ViTMAE.Compiled.Fuzz <safetensors|config|image>\n" +
        "       ViTMAE.Compiled.Fuzz --replay <target> <file-or-folder>... [--timeout <seconds>]\n" +
        "       ViTMAE.Compiled.Fuzz --seeds <corpus-folder>";

    private static int Main(string[] args)
    {
        if (args.Length == 1 && FuzzTargets.TryParse(args[0], out FuzzTarget fuzzTarget))
        {
            Fuzz(fuzzTarget);
            return 0;
        }

        if (args.Length >= 3 && args[0] == "--replay" && FuzzTargets.TryParse(args[1], out FuzzTarget replayTarget))
        {
            return Replay(replayTarget, args[2..]);
        }

        if (args.Length == 2 && args[0] == "--seeds")
        {
            Seeds.Write(args[1]);
            return 0;
        }

        Console.Error.WriteLine(Usage);
        return 2;
    }

    /// <summary>
    /// SharpFuzz's out-of-process mode: this process talks to afl-fuzz and runs the target in a child process that
    /// loops over inputs (persistent), restarting it only when it dies (a stack overflow, a timeout). An exception that
    /// escapes the action is reported to AFL as a crash.
    /// </summary>
    private static void Fuzz(FuzzTarget target)
    {
        // Created in the child process on its first input (the server process never runs the action).
        FuzzTargets? targets = null;
        var buffer = new MemoryStream();
        try
        {
            Fuzzer.OutOfProcess.Run(stream =>
            {
                targets ??= new FuzzTargets();
                buffer.SetLength(0);
                stream.CopyTo(buffer);
                targets.Run(target, buffer.ToArray());
            });
        }
        finally
        {
            // Reached only without AFL (one input from stdin); under AFL the processes run until they are killed.
            targets?.Dispose();
        }
    }

    private static int Replay(FuzzTarget target, string[] arguments)
    {
        var timeout = TimeSpan.FromSeconds(10);
        var files = new List<string>();
        for (int i = 0; i < arguments.Length; i++)
        {
            if (arguments[i] == "--timeout" && i + 1 < arguments.Length)
            {
                timeout = TimeSpan.FromSeconds(double.Parse(arguments[++i], CultureInfo.InvariantCulture));
            }
            else if (Directory.Exists(arguments[i]))
            {
                // AFL's output folders hold a README.txt beside the inputs.
                files.AddRange(Directory.EnumerateFiles(arguments[i])
                    .Where(f => Path.GetFileName(f) != "README.txt")
                    .Order(StringComparer.Ordinal));
            }
            else if (File.Exists(arguments[i]))
            {
                files.Add(arguments[i]);
            }
            else
            {
                Console.Error.WriteLine($"replay: no such file or folder: {arguments[i]}");
                return 2;
            }
        }

        using var targets = new FuzzTargets();
        int accepted = 0, rejected = 0, hangs = 0;
        var findings = new List<(string File, Exception Error)>();
        foreach (string file in files)
        {
            byte[] data = File.ReadAllBytes(file);
            bool? ok = null;
            Exception? error = null;
            var stopwatch = Stopwatch.StartNew();
            var thread = new Thread(() =>
            {
                try
                {
                    ok = targets.Run(target, data);
                }
                catch (Exception e)
                {
                    error = e;
                }
            }, maxStackSize: 16 << 20) { IsBackground = true };
            thread.Start();
            if (!thread.Join(timeout))
            {
                hangs++;
                Console.WriteLine($"HANG  {file}: still running after {timeout.TotalSeconds:0.#} s");
                Console.Out.Flush();

                // The thread cannot be stopped: the workspace is in use, so nothing after this input can be trusted.
                Console.WriteLine($"replay {target}: stopped at the first hang ({files.Count} inputs, {accepted} accepted, {rejected} rejected, {findings.Count} untyped, 1 hang)");
                Console.Out.Flush();
                Environment.Exit(1);
            }

            if (error is not null)
            {
                findings.Add((file, error));
                Console.WriteLine($"FAIL  {file} ({stopwatch.ElapsedMilliseconds} ms): {Describe(error)}");
            }
            else if (ok == true)
            {
                accepted++;
            }
            else
            {
                rejected++;
            }
        }

        // One line per distinct (exception type, first frame in our code or the decoder), with its first input.
        var unique = findings
            .GroupBy(f => Signature(f.Error))
            .Select(g => (Signature: g.Key, First: g.First().File, Count: g.Count()))
            .ToList();
        foreach (var (signature, first, count) in unique)
        {
            Console.WriteLine($"UNIQUE {signature} ({count} input{(count == 1 ? "" : "s")}, e.g. {first})");
        }

        Console.WriteLine($"replay {target}: {files.Count} inputs, {accepted} accepted, {rejected} rejected with typed exceptions, " +
            $"{findings.Count} untyped ({unique.Count} unique), {hangs} hangs");
        return findings.Count == 0 && hangs == 0 ? 0 : 1;
    }

    private static string Describe(Exception e)
    {
        string message = e.Message.Split('\n')[0];
        var frames = (e.StackTrace ?? string.Empty).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(6);
        string inner = e.InnerException is null ? string.Empty : $"\n      inner: {e.InnerException.GetType().FullName}: {e.InnerException.Message.Split('\n')[0]}";
        return $"{e.GetType().FullName}: {message}{inner}\n      " + string.Join("\n      ", frames);
    }

    private static string Signature(Exception e)
    {
        if (e is FuzzInvariantException)
        {
            // One broken promise per message, numbers aside.
            return $"{e.GetType().FullName}: {System.Text.RegularExpressions.Regex.Replace(e.Message, "[0-9]+", "N")}";
        }

        string frame = (e.StackTrace ?? string.Empty)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .FirstOrDefault(f => f.Contains("ViTMAE.Compiled.", StringComparison.Ordinal))
            ?? "(no frame)";
        int paren = frame.IndexOf(" in ", StringComparison.Ordinal);
        return $"{e.GetType().FullName} {(paren > 0 ? frame[..paren] : frame)}";
    }
}
