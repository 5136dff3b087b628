// Linked into every project under tests/ (Directory.Build.targets): where the repository and ../shared are.
using System;
using System.IO;

namespace ViTMAE.Compiled.TestSupport;

/// <summary>The repository root (the folder holding ViTMAE.Compiled.sln) and the <c>../shared</c> folder beside it.</summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ViTMAE.Compiled.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("ViTMAE.Compiled.sln not found above " + AppContext.BaseDirectory);
    });

    /// <summary>The repository root.</summary>
    public static string RepoRoot => Root.Value;

    /// <summary><c>../shared</c> beside the repository (golden data, design notes).</summary>
    public static string SharedRoot => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    /// <summary><c>../shared/golden</c>.</summary>
    public static string GoldenRoot => Path.Combine(SharedRoot, "golden");
}
