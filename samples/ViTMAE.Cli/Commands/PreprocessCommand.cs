using System;
using System.CommandLine;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Cli;

/// <summary><c>vitmae preprocess &lt;image&gt; --out pixel_values.safetensors [--preprocessor …]</c>: HF ViTImageProcessor's output.</summary>
internal static class PreprocessCommand
{
    public static Command Create()
    {
        var image = new Argument<string>("image") { Description = "An image file (PNG, JPEG, BMP, GIF)" };
        var preprocessor = new Option<string?>("--preprocessor") { Description = "preprocessor_config.json (default: facebook/vit-mae-base's)" };
        var output = new Option<string>("--out") { Description = "The .safetensors file to write (tensor pixel_values [1, 3, H, W])", Required = true };
        var command = new Command("preprocess", "Decode, resize (PIL-exact) and normalise an image as Hugging Face does") { image, preprocessor, output };
        command.SetAction(r => Run(r.GetValue(image)!, r.GetValue(preprocessor), r.GetValue(output)!));
        return command;
    }

    private static int Run(string imagePath, string? preprocessorPath, string outPath)
    {
        ImageProcessorSettings settings = preprocessorPath is null ? ImageProcessorSettings.VitMaeBase : ImageProcessorSettings.FromFile(preprocessorPath);
        var processor = new ImageProcessor(settings);
        RgbImage image = ImageDecoder.Load(imagePath);
        (int height, int width) = processor.OutputSize(image);
        float[] pixels = processor.Preprocess(image);
        new SafeTensorsWriter().AddMetadata("source", imagePath).AddFloat32("pixel_values", pixels, 1, 3, height, width).WriteTo(outPath);
        Console.WriteLine($"wrote {outPath}: pixel_values [1, 3, {height}, {width}] from {imagePath} ({image.Width}x{image.Height})");
        return 0;
    }
}
