using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace ViTMAE.Cli;

/// <summary>
/// Image arguments shared by the commands: image files, folders (every image below them, recursively) and list files
/// (<c>.txt</c>/<c>.lst</c>: one path per line, relative to the list's folder; blank lines and <c>#</c> comments
/// ignored). The result is de-duplicated and sorted by ordinal path order: the stable order that <c>embed --shard</c>
/// splits (docs/SCALE.md).
/// </summary>
internal static class ImageInputs
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif"];
    private static readonly string[] ListExtensions = [".txt", ".lst"];

    /// <summary>Every image named, folders and lists expanded. A path a list names is kept even when it is missing (the caller reports it).</summary>
    /// <exception cref="FileNotFoundException">An argument names nothing.</exception>
    /// <exception cref="CliUsageException">No image at all.</exception>
    public static List<string> Expand(IEnumerable<string> arguments)
    {
        var files = new HashSet<string>(StringComparer.Ordinal);
        foreach (string argument in arguments)
        {
            if (Directory.Exists(argument))
            {
                files.UnionWith(Directory.EnumerateFiles(argument, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
                    .Where(IsImage));
            }
            else if (File.Exists(argument) && ListExtensions.Contains(Path.GetExtension(argument), StringComparer.OrdinalIgnoreCase))
            {
                string folder = Path.GetDirectoryName(argument) ?? "";
                foreach (string line in File.ReadLines(argument))
                {
                    string entry = line.Trim();
                    if (entry.Length > 0 && !entry.StartsWith('#'))
                    {
                        files.Add(Path.IsPathRooted(entry) ? entry : Path.Combine(folder, entry));
                    }
                }
            }
            else if (File.Exists(argument))
            {
                files.Add(argument);
            }
            else
            {
                throw new FileNotFoundException("image not found", argument);
            }
        }

        if (files.Count == 0)
        {
            throw new CliUsageException("no images found in " + string.Join(", ", arguments));
        }

        return files.Order(StringComparer.Ordinal).ToList();
    }

    private static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);
}
