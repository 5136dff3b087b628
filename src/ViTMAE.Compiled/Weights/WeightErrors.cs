using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;

namespace ViTMAE.Compiled.Weights;

/// <summary>Message helpers shared by the loaders, so every error reads the same way.</summary>
internal static class WeightErrors
{
    /// <summary>The prefix Hugging Face's ViTMAEForPreTraining puts before ViTMAEModel's keys.</summary>
    internal const string VitPrefix = "vit.";

    internal static string Prefix(string filePath) => Path.GetFileName(filePath) + ": ";

    internal static string FormatShape(ReadOnlySpan<long> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }

            sb.Append(shape[i].ToString(CultureInfo.InvariantCulture));
        }

        return sb.Append(']').ToString();
    }

    internal static string FormatDTypes(IReadOnlyList<DType> dtypes)
    {
        var names = new string[dtypes.Count];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = dtypes[i].ToSafeTensorsName();
        }

        return string.Join(", ", names);
    }

    /// <summary>
    /// Builds the exception for a key that is absent. If the key exists with the <c>vit.</c> prefix added or
    /// removed, the message says which kind of checkpoint the file looks like.
    /// </summary>
    internal static MissingWeightException Missing(string filePath, string name, Func<string, bool> contains, int tensorCount)
    {
        string? alternative = null;
        string hint;
        if (name.StartsWith(VitPrefix, StringComparison.Ordinal) && contains(name.Substring(VitPrefix.Length)))
        {
            alternative = name.Substring(VitPrefix.Length);
            hint = $" It has '{alternative}' instead: this looks like a ViTMAEModel checkpoint, whose keys lack the '{VitPrefix}' prefix " +
                   $"that ViTMAEForPreTraining uses; bind with the prefix from DetectPrefix() (here \"\").";
        }
        else if (contains(VitPrefix + name))
        {
            alternative = VitPrefix + name;
            hint = $" It has '{alternative}' instead: this looks like a ViTMAEForPreTraining checkpoint, whose encoder keys carry the " +
                   $"'{VitPrefix}' prefix; bind with the prefix from DetectPrefix() (here \"{VitPrefix}\").";
        }
        else
        {
            hint = string.Empty;
        }

        string message = string.Create(CultureInfo.InvariantCulture,
            $"tensor '{name}' not found (the checkpoint holds {tensorCount} tensors).{hint}");
        return new MissingWeightException(filePath, name, message, alternative);
    }
}
