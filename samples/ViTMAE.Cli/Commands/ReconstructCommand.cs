using System;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Modeling;

namespace ViTMAE.Cli;

/// <summary>
/// <c>vitmae reconstruct &lt;image...&gt; [--model …] [--weights …] [--preprocessor …] [--seed N] [--scale N] --out grid.png</c>:
/// the MAE paper's figure for each image (original, masked, reconstruction, reconstruction with the visible patches
/// pasted) as rows of one PNG. The bundled Fashion-MNIST model runs unless another is named. For norm_pix_loss models
/// each predicted patch is de-normalised with the mean and variance of the input's own patch, as the MAE demo does.
/// </summary>
internal static class ReconstructCommand
{
    public static Command Create()
    {
        var images = new Argument<string[]>("images") { Description = "Image files (PNG, JPEG, BMP, GIF) or folders", Arity = ArgumentArity.OneOrMore };
        var model = new Option<string?>("--model") { Description = "A compiled model: fashion-mnist (default, bundled weights) or vit-mae-base" };
        var weights = new Option<string?>("--weights") { Description = "A Hugging Face ViTMAEForPreTraining checkpoint (default: the bundled model)" };
        var preprocessor = new Option<string?>("--preprocessor") { Description = "preprocessor_config.json (default: the checkpoint's own, else the model's)" };
        var seed = new Option<int>("--seed") { Description = "Seed of the random masking", DefaultValueFactory = _ => 0 };
        var scale = new Option<int>("--scale") { Description = "Enlarge the figure N times (default: panels of at least 112 pixels)", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "The PNG to write", Required = true };
        var command = new Command("reconstruct", "Mask, reconstruct and draw the MAE figure for images") { images, model, weights, preprocessor, seed, scale, output };
        command.SetAction(r => Run(r.GetValue(images)!, r.GetValue(model), r.GetValue(weights), r.GetValue(preprocessor), r.GetValue(seed), r.GetValue(scale), r.GetValue(output)!));
        return command;
    }

    private static int Run(string[] imageArguments, string? modelName, string? weightsPath, string? preprocessorPath, int seed, int scale, string outPath)
    {
        if (scale is < 0 or > 64)
        {
            throw new CliUsageException("--scale must be 1–64 (0: automatic)");
        }

        OutputPath.CheckWritable(outPath);
        var files = ImageInputs.Expand(imageArguments);
        var timer = Stopwatch.StartNew();
        using ModelSource source = ModelSource.Select(modelName, weightsPath);
        IViTMAEModel model = source.LoadMasked();
        double loadMs = timer.Elapsed.TotalMilliseconds;
        ImageProcessor processor = source.Processor(preprocessorPath);
        int batch = files.Count;
        float[] pixels = processor.PreprocessFiles(files);

        using IViTMAESession session = model.CreateSession(batch, seed);
        timer.Restart();
        ViTMAEPreTrainingOutput output = session.ForwardPreTraining(new ViTMAEInputs(pixels, batch));
        double forwardMs = timer.Elapsed.TotalMilliseconds;

        var spec = source.Spec;
        ReconstructionGrid grid = ReconstructionGrid.Render(pixels, output.Logits.Span, output.Mask.Span, batch, spec.ImageHeight, spec.ImageWidth,
            new ReconstructionOptions
            {
                PatchSize = spec.PatchSize,
                NormPixLoss = spec.NormPixLoss,
                ImageMean = processor.Settings.ImageMean,
                ImageStd = processor.Settings.ImageStd,
            });
        grid.Enlarge(scale > 0 ? scale : Math.Max(1, (112 + spec.ImageHeight - 1) / spec.ImageHeight)).WritePng(outPath);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {outPath}: {batch} image(s) x 4 panels (original, masked {spec.NumPatches - spec.LenKeep}/{spec.NumPatches} patches, reconstruction, reconstruction + visible); model {source.Description}; loss {output.Loss:F4}; load {loadMs:F0} ms, forward {forwardMs:F0} ms"));
        return 0;
    }
}
