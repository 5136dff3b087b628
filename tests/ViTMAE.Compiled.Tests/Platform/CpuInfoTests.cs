using System.Linq;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ViTMAE.Compiled.Platform;

namespace ViTMAE.Compiled.Tests.Platform;

/// <summary>
/// CpuInfo reads the CPU with CPUID and the process's own instruction sets separately; CI runs these tests on every SIMD
/// width of the machine (DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0), so each run checks that the two agree with the
/// switches and with the kernel width actually used.
/// </summary>
public class CpuInfoTests
{
    [Fact]
    public void The_process_level_never_exceeds_the_cpu_level_and_matches_the_kernel_width()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            Assert.Equal(0, CpuInfo.CpuLevel);
            Assert.Equal(0, CpuInfo.ProcessLevel);
            return;
        }

        Assert.InRange(CpuInfo.CpuLevel, 2, 4); // .NET itself needs x86-64-v2
        Assert.InRange(CpuInfo.ProcessLevel, 2, CpuInfo.CpuLevel);
        string expected = CpuInfo.ProcessLevel switch
        {
            4 => "Vector512",
            3 => "Vector256",
            _ => Vector128.IsHardwareAccelerated ? "Vector128" : "scalar",
        };
        Assert.Equal(expected, CpuInfo.KernelWidth);
    }

    [Fact]
    public void The_cpu_level_lists_the_instruction_sets_that_define_it()
    {
        if (CpuInfo.CpuLevel == 0)
        {
            return;
        }

        string[] sets = CpuInfo.CpuInstructionSets.Split(' ');
        Assert.Contains("sse4.2", sets);
        Assert.Equal(CpuInfo.CpuLevel >= 3, sets.Contains("avx2") && sets.Contains("fma"));
        Assert.Equal(CpuInfo.CpuLevel >= 4, sets.Contains("avx512f") && sets.Contains("avx512vl"));
    }

    [Fact]
    public void Describe_names_the_cpu_the_code_level_and_the_kernels()
    {
        string line = CpuInfo.Describe();
        Assert.StartsWith(CpuInfo.ModelName + " · ", line, System.StringComparison.Ordinal);
        Assert.EndsWith("· kernels " + CpuInfo.KernelWidth, line, System.StringComparison.Ordinal);
        Assert.Contains("(JIT)", line, System.StringComparison.Ordinal);
        if (CpuInfo.CpuLevel > 0)
        {
            Assert.Contains("code " + CpuInfo.LevelName(CpuInfo.ProcessLevel), line, System.StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(1, "x86-64")]
    [InlineData(2, "x86-64-v2")]
    [InlineData(4, "x86-64-v4")]
    public void Level_names_follow_the_psabi(int level, string name) => Assert.Equal(name, CpuInfo.LevelName(level));
}
