using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text.Json;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Training;

/// <summary>
/// A training run on disk, as <see cref="TrainingSession.Save"/> writes it: <c>config.json</c> and <c>model.safetensors</c>
/// (Hugging Face's layout and keys: <c>ViTMAEForPreTraining.from_pretrained(folder)</c> loads them) and
/// <c>optimizer.safetensors</c> — AdamW's moments per trainable tensor (<c>exp_avg.&lt;key&gt;</c>, <c>exp_avg_sq.&lt;key&gt;</c>),
/// the gradients of an unfinished accumulation (<c>pending_grad.&lt;key&gt;</c>), and in its metadata the step, the
/// options (learning-rate schedule included) and the noise generator's counter. Resuming from it continues the run
/// bit-identically.
/// </summary>
public sealed class TrainingCheckpoint
{
    /// <summary>The optimizer file's name.</summary>
    public const string OptimizerFileName = "optimizer.safetensors";

    private const string FormatKey = "vitmae_training_format", FormatVersion = "1";

    private TrainingCheckpoint(ModelParameters parameters, TrainingOptions options, AdamW optimizer, float[]? pendingGradients, int pendingMicroBatches, long noiseSeed, long noiseDrawn)
    {
        Parameters = parameters;
        Options = options;
        Optimizer = optimizer;
        PendingGradients = pendingGradients;
        PendingMicroBatches = pendingMicroBatches;
        NoiseSeed = noiseSeed;
        NoiseDrawn = noiseDrawn;
    }

    /// <summary>The model's parameters.</summary>
    public ModelParameters Parameters { get; }

    /// <summary>The options the run was started with.</summary>
    public TrainingOptions Options { get; }

    /// <summary>AdamW's state: moments and steps taken.</summary>
    public AdamW Optimizer { get; }

    /// <summary>Gradients accumulated since the last optimizer step (catalog layout), or null when none were pending.</summary>
    public float[]? PendingGradients { get; }

    /// <summary>Micro-batches in <see cref="PendingGradients"/>.</summary>
    public int PendingMicroBatches { get; }

    /// <summary>Seed of the masking noise drawn when the caller gives none.</summary>
    public long NoiseSeed { get; }

    /// <summary>Noise values drawn so far.</summary>
    public long NoiseDrawn { get; }

    /// <summary>Writes a run's state into <paramref name="folder"/> (created if needed; existing files are replaced).</summary>
    internal static void Write(string folder, TrainingSession session)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Directory.CreateDirectory(folder);
        WeightCatalog catalog = session.Parameters.Catalog;
        WriteAtomically(Path.Combine(folder, "config.json"), path => File.WriteAllText(path, catalog.Spec.ToConfigJson()));
        var modelMetadata = new Dictionary<string, string> { ["optimizer_steps"] = I(session.OptimizerSteps) };
        WriteAtomically(Path.Combine(folder, WeightSource.SingleFileName), path => session.Parameters.ToWriter(modelMetadata).WriteTo(path));

        var optimizer = new SafeTensorsWriter();
        optimizer.AddMetadata(FormatKey, FormatVersion);
        optimizer.AddMetadata("step", I(session.Optimizer.Steps));
        optimizer.AddMetadata("pending_micro_batches", I(session.PendingMicroBatches));
        optimizer.AddMetadata("noise_seed", I(session.NoiseSeed));
        optimizer.AddMetadata("noise_drawn", I(session.NoiseDrawn));
        optimizer.AddMetadata("next_learning_rate", R(session.Options.LearningRateAt(session.Optimizer.Steps)));
        optimizer.AddMetadata("options", OptionsToJson(session.Options));
        for (int i = 0; i < catalog.Count; i++)
        {
            WeightSpec spec = catalog[i];
            if (!spec.IsTrainable)
            {
                continue;
            }

            optimizer.AddFloat32("exp_avg." + spec.Key, ModelParameters.Slice(catalog, session.Optimizer.ExpAvg, i).Span, spec.ShapeArray());
            optimizer.AddFloat32("exp_avg_sq." + spec.Key, ModelParameters.Slice(catalog, session.Optimizer.ExpAvgSq, i).Span, spec.ShapeArray());
            if (session.PendingMicroBatches > 0)
            {
                optimizer.AddFloat32("pending_grad." + spec.Key, session.Gradient(spec.Key), spec.ShapeArray());
            }
        }

        WriteAtomically(Path.Combine(folder, OptimizerFileName), optimizer.WriteTo);
    }

    /// <summary>
    /// Reads a run saved by <see cref="TrainingSession.Save"/> for a model of <paramref name="catalog"/>'s configuration.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file of the run is missing.</exception>
    /// <exception cref="ViTMAEException">The folder's config is another model's, or a file is malformed (a typed subclass
    /// names the tensor or field, what was expected and what was found).</exception>
    public static TrainingCheckpoint Load(string folder, WeightCatalog catalog)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(catalog);
        ViTMAESpec saved = ViTMAESpec.Load(folder);
        if (saved != catalog.Spec)
        {
            throw new ViTMAEException("the run in '" + folder + "' is of another model: its config.json is " + saved.Describe() + "; this model is " + catalog.Spec.Describe());
        }

        string optimizerPath = Path.Combine(folder, OptimizerFileName);
        if (!File.Exists(optimizerPath))
        {
            throw new FileNotFoundException("'" + folder + "' holds no " + OptimizerFileName + ": it is a model, not a training run (start a new run from its weights instead)", optimizerPath);
        }

        ModelParameters parameters;
        using (WeightSource source = WeightSource.Open(Path.Combine(folder, WeightSource.SingleFileName)))
        {
            parameters = ModelParameters.Load(catalog, source);
        }

        using WeightSource state = WeightSource.Open(optimizerPath);
        string Meta(string key) => state.Metadata.TryGetValue(key, out string? value)
            ? value
            : throw new WeightsFormatException(optimizerPath + ": metadata '" + key + "' is missing (expected a file written by TrainingSession.Save)");
        long Long(string key) => long.TryParse(Meta(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) && value >= 0
            ? value
            : throw new WeightsFormatException(optimizerPath + ": metadata '" + key + "' is '" + Meta(key) + "', expected a non-negative integer");
        if (Meta(FormatKey) != FormatVersion)
        {
            throw new WeightsFormatException(optimizerPath + ": training format '" + Meta(FormatKey) + "', expected '" + FormatVersion + "'");
        }

        TrainingOptions options = OptionsFromJson(Meta("options"), optimizerPath);
        var optimizer = new AdamW(catalog) { Steps = Long("step") };
        long pending = Long("pending_micro_batches");
        if (pending >= options.GradientAccumulationSteps)
        {
            throw new WeightsFormatException(optimizerPath + ": " + I(pending) + " pending micro-batches, expected fewer than the " + I(options.GradientAccumulationSteps) + " accumulated per step");
        }

        float[]? pendingGradients = pending > 0 ? ModelParameters.ZerosLike(catalog) : null;
        for (int i = 0; i < catalog.Count; i++)
        {
            WeightSpec spec = catalog[i];
            if (!spec.IsTrainable)
            {
                continue;
            }

            state.Require("exp_avg." + spec.Key, ModelParameters.Slice(catalog, optimizer.ExpAvg, i).Span, spec.ShapeArray());
            state.Require("exp_avg_sq." + spec.Key, ModelParameters.Slice(catalog, optimizer.ExpAvgSq, i).Span, spec.ShapeArray());
            if (pendingGradients is not null)
            {
                state.Require("pending_grad." + spec.Key, ModelParameters.Slice(catalog, pendingGradients, i).Span, spec.ShapeArray());
            }
        }

        long seed = long.TryParse(Meta("noise_seed"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long s)
            ? s
            : throw new WeightsFormatException(optimizerPath + ": metadata 'noise_seed' is '" + Meta("noise_seed") + "', expected an integer");
        return new TrainingCheckpoint(parameters, options, optimizer, pendingGradients, (int)pending, seed, Long("noise_drawn"));
    }

    private static void WriteAtomically(string path, Action<string> write)
    {
        // Write beside the target, then rename: an interrupted save never leaves a torn file under the real name.
        string temporary = path + ".tmp";
        write(temporary);
        File.Move(temporary, path, overwrite: true);
    }

    private static string OptionsToJson(TrainingOptions o)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("learning_rate", o.LearningRate);
            w.WriteNumber("min_learning_rate", o.MinLearningRate);
            w.WriteNumber("warmup_steps", o.WarmupSteps);
            w.WriteNumber("total_steps", o.TotalSteps);
            w.WriteNumber("beta1", o.Beta1);
            w.WriteNumber("beta2", o.Beta2);
            w.WriteNumber("epsilon", o.Epsilon);
            w.WriteNumber("weight_decay", o.WeightDecay);
            w.WriteNumber("gradient_accumulation_steps", o.GradientAccumulationSteps);
            w.WriteNumber("max_gradient_norm", o.MaxGradientNorm);
            w.WriteBoolean("ignore_dropout", o.IgnoreDropout);
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static TrainingOptions OptionsFromJson(string json, string path)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            JsonElement o = document.RootElement;
            var options = new TrainingOptions
            {
                LearningRate = o.GetProperty("learning_rate").GetDouble(),
                MinLearningRate = o.GetProperty("min_learning_rate").GetDouble(),
                WarmupSteps = o.GetProperty("warmup_steps").GetInt32(),
                TotalSteps = o.GetProperty("total_steps").GetInt32(),
                Beta1 = o.GetProperty("beta1").GetDouble(),
                Beta2 = o.GetProperty("beta2").GetDouble(),
                Epsilon = o.GetProperty("epsilon").GetDouble(),
                WeightDecay = o.GetProperty("weight_decay").GetDouble(),
                GradientAccumulationSteps = o.GetProperty("gradient_accumulation_steps").GetInt32(),
                MaxGradientNorm = o.GetProperty("max_gradient_norm").GetDouble(),
                IgnoreDropout = o.GetProperty("ignore_dropout").GetBoolean(),
            };
            options.Validate();
            return options;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new WeightsFormatException(path + ": metadata 'options' is not valid training options (" + e.Message + ")");
        }
    }

    private static string I(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string R(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
