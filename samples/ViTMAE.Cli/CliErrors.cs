using System;
using System.IO;
using ViTMAE.Compiled;

namespace ViTMAE.Cli;

/// <summary>Which exceptions are the user's input (one line, exit 1) rather than a bug (stack trace).</summary>
internal static class CliErrors
{
    public static bool IsUserError(Exception ex) =>
        ex is ViTMAEException or IOException or UnauthorizedAccessException or CliUsageException;

    public static string Describe(Exception ex) => ex switch
    {
        FileNotFoundException f => "file not found: " + (f.FileName ?? f.Message),
        DirectoryNotFoundException d => d.Message,
        _ => ex.Message.ReplaceLineEndings(" "),
    };
}

/// <summary>A command line that parses but asks for something impossible (e.g. a batch of 0).</summary>
internal sealed class CliUsageException(string message) : Exception(message);
