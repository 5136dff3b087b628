using System;
using System.CommandLine;
using System.Globalization;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Onnx;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Cli;

/// <summary>
/// <c>vitmae export-onnx --config config.json --weights model.safetensors --out model.onnx [--encoder-only] [--batch N]</c>:
/// a standard ONNX model (opset 17) with inputs <c>pixel_values</c> and <c>noise</c> and outputs <c>loss</c>,
/// <c>logits</c>, <c>mask</c>, <c>ids_restore</c>, <c>last_hidden_state</c> (encoder-only: the last three).
/// The batch axis is the symbolic dimension <c>batch</c> (any batch runs) unless <c>--batch N</c> fixes it.
/// Any ViTMAE config works here, not only the compiled one: the ONNX builder reads the config at run time.
/// </summary>
internal static class ExportOnnxCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "Hugging Face config.json", Required = true };
        var weights = new Option<string>("--weights") { Description = "model.safetensors (or index.json, or a folder)", Required = true };
        var output = new Option<string>("--out") { Description = "The .onnx file to write (weights over 2 GB go to <file>.data beside it)", Required = true };
        var encoderOnly = new Option<bool>("--encoder-only") { Description = "Export ViTMAEModel (no decoder, no loss)" };
        var batch = new Option<int?>("--batch") { Description = "Fix the batch size of the inputs and outputs (default: a symbolic 'batch' axis, any batch runs)" };
        var command = new Command("export-onnx", "Write the model as a standard ONNX graph that ONNX Runtime runs") { config, weights, output, encoderOnly, batch };
        command.SetAction(r => Run(r.GetValue(config)!, r.GetValue(weights)!, r.GetValue(output)!, r.GetValue(encoderOnly), r.GetValue(batch)));
        return command;
    }

    private static int Run(string configPath, string weightsPath, string outPath, bool encoderOnly, int? batch)
    {
        if (batch is < 1)
        {
            throw new CliUsageException("--batch must be at least 1");
        }

        ViTMAESpec spec = ViTMAESpec.Load(configPath);
        using WeightSource weights = WeightSource.Open(weightsPath);
        OnnxExportResult result = OnnxExport.Write(spec, weights, outPath, new OnnxBuildOptions { Batch = batch, EncoderOnly = encoderOnly });
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {result.ModelPath} ({(encoderOnly ? "ViTMAEModel" : "ViTMAEForPreTraining")}, {(batch is int n ? $"fixed batch {n}" : "dynamic batch (symbolic 'batch' axis)")}, {result.WeightBytes / 1048576.0:F1} MiB of weights{(result.ExternalDataPath is null ? "" : ", external data " + result.ExternalDataPath)})"));
        return 0;
    }
}
