using System;
using System.IO;
using System.Reflection;
using ViTMAE.Compiled;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Cli;

/// <summary>
/// A trained checkpoint compiled into this binary as resources (<c>models/&lt;name&gt;/config.json</c>,
/// <c>model.safetensors</c>, <c>preprocessor_config.json</c>, <c>summary.txt</c>: see ViTMAE.Cli.csproj), so that the
/// NativeAOT binary needs no file beside it. The weights are read from the resource into memory once per process and
/// loaded through the same validating safetensors reader as a file.
/// </summary>
internal sealed class BundledModel
{
    private readonly string _prefix;

    private BundledModel(string prefix, string summary, ImageProcessorSettings preprocessor)
    {
        _prefix = prefix;
        Summary = summary;
        Preprocessor = preprocessor;
    }

    /// <summary>One line about the checkpoint (how it was trained), from its <c>summary.txt</c>.</summary>
    public string Summary { get; }

    /// <summary>The checkpoint's own preprocessor settings.</summary>
    public ImageProcessorSettings Preprocessor { get; }

    /// <summary>
    /// The bundled checkpoint <paramref name="name"/>, or null when this build has none. Its config.json must describe
    /// <paramref name="compiled"/> (a build that bundles another model's weights is a packaging bug: it throws).
    /// </summary>
    public static BundledModel? TryFind(string name, ViTMAESpec compiled)
    {
        string prefix = "models/" + name + "/";
        string? config = ReadText(prefix + "config.json");
        if (config is null)
        {
            return null;
        }

        ViTMAESpec spec = ViTMAESpec.Parse(config, "bundled " + prefix + "config.json");
        var differences = compiled.Differences(spec, architectureOnly: true);
        if (differences.Count > 0)
        {
            throw new InvalidOperationException("The bundled " + name + " model does not match its compiled config: " + string.Join("; ", differences));
        }

        string preprocessor = ReadText(prefix + "preprocessor_config.json")
            ?? throw new InvalidOperationException("The bundled " + name + " model has no preprocessor_config.json resource.");
        string summary = (ReadText(prefix + "summary.txt") ?? "trained weights").Trim();
        return new BundledModel(prefix, summary, ImageProcessorSettings.FromJson(preprocessor, "bundled " + prefix + "preprocessor_config.json"));
    }

    /// <summary>The weights, as an open source (validated like a file; the caller disposes it).</summary>
    public WeightSource OpenWeights()
    {
        using Stream stream = Open(_prefix + "model.safetensors")
            ?? throw new InvalidOperationException("The bundled model has no model.safetensors resource.");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return WeightSource.FromFile(SafeTensorsFile.FromMemory(bytes, "bundled:" + _prefix + "model.safetensors"));
    }

    private static Stream? Open(string resource) => typeof(BundledModel).Assembly.GetManifestResourceStream(resource);

    private static string? ReadText(string resource)
    {
        using Stream? stream = Open(resource);
        if (stream is null)
        {
            return null;
        }

        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
