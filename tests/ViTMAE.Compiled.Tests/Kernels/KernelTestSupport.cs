using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.Intrinsics;
using ViTMAE.Compiled.Kernels;

namespace ViTMAE.Compiled.Tests.Kernels;

/// <summary>Shared helpers: the SIMD paths this machine can run, deterministic inputs, and comparisons that report max abs error.</summary>
internal static class KernelTestSupport
{
    /// <summary>Every SIMD path the hardware accelerates in this process, plus scalar (always).</summary>
    public static IEnumerable<SimdPath> AvailablePaths()
    {
        if (Vector512.IsHardwareAccelerated) yield return SimdPath.Vector512;
        if (Vector256.IsHardwareAccelerated) yield return SimdPath.Vector256;
        if (Vector128.IsHardwareAccelerated) yield return SimdPath.Vector128;
        yield return SimdPath.Scalar;
    }

    public static TheoryData<string> PathData()
    {
        var data = new TheoryData<string>();
        foreach (SimdPath p in AvailablePaths()) data.Add(p.ToString());
        return data;
    }

    public static SimdPath Parse(string path) => Enum.Parse<SimdPath>(path);

    public static float[] Random(Random rng, int length, float scale = 1f, float offset = 0f)
    {
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = offset + scale * (float)(2 * rng.NextDouble() - 1);
        return a;
    }

    /// <summary>Integers in [−range, range]: products and sums stay exact in fp32 for the sizes tested.</summary>
    public static float[] SmallIntegers(Random rng, int length, int range)
    {
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = rng.Next(-range, range + 1);
        return a;
    }

    /// <summary>Fails with the max abs error, where it occurred and the tolerance there, when any |actual − expected| exceeds tolerance(i).</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, Func<int, double> tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double maxErr = 0;
        int worst = -1, firstBad = -1, bad = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs((double)actual[i] - expected[i]);
            if (double.IsNaN(err)) err = double.PositiveInfinity;
            if (err > maxErr || worst < 0) { maxErr = err; worst = i; }
            if (err > tolerance(i))
            {
                bad++;
                if (firstBad < 0) firstBad = i;
            }
        }
        if (bad > 0)
        {
            Assert.Fail(string.Create(CultureInfo.InvariantCulture,
                $"{what}: {bad} of {expected.Length} values out of tolerance; max abs error {maxErr:E3} at [{worst}] " +
                $"(expected {expected[worst]:R}, actual {actual[worst]:R}); first bad [{firstBad}] expected {expected[firstBad]:R}, " +
                $"actual {actual[firstBad]:R}, tolerance {tolerance(firstBad):E3}"));
        }
    }

    public static void AssertExact(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
        => AssertClose(expected, actual, _ => 0.0, what);

    public static double MaxAbsError(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double m = 0;
        for (int i = 0; i < expected.Length; i++) m = Math.Max(m, Math.Abs((double)actual[i] - expected[i]));
        return m;
    }
}
