using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ViTMAE.Cli.Models;
using ViTMAE.Compiled.Imaging;

namespace ViTMAE.Cli;

/// <summary>Image arguments shared by the commands: files and folders in, a processor that fits the compiled model.</summary>
internal static class ImageInputs
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif"];

    /// <summary>Every image named, folders expanded to their images (sorted by name, not recursive).</summary>
    public static List<string> Expand(IEnumerable<string> arguments)
    {
        var files = new List<string>();
        foreach (string argument in arguments)
        {
            if (Directory.Exists(argument))
            {
                files.AddRange(Directory.EnumerateFiles(argument)
                    .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                    .Order(StringComparer.Ordinal));
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

        return files;
    }

    /// <summary>The processor from <paramref name="preprocessorConfig"/> (else vit-mae-base's), checked against the compiled input size.</summary>
    public static ImageProcessor Processor(string? preprocessorConfig)
    {
        ImageProcessorSettings settings = preprocessorConfig is null ? ImageProcessorSettings.VitMaeBase : ImageProcessorSettings.FromFile(preprocessorConfig);
        if (settings.Height != VitMaeBase.ImageHeight || settings.Width != VitMaeBase.ImageWidth)
        {
            throw new CliUsageException($"{preprocessorConfig}: the preprocessor resizes to {settings.Height}x{settings.Width}, but the compiled model takes {VitMaeBase.ImageHeight}x{VitMaeBase.ImageWidth}");
        }

        return new ImageProcessor(settings);
    }
}
