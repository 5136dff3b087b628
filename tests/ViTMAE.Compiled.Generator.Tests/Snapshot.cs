using System;
using System.IO;
using System.Runtime.CompilerServices;
using ViTMAE.Compiled.TestSupport;

namespace ViTMAE.Compiled.Generator.Tests;

/// <summary>
/// Verify's snapshot convention, hand-written because Verify is not in the package registry copy:
/// <c>Class.Method#hint.verified.cs</c> beside the test file is the accepted text; on a mismatch the actual text is
/// written to <c>.received.cs</c> (git-ignored) and the test fails. Set <c>VITMAE_ACCEPT_SNAPSHOTS=1</c> to accept
/// (the received text becomes the verified one). A missing verified file fails too (and writes the received one).
/// </summary>
public static class Snapshot
{
    public const string AcceptVariable = "VITMAE_ACCEPT_SNAPSHOTS";

    /// <summary>
    /// The snapshot folder in the source tree. Found from the repository root, not from <c>[CallerFilePath]</c>: CI builds
    /// are deterministic (<c>ContinuousIntegrationBuild</c> maps source paths to <c>/_/</c>), so compile-time paths do
    /// not exist at run time there.
    /// </summary>
    public static string Directory => Path.Combine(RepoPaths.RepoRoot, "tests", "ViTMAE.Compiled.Generator.Tests", "Snapshots");

    public static string FileStem(string className, string method, string hint) => className + "." + method + "#" + hint;

    public static void Verify(string actual, string className, string hint, [CallerMemberName] string method = "")
    {
        string dir = Directory;
        string stem = Path.Combine(dir, FileStem(className, method, hint));
        string verified = stem + ".verified.cs";
        string received = stem + ".received.cs";
        actual = actual.Replace("\r\n", "\n", StringComparison.Ordinal);
        bool accept = Environment.GetEnvironmentVariable(AcceptVariable) is "1" or "true";

        string? expected = File.Exists(verified) ? File.ReadAllText(verified).Replace("\r\n", "\n", StringComparison.Ordinal) : null;
        if (expected == actual)
        {
            File.Delete(received);
            return;
        }

        System.IO.Directory.CreateDirectory(dir);
        if (accept)
        {
            File.WriteAllText(verified, actual);
            File.Delete(received);
            return;
        }

        File.WriteAllText(received, actual);
        string why = expected == null ? "no verified snapshot exists" : "the generated text differs (first difference at line " + FirstDifferentLine(expected, actual) + ")";
        Assert.Fail($"Snapshot {Path.GetFileName(verified)}: {why}. Compare {received} with {verified}; run with {AcceptVariable}=1 to accept.");
    }

    private static int FirstDifferentLine(string a, string b)
    {
        string[] la = a.Split('\n');
        string[] lb = b.Split('\n');
        for (int i = 0; i < Math.Min(la.Length, lb.Length); i++)
        {
            if (la[i] != lb[i])
            {
                return i + 1;
            }
        }

        return Math.Min(la.Length, lb.Length) + 1;
    }
}
