using System;
using System.IO;
using ViTMAE.Cli.Models;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Modeling;

namespace ViTMAE.Cli;

/// <summary>Where the weights come from: a Hugging Face checkpoint, or a deterministic random initialisation.</summary>
internal static class ModelSource
{
    /// <summary>
    /// The checkpoint to load: <paramref name="weights"/> when given, else a random vit-mae-base initialisation (seed 0)
    /// written once to the temp folder and reused. Says plainly which one on standard error.
    /// </summary>
    public static string Resolve(string? weights)
    {
        if (weights is not null)
        {
            if (!File.Exists(weights) && !Directory.Exists(weights))
            {
                throw new FileNotFoundException("weights not found", weights);
            }

            Console.Error.WriteLine("weights: " + weights);
            return weights;
        }

        string path = RandomInit.CachedCheckpoint(BaseSpec, "vit-mae-base", seed: 0);
        Console.Error.WriteLine("weights: none given; using a deterministic RANDOM initialisation (seed 0) of vit-mae-base. Timings are real, outputs are meaningless.");
        return path;
    }

    /// <summary>The compiled config (also the shape every checkpoint must have).</summary>
    public static ViTMAESpec BaseSpec => VitMaeBase.CompiledSpec;
}
