using System;
using System.CommandLine;
using System.IO;
using ViTMAE.Cli;

// vitmae: the ViTMAE.Compiled command-line tool. Every command is a small class in Commands/; errors that come from
// bad input (files, weights, arguments) print one line and exit 1, never a stack trace.
var root = new RootCommand("ViTMAE.Compiled: facebook/vit-mae-base compiled to C# at build time.")
{
    ReconstructCommand.Create(),
    EmbedCommand.Create(),
    PreprocessCommand.Create(),
    InfoCommand.Create(),
    BenchCommand.Create(),
    TrainCommand.Create(),
    ProbeCommand.Create(),
    MergeCommand.Create(),
    ExportOnnxCommand.Create(),
};

try
{
    // On x86-64, hand over to the build for this CPU's level (AVX2 or AVX-512) when it lies beside this one.
    if (IsaDispatch.Run(args) is int exitCode)
    {
        return exitCode;
    }

    // Our own handler below decides what is a user error (one line) and what is a bug (stack trace).
    return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception ex) when (CliErrors.IsUserError(ex))
{
    Console.Error.WriteLine("vitmae: error: " + CliErrors.Describe(ex));
    return 1;
}
