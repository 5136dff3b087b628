using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;
using System.Threading;
using ViTMAE.Compiled;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Imaging.Datasets;
using ViTMAE.Compiled.Imaging.Plots;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Platform;
using ViTMAE.Compiled.Training;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Cli;

/// <summary>
/// <c>vitmae train --config &lt;config.json&gt; --data &lt;folder&gt; --out &lt;folder&gt; …</c>: pretrains ViTMAEForPreTraining with
/// the MAE recipe (AdamW β = (0.9, 0.95), lr = blr × batch / 256, linear warm-up then cosine decay, weight decay 0.05,
/// random resized crops and flips). Writes a Hugging Face folder (config.json, model.safetensors,
/// preprocessor_config.json) plus the optimizer state, <c>metrics.jsonl</c>, <c>train_state.json</c> and
/// <c>loss_curve.png</c>; Ctrl+C saves a resumable checkpoint first. <c>--resume &lt;folder&gt;</c> continues a run
/// bit-identically (same batches, same masks, same updates).
/// </summary>
internal static class TrainCommand
{
    private const string StateFile = "train_state.json", MetricsFile = "metrics.jsonl", CurveFile = "loss_curve.png";

    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "The model's config.json (default: samples/configs/fashion-mnist.json, compiled in)" };
        var data = new Option<string?>("--data") { Description = "A folder of images, or of Fashion-MNIST IDX files (e.g. /usr/share/datasets/fashion-mnist)" };
        var output = new Option<string?>("--out") { Description = "The run's folder (created; a run already there is refused: use --resume)" };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the data", DefaultValueFactory = _ => 10 };
        var maxSteps = new Option<long>("--max-steps") { Description = "Stop after this many optimizer steps (0: no limit); the schedule still spans --epochs", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch") { Description = "Images per step", DefaultValueFactory = _ => 64 };
        var blr = new Option<double>("--blr") { Description = "Base learning rate: lr = blr × batch / 256", DefaultValueFactory = _ => 1.5e-4 };
        var warmup = new Option<double>("--warmup-epochs") { Description = "Epochs of linear warm-up", DefaultValueFactory = _ => 1 };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW weight decay (≥ 2-D weights except the tokens)", DefaultValueFactory = _ => 0.05 };
        var seed = new Option<int>("--seed") { Description = "Seed of the initialisation, data order, crops, flips and masks", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "Threads per step (default: every processor)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var resume = new Option<string?>("--resume") { Description = "Continue the run saved in this folder (its settings; --max-steps and --threads may change)" };
        var command = new Command("train", "Pretrain ViTMAEForPreTraining (MAE recipe) on a folder of images or Fashion-MNIST")
        {
            config, data, output, epochs, maxSteps, batch, blr, warmup, weightDecay, seed, threads, resume,
        };
        command.SetAction(r =>
        {
            var settings = new RunSettings
            {
                Config = r.GetValue(config),
                Data = r.GetValue(data),
                Out = r.GetValue(output),
                Epochs = r.GetValue(epochs),
                Batch = r.GetValue(batch),
                BaseLearningRate = r.GetValue(blr),
                WarmupEpochs = r.GetValue(warmup),
                WeightDecay = r.GetValue(weightDecay),
                Seed = r.GetValue(seed),
            };
            return Run(settings, r.GetValue(resume), r.GetValue(maxSteps), r.GetValue(threads));
        });
        return command;
    }

    /// <summary>What defines a run; saved in train_state.json so that --resume needs nothing else.</summary>
    internal sealed record RunSettings
    {
        public string? Config { get; init; }

        public string? Data { get; init; }

        public string? Out { get; init; }

        public int Epochs { get; init; }

        public int Batch { get; init; }

        public double BaseLearningRate { get; init; }

        public double WarmupEpochs { get; init; }

        public double WeightDecay { get; init; }

        public int Seed { get; init; }

        public string Model { get; init; } = "";
    }

    private static int Run(RunSettings settings, string? resumeFolder, long maxSteps, int threads)
    {
        if (threads < 1 || maxSteps < 0)
        {
            throw new CliUsageException("--threads must be at least 1 and --max-steps at least 0");
        }

        long resumeStep = 0;
        if (resumeFolder is not null)
        {
            (settings, resumeStep) = ReadState(resumeFolder, settings.Out);
        }

        Validate(settings);
        string outFolder = Path.GetFullPath(settings.Out!);
        CompiledModels.Entry model = settings.Config is null
            ? CompiledModels.ByName("fashion-mnist")
            : CompiledModels.BySpec(ViTMAESpec.Load(settings.Config), settings.Config);
        settings = settings with { Model = model.Name };
        if (resumeFolder is null && File.Exists(Path.Combine(outFolder, StateFile)))
        {
            throw new CliUsageException("--out " + outFolder + " already holds a run; continue it with --resume " + outFolder + ", or choose another folder");
        }

        Directory.CreateDirectory(outFolder);
        ImageDataset data = ImageDataset.Open(settings.Data!);
        ViTMAESpec spec = model.Spec;
        (double[] mean, double[] std) = CompiledModels.Normalisation(spec.NumChannels);
        var batches = new TrainingBatches(data, spec.NumChannels, spec.ImageHeight, spec.ImageWidth, mean, std, settings.Seed);
        int perEpoch = batches.BatchesPerEpoch(settings.Batch);
        if (perEpoch == 0)
        {
            throw new CliUsageException($"--batch {settings.Batch} is larger than the data ({data.Count} images)");
        }

        long totalSteps = (long)perEpoch * settings.Epochs;
        var options = TrainingOptions.FromBaseLearningRate(settings.BaseLearningRate, settings.Batch) with
        {
            WarmupSteps = checked((int)Math.Round(settings.WarmupEpochs * perEpoch)),
            TotalSteps = checked((int)totalSteps),
            WeightDecay = settings.WeightDecay,
        };

        using TrainingSession trainer = resumeFolder is null
            ? model.CreateTrainer(ModelParameters.Random(model.Layout, settings.Seed), options, settings.Batch, settings.Seed, threads)
            : model.ResumeTraining(resumeFolder, settings.Batch, threads);
        if (trainer.OptimizerSteps != resumeStep)
        {
            throw new CliUsageException($"{resumeFolder}: train_state.json says step {resumeStep}, optimizer.safetensors step {trainer.OptimizerSteps}: the folder mixes two saves");
        }

        Console.WriteLine($"model: {model.Name} ({spec.Describe()})");
        Console.WriteLine($"data: {data.Description}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"run: {settings.Epochs} epochs × {perEpoch} steps of {settings.Batch} images, lr {options.LearningRate:G4} (blr {settings.BaseLearningRate:G4}), warm-up {options.WarmupSteps} steps, weight decay {settings.WeightDecay}, seed {settings.Seed}, {threads} thread(s); {CpuInfo.Describe()}"));
        if (resumeFolder is not null)
        {
            Console.WriteLine($"resumed: {resumeFolder} at step {resumeStep}");
        }

        WriteRunFiles(outFolder, spec, mean, std);
        TrimMetrics(Path.Combine(outFolder, MetricsFile), resumeStep);
        long stopAt = maxSteps > 0 ? Math.Min(totalSteps, resumeStep + maxSteps) : totalSteps;
        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true; // finish the step, save, then exit
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return Loop(trainer, batches, settings, outFolder, resumeStep, stopAt, totalSteps, perEpoch, stop.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static int Loop(TrainingSession trainer, TrainingBatches batches, RunSettings settings, string outFolder,
        long step, long stopAt, long totalSteps, int perEpoch, CancellationToken stop)
    {
        float[] pixels = new float[settings.Batch * batches.ImageFloats];
        string metricsPath = Path.Combine(outFolder, MetricsFile);
        using var metrics = new StreamWriter(metricsPath, append: step > 0, new UTF8Encoding(false));
        var progress = new Progress(stopAt - step);
        long startStep = step;
        while (step < stopAt && !stop.IsCancellationRequested)
        {
            long epoch = step / perEpoch;
            batches.Fill(epoch, (int)(step % perEpoch), settings.Batch, pixels);
            float loss = trainer.Step(new ViTMAEInputs(pixels, settings.Batch));
            step++;
            metrics.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"step\":{step},\"epoch\":{(double)step / perEpoch:F4},\"loss\":{loss:R},\"lr\":{trainer.LastLearningRate:R},\"grad_norm\":{trainer.LastGradientNorm:R},\"elapsed_s\":{progress.Elapsed:F3}}}"));
            progress.Report(step - startStep, step, totalSteps, perEpoch, loss, settings.Batch);
            if (step % perEpoch == 0 && step < stopAt)
            {
                metrics.Flush();
                Save(trainer, settings, outFolder, step);
            }
        }

        metrics.Flush();
        progress.Finish();
        Save(trainer, settings, outFolder, step);
        LossCurve.Write(ReadLosses(metricsPath), perEpoch, Path.Combine(outFolder, CurveFile));
        if (stop.IsCancellationRequested)
        {
            Console.WriteLine($"interrupted at step {step}: saved a resumable checkpoint in {outFolder} (continue with: vitmae train --resume {outFolder})");
            return 130;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"done: step {step} of {totalSteps}; saved {outFolder} (config.json, model.safetensors, optimizer.safetensors, {MetricsFile}, {CurveFile}) in {progress.Elapsed:F0} s"));
        return 0;
    }

    private static void Validate(RunSettings s)
    {
        if (s.Data is null || s.Out is null)
        {
            throw new CliUsageException("--data and --out are required (or --resume <folder>)");
        }

        if (s.Epochs < 1 || s.Batch < 1)
        {
            throw new CliUsageException("--epochs and --batch must be at least 1");
        }

        if (!(s.BaseLearningRate > 0) || !(s.WarmupEpochs >= 0) || !(s.WeightDecay >= 0) || s.WarmupEpochs > s.Epochs)
        {
            throw new CliUsageException("--blr must be positive, --weight-decay at least 0, --warmup-epochs between 0 and --epochs");
        }
    }

    private static void Save(TrainingSession trainer, RunSettings settings, string outFolder, long step)
    {
        trainer.Save(outFolder);

        // Written after the weights: a state file always names a step whose weights are on disk.
        string path = Path.Combine(outFolder, StateFile);
        WriteJson(path, w =>
        {
            w.WriteNumber("step", step);
            w.WriteString("model", settings.Model);
            if (settings.Config is null) w.WriteNull("config"); else w.WriteString("config", Path.GetFullPath(settings.Config));
            w.WriteString("data", Path.GetFullPath(settings.Data!));
            w.WriteNumber("epochs", settings.Epochs);
            w.WriteNumber("batch", settings.Batch);
            w.WriteNumber("blr", settings.BaseLearningRate);
            w.WriteNumber("warmup_epochs", settings.WarmupEpochs);
            w.WriteNumber("weight_decay", settings.WeightDecay);
            w.WriteNumber("seed", settings.Seed);
        });
    }

    /// <summary>Writes one JSON object (indented) beside <paramref name="path"/>, then renames it into place.</summary>
    private static void WriteJson(string path, Action<Utf8JsonWriter> body)
    {
        using (FileStream file = File.Create(path + ".tmp"))
        using (var w = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        File.Move(path + ".tmp", path, overwrite: true);
    }

    private static (RunSettings Settings, long Step) ReadState(string folder, string? outOverride)
    {
        string path = Path.Combine(folder, StateFile);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{folder}' holds no {StateFile}: it is not a run of 'vitmae train'", path);
        }

        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            JsonElement s = document.RootElement;
            string? config = s.GetProperty("config").ValueKind == JsonValueKind.Null ? null : s.GetProperty("config").GetString();
            var settings = new RunSettings
            {
                Config = config,
                Data = s.GetProperty("data").GetString(),
                Out = outOverride ?? folder,
                Epochs = s.GetProperty("epochs").GetInt32(),
                Batch = s.GetProperty("batch").GetInt32(),
                BaseLearningRate = s.GetProperty("blr").GetDouble(),
                WarmupEpochs = s.GetProperty("warmup_epochs").GetDouble(),
                WeightDecay = s.GetProperty("weight_decay").GetDouble(),
                Seed = s.GetProperty("seed").GetInt32(),
                Model = s.GetProperty("model").GetString() ?? "",
            };
            if (outOverride is not null && Path.GetFullPath(outOverride) != Path.GetFullPath(folder))
            {
                throw new CliUsageException("--resume continues the run in its own folder; drop --out (or give the same folder)");
            }

            return (settings, s.GetProperty("step").GetInt64());
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new WeightsFormatException(path + ": not a valid run state (" + e.Message + ")");
        }
    }

    private static void WriteRunFiles(string folder, ViTMAESpec spec, double[] mean, double[] std)
    {
        // Hugging Face's ViTImageProcessor settings of the run, so that the folder loads with AutoImageProcessor too.
        WriteJson(Path.Combine(folder, "preprocessor_config.json"), w =>
        {
            w.WriteBoolean("do_normalize", true);
            w.WriteBoolean("do_rescale", true);
            w.WriteBoolean("do_resize", true);
            w.WriteStartArray("image_mean");
            foreach (double m in mean) w.WriteNumberValue(m);
            w.WriteEndArray();
            w.WriteString("image_processor_type", "ViTImageProcessor");
            w.WriteStartArray("image_std");
            foreach (double v in std) w.WriteNumberValue(v);
            w.WriteEndArray();
            w.WriteNumber("resample", 3);
            w.WriteNumber("rescale_factor", 1.0 / 255.0);
            w.WriteStartObject("size");
            w.WriteNumber("height", spec.ImageHeight);
            w.WriteNumber("width", spec.ImageWidth);
            w.WriteEndObject();
        });
    }

    /// <summary>Drops the metrics of steps after <paramref name="step"/> (a run killed after its last save logged them).</summary>
    private static void TrimMetrics(string metricsPath, long step)
    {
        if (!File.Exists(metricsPath))
        {
            return;
        }

        var kept = new List<string>();
        foreach (string line in File.ReadLines(metricsPath))
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.GetProperty("step").GetInt64() <= step) kept.Add(line);
        }

        File.WriteAllLines(metricsPath, kept);
    }

    private static List<double> ReadLosses(string metricsPath)
    {
        var losses = new List<double>();
        foreach (string line in File.ReadLines(metricsPath))
        {
            using var document = JsonDocument.Parse(line);
            losses.Add(document.RootElement.GetProperty("loss").GetDouble());
        }

        return losses;
    }

    /// <summary>The live progress line: one line rewritten in place on a terminal, a line every 5 % otherwise.</summary>
    private sealed class Progress(long steps)
    {
        private readonly Stopwatch _timer = Stopwatch.StartNew();
        private readonly bool _terminal = !Console.IsErrorRedirected;
        private double _lastPrint = double.NegativeInfinity;
        private long _lastReported;
        private double _smoothed = double.NaN;

        public double Elapsed => _timer.Elapsed.TotalSeconds;

        public void Report(long done, long step, long total, int perEpoch, float loss, int batch)
        {
            _smoothed = double.IsNaN(_smoothed) ? loss : (0.98 * _smoothed) + (0.02 * loss);
            double elapsed = Elapsed;
            bool every5 = steps > 0 && done * 20 / steps != (done - 1) * 20 / steps;
            if (_terminal ? elapsed - _lastPrint < 0.25 && done != steps : !every5)
            {
                return;
            }

            _lastPrint = elapsed;
            double rate = done * batch / Math.Max(elapsed, 1e-9);
            double eta = (steps - done) * (elapsed / Math.Max(done, 1));
            string line = string.Create(CultureInfo.InvariantCulture,
                $"epoch {((step - 1) / perEpoch) + 1}/{(total + perEpoch - 1) / perEpoch}  step {step}/{total}  loss {loss:F4} (avg {_smoothed:F4})  {rate:F0} img/s  ETA {TimeSpan.FromSeconds(Math.Round(eta)):c}");
            if (_terminal)
            {
                Console.Error.Write("\r" + line.PadRight(100));
            }
            else
            {
                Console.Error.WriteLine(line);
            }

            _lastReported = done;
        }

        public void Finish()
        {
            if (_terminal && _lastReported > 0)
            {
                Console.Error.WriteLine();
            }
        }
    }
}
