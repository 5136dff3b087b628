using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.GoldenCheck;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Training;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Conformance.Tests;

/// <summary>
/// The generated trainer beyond the golden gradients (GoldenCheck compares those): no allocation per step, save in Hugging
/// Face's layout, a resumed run bit-identical to an uninterrupted one, thread-count independence, accumulation, errors.
/// </summary>
public sealed class TrainingTests : IClassFixture<TrainingTests.TinyTrainingModel>, IDisposable
{
    /// <summary>tiny-default compiled once for the class, with its golden weights as the starting point.</summary>
    public sealed class TinyTrainingModel : IDisposable
    {
        public TinyTrainingModel()
        {
            string dir = GoldenData.Case("tiny-default");
            Compiled = InMemoryModelCompiler.Compile(File.ReadAllText(Path.Combine(dir, "config.json")), new ModelCompileOptions { ClassName = "TinyTrainee", AssemblyName = "TrainingTests" });
            using WeightSource source = WeightSource.Open(Path.Combine(dir, "model.safetensors"));
            Initial = ModelParameters.Load(Compiled.WeightLayout, source);
        }

        public CompiledModel Compiled { get; }

        /// <summary>Hugging Face's initial parameters of the case; clone before training.</summary>
        public ModelParameters Initial { get; }

        public void Dispose() => Compiled.Dispose();
    }

    private const int Pixels = 3 * 32 * 32;

    private readonly TinyTrainingModel _tiny;
    private readonly string _temp = Path.Combine(Path.GetTempPath(), "vitmae-training-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public TrainingTests(TinyTrainingModel tiny)
    {
        _tiny = tiny;
        Directory.CreateDirectory(_temp);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_temp, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Deterministic image-like pixels in [-2, 2] for <paramref name="batch"/> images.</summary>
    private static float[] Images(int batch, int seed)
    {
        var random = new Random(seed);
        var pixels = new float[batch * Pixels];
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = (float)(random.NextDouble() * 4 - 2);
        return pixels;
    }

    private static float[] Noise(int batch, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, batch * 16).Select(_ => (float)random.NextDouble()).ToArray();
    }

    private static TrainingOptions Schedule => new()
    {
        LearningRate = 2e-3,
        MinLearningRate = 1e-5,
        WarmupSteps = 2,
        TotalSteps = 8,
        WeightDecay = 0.05,
        GradientAccumulationSteps = 2,
        MaxGradientNorm = 0.5,
    };

    private static void AssertBitIdentical(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}[{i}] = {actual[i]:R}, expected {expected[i]:R} bit for bit");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_training_step_allocates_nothing_in_steady_state(int threads)
    {
        using TrainingSession trainer = _tiny.Compiled.CreateTrainer(_tiny.Initial.Clone(), Schedule, maxBatch: 2, threads);
        var inputs = new ViTMAEInputs(Images(2, 1), 2); // noise drawn by the run: that path is measured too
        var gradient = new float[2 * Pixels];
        for (int i = 0; i < 4; i++)
            trainer.Step(inputs);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 6; i++)
        {
            trainer.Step(inputs); // three optimizer steps with clipping and the schedule
        }

        trainer.ComputeGradients(inputs, gradient);
        trainer.ApplyGradients();
        trainer.Loss(inputs);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(6, trainer.OptimizerSteps);
    }

    [Fact]
    public void A_resumed_run_continues_bit_identically()
    {
        // Eight micro-batches of two images, accumulated in pairs: four optimizer steps through warm-up and cosine decay,
        // clipped, with the run's own noise. The interrupted run saves after the third micro-batch (one pending).
        float[][] batches = Enumerable.Range(0, 8).Select(i => Images(2, 100 + i)).ToArray();

        var straight = new List<float>();
        using TrainingSession uninterrupted = _tiny.Compiled.CreateTrainer(_tiny.Initial.Clone(), Schedule, maxBatch: 2, degreeOfParallelism: 1, seed: 7);
        foreach (float[] batch in batches)
            straight.Add(uninterrupted.Step(new ViTMAEInputs(batch, 2)));

        var resumedLosses = new List<float>();
        string folder = Path.Combine(_temp, "run");
        using (TrainingSession first = _tiny.Compiled.CreateTrainer(_tiny.Initial.Clone(), Schedule, maxBatch: 2, degreeOfParallelism: 2, seed: 7))
        {
            for (int i = 0; i < 3; i++)
                resumedLosses.Add(first.Step(new ViTMAEInputs(batches[i], 2)));
            Assert.Equal(1, first.PendingMicroBatches);
            first.Save(folder);
        }

        using TrainingSession resumed = _tiny.Compiled.ResumeTraining(folder, maxBatch: 2, degreeOfParallelism: 1);
        Assert.Equal(1, resumed.OptimizerSteps);
        Assert.Equal(1, resumed.PendingMicroBatches);
        Assert.Equal(7, resumed.NoiseSeed);
        Assert.Equal(Schedule, resumed.Options);
        for (int i = 3; i < batches.Length; i++)
            resumedLosses.Add(resumed.Step(new ViTMAEInputs(batches[i], 2)));

        AssertBitIdentical(straight.ToArray(), resumedLosses.ToArray(), "loss");
        AssertBitIdentical(uninterrupted.Parameters.Values, resumed.Parameters.Values, "parameters");
        AssertBitIdentical(uninterrupted.Optimizer.ExpAvg, resumed.Optimizer.ExpAvg, "exp_avg");
        AssertBitIdentical(uninterrupted.Optimizer.ExpAvgSq, resumed.Optimizer.ExpAvgSq, "exp_avg_sq");
        Assert.Equal(uninterrupted.OptimizerSteps, resumed.OptimizerSteps);
        Assert.Equal(uninterrupted.NoiseDrawn, resumed.NoiseDrawn);
        Assert.Equal(uninterrupted.LastLearningRate, resumed.LastLearningRate);
        Assert.Equal(4, resumed.OptimizerSteps);
        Assert.NotEqual(_tiny.Initial.Values, resumed.Parameters.Values); // it trained
    }

    [Fact]
    public void Save_writes_the_hugging_face_layout_and_the_optimizer_state()
    {
        string folder = Path.Combine(_temp, "saved");
        float[] pixels = Images(2, 3), noise = Noise(2, 4);
        float trainerLoss;
        using (TrainingSession trainer = _tiny.Compiled.CreateTrainer(_tiny.Initial.Clone(), new TrainingOptions { LearningRate = 1e-3 }, maxBatch: 2))
        {
            trainer.Step(new ViTMAEInputs(pixels, 2) { Noise = noise });
            trainer.Save(folder);
            trainerLoss = trainer.Loss(new ViTMAEInputs(pixels, 2) { Noise = noise });
        }

        // model.safetensors: Hugging Face's keys, shapes and dtype, exactly those of save_pretrained's file.
        string golden = GoldenData.Case("tiny-default");
        using (SafeTensorsFile reference = SafeTensorsFile.Open(Path.Combine(golden, "model.safetensors")))
        using (SafeTensorsFile saved = SafeTensorsFile.Open(Path.Combine(folder, "model.safetensors")))
        {
            Assert.Equal(reference.Tensors.Keys.OrderBy(k => k, StringComparer.Ordinal), saved.Tensors.Keys.OrderBy(k => k, StringComparer.Ordinal));
            foreach ((string name, TensorInfo info) in reference.Tensors)
            {
                Assert.Equal(info.DType, saved.Tensors[name].DType);
                Assert.Equal(info.Shape.ToArray(), saved.Tensors[name].Shape.ToArray());
            }
        }

        // config.json: every field Hugging Face wrote, with the same value (the library version aside).
        using (JsonDocument expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(golden, "config.json"))))
        using (JsonDocument actual = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json"))))
        {
            foreach (JsonProperty field in expected.RootElement.EnumerateObject().Where(p => p.Name != "transformers_version"))
            {
                Assert.True(actual.RootElement.TryGetProperty(field.Name, out JsonElement value), "config.json lacks " + field.Name);
                Assert.True(JsonElement.DeepEquals(field.Value, value), $"{field.Name}: {value.GetRawText()}, expected {field.Value.GetRawText()}");
            }
        }

        Assert.Equal(_tiny.Compiled.WeightLayout.Spec, ViTMAESpec.Load(folder));

        // The saved model is the trained one: loaded for inference it gives the trainer's loss, bit for bit.
        IViTMAEModel model = _tiny.Compiled.Load(Path.Combine(folder, "model.safetensors"));
        float inferenceLoss = model.CreateSession(maxBatch: 2).ForwardPreTraining(new ViTMAEInputs(pixels, 2) { Noise = noise }).Loss;
        Assert.Equal(trainerLoss, inferenceLoss);

        // optimizer.safetensors: the moments of the trainable tensors only (the sin-cos tables are frozen), and the step.
        WeightCatalog catalog = _tiny.Compiled.WeightLayout;
        using (SafeTensorsFile optimizer = SafeTensorsFile.Open(Path.Combine(folder, TrainingCheckpoint.OptimizerFileName)))
        {
            IEnumerable<string> trainable = Enumerable.Range(0, catalog.Count).Select(i => catalog[i]).Where(s => s.IsTrainable).Select(s => s.Key);
            Assert.Equal(
                trainable.SelectMany(k => new[] { "exp_avg." + k, "exp_avg_sq." + k }).OrderBy(k => k, StringComparer.Ordinal),
                optimizer.Tensors.Keys.OrderBy(k => k, StringComparer.Ordinal));
            Assert.DoesNotContain(optimizer.Tensors.Keys, k => k.Contains("position_embeddings", StringComparison.Ordinal));
            Assert.Equal("1", optimizer.Metadata["step"]);
            Assert.Equal("0", optimizer.Metadata["pending_micro_batches"]);
        }
    }

    [Fact]
    public void Gradients_do_not_depend_on_the_thread_count()
    {
        float[] pixels = Images(3, 11), noise = Noise(3, 12);
        var options = new TrainingOptions { LearningRate = 1e-3 };
        using TrainingSession serial = _tiny.Compiled.CreateTrainer(_tiny.Initial.Clone(), options, maxBatch: 3, degreeOfParallelism: 1);
        using TrainingSession threaded = _tiny.Compiled.CreateTrainer(_tiny.Initial.Clone(), options, maxBatch: 3, degreeOfParallelism: 2);
        float[] serialPixels = new float[pixels.Length], threadedPixels = new float[pixels.Length];
        float a = serial.ComputeGradients(new ViTMAEInputs(pixels, 3) { Noise = noise }, serialPixels);
        float b = threaded.ComputeGradients(new ViTMAEInputs(pixels, 3) { Noise = noise }, threadedPixels);

        Assert.Equal(a, b);
        AssertBitIdentical(serial.Gradients, threaded.Gradients, "gradients");
        AssertBitIdentical(serialPixels, threadedPixels, "grad.pixel_values");
        Assert.Contains(serial.Gradients.ToArray(), g => g != 0);
    }

    [Fact]
    public void Two_accumulated_images_give_the_gradient_of_their_batch()
    {
        // Every image masks the same number of patches, so the batch loss is the mean of the images' losses and
        // accumulating the two halves (each scaled by 1/2) gives the batch's gradient up to float rounding.
        float[] pixels = Images(2, 21), noise = Noise(2, 22);
        using TrainingSession batch = _tiny.Compiled.CreateTrainer(_tiny.Initial.Clone(), new TrainingOptions(), maxBatch: 2, degreeOfParallelism: 1);
        using TrainingSession accumulated = _tiny.Compiled.CreateTrainer(_tiny.Initial.Clone(), new TrainingOptions { GradientAccumulationSteps = 2 }, maxBatch: 1, degreeOfParallelism: 1);
        float whole = batch.ComputeGradients(new ViTMAEInputs(pixels, 2) { Noise = noise });
        float first = accumulated.ComputeGradients(new ViTMAEInputs(pixels.AsSpan(0, Pixels), 1) { Noise = noise.AsSpan(0, 16) });
        float second = accumulated.ComputeGradients(new ViTMAEInputs(pixels.AsSpan(Pixels), 1) { Noise = noise.AsSpan(16) });

        Assert.Equal(whole, (first + second) / 2, 5e-6f * Math.Abs(whole));
        float[] expected = batch.Gradients.ToArray(), actual = accumulated.Gradients.ToArray();
        float scale = expected.Max(Math.Abs);
        int[] shape = [expected.Length];
        TensorResult comparison = TensorComparer.Compare("gradients", actual, shape, expected, [expected.Length], 1e-5 * scale, default, 0);
        Assert.True(comparison.Passed, comparison.Format());
    }

    [Fact]
    public void A_diverged_step_is_refused_and_leaves_the_parameters_unchanged()
    {
        using TrainingSession trainer = _tiny.Compiled.CreateTrainer(_tiny.Initial.Clone(), new TrainingOptions(), maxBatch: 1);
        float[] pixels = Images(1, 5);
        pixels[17] = float.NaN;
        float[] before = (float[])trainer.Parameters.Values.Clone();

        var ex = Assert.Throws<ViTMAEException>(() => trainer.Step(new ViTMAEInputs(pixels, 1)));

        Assert.Contains("not finite", ex.Message, StringComparison.Ordinal);
        AssertBitIdentical(before, trainer.Parameters.Values, "parameters");
        Assert.Equal(0, trainer.OptimizerSteps);
        Assert.Equal(0, trainer.PendingMicroBatches);
        Assert.DoesNotContain(trainer.Gradients.ToArray(), g => g != 0);

        // The run goes on with good data.
        float loss = trainer.Step(new ViTMAEInputs(Images(1, 6), 1));
        Assert.True(float.IsFinite(loss));
        Assert.Equal(1, trainer.OptimizerSteps);
    }

    [Fact]
    public void Misuse_gives_typed_errors_that_say_what_was_expected()
    {
        using TrainingSession trainer = _tiny.Compiled.CreateTrainer(_tiny.Initial.Clone(), new TrainingOptions(), maxBatch: 2);
        float[] pixels = Images(2, 8);

        Assert.Throws<InvalidOperationException>(() => trainer.ApplyGradients());
        var attentions = Assert.Throws<ViTMAEInputException>(() => trainer.Step(new ViTMAEInputs(pixels, 2) { OutputAttentions = true }));
        Assert.Contains("loss only", attentions.Message, StringComparison.Ordinal);
        var gradient = Assert.Throws<ViTMAEInputException>(() => trainer.ComputeGradients(new ViTMAEInputs(pixels, 2), new float[10]));
        Assert.Contains("holds 10 floats", gradient.Message, StringComparison.Ordinal);
        Assert.Throws<ViTMAEInputException>(() => trainer.Step(new ViTMAEInputs(Images(3, 9), 3)));
        Assert.Throws<ViTMAEInputException>(() => trainer.Step(new ViTMAEInputs(pixels.AsSpan(1), 2)));
        Assert.Equal(0, trainer.PendingMicroBatches);
        Assert.Throws<KeyNotFoundException>(() => trainer.Gradient("vit.no.such.tensor").Length);
        Assert.Equal(64, trainer.Gradient("vit.embeddings.cls_token").Length);

        Assert.Throws<ArgumentException>(() => _tiny.Compiled.CreateTrainer(_tiny.Initial.Clone(), new TrainingOptions { LearningRate = -1 }, maxBatch: 1));
        Assert.Throws<ArgumentException>(() => _tiny.Compiled.CreateTrainer(_tiny.Initial.Clone(), new TrainingOptions { GradientAccumulationSteps = 0 }, maxBatch: 1));

        trainer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => trainer.Step(new ViTMAEInputs(pixels, 2)));
    }

    [Fact]
    public void Resuming_refuses_another_models_run_and_a_model_that_is_not_a_run()
    {
        string folder = Path.Combine(_temp, "run");
        using (TrainingSession trainer = _tiny.Compiled.CreateTrainer(_tiny.Initial.Clone(), new TrainingOptions(), maxBatch: 1))
        {
            trainer.Step(new ViTMAEInputs(Images(1, 1), 1));
            trainer.Save(folder);
        }

        // Another model's run: its config.json differs (here its activation).
        string other = Path.Combine(_temp, "other");
        Directory.CreateDirectory(other);
        foreach (string file in Directory.GetFiles(folder))
            File.Copy(file, Path.Combine(other, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(other, "config.json"), File.ReadAllText(Path.Combine(folder, "config.json")).Replace("\"gelu\"", "\"relu\"", StringComparison.Ordinal));
        var ex = Assert.Throws<ViTMAEException>(() => _tiny.Compiled.ResumeTraining(other, 1));
        Assert.Contains("another model", ex.Message, StringComparison.Ordinal);
        Assert.Contains("relu", ex.Message, StringComparison.Ordinal);

        // A model without optimizer state is not a run to resume.
        File.Delete(Path.Combine(folder, TrainingCheckpoint.OptimizerFileName));
        var missing = Assert.Throws<FileNotFoundException>(() => _tiny.Compiled.ResumeTraining(folder, 1));
        Assert.Contains("not a training run", missing.Message, StringComparison.Ordinal);

        // A truncated optimizer file is a typed format error.
        string truncated = Path.Combine(_temp, "truncated");
        Directory.CreateDirectory(truncated);
        foreach (string file in Directory.GetFiles(other))
            File.Copy(file, Path.Combine(truncated, Path.GetFileName(file)));
        File.Copy(Path.Combine(folder, "config.json"), Path.Combine(truncated, "config.json"), overwrite: true);
        string optimizerPath = Path.Combine(truncated, TrainingCheckpoint.OptimizerFileName);
        byte[] bytes = File.ReadAllBytes(optimizerPath);
        File.WriteAllBytes(optimizerPath, bytes.AsSpan(0, bytes.Length - 4).ToArray());
        Assert.ThrowsAny<ViTMAEException>(() => _tiny.Compiled.ResumeTraining(truncated, 1));

        // Parameters of another model.
        WeightCatalog otherCatalog = WeightCatalog.For(ViTMAESpec.Parse(File.ReadAllText(Path.Combine(other, "config.json"))));
        var wrong = Assert.Throws<ArgumentException>(() => _tiny.Compiled.CreateTrainer(ModelParameters.Random(otherCatalog, 1), new TrainingOptions(), 1));
        Assert.Contains("another model", wrong.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_config_with_dropout_is_refused_unless_the_caller_opts_out()
    {
        string json = File.ReadAllText(Path.Combine(GoldenData.Case("tiny-default"), "config.json"))
            .Replace("\"hidden_dropout_prob\": 0.0", "\"hidden_dropout_prob\": 0.1", StringComparison.Ordinal);
        using CompiledModel dropout = InMemoryModelCompiler.Compile(json, new ModelCompileOptions { ClassName = "TinyDropout", AssemblyName = "TrainingTestsDropout" });
        ModelParameters parameters = ModelParameters.Random(dropout.WeightLayout, 3);

        var ex = Assert.Throws<NotSupportedException>(() => dropout.CreateTrainer(parameters, new TrainingOptions(), 1));
        Assert.Contains("hidden_dropout_prob 0.1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("IgnoreDropout", ex.Message, StringComparison.Ordinal);

        using TrainingSession trainer = dropout.CreateTrainer(parameters, new TrainingOptions { IgnoreDropout = true }, 1);
        Assert.True(float.IsFinite(trainer.Step(new ViTMAEInputs(Images(1, 2), 1))));
    }
}
