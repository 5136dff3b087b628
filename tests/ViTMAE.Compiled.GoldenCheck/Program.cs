using System;

namespace ViTMAE.Compiled.GoldenCheck;

/// <summary>Entry point: see <see cref="GoldenCheckCommand"/>.</summary>
public static class Program
{
    /// <summary>Runs the golden check on the given case folders.</summary>
    public static int Main(string[] args) => GoldenCheckCommand.Run(args, Console.Out, Console.Error);
}
