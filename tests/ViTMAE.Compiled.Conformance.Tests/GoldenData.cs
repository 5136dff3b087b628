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
    public static string RepoRoot => ViTMAE.Compiled.TestSupport.RepoPaths.RepoRoot;

    /// <summary><c>../shared/golden</c> beside the repository.</summary>
    public static string Root => ViTMAE.Compiled.TestSupport.RepoPaths.GoldenRoot;

    /// <summary>The model case folders (subfolders with a config.json), by name.</summary>
    public static IReadOnlyList<string> CaseNames => GoldenCase.FindCases(Root).Select(Path.GetFileName).OfType<string>().ToArray();

    /// <summary>A case folder by name.</summary>
    public static string Case(string name) => Path.Combine(Root, name);
}
