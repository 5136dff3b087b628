using System;
using System.Collections.Generic;
using System.Linq;
using ViTMAE.Cli.Models;
using ViTMAE.Compiled;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Training;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Cli;

/// <summary>
/// The configs this binary compiles and can train (a static compiler: another config needs its own build — add it to a
/// project as an <c>AdditionalFiles</c> item, as samples/configs does for these).
/// </summary>
internal static class CompiledModels
{
    /// <summary>A compiled model: what the commands need of its generated class.</summary>
    internal sealed record Entry(
        string Name, ViTMAESpec Spec, WeightCatalog Layout, long TrainingFlopsPerImage, int DefaultTrainingBatch,
        Func<ModelParameters, TrainingOptions, int, long, int, TrainingSession> CreateTrainer,
        Func<string, int, int, TrainingSession> ResumeTraining)
    {
        /// <summary>Loads the weights into the class compiled from the config (its masking).</summary>
        public required Func<WeightSource, IViTMAEModel> Load { get; init; }

        /// <summary>Loads the weights into the class compiled with mask_ratio 0 (features of every patch).</summary>
        public required Func<WeightSource, IViTMAEModel> LoadUnmasked { get; init; }

        /// <summary>The weights compiled into this binary, if any.</summary>
        public BundledModel? Bundled { get; init; }

        /// <summary>The processor a checkpoint without its own preprocessor_config.json gets.</summary>
        public ImageProcessorSettings DefaultPreprocessor => Spec.NumChannels == 3 && Spec.ImageHeight == 224 && Spec.ImageWidth == 224
            ? ImageProcessorSettings.VitMaeBase
            : new ImageProcessorSettings
            {
                Height = Spec.ImageHeight,
                Width = Spec.ImageWidth,
                Resample = PilResample.Bicubic,
                ImageMean = Normalisation(Spec.NumChannels).Mean,
                ImageStd = Normalisation(Spec.NumChannels).Std,
            };
    }

    public static IReadOnlyList<Entry> All { get; } =
    [
        new("fashion-mnist", FashionMnist.CompiledSpec, FashionMnist.WeightLayout, FashionMnist.TrainingFlopsPerImage, 64,
            (p, o, batch, seed, threads) => FashionMnist.CreateTrainer(p, o, batch, checked((int)seed), threads),
            (folder, batch, threads) => FashionMnist.ResumeTraining(folder, batch, threads))
        {
            Load = FashionMnist.Load,
            LoadUnmasked = FashionMnistUnmasked.Load,
            Bundled = BundledModel.TryFind("fashion-mnist", FashionMnist.CompiledSpec),
        },
        new("vit-mae-base", VitMaeBase.CompiledSpec, VitMaeBase.WeightLayout, VitMaeBase.TrainingFlopsPerImage, 8,
            (p, o, batch, seed, threads) => VitMaeBase.CreateTrainer(p, o, batch, checked((int)seed), threads),
            (folder, batch, threads) => VitMaeBase.ResumeTraining(folder, batch, threads))
        {
            Load = VitMaeBase.Load,
            LoadUnmasked = VitMaeBaseUnmasked.Load,
        },
    ];

    /// <summary>The model the inference commands run when none is named: the bundled Fashion-MNIST one.</summary>
    public static Entry Default => All[0];

    /// <summary>
    /// The per-channel normalisation a run uses for a model of <paramref name="channels"/> channels: ImageNet's for colour
    /// (facebook/vit-mae-base's image processor), Fashion-MNIST's pixel statistics over its 60,000 training images for
    /// grey. `train` writes it to the run's preprocessor_config.json; `probe` embeds with the same.
    /// </summary>
    public static (double[] Mean, double[] Std) Normalisation(int channels) => channels == 3
        ? ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        : ([0.2860], [0.3530]);

    /// <summary>The entry named <paramref name="name"/>.</summary>
    /// <exception cref="CliUsageException">No such compiled model.</exception>
    public static Entry ByName(string name) => All.FirstOrDefault(m => m.Name == name)
        ?? throw new CliUsageException("model '" + name + "' is not compiled into this binary; it has " + string.Join(", ", All.Select(m => m.Name)));

    /// <summary>The entry whose config equals <paramref name="spec"/>.</summary>
    /// <exception cref="CliUsageException">This binary compiles no such config (the message lists the ones it has).</exception>
    public static Entry BySpec(ViTMAESpec spec, string source) => All.FirstOrDefault(m => m.Spec == spec)
        ?? throw new CliUsageException(source + " (" + spec.Describe() + ") is not a config this binary compiles: it has "
            + string.Join("; ", All.Select(m => m.Name + " (" + m.Spec.Describe() + ")"))
            + ". A static compiler trains what it compiled: add the config to a project as an AdditionalFiles item (README, 'Training').");
}
