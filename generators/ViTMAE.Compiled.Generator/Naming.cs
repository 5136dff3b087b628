using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis.CSharp;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Generator.Model;

namespace ViTMAE.Compiled.Generator
{
    /// <summary>Class and namespace of a generated model: from item metadata, else from the file name and RootNamespace.</summary>
    internal static class Naming
    {
        internal const string FallbackNamespace = "ViTMAE.Compiled.Generated";

        public static ModelTarget Resolve(ViTMAEGenerator.ConfigFile file, List<DiagnosticInfo> diagnostics)
        {
            string className = file.ClassName ?? DefaultClassName(file.Path);
            if (!IsIdentifier(className))
            {
                diagnostics.Add(DiagnosticInfo.AtStart(ConfigDiagnosticIds.InvalidMetadata, file.Path,
                    "ViTMAEClass '" + className + "' is not a valid C# class name"));
                className = DefaultClassName(file.Path);
            }

            string ns = file.Namespace ?? (file.RootNamespace.Length > 0 ? file.RootNamespace : FallbackNamespace);
            if (!ns.Split('.').All(IsIdentifier))
            {
                diagnostics.Add(DiagnosticInfo.AtStart(ConfigDiagnosticIds.InvalidMetadata, file.Path,
                    "ViTMAENamespace '" + ns + "' is not a valid C# namespace"));
                ns = FallbackNamespace;
            }

            return new ModelTarget(file.Path, ns, className);
        }

        /// <summary>
        /// "vit-mae-base.json" → "VitMaeBase". A file named "config.json" takes its folder's name
        /// (".../vit-mae-base/config.json" → "VitMaeBase"), as Hugging Face keeps one config per model folder.
        /// </summary>
        public static string DefaultClassName(string path)
        {
            string[] parts = path.Replace('\\', '/').Split('/').Where(p => p.Length > 0).ToArray();
            string stem = StripExtension(parts.Length > 0 ? parts[parts.Length - 1] : "model");
            if (string.Equals(stem, "config", StringComparison.OrdinalIgnoreCase) && parts.Length > 1)
            {
                stem = parts[parts.Length - 2];
            }

            var sb = new StringBuilder();
            bool upper = true;
            foreach (char c in stem)
            {
                if (char.IsLetterOrDigit(c) && c < 128)
                {
                    sb.Append(upper ? char.ToUpperInvariant(c) : c);
                    upper = false;
                }
                else
                {
                    upper = true;
                }
            }

            if (sb.Length == 0 || char.IsDigit(sb[0]))
            {
                sb.Insert(0, "Model");
            }

            return sb.ToString();
        }

        /// <summary>
        /// <c>ViTMAEResolutions="320x320;480x640"</c>: extra input sizes (height x width, pixels) that get their own
        /// specialised path with interpolated position tables (<c>interpolate_pos_encoding</c>). Each must be
        /// divisible by the patch size and keep at least one patch after masking.
        /// </summary>
        public static List<(int Height, int Width)> ParseResolutions(ViTMAEGenerator.ConfigFile file, ViTMAESpec spec, List<DiagnosticInfo> diagnostics)
        {
            var result = new List<(int Height, int Width)>();
            if (file.Resolutions is null)
            {
                return result;
            }

            foreach (string raw in file.Resolutions.Split(new[] { ';', ',' }, StringSplitOptions.RemoveEmptyEntries))
            {
                string item = raw.Trim();
                string[] parts = item.Split('x', 'X');
                if (parts.Length != 2 ||
                    !int.TryParse(parts[0].Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int h) ||
                    !int.TryParse(parts[1].Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int w) ||
                    h <= 0 || w <= 0)
                {
                    diagnostics.Add(DiagnosticInfo.AtStart(ConfigDiagnosticIds.InvalidMetadata, file.Path,
                        "ViTMAEResolutions entry '" + item + "' is not HEIGHTxWIDTH in pixels (e.g. \"320x320;480x640\")"));
                    continue;
                }

                if (h % spec.PatchSize != 0 || w % spec.PatchSize != 0)
                {
                    diagnostics.Add(DiagnosticInfo.AtStart(ConfigDiagnosticIds.InvalidMetadata, file.Path,
                        "ViTMAEResolutions entry '" + item + "' is not divisible by patch_size " + spec.PatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                    continue;
                }

                if (ViTMAEConfigParser.SizeProblem(spec with { ImageHeight = h, ImageWidth = w }) is { } tooLarge)
                {
                    diagnostics.Add(DiagnosticInfo.AtStart(ConfigDiagnosticIds.ModelTooLarge, file.Path,
                        "ViTMAEResolutions entry '" + item + "': " + tooLarge.Message));
                    continue;
                }

                int patches = (h / spec.PatchSize) * (w / spec.PatchSize);
                if (ViTMAESpec.KeptPatches(patches, spec.MaskRatio) < 1)
                {
                    diagnostics.Add(DiagnosticInfo.AtStart(ConfigDiagnosticIds.InvalidMetadata, file.Path,
                        "ViTMAEResolutions entry '" + item + "' has " + patches.ToString(System.Globalization.CultureInfo.InvariantCulture) + " patches, of which mask_ratio keeps none"));
                    continue;
                }

                result.Add((h, w));
            }

            return result;
        }

        private static string StripExtension(string name)
        {
            int dot = name.LastIndexOf('.');
            return dot > 0 ? name.Substring(0, dot) : name;
        }

        private static bool IsIdentifier(string name) =>
            SyntaxFacts.IsValidIdentifier(name) && SyntaxFacts.GetKeywordKind(name) == Microsoft.CodeAnalysis.CSharp.SyntaxKind.None;
    }
}
