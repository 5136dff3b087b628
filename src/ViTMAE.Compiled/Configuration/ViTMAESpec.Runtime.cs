using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace ViTMAE.Compiled.Configuration;

// The shared parser sources declare these types without an access modifier (internal in the generator);
// the runtime library makes them public.

/// <summary>A ViTMAE configuration parsed from a Hugging Face <c>config.json</c>.</summary>
public sealed partial record ViTMAESpec
{
    /// <summary>Parses a config from JSON text. Throws <see cref="ViTMAEConfigException"/> listing every problem.</summary>
    public static ViTMAESpec Parse(string json, string sourceName = "config.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        var diagnostics = new List<ConfigDiagnostic>();
        ViTMAESpec? spec = ViTMAEConfigParser.Parse(json, diagnostics);
        return spec ?? throw new ViTMAEConfigException(sourceName, diagnostics);
    }

    /// <summary>Reads and parses a <c>config.json</c> file (or a model folder that contains one).</summary>
    public static ViTMAESpec Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        if (!File.Exists(file))
        {
            throw new FileNotFoundException("ViTMAE config not found: " + file, file);
        }

        return Parse(File.ReadAllText(file), file);
    }
}

/// <summary>A problem in a config file: diagnostic ID, message and position in the JSON.</summary>
public sealed partial record ConfigDiagnostic;

/// <summary>Diagnostic IDs shared by the generator's compiler errors and <see cref="ViTMAEConfigException"/>.</summary>
public static partial class ConfigDiagnosticIds;

/// <summary>A position range in a JSON file (0-based line and column).</summary>
public readonly partial struct JsonSpan;

/// <summary>Raised when a config file is invalid; <see cref="Diagnostics"/> holds every problem found.</summary>
public sealed class ViTMAEConfigException : ViTMAEException
{
    /// <summary>Creates the exception for <paramref name="source"/> with its diagnostics.</summary>
    public ViTMAEConfigException(string source, IReadOnlyList<ConfigDiagnostic> diagnostics)
        : base(source + ": invalid ViTMAE config:" + Environment.NewLine + string.Join(Environment.NewLine, (diagnostics ?? []).Select(d => "  " + d)))
    {
        Source = source;
        Diagnostics = diagnostics ?? [];
    }

    /// <summary>The file (or source name) that was parsed.</summary>
    public new string Source { get; }

    /// <summary>Every problem found, in document order of discovery.</summary>
    public IReadOnlyList<ConfigDiagnostic> Diagnostics { get; }
}
