using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ViTMAE.Compiled.GoldenCheck;

namespace ViTMAE.Compiled.Conformance.Tests;

/// <summary>Locates the golden data: <c>../shared/golden</c> beside the repository root (the folder with ViTMAE.Compiled.sln).</summary>
public static class GoldenData
{
    /// <summary>The repository root.</summary>
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "ViTMAE.Compiled.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("ViTMAE.Compiled.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary><c>../shared/golden</c> beside the repository.</summary>
    public static string Root => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "golden"));

    /// <summary>The model case folders (subfolders with a config.json), by name.</summary>
    public static IReadOnlyList<string> CaseNames => GoldenCase.FindCases(Root).Select(Path.GetFileName).OfType<string>().ToArray();

    /// <summary>A case folder by name.</summary>
    public static string Case(string name) => Path.Combine(Root, name);
}
