using System;
using System.Globalization;
using System.Text;
using ViTMAE.Compiled.Modeling;

namespace ViTMAE.Compiled.GoldenCheck;

/// <summary>
/// The outcome of comparing one output tensor with its reference.
/// </summary>
/// <remarks>
/// <para><see cref="MaxAbs"/> = max over elements of |ours − ref|; <see cref="MaxRel"/> = max over elements of
/// |ours − ref| / max(1e-12, |ref|) (informational only: it is large wherever the reference is near zero).
/// Both skip element pairs that are NaN (or infinite) in both, which count as equal.</para>
/// <para>Pass rule: shapes equal; NaN/∞ exactly where the reference has them; and <see cref="MaxAbs"/> ≤
/// <see cref="Tolerance"/> = 1e-4 × max(1, max|ref|) for float tensors, 0 for <c>mask</c>, <c>ids_restore</c>
/// and <c>len_keep</c>.</para>
/// <para>Metrics are NaN when the tensor could not be compared (not computed, shape mismatch).</para>
/// </remarks>
public sealed record TensorResult(string Name, bool Passed, double MaxAbs, double MaxRel, double Tolerance, string? Detail)
{
    /// <summary>A failure without metrics (not computed, missing output, …).</summary>
    public static TensorResult Failure(string name, string detail) => new(name, false, double.NaN, double.NaN, double.NaN, detail);

    /// <summary>"name  max_abs=…  max_rel=…  OK|FAIL  (detail)".</summary>
    public string Format(int nameWidth = 0)
    {
        var sb = new StringBuilder();
        sb.Append(Name.PadRight(nameWidth)).Append("  max_abs=").Append(Number(MaxAbs)).Append("  max_rel=").Append(Number(MaxRel))
          .Append("  ").Append(Passed ? "OK" : "FAIL");
        if (!Passed && !double.IsNaN(Tolerance))
        {
            sb.Append("  (tol ").Append(Number(Tolerance)).Append(')');
        }

        if (!string.IsNullOrEmpty(Detail))
        {
            sb.Append("  ").Append(Detail);
        }

        return sb.ToString();
    }

    /// <summary>"1.234e-05", or "-" for NaN (no metric).</summary>
    public static string Number(double value) =>
        double.IsNaN(value) ? "-" : value == 0 ? "0" : value.ToString("0.000e+00", CultureInfo.InvariantCulture);
}

/// <summary>Element-wise comparison of outputs against reference tensors.</summary>
public static class TensorComparer
{
    /// <summary>Relative tolerance of float tensors: max |a − b| ≤ 1e-4 × max(1, max|ref|).</summary>
    public const double RelativeTolerance = 1e-4;

    /// <summary>Compares float values with shapes; <paramref name="exact"/> demands bit-for-bit equal values (masks).</summary>
    public static TensorResult Compare(string name, ReadOnlySpan<float> actual, ReadOnlySpan<int> actualShape, ReadOnlySpan<float> expected, ReadOnlySpan<long> expectedShape, bool exact) =>
        Compare(name, actual, actualShape, expected, expectedShape, exact ? 0 : RelativeTolerance * Math.Max(1, MaxAbs(expected)), default, 0);

    /// <summary>max |x| over the finite values.</summary>
    public static double MaxAbs(ReadOnlySpan<float> values)
    {
        double max = 0;
        foreach (float v in values)
        {
            if (float.IsFinite(v))
            {
                max = Math.Max(max, Math.Abs((double)v));
            }
        }

        return max;
    }

    /// <summary>
    /// Compares with an explicit tolerance: passes when every finite element is within <paramref name="tolerance"/>, except
    /// that elements flagged in <paramref name="loose"/> (when not empty) may differ by up to <paramref name="looseTolerance"/>
    /// (the detail says how many needed it); NaN/∞ must match exactly.
    /// </summary>
    public static TensorResult Compare(string name, ReadOnlySpan<float> actual, ReadOnlySpan<int> actualShape, ReadOnlySpan<float> expected, ReadOnlySpan<long> expectedShape,
        double tolerance, ReadOnlySpan<bool> loose, double looseTolerance)
    {
        if (!ShapeEquals(actualShape, expectedShape))
        {
            return TensorResult.Failure(name, "shape " + FormatShape(actualShape) + " != reference " + FormatShape(expectedShape));
        }

        if (actual.Length != expected.Length)
        {
            return TensorResult.Failure(name, "holds " + actual.Length.ToString(CultureInfo.InvariantCulture) + " values, reference " + expected.Length.ToString(CultureInfo.InvariantCulture));
        }

        double maxAbs = 0, maxRel = 0, strictMax = 0;
        int worst = -1, strictWorst = -1, nonFiniteMismatches = 0, firstNonFinite = -1, looseUsed = 0, looseFailed = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double a = actual[i], e = expected[i];
            if (!double.IsFinite(a) || !double.IsFinite(e))
            {
                bool same = (double.IsNaN(a) && double.IsNaN(e)) || a.Equals(e);
                if (!same)
                {
                    nonFiniteMismatches++;
                    if (firstNonFinite < 0)
                    {
                        firstNonFinite = i;
                    }
                }

                continue;
            }

            double d = Math.Abs(a - e);
            if (worst < 0 || d > maxAbs)
            {
                maxAbs = Math.Max(maxAbs, d);
                worst = i;
            }

            maxRel = Math.Max(maxRel, d / Math.Max(1e-12, Math.Abs(e)));
            if (!loose.IsEmpty && loose[i])
            {
                looseUsed += d > tolerance ? 1 : 0;
                looseFailed += d > looseTolerance ? 1 : 0;
            }
            else if (strictWorst < 0 || d > strictMax)
            {
                strictMax = Math.Max(strictMax, d);
                strictWorst = i;
            }
        }

        bool passed = nonFiniteMismatches == 0 && strictMax <= tolerance && looseFailed == 0;
        string? detail = null;
        if (nonFiniteMismatches > 0)
        {
            detail = nonFiniteMismatches.ToString(CultureInfo.InvariantCulture) + " NaN/inf mismatch(es), first at " + FormatIndex(firstNonFinite, expectedShape) +
                     " (ours " + actual[firstNonFinite].ToString("R", CultureInfo.InvariantCulture) + ", ref " + expected[firstNonFinite].ToString("R", CultureInfo.InvariantCulture) + ")";
        }

        if (looseUsed > 0)
        {
            string allowance = looseUsed.ToString(CultureInfo.InvariantCulture) + " element(s) with a ~0 reference gradient over tol, allowed up to " +
                               TensorResult.Number(looseTolerance) + (looseFailed > 0 ? " (" + looseFailed.ToString(CultureInfo.InvariantCulture) + " beyond it)" : "");
            detail = detail is null ? allowance : detail + "; " + allowance;
        }

        if (!passed && maxAbs > tolerance && worst >= 0)
        {
            string where = "worst at " + FormatIndex(worst, expectedShape) + " (ours " + actual[worst].ToString("R", CultureInfo.InvariantCulture) +
                           ", ref " + expected[worst].ToString("R", CultureInfo.InvariantCulture) + "), " + CountOver(actual, expected, tolerance) + " of " +
                           actual.Length.ToString(CultureInfo.InvariantCulture) + " over tol";
            detail = detail is null ? where : detail + "; " + where;
        }

        return new TensorResult(name, passed, maxAbs, maxRel, tolerance, detail);
    }

    /// <summary>Compares a float output view with a reference.</summary>
    public static TensorResult Compare(string name, TensorView actual, ReadOnlySpan<float> expected, ReadOnlySpan<long> expectedShape, bool exact) =>
        actual.IsEmpty && expectedShape.Length > 0
            ? TensorResult.Failure(name, "not returned (empty view)")
            : Compare(name, actual.Span, actual.Shape.ToArray(), expected, expectedShape, exact);

    /// <summary>Compares integers exactly; <paramref name="actual"/> has no shape of its own, only its length is checked.</summary>
    public static TensorResult CompareExact(string name, ReadOnlySpan<int> actual, ReadOnlySpan<long> expected, ReadOnlySpan<long> expectedShape)
    {
        if (actual.Length != expected.Length)
        {
            return TensorResult.Failure(name, "holds " + actual.Length.ToString(CultureInfo.InvariantCulture) + " values, reference " + FormatShape(expectedShape) + " = " +
                                              expected.Length.ToString(CultureInfo.InvariantCulture));
        }

        double maxAbs = 0, maxRel = 0;
        int first = -1, count = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = Math.Abs(actual[i] - (double)expected[i]);
            if (d > 0)
            {
                count++;
                if (first < 0)
                {
                    first = i;
                }
            }

            maxAbs = Math.Max(maxAbs, d);
            maxRel = Math.Max(maxRel, d / Math.Max(1e-12, Math.Abs((double)expected[i])));
        }

        string? detail = first < 0 ? null
            : count.ToString(CultureInfo.InvariantCulture) + " of " + actual.Length.ToString(CultureInfo.InvariantCulture) + " differ, first at " + FormatIndex(first, expectedShape) +
              " (ours " + actual[first].ToString(CultureInfo.InvariantCulture) + ", ref " + expected[first].ToString(CultureInfo.InvariantCulture) + ")";
        return new TensorResult(name, first < 0, maxAbs, maxRel, 0, detail);
    }

    /// <summary>"[1, 7, 64]".</summary>
    public static string FormatShape(ReadOnlySpan<long> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            sb.Append(i == 0 ? "" : ", ").Append(shape[i].ToString(CultureInfo.InvariantCulture));
        }

        return sb.Append(']').ToString();
    }

    /// <summary>"[1, 7, 64]".</summary>
    public static string FormatShape(ReadOnlySpan<int> shape)
    {
        Span<long> wide = shape.Length <= 8 ? stackalloc long[shape.Length] : new long[shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            wide[i] = shape[i];
        }

        return FormatShape(wide);
    }

    private static bool ShapeEquals(ReadOnlySpan<int> actual, ReadOnlySpan<long> expected)
    {
        if (actual.Length != expected.Length)
        {
            return false;
        }

        for (int i = 0; i < actual.Length; i++)
        {
            if (actual[i] != expected[i])
            {
                return false;
            }
        }

        return true;
    }

    private static int CountOver(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double tolerance)
    {
        int n = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (Math.Abs((double)actual[i] - expected[i]) > tolerance)
            {
                n++;
            }
        }

        return n;
    }

    /// <summary>Flat index → "[b, t, c]" in the reference's shape.</summary>
    private static string FormatIndex(int flat, ReadOnlySpan<long> shape)
    {
        if (shape.Length == 0)
        {
            return "[]";
        }

        Span<long> index = stackalloc long[shape.Length];
        long rest = flat;
        for (int axis = shape.Length - 1; axis >= 0; axis--)
        {
            long dim = Math.Max(1, shape[axis]);
            index[axis] = rest % dim;
            rest /= dim;
        }

        return FormatShape(index);
    }
}
