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

    /// <summary>Model case folders, found by the golden harness (GoldenCheck) like every other engine's tests.</summary>
    public static IReadOnlyList<string> CaseNames =>
        GoldenCheck.GoldenCase.FindCases(Root).Where(d => File.Exists(Path.Combine(d, "io.safetensors"))).Select(d => Path.GetFileName(d)!).ToArray();

    public static string Case(string name) => Path.Combine(Root, name);

    /// <summary>A golden case opened for a test: its config, weights, reference tensors and inputs.</summary>
    public static OpenCase Open(string name)
    {
        string dir = Case(name);
        var weights = WeightSource.Open(Path.Combine(dir, "model.safetensors"));
        var io = SafeTensorsFile.Open(Path.Combine(dir, "io.safetensors"));
        return new OpenCase(Configuration.ViTMAESpec.Load(dir), weights, io, io.ReadFloat32("inputs.pixel_values"), io.ReadFloat32("inputs.noise"));
    }

    /// <summary>What <see cref="Open"/> gives; disposing it closes the weights and the reference file.</summary>
    public sealed record OpenCase(Configuration.ViTMAESpec Spec, WeightSource Weights, SafeTensorsFile Io, float[] Pixels, float[] Noise) : IDisposable
    {
        public void Dispose()
        {
            Io.Dispose();
            Weights.Dispose();
        }
    }

    /// <summary>
    /// The harness's rule (<see cref="GoldenCheck.TensorComparer"/>, shared with the generated code's golden checks): floats
    /// agree within 1e-4·max(1, max|ref|) and NaN exactly where the reference has NaN; masks and int64 exactly. Returns null on
    /// agreement, otherwise the harness's line (max-abs, max-rel, tolerance, worst element).
    /// </summary>
    public static string? Compare(string name, SafeTensorsFile io, string key, OnnxTensor actual) => Compare(name, io, key, actual, out _);

    /// <summary>As above; <paramref name="usage"/> is max-abs / tolerance (0 for exact tensors).</summary>
    public static string? Compare(string name, SafeTensorsFile io, string key, OnnxTensor actual, out double usage)
    {
        usage = 0;
        TensorInfo info = io.GetInfo(key);
        long[] expectedShape = info.Shape.ToArray();
        GoldenCheck.TensorResult result;
        if (info.DType == DType.I64)
        {
            if (actual.Int64s is null)
            {
                return $"{name}: float output, expected int64";
            }

            int[] values = actual.Int64s.Select(v => (int)v).ToArray();
            result = actual.Shape.SequenceEqual(expectedShape.Select(d => (int)d))
                ? GoldenCheck.TensorComparer.CompareExact(name, values, io.ReadInt64(key), expectedShape)
                : GoldenCheck.TensorResult.Failure(name, "shape " + GoldenCheck.TensorComparer.FormatShape(actual.Shape.AsSpan()) + " != reference " + GoldenCheck.TensorComparer.FormatShape(expectedShape));
        }
        else
        {
            if (actual.Floats is null)
            {
                return $"{name}: int64 output, expected float";
            }

            bool exact = name.EndsWith("mask", StringComparison.Ordinal);
            result = GoldenCheck.TensorComparer.Compare(name, actual.Floats, actual.Shape.AsSpan(), io.ReadFloat32(key), expectedShape, exact);
        }

        usage = result.Tolerance > 0 && !double.IsNaN(result.MaxAbs) ? result.MaxAbs / result.Tolerance : 0;
        return result.Passed ? null : result.Format();
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
