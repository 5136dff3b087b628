using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Onnx.Tests;

/// <summary>Locates <c>../shared/golden</c> (beside the folder holding ViTMAE.Compiled.sln) and compares tensors with its rule.</summary>
internal static class Golden
{
    public static string RepoRoot => ViTMAE.Compiled.TestSupport.RepoPaths.RepoRoot;

    public static string Root => ViTMAE.Compiled.TestSupport.RepoPaths.GoldenRoot;

    /// <summary>Model case folders: those holding config.json, model.safetensors and io.safetensors.</summary>
    public static IReadOnlyList<string> CaseNames =>
        Directory.Exists(Root)
            ? Directory.GetDirectories(Root)
                .Where(d => File.Exists(Path.Combine(d, "config.json")) && File.Exists(Path.Combine(d, "io.safetensors")))
                .Select(d => Path.GetFileName(d)!)
                .Order(StringComparer.Ordinal)
                .ToArray()
            : [];

    public static string Case(string name) => Path.Combine(Root, name);

    /// <summary>
    /// The golden rule: floats agree within 1e-4·max(1, max|ref|) and NaN exactly where the reference has NaN;
    /// int64 exactly. Returns null on agreement, otherwise a line with the max-abs and max-rel differences.
    /// </summary>
    public static string? Compare(string name, SafeTensorsFile io, string key, OnnxTensor actual) => Compare(name, io, key, actual, out _);

    /// <summary>As above; <paramref name="usage"/> is max-abs / tolerance (0 for exact tensors that agree).</summary>
    public static string? Compare(string name, SafeTensorsFile io, string key, OnnxTensor actual, out double usage)
    {
        usage = 0;
        TensorInfo info = io.GetInfo(key);
        int[] expectedShape = info.Shape.Select(d => (int)d).ToArray();
        if (!expectedShape.SequenceEqual(actual.Shape))
        {
            return $"{name}: shape [{string.Join(", ", actual.Shape)}], expected [{string.Join(", ", expectedShape)}]";
        }

        if (info.DType == DType.I64)
        {
            long[] expected = io.ReadInt64(key);
            if (actual.Int64s is null)
            {
                return $"{name}: float output, expected int64";
            }

            int mismatches = expected.Where((v, i) => v != actual.Int64s[i]).Count();
            return mismatches == 0 ? null : $"{name}: {mismatches} of {expected.Length} int64 values differ";
        }

        float[] reference = io.ReadFloat32(key);
        float[]? values = actual.Floats;
        if (values is null)
        {
            return $"{name}: int64 output, expected float";
        }

        double maxRef = 0, maxAbs = 0, maxRel = 0;
        int nanMismatch = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            if (float.IsNaN(reference[i]) || float.IsNaN(values[i]))
            {
                nanMismatch += float.IsNaN(reference[i]) == float.IsNaN(values[i]) ? 0 : 1;
                continue;
            }

            maxRef = Math.Max(maxRef, Math.Abs(reference[i]));
            double diff = Math.Abs((double)values[i] - reference[i]);
            maxAbs = Math.Max(maxAbs, diff);
            maxRel = Math.Max(maxRel, diff / Math.Max(Math.Abs(reference[i]), 1e-12));
        }

        bool exact = name.EndsWith("mask", StringComparison.Ordinal);
        double tolerance = exact ? 0 : 1e-4 * Math.Max(1, maxRef);
        usage = tolerance > 0 ? maxAbs / tolerance : 0;
        if (nanMismatch == 0 && maxAbs <= tolerance)
        {
            return null;
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"{name}: max-abs {maxAbs:E3} (tolerance {tolerance:E3}), max-rel {maxRel:E3}, NaN mismatches {nanMismatch}");
    }

    public static void AssertAll(IEnumerable<string?> failures, string context)
    {
        var list = failures.OfType<string>().ToList();
        if (list.Count > 0)
        {
            var text = new StringBuilder(context).AppendLine(":");
            foreach (string line in list)
            {
                text.Append("  ").AppendLine(line);
            }

            Assert.Fail(text.ToString());
        }
    }
}
