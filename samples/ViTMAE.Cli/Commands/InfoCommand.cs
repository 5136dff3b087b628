using System;
using System.CommandLine;
using System.Linq;
using ViTMAE.Cli.Models;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Runtime;
using ViTMAE.Compiled.Platform;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Cli;

/// <summary><c>vitmae info [--weights model.safetensors]</c>: the config, the plan, FLOPs, arena size, and a weights summary.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var weights = new Option<string?>("--weights") { Description = "A Hugging Face checkpoint to check against the compiled layout (model.safetensors, an index.json, or a folder)" };
        var command = new Command("info", "Show the compiled model: config, plan, FLOPs, arena, weight layout") { weights };
        command.SetAction(result => Run(result.GetValue(weights)));
        return command;
    }

    private static int Run(string? weightsPath)
    {
        Console.WriteLine("Model: " + VitMaeBase.CompiledSpec.Describe());
        Console.WriteLine("CPU: " + CpuInfo.Describe());
        if (IsaDispatch.Note() is string note)
        {
            Console.WriteLine("Note: " + note);
        }

        Console.WriteLine();
        Console.WriteLine(VitMaeBase.PlanSummary);
        Console.WriteLine();
        long parameters = VitMaeBase.WeightLayout.Sum(w => w.ElementCount);
        Console.WriteLine($"Weights: {VitMaeBase.WeightLayout.Count} tensors, {parameters:N0} parameters ({parameters * 4 / 1048576.0:F1} MiB as float32), " +
                          $"{VitMaeBase.WeightLayout.Where(w => !w.IsDecoder).Sum(w => w.ElementCount):N0} in the encoder.");
        Console.WriteLine($"Arena: {VitMaeBase.ArenaFloatsPerImage * 4 / 1048576.0:F2} MiB per image.");
        if (weightsPath is null)
        {
            return 0;
        }

        // Check the checkpoint against the layout without packing anything: every tensor present with its shape.
        using WeightSource source = WeightSource.Open(weightsPath);
        if (!source.Contains("vit.embeddings.cls_token") && !source.Contains("embeddings.cls_token"))
        {
            throw new CliUsageException($"{weightsPath}: not a ViTMAE checkpoint (neither vit.embeddings.cls_token nor embeddings.cls_token among its {source.Count} tensors)");
        }

        var checkpoint = new Checkpoint(source);
        int found = 0;
        foreach (var spec in VitMaeBase.WeightLayout)
        {
            if (spec.IsDecoder && !checkpoint.HasDecoder)
            {
                continue;
            }

            source.RequireInfo(checkpoint.StoredKey(spec.Key), spec.Shape.ToArray());
            found++;
        }

        Console.WriteLine($"Checkpoint {weightsPath}: {(source.IsSharded ? source.Files.Count + " shards" : "1 file")}, {source.Count} tensors; " +
                          $"{found} of {VitMaeBase.WeightLayout.Count} layout tensors present with the right shapes" +
                          (checkpoint.HasDecoder ? "." : " (a ViTMAEModel checkpoint: encoder only)."));
        return 0;
    }
}
