using System;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ViTMAE.Cli.Models;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Modeling;

namespace ViTMAE.Cli;

/// <summary>
/// <c>vitmae reconstruct &lt;image...&gt; [--weights …] [--preprocessor …] [--seed N] --out grid.png</c>: the MAE paper's
/// figure for each image (original, masked, reconstruction, reconstruction with the visible patches pasted) as rows of
/// one PNG. For norm_pix_loss models each predicted patch is de-normalised with the mean and variance of the input's
/// own patch, as the MAE demo does.
/// </summary>
internal static class ReconstructCommand
{
    public static Command Create()
    {
        var images = new Argument<string[]>("images") { Description = "Image files (PNG, JPEG, BMP, GIF) or folders", Arity = ArgumentArity.OneOrMore };
        var weights = new Option<string?>("--weights") { Description = "A Hugging Face ViTMAEForPreTraining checkpoint (default: deterministic random weights)" };
        var preprocessor = new Option<string?>("--preprocessor") { Description = "preprocessor_config.json (default: facebook/vit-mae-base's)" };
        var seed = new Option<int>("--seed") { Description = "Seed of the random masking", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "The PNG to write", Required = true };
        var command = new Command("reconstruct", "Mask, reconstruct and draw the MAE figure for images") { images, weights, preprocessor, seed, output };
        command.SetAction(r => Run(r.GetValue(images)!, r.GetValue(weights), r.GetValue(preprocessor), r.GetValue(seed), r.GetValue(output)!));
        return command;
    }

    private static int Run(string[] imageArguments, string? weightsPath, string? preprocessorPath, int seed, string outPath)
    {
        var files = ImageInputs.Expand(imageArguments);
        ImageProcessor processor = ImageInputs.Processor(preprocessorPath);
        int batch = files.Count;
        float[] pixels = processor.PreprocessFiles(files);

        var timer = Stopwatch.StartNew();
        VitMaeBase model = VitMaeBase.Load(ModelSource.Resolve(weightsPath));
        double loadMs = timer.Elapsed.TotalMilliseconds;
        using VitMaeBase.Session session = model.CreateSession(batch, seed);
        timer.Restart();
        ViTMAEPreTrainingOutput output = session.ForwardPreTraining(new ViTMAEInputs(pixels, batch));
        double forwardMs = timer.Elapsed.TotalMilliseconds;

        ReconstructionGrid grid = ReconstructionGrid.Render(pixels, output.Logits.Span, output.Mask.Span, batch, VitMaeBase.ImageHeight, VitMaeBase.ImageWidth,
            new ReconstructionOptions
            {
                PatchSize = VitMaeBase.PatchSize,
                NormPixLoss = VitMaeBase.NormPixLoss,
                ImageMean = processor.Settings.ImageMean,
                ImageStd = processor.Settings.ImageStd,
            });
        grid.WritePng(outPath);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {outPath}: {batch} image(s) x 4 panels (original, masked {VitMaeBase.NumPatches - VitMaeBase.LenKeep}/{VitMaeBase.NumPatches} patches, reconstruction, reconstruction + visible); loss {output.Loss:F4}; load {loadMs:F0} ms, forward {forwardMs:F0} ms"));
        return 0;
    }
}
