using System;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;
using ViTMAE.Cli.Models;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Cli;

/// <summary>
/// <c>vitmae embed &lt;image-or-folder...&gt; [--weights …] --out embeddings.safetensors [--no-mask] [--batch N] [--seed N]</c>:
/// per image the CLS token and the mean of the patch tokens of <c>last_hidden_state</c>. By default the encoder sees
/// the masked input (75% of patches removed, seeded), as ViTMAEModel does; <c>--no-mask</c> feeds every patch
/// (the model compiled with mask_ratio 0), which is what feature extraction usually wants.
/// </summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var images = new Argument<string[]>("images") { Description = "Image files or folders", Arity = ArgumentArity.OneOrMore };
        var weights = new Option<string?>("--weights") { Description = "A Hugging Face checkpoint (ViTMAEModel or ViTMAEForPreTraining; default: random weights)" };
        var output = new Option<string>("--out") { Description = "The .safetensors file to write (tensors cls and mean, [N, hidden])", Required = true };
        var noMask = new Option<bool>("--no-mask") { Description = "Encode every patch (no random masking)" };
        var batch = new Option<int>("--batch") { Description = "Images per forward call", DefaultValueFactory = _ => 8 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random masking", DefaultValueFactory = _ => 0 };
        var preprocessor = new Option<string?>("--preprocessor") { Description = "preprocessor_config.json (default: facebook/vit-mae-base's)" };
        var command = new Command("embed", "CLS and mean-pooled encoder features for images") { images, weights, output, noMask, batch, seed, preprocessor };
        command.SetAction(r => Run(r.GetValue(images)!, r.GetValue(weights), r.GetValue(output)!, r.GetValue(noMask), r.GetValue(batch), r.GetValue(seed), r.GetValue(preprocessor)));
        return command;
    }

    private static int Run(string[] arguments, string? weightsPath, string outPath, bool noMask, int batchSize, int seed, string? preprocessorPath)
    {
        if (batchSize < 1)
        {
            throw new CliUsageException("--batch must be at least 1");
        }

        var files = ImageInputs.Expand(arguments);
        ImageProcessor processor = ImageInputs.Processor(preprocessorPath);
        string weights = ModelSource.Resolve(weightsPath);
        IViTMAEModel model = noMask ? VitMaeBaseUnmasked.Load(weights) : VitMaeBase.Load(weights);
        using IViTMAESession session = model.CreateSession(Math.Min(batchSize, files.Count), seed);

        const int hidden = VitMaeBase.HiddenSize;
        var cls = new float[files.Count * hidden];
        var mean = new float[files.Count * hidden];
        var pixels = new float[Math.Min(batchSize, files.Count) * 3 * VitMaeBase.ImageHeight * VitMaeBase.ImageWidth];
        var timer = Stopwatch.StartNew();
        for (int start = 0; start < files.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, files.Count - start);
            Span<float> batchPixels = pixels.AsSpan(0, count * 3 * VitMaeBase.ImageHeight * VitMaeBase.ImageWidth);
            processor.PreprocessFiles(files.GetRange(start, count), batchPixels);
            TensorView last = session.Forward(new ViTMAEInputs(batchPixels, count)).LastHiddenState;
            for (int b = 0; b < count; b++)
            {
                TensorView tokens = last[b]; // [T, hidden]
                tokens[0].Span.CopyTo(cls.AsSpan((start + b) * hidden, hidden));
                Span<float> pooled = mean.AsSpan((start + b) * hidden, hidden);
                for (int t = 1; t < tokens.Shape[0]; t++)
                {
                    System.Numerics.Tensors.TensorPrimitives.Add(pooled, tokens[t].Span, pooled);
                }

                System.Numerics.Tensors.TensorPrimitives.Multiply(pooled, 1f / (tokens.Shape[0] - 1), pooled);
            }

            Progress(start + count, files.Count, timer.Elapsed);
        }

        Console.Error.WriteLine();
        new SafeTensorsWriter()
            .AddMetadata("files", FileList(files))
            .AddMetadata("masking", noMask ? "none" : "mask_ratio " + VitMaeBase.MaskRatio.ToString(CultureInfo.InvariantCulture) + ", seed " + seed.ToString(CultureInfo.InvariantCulture))
            .AddFloat32("cls", cls, files.Count, hidden)
            .AddFloat32("mean", mean, files.Count, hidden)
            .WriteTo(outPath);
        Console.WriteLine($"wrote {outPath}: cls and mean [{files.Count}, {hidden}] ({(noMask ? "every patch" : "masked input")}) in {timer.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    /// <summary>A one-line progress bar with the rate and the estimated time left, on standard error.</summary>
    private static void Progress(int done, int total, TimeSpan elapsed)
    {
        const int width = 30;
        int filled = (int)((long)width * done / total);
        double rate = done / Math.Max(elapsed.TotalSeconds, 1e-9);
        TimeSpan left = TimeSpan.FromSeconds((total - done) / Math.Max(rate, 1e-9));
        Console.Error.Write(string.Create(CultureInfo.InvariantCulture,
            $"\r[{new string('#', filled)}{new string('.', width - filled)}] {done}/{total} images, {rate:F1}/s, ETA {left:mm\\:ss}  "));
    }

    /// <summary>The image paths as a JSON array (Utf8JsonWriter: no reflection, NativeAOT-safe).</summary>
    private static string FileList(System.Collections.Generic.List<string> files)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartArray();
            foreach (string file in files)
            {
                writer.WriteStringValue(file);
            }

            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
