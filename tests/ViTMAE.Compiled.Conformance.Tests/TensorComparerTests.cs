using ViTMAE.Compiled.GoldenCheck;

namespace ViTMAE.Compiled.Conformance.Tests;

/// <summary>The pass rule: max|a − b| ≤ 1e-4 × max(1, max|ref|), exact for masks and indices, NaN only where the reference has NaN.</summary>
public sealed class TensorComparerTests
{
    private static TensorResult Compare(float[] actual, float[] expected, bool exact = false) =>
        TensorComparer.Compare("t", actual, [actual.Length], expected, [expected.Length], exact);

    [Fact]
    public void Identical_values_pass_with_zero_error()
    {
        TensorResult r = Compare([1f, -2f, 3.5f], [1f, -2f, 3.5f]);
        Assert.True(r.Passed);
        Assert.Equal(0, r.MaxAbs);
        Assert.Equal(0, r.MaxRel);
    }

    [Fact]
    public void An_error_of_one_fails_and_is_reported()
    {
        TensorResult r = Compare([2f, 0f], [1f, 0f]);
        Assert.False(r.Passed);
        Assert.Equal(1, r.MaxAbs, 6);
        Assert.Contains("FAIL", r.Format(), System.StringComparison.Ordinal);
        Assert.Contains("worst at [0]", r.Detail, System.StringComparison.Ordinal);
    }

    [Fact]
    public void The_tolerance_scales_with_the_largest_reference_value()
    {
        Assert.True(Compare([100.005f, 0f], [100f, 0f]).Passed);     // 5e-3 ≤ 1e-4 × 100
        Assert.False(Compare([100.02f, 0f], [100f, 0f]).Passed);     // 2e-2 > 1e-2
        Assert.True(Compare([0.00005f], [0f]).Passed);                // floor of 1e-4 for small tensors
        Assert.False(Compare([0.0002f], [0f]).Passed);
    }

    [Fact]
    public void Exact_tensors_allow_no_difference()
    {
        Assert.False(Compare([1f, 1e-7f], [1f, 0f], exact: true).Passed);
        Assert.True(Compare([1f, 0f], [1f, 0f], exact: true).Passed);
    }

    [Fact]
    public void NaN_must_match_NaN()
    {
        Assert.True(Compare([float.NaN], [float.NaN]).Passed);
        Assert.False(Compare([1f], [float.NaN]).Passed);
        Assert.False(Compare([float.NaN], [1f]).Passed);
    }

    [Fact]
    public void Shapes_must_match_exactly()
    {
        TensorResult r = TensorComparer.Compare("t", new float[6], [2, 3], new float[6], [3, 2], exact: false);
        Assert.False(r.Passed);
        Assert.Contains("[2, 3] != reference [3, 2]", r.Detail, System.StringComparison.Ordinal);
        Assert.False(TensorComparer.Compare("t", new float[1], [], new float[1], [1], exact: false).Passed);
    }

    [Fact]
    public void Integer_tensors_compare_exactly()
    {
        Assert.True(TensorComparer.CompareExact("ids", [2, 0, 1], [2L, 0L, 1L], [1, 3]).Passed);
        TensorResult r = TensorComparer.CompareExact("ids", [2, 1, 0], [2L, 0L, 1L], [1, 3]);
        Assert.False(r.Passed);
        Assert.Equal(1, r.MaxAbs);
        Assert.False(TensorComparer.CompareExact("ids", [2, 0], [2L, 0L, 1L], [1, 3]).Passed);
    }
}
