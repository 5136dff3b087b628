using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using ViTMAE.Compiled.Platform;

namespace ViTMAE.Cli;

/// <summary>
/// Starts the fastest build of the CLI this CPU can run. <c>dotnet publish -r linux-x64</c> writes three NativeAOT
/// binaries side by side: <c>vitmae</c> (the x86-64 baseline, runs on any x86-64 CPU, Vector128 kernels),
/// <c>vitmae-x86-64-v3</c> (AVX2 + FMA, Vector256 kernels) and <c>vitmae-x86-64-v4</c> (AVX-512, Vector512 kernels).
/// <c>vitmae</c> is the one users run: before anything else it reads the CPU's level with CPUID and, when a faster
/// build for that level lies beside it, replaces itself with it (<c>execv</c>: same process id, arguments, environment
/// and standard streams; on Windows a child process whose exit code is passed on).
/// </summary>
/// <remarks>
/// Why not one binary: ILC compiles <c>Avx512F.IsSupported</c>/<c>Vector512.IsHardwareAccelerated</c> to constants of
/// the publish-time instruction set (it dispatches at run time only for a few non-VEX sets), and a binary whose
/// baseline the CPU lacks aborts before <c>Main</c> ("The required instruction sets are not supported by the current
/// CPU"). <c>VITMAE_ISA=x86-64|x86-64-v2|x86-64-v3|x86-64-v4</c> caps the level (to compare builds on one machine); a
/// cap above the CPU's level has no effect. Builds published for one level (<c>-p:IlcInstructionSet=…</c>) and
/// <c>dotnet run</c> (the JIT uses what the CPU has) never dispatch.
/// </remarks>
internal static class IsaDispatch
{
    /// <summary>The environment variable that caps the level.</summary>
    public const string CapVariable = "VITMAE_ISA";

    /// <summary>
    /// Replaces or runs the process with the best sibling build and returns its exit code, or returns null when this
    /// process is the right one (then it carries on with <c>Main</c>).
    /// </summary>
    public static int? Run(string[] args)
    {
        // Only the baseline NativeAOT build dispatches (a build for v3 or v4 is already specialised).
        if (!CpuInfo.IsAheadOfTimeCompiled || CpuInfo.CpuLevel == 0 || CpuInfo.ProcessLevel >= 3)
        {
            return null;
        }

        int target = Math.Min(CpuInfo.CpuLevel, Cap());
        for (int level = target; level > CpuInfo.ProcessLevel && level >= 3; level--)
        {
            string? candidate = SiblingPath(level);
            if (candidate is not null)
            {
                return Start(candidate, args);
            }
        }

        return null;
    }

    /// <summary>The file name of the build for <paramref name="level"/> (3 or 4) beside the running binary.</summary>
    public static string VariantFileName(int level) =>
        "vitmae-" + CpuInfo.LevelName(level) + (OperatingSystem.IsWindows() ? ".exe" : string.Empty);

    /// <summary>
    /// A note for <c>info</c> and <c>bench</c> when this binary runs narrower kernels than the CPU could (the faster
    /// build is missing or capped), else null.
    /// </summary>
    public static string? Note()
    {
        if (CpuInfo.CpuLevel == 0 || !CpuInfo.IsAheadOfTimeCompiled || CpuInfo.ProcessLevel >= CpuInfo.CpuLevel || CpuInfo.CpuLevel < 3)
        {
            return null;
        }

        int cap = Cap();
        if (cap <= CpuInfo.ProcessLevel)
        {
            return $"{CapVariable}={Environment.GetEnvironmentVariable(CapVariable)} keeps this {CpuInfo.LevelName(CpuInfo.ProcessLevel)} build.";
        }

        return $"this build targets {CpuInfo.LevelName(CpuInfo.ProcessLevel)} but the CPU supports {CpuInfo.LevelName(CpuInfo.CpuLevel)}: " +
               $"put {VariantFileName(CpuInfo.CpuLevel)} (from the same dotnet publish) beside it for the faster kernels.";
    }

    private static int Cap()
    {
        string? value = Environment.GetEnvironmentVariable(CapVariable);
        if (string.IsNullOrWhiteSpace(value))
        {
            return 4;
        }

        return value.Trim().ToLowerInvariant() switch
        {
            "x86-64" or "x86-64-v1" or "baseline" => 1,
            "x86-64-v2" => 2,
            "x86-64-v3" or "avx2" => 3,
            "x86-64-v4" or "avx512" or "avx-512" => 4,
            _ => throw new CliUsageException($"{CapVariable}='{value}' is not one of x86-64, x86-64-v2, x86-64-v3, x86-64-v4"),
        };
    }

    private static string? SiblingPath(int level)
    {
        string? self = Environment.ProcessPath;
        string folder = self is null ? AppContext.BaseDirectory : Path.GetDirectoryName(self) ?? AppContext.BaseDirectory;
        string path = Path.Combine(folder, VariantFileName(level));
        return File.Exists(path) ? path : null;
    }

    private static int? Start(string path, string[] args)
    {
        if (OperatingSystem.IsWindows())
        {
            var start = new ProcessStartInfo(path) { UseShellExecute = false };
            foreach (string arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            using Process child = Process.Start(start) ?? throw new IOException("could not start " + path);
            child.WaitForExit();
            return child.ExitCode;
        }

        int errno = Exec(path, args);
        // execv returns only on failure: say why once and carry on with this (slower but complete) build.
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"vitmae: note: could not start {Path.GetFileName(path)} (errno {errno}); running the {CpuInfo.LevelName(CpuInfo.ProcessLevel)} build"));
        return null;
    }

    /// <summary>execv(path, [path, args…]); returns errno when it fails (on success it does not return).</summary>
    private static unsafe int Exec(string path, string[] args)
    {
        // Hand-marshalled UTF-8 argv: execv never returns on success, so nothing needs freeing then.
        nint[] argv = new nint[args.Length + 2];
        try
        {
            argv[0] = Marshal.StringToCoTaskMemUTF8(path);
            for (int i = 0; i < args.Length; i++)
            {
                argv[i + 1] = Marshal.StringToCoTaskMemUTF8(args[i]);
            }

            // execv from the C library the process already has loaded (no library name to guess: glibc, musl, macOS).
            if (!NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "execv", out nint execv))
            {
                return -1;
            }

            fixed (nint* argvPointer = argv)
            {
                Marshal.SetLastSystemError(0);
                ((delegate* unmanaged<byte*, byte**, int>)execv)((byte*)argv[0], (byte**)argvPointer);
                return Marshal.GetLastSystemError();
            }
        }
        finally
        {
            foreach (nint pointer in argv)
            {
                Marshal.FreeCoTaskMem(pointer);
            }
        }
    }
}
