using System;
using System.IO;
using System.Linq;
using ViTMAE.Compiled.Fuzz;
using ViTMAE.Compiled.TestSupport;

namespace ViTMAE.Compiled.Tests.Fuzz;

/// <summary>
/// Replays the fuzzers' inputs through the same target code AFL runs (tests/ViTMAE.Compiled.Fuzz/FuzzTargets.cs,
/// compiled into this project): every input under regressions/&lt;target&gt;/ (inputs that once broke a promise, now
/// fixed) and the seed corpus/&lt;target&gt;/ must be accepted or rejected with a typed ViTMAEException, and an accepted
/// one must keep the targets' invariants. Inputs still failing live in regressions/pending/, which is not read here.
/// </summary>
public sealed class FuzzRegressionTests : IDisposable
{
    private static readonly string[] Targets = ["safetensors", "config", "image"];
    private readonly FuzzTargets _targets = new();

    public void Dispose() => _targets.Dispose();

    private static string FuzzRoot => Path.Combine(RepoPaths.RepoRoot, "tests", "ViTMAE.Compiled.Fuzz");

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string target in Targets)
        {
            foreach (string folder in new[] { "regressions", "corpus" })
            {
                string dir = Path.Combine(FuzzRoot, folder, target);
                if (!Directory.Exists(dir))
                {
                    continue;
                }

                foreach (string file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
                {
                    data.Add(target, Path.GetRelativePath(FuzzRoot, file).Replace('\\', '/'));
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Input_is_accepted_or_rejected_with_a_typed_exception(string target, string input)
    {
        Assert.True(FuzzTargets.TryParse(target, out FuzzTarget parsed), target);
        byte[] bytes = File.ReadAllBytes(Path.Combine(FuzzRoot, input));

        // Run throws only on a finding: an exception that is not a ViTMAEException, or a broken invariant.
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        _targets.Run(parsed, bytes);

        // AFL reports an input over 3 s as a hang; these inputs are all tiny and take milliseconds, so 10 s (a loaded
        // machine) still means the input makes the library do work out of proportion to its size.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"{input} took {stopwatch.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public void Every_target_has_a_seed_corpus()
    {
        foreach (string target in Targets)
        {
            string dir = Path.Combine(FuzzRoot, "corpus", target);
            Assert.True(Directory.Exists(dir) && Directory.EnumerateFiles(dir).Any(), $"{dir} holds no seed");
        }
    }

    [Fact]
    public void Untyped_exceptions_are_findings_and_typed_ones_are_not()
    {
        Assert.True(FuzzTargets.IsTyped(new global::ViTMAE.Compiled.Weights.WeightsFormatException("x")));
        Assert.True(FuzzTargets.IsTyped(new global::ViTMAE.Compiled.Imaging.ImageDecodeException("x")));
        Assert.False(FuzzTargets.IsTyped(new InvalidOperationException("x")));
        Assert.False(_targets.Run(FuzzTarget.Config, "{\"hidden_size\": -1}"u8.ToArray()));
        Assert.True(_targets.Run(FuzzTarget.Config, "{}"u8.ToArray()));
    }
}
