using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using System.Text;
using ViTMAE.Compiled.Kernels;

namespace ViTMAE.Compiled.Platform;

/// <summary>
/// What the processor offers and what this process uses of it: the x86-64 micro-architecture level of the CPU (read
/// with CPUID, so it does not depend on how the binary was compiled), the level this process's code was compiled for
/// or is allowed to use, and the SIMD width the kernels run with.
/// </summary>
/// <remarks>
/// <para>Why two levels: a NativeAOT binary fixes its instruction sets at publish time (ILC compiles
/// <c>Avx512F.IsSupported</c> and <c>Vector512.IsHardwareAccelerated</c> to constants; it has no run-time dispatch for
/// AVX2 or AVX-512), so a binary built for x86-64-v3 runs the Vector256 kernels even on an AVX-512 CPU, and a binary
/// built for x86-64-v4 does not start on an AVX2-only CPU. The CLI therefore ships one binary per level and starts
/// the best one the CPU can run (<see cref="CpuLevel"/>); under the JIT both levels agree unless a
/// <c>DOTNET_Enable*</c> switch lowers the process level.</para>
/// <para>Levels follow the x86-64 psABI: v2 = SSE4.2, SSSE3, POPCNT, CMPXCHG16B; v3 = v2 + AVX, AVX2, FMA, BMI1/2,
/// LZCNT, MOVBE, F16C (and the OS saving YMM state); v4 = v3 + AVX-512 F, BW, CD, DQ, VL (and the OS saving ZMM and
/// mask state). The OS part is read from CPUID's OSXSAVE bit and, on Linux, from the kernel's own flags in
/// <c>/proc/cpuinfo</c> (.NET exposes no XGETBV): a kernel that does not save AVX-512 state clears those flags.</para>
/// </remarks>
public static class CpuInfo
{
    private static readonly Lazy<X86Features> s_features = new(X86Features.Read);

    /// <summary>The processor's name (CPUID brand string on x86; the architecture elsewhere).</summary>
    public static string ModelName => s_features.Value.Brand;

    /// <summary>
    /// The x86-64 level (1 to 4) this CPU and operating system support, whatever this binary was compiled for; 0 on
    /// a processor that is not x86-64.
    /// </summary>
    public static int CpuLevel => s_features.Value.Level;

    /// <summary>
    /// The x86-64 level (1 to 4) the code of this process may use: in a NativeAOT binary the level it was compiled for,
    /// under the JIT the CPU's level lowered by any <c>DOTNET_EnableAVX2=0</c> / <c>DOTNET_EnableAVX512=0</c>; 0 on a
    /// processor that is not x86-64.
    /// </summary>
    public static int ProcessLevel { get; } = ComputeProcessLevel();

    /// <summary>The instruction sets of this CPU that the kernels care about, space separated (e.g. "sse4.2 avx2 fma avx512f …").</summary>
    public static string CpuInstructionSets => s_features.Value.Names;

    /// <summary>The vector width the kernels of this process run with: "Vector512", "Vector256", "Vector128" or "scalar".</summary>
    public static string KernelWidth => Simd.Best switch
    {
        SimdPath.Vector512 => "Vector512",
        SimdPath.Vector256 => "Vector256",
        SimdPath.Vector128 => "Vector128",
        _ => "scalar",
    };

    /// <summary>Whether this process runs ahead-of-time compiled code (NativeAOT), whose instruction sets are fixed.</summary>
    /// <remarks>
    /// Not <c>RuntimeFeature.IsDynamicCodeCompiled</c>: a project with <c>PublishAot</c> sets that switch off in its JIT
    /// builds too (so that <c>dotnet run</c> behaves like the published binary), and would be reported as NativeAOT. A JIT
    /// process has compiled methods by the time anyone asks; a NativeAOT one never has any.
    /// </remarks>
    public static bool IsAheadOfTimeCompiled => System.Runtime.JitInfo.GetCompiledMethodCount() == 0;

    /// <summary>The name of an x86-64 level: "x86-64" for 1, "x86-64-v2" … "x86-64-v4".</summary>
    /// <param name="level">1 to 4.</param>
    public static string LevelName(int level) => level switch
    {
        <= 1 => "x86-64",
        _ => "x86-64-v" + level.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// One line for logs and benchmark headers, e.g.
    /// <c>AMD EPYC · x86-64-v4 (sse4.2 avx avx2 fma avx512f …) · code x86-64-v4 (NativeAOT) · kernels Vector512</c>.
    /// </summary>
    public static string Describe()
    {
        var text = new StringBuilder(ModelName).Append(" · ");
        if (CpuLevel > 0)
        {
            text.Append(LevelName(CpuLevel)).Append(" (").Append(CpuInstructionSets).Append(") · code ").Append(LevelName(ProcessLevel));
        }
        else
        {
            string architecture = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
            text.Append(architecture);
            if (CpuInstructionSets.Length > 0)
            {
                text.Append(" (").Append(CpuInstructionSets).Append(')');
            }

            text.Append(" · code ").Append(architecture);
        }

        text.Append(IsAheadOfTimeCompiled ? " (NativeAOT)" : " (JIT)");
        text.Append(" · kernels ").Append(KernelWidth);
        return text.ToString();
    }

    private static int ComputeProcessLevel()
    {
        if (!X86Base.X64.IsSupported)
        {
            return 0;
        }

        if (Avx512F.IsSupported && Avx512F.VL.IsSupported && Avx512BW.IsSupported && Avx512CD.IsSupported && Avx512DQ.IsSupported &&
            Avx2.IsSupported && Fma.IsSupported && Bmi1.IsSupported && Bmi2.IsSupported && Lzcnt.IsSupported)
        {
            return 4;
        }

        if (Avx2.IsSupported && Fma.IsSupported && Bmi1.IsSupported && Bmi2.IsSupported && Lzcnt.IsSupported)
        {
            return 3;
        }

        return Sse42.IsSupported && Popcnt.IsSupported ? 2 : 1;
    }

    /// <summary>CPUID read once per process.</summary>
    private sealed record X86Features(string Brand, int Level, string Names)
    {
        public static X86Features Read()
        {
            if (!X86Base.IsSupported)
            {
                string arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
                return new X86Features(LinuxModelName() ?? arch, 0, AdvSimd.IsSupported ? "neon" : string.Empty);
            }

            (int _, int _, int ecx1, int _) = X86Base.CpuId(1, 0);
            (int maxLeaf, int _, int _, int _) = X86Base.CpuId(0, 0);
            int ebx7 = maxLeaf >= 7 ? X86Base.CpuId(7, 0).Ebx : 0;
            (int maxExtended, int _, int _, int _) = X86Base.CpuId(unchecked((int)0x80000000), 0);
            int ecxExt = (uint)maxExtended >= 0x80000001u ? X86Base.CpuId(unchecked((int)0x80000001), 0).Ecx : 0;
            HashSet<string>? kernelFlags = LinuxFlags();

            var present = new List<string>();
            bool Has(string name, int register, int bit)
            {
                bool has = (register & (1 << bit)) != 0 && (kernelFlags is null || !NeedsOsState(name) || kernelFlags.Contains(name));
                if (has)
                {
                    present.Add(name);
                }

                return has;
            }

            bool v2 = Has("sse3", ecx1, 0) & Has("ssse3", ecx1, 9) & Has("sse4.1", ecx1, 19) & Has("sse4.2", ecx1, 20) &
                      Has("popcnt", ecx1, 23) & Has("cx16", ecx1, 13);
            bool osxsave = (ecx1 & (1 << 27)) != 0;
            bool v3 = v2 & osxsave & Has("avx", ecx1, 28) & Has("avx2", ebx7, 5) & Has("fma", ecx1, 12) & Has("bmi1", ebx7, 3) &
                      Has("bmi2", ebx7, 8) & Has("lzcnt", ecxExt, 5) & Has("movbe", ecx1, 22) & Has("f16c", ecx1, 29);
            bool v4 = v3 & Has("avx512f", ebx7, 16) & Has("avx512bw", ebx7, 30) & Has("avx512cd", ebx7, 28) &
                      Has("avx512dq", ebx7, 17) & Has("avx512vl", ebx7, 31);
            int level = v4 ? 4 : v3 ? 3 : v2 ? 2 : 1;

            // Only the sets that decide the level are worth a line; sse3/ssse3/sse4.1/cx16 go without saying from sse4.2 on.
            present.RemoveAll(n => n is "sse3" or "ssse3" or "sse4.1" or "cx16");
            return new X86Features(BrandString() ?? LinuxModelName() ?? "x86-64", level, string.Join(' ', present));
        }

        /// <summary>
        /// Whether a feature needs the OS to save its register state (YMM for AVX, ZMM and mask registers for AVX-512);
        /// only these are cross-checked with the kernel's flags, whose names and completeness vary for the others
        /// (a VM's kernel may list no "abm" although CPUID has LZCNT).
        /// </summary>
        private static bool NeedsOsState(string name) => name.StartsWith("avx", StringComparison.Ordinal) || name == "fma";

        /// <summary>The kernel's feature flags (Linux), or null where they cannot be read (then CPUID alone decides).</summary>
        private static HashSet<string>? LinuxFlags()
        {
            string? line = CpuInfoLine("flags");
            return line is null ? null : new HashSet<string>(line.Split(' ', StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);
        }

        private static string? LinuxModelName() => CpuInfoLine("model name");

        private static string? CpuInfoLine(string key)
        {
            if (!OperatingSystem.IsLinux())
            {
                return null;
            }

            try
            {
                foreach (string line in File.ReadLines("/proc/cpuinfo"))
                {
                    int colon = line.IndexOf(':', StringComparison.Ordinal);
                    if (colon > 0 && line.AsSpan(0, colon).Trim().SequenceEqual(key))
                    {
                        return line[(colon + 1)..].Trim();
                    }
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }

            return null;
        }

        /// <summary>The CPUID brand string (leaves 0x80000002–4), trimmed; null when the CPU has none.</summary>
        private static string? BrandString()
        {
            (int maxExtended, int _, int _, int _) = X86Base.CpuId(unchecked((int)0x80000000), 0);
            if ((uint)maxExtended < 0x80000004u)
            {
                return null;
            }

            Span<int> words = stackalloc int[12];
            for (int i = 0; i < 3; i++)
            {
                (int a, int b, int c, int d) = X86Base.CpuId(unchecked((int)(0x80000002u + (uint)i)), 0);
                words[(4 * i) + 0] = a;
                words[(4 * i) + 1] = b;
                words[(4 * i) + 2] = c;
                words[(4 * i) + 3] = d;
            }

            string brand = Encoding.ASCII.GetString(MemoryMarshal.AsBytes(words)).TrimEnd('\0').Trim();
            return brand.Length == 0 ? null : brand;
        }
    }
}
