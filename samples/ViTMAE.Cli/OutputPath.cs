using System.IO;

namespace ViTMAE.Cli;

/// <summary>Output files are checked before any work: a run must not compute for an hour and then fail to write.</summary>
internal static class OutputPath
{
    /// <summary>Throws unless <paramref name="path"/> names a file that can be created: its folder exists and it is not a folder itself.</summary>
    /// <exception cref="CliUsageException">The folder is missing or the path is a folder.</exception>
    public static void CheckWritable(string path)
    {
        if (Directory.Exists(path))
        {
            throw new CliUsageException("--out " + path + " is a folder; name the file to write");
        }

        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        if (!Directory.Exists(folder))
        {
            throw new CliUsageException("--out " + path + ": the folder " + folder + " does not exist");
        }
    }
}
