using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ViTMAE.Compiled;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Cli;

/// <summary>
/// Which compiled model runs and with which weights: <c>--model</c> and <c>--weights</c> as every inference command reads
/// them. Nothing given: the bundled Fashion-MNIST model (its weights are compiled into this binary). <c>--weights</c>
/// alone: the compiled model its config.json (or, without one, its tensor shapes) describes. <c>--model</c> alone:
/// that model's bundled weights, else a deterministic random initialisation, said plainly.
/// </summary>
internal sealed class ModelSource : IDisposable
{
    private readonly WeightSource _weights;

    private ModelSource(CompiledModels.Entry entry, WeightSource weights, string name, string description, ImageProcessorSettings preprocessor, bool isRandom)
    {
        Entry = entry;
        _weights = weights;
        Name = name;
        Description = description;
        Preprocessor = preprocessor;
        IsRandom = isRandom;
    }

    /// <summary>The compiled model.</summary>
    public CompiledModels.Entry Entry { get; }

    /// <summary>The compiled config.</summary>
    public ViTMAESpec Spec => Entry.Spec;

    /// <summary>What reports call the model, e.g. <c>fashion-mnist</c> or <c>vit-mae-base (random)</c>.</summary>
    public string Name { get; }

    /// <summary>One line for the log: the model, where its weights come from.</summary>
    public string Description { get; }

    /// <summary>The image processor settings that go with these weights (the checkpoint's own, or the model's default).</summary>
    public ImageProcessorSettings Preprocessor { get; }

    /// <summary>
    /// The preprocessor's mean and deviation, one per channel of the model (the dataset pipeline's form; a config's single
    /// value applies to every channel).
    /// </summary>
    public (double[] Mean, double[] Std) Normalisation
    {
        get
        {
            _ = Processor(null); // the same checks as for images: sizes, and one value for a grey model
            double[] PerChannel(IReadOnlyList<double> values) =>
                Enumerable.Range(0, Spec.NumChannels).Select(c => values[values.Count == 1 ? 0 : c]).ToArray();
            return (PerChannel(Preprocessor.ImageMean), PerChannel(Preprocessor.ImageStd));
        }
    }

    /// <summary>Whether the weights are a random initialisation (outputs are meaningless).</summary>
    public bool IsRandom { get; }

    /// <summary>The model as <c>ViTMAEForPreTraining</c> with its config's masking.</summary>
    public IViTMAEModel LoadMasked() => Entry.Load(_weights);

    /// <summary>The same weights in the class compiled with mask_ratio 0 (every patch; for features).</summary>
    public IViTMAEModel LoadUnmasked() => Entry.LoadUnmasked(_weights);

    /// <summary>The processor for images fed to this model: <paramref name="preprocessorPath"/> when given, else <see cref="Preprocessor"/>.</summary>
    /// <exception cref="CliUsageException">The processor resizes to another size than the compiled one.</exception>
    public ImageProcessor Processor(string? preprocessorPath)
    {
        ImageProcessorSettings settings = preprocessorPath is null ? Preprocessor : ImageProcessorSettings.FromFile(preprocessorPath);
        if (settings.Height != Spec.ImageHeight || settings.Width != Spec.ImageWidth)
        {
            throw new CliUsageException($"{preprocessorPath ?? "the preprocessor"} resizes to {settings.Height}x{settings.Width}, but the compiled model '{Entry.Name}' takes {Spec.ImageHeight}x{Spec.ImageWidth}");
        }

        return new ImageProcessor(settings, Spec.NumChannels);
    }

    /// <summary>Resolves <c>--model</c> and <c>--weights</c> (the commands print <see cref="Description"/>: which model ran).</summary>
    /// <exception cref="CliUsageException">An unknown model name, or weights that fit no compiled model.</exception>
    /// <exception cref="ViTMAEConfigException">The checkpoint's config.json differs from the named model's (VMAE016).</exception>
    public static ModelSource Select(string? modelName, string? weightsPath)
    {
        if (weightsPath is null)
        {
            CompiledModels.Entry entry = CompiledModels.ByName(modelName ?? CompiledModels.Default.Name);
            if (entry.Bundled is { } bundled)
            {
                return new ModelSource(entry, bundled.OpenWeights(), entry.Name, $"{entry.Name} (bundled: {bundled.Summary})", bundled.Preprocessor, isRandom: false);
            }

            string path = RandomInit.CachedCheckpoint(entry.Spec, entry.Name, seed: 0);
            return new ModelSource(entry, WeightSource.Open(path), entry.Name + " (random)",
                entry.Name + " with RANDOM weights (seed 0: no --weights given and none bundled; outputs are meaningless)", entry.DefaultPreprocessor, isRandom: true);
        }

        if (!File.Exists(weightsPath) && !Directory.Exists(weightsPath))
        {
            throw new FileNotFoundException("weights not found", weightsPath);
        }

        WeightSource weights = WeightSource.Open(weightsPath);
        try
        {
            CompiledModels.Entry entry = modelName is null ? Identify(weightsPath, weights) : CompiledModels.ByName(modelName);
            ViTMAESpec.CheckCheckpointConfig(weightsPath, entry.Spec);
            string folder = FolderOf(weightsPath);
            string preprocessorFile = Path.Combine(folder, "preprocessor_config.json");
            ImageProcessorSettings preprocessor = File.Exists(preprocessorFile) ? ImageProcessorSettings.FromFile(preprocessorFile) : entry.DefaultPreprocessor;
            return new ModelSource(entry, weights, entry.Name,
                $"{entry.Name} from {weightsPath}" + (File.Exists(preprocessorFile) ? " (with its preprocessor_config.json)" : ""), preprocessor, isRandom: false);
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The compiled model a checkpoint is for: the one its config.json describes (fields that change the weights or the
    /// forward pass), else the one whose encoder tensors all have the checkpoint's shapes.
    /// </summary>
    private static CompiledModels.Entry Identify(string weightsPath, WeightSource weights)
    {
        string folder = FolderOf(weightsPath);
        string config = Path.Combine(folder, "config.json");
        if (File.Exists(config) && new FileInfo(config).Length > 0)
        {
            ViTMAESpec spec = ViTMAESpec.Load(config);
            return CompiledModels.All.FirstOrDefault(m => m.Spec.Differences(spec, architectureOnly: true).Count == 0)
                ?? throw new CliUsageException(config + " (" + spec.Describe() + ") is not a config this binary compiles: it has "
                    + string.Join("; ", CompiledModels.All.Select(m => m.Name + " (" + m.Spec.Describe() + ")")));
        }

        var checkpoint = new ViTMAE.Compiled.Runtime.Checkpoint(weights);
        foreach (CompiledModels.Entry entry in CompiledModels.All)
        {
            if (entry.Layout.Where(w => !w.IsDecoder).All(w => weights.TryGetInfo(checkpoint.StoredKey(w.Key), out TensorInfo? info) && info.ShapeEquals(w.Shape.ToArray())))
            {
                return entry;
            }
        }

        throw new CliUsageException($"{weightsPath}: its tensors fit none of the compiled models ({string.Join(", ", CompiledModels.All.Select(m => m.Name))}); name one with --model to see which tensor differs");
    }

    /// <summary>The checkpoint's folder: the path itself when it is one, else the folder of the file (where config.json and preprocessor_config.json lie).</summary>
    private static string FolderOf(string checkpointPath) =>
        Directory.Exists(checkpointPath) ? checkpointPath : Path.GetDirectoryName(Path.GetFullPath(checkpointPath)) ?? ".";

    /// <summary>Feeds every tensor's name, dtype, shape and bytes, in name order, to <paramref name="hash"/> (a fingerprint of the weights, not of the file layout).</summary>
    public void HashWeights(System.Security.Cryptography.IncrementalHash hash)
    {
        foreach (string name in _weights.Names)
        {
            TensorInfo info = _weights.GetInfo(name);
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(name + "|" + info.DType + "|" + info.ShapeText + "|"));
            hash.AppendData(_weights.GetBytes(name));
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _weights.Dispose();
}
