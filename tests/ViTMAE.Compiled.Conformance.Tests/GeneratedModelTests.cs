using System;
using System.IO;
using System.Linq;
using ViTMAE.Compiled.GoldenCheck;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Conformance.Tests;

/// <summary>The generated API beyond the golden tensors: checkpoint kinds, head_mask, noise, errors, allocations.</summary>
public sealed class GeneratedModelTests : IClassFixture<GeneratedModelTests.TinyModel>, IDisposable
{
    /// <summary>tiny-default compiled once for the class.</summary>
    public sealed class TinyModel : IDisposable
    {
        public TinyModel()
        {
            string dir = GoldenData.Case("tiny-default");
            Compiled = InMemoryModelCompiler.Compile(File.ReadAllText(Path.Combine(dir, "config.json")), new ModelCompileOptions { ClassName = "TinyModel", AssemblyName = "GeneratedModelTests" });
            Model = Compiled.Load(Path.Combine(dir, "model.safetensors"));
            Io = SafeTensorsFile.Open(Path.Combine(dir, "io.safetensors"));
        }

        public CompiledModel Compiled { get; }

        public IViTMAEModel Model { get; }

        public SafeTensorsFile Io { get; }

        public float[] Pixels => Io.ReadFloat32("inputs.pixel_values");

        public float[] Noise => Io.ReadFloat32("inputs.noise");

        public void Dispose()
        {
            Io.Dispose();
            Compiled.Dispose();
        }
    }

    private readonly TinyModel _tiny;
    private readonly string _temp = Path.Combine(Path.GetTempPath(), "vitmae-model-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public GeneratedModelTests(TinyModel tiny)
    {
        _tiny = tiny;
        Directory.CreateDirectory(_temp);
    }

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void A_vitmae_model_checkpoint_runs_the_encoder_and_refuses_pretraining()
    {
        // ViTMAEModel.save_pretrained: the encoder's keys without "vit.", no decoder.
        string path = Path.Combine(_temp, "model.safetensors");
        using (var full = WeightSource.Open(Path.Combine(GoldenData.Case("tiny-default"), "model.safetensors")))
        {
            var writer = new SafeTensorsWriter();
            foreach (string name in full.Names.Where(n => n.StartsWith("vit.", StringComparison.Ordinal)))
            {
                writer.AddFloat32(name["vit.".Length..], full.ReadFloat32(name), full.GetInfo(name).Shape.Select(d => (int)d).ToArray());
            }

            writer.WriteTo(path);
        }

        IViTMAEModel encoderOnly = _tiny.Compiled.Load(path);
        Assert.False(encoderOnly.HasDecoder);
        IViTMAESession session = encoderOnly.CreateSession();
        float[] last = session.Forward(new ViTMAEInputs(_tiny.Pixels, 1) { Noise = _tiny.Noise }).LastHiddenState.ToArray();
        AssertClose(_tiny.Io.ReadFloat32("model.last_hidden_state"), last);
        var ex = Assert.Throws<ViTMAEInputException>(() => session.ForwardPreTraining(new ViTMAEInputs(_tiny.Pixels, 1)));
        Assert.Contains("no decoder", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_and_misshapen_tensors_name_the_tensor()
    {
        using var full = WeightSource.Open(Path.Combine(GoldenData.Case("tiny-default"), "model.safetensors"));
        string missing = Path.Combine(_temp, "missing.safetensors"), misshapen = Path.Combine(_temp, "misshapen.safetensors");
        var a = new SafeTensorsWriter();
        var b = new SafeTensorsWriter();
        foreach (string name in full.Names)
        {
            int[] shape = full.GetInfo(name).Shape.Select(d => (int)d).ToArray();
            float[] values = full.ReadFloat32(name);
            if (name != "vit.encoder.layer.1.intermediate.dense.weight")
            {
                a.AddFloat32(name, values, shape);
            }

            if (name == "decoder.decoder_pred.weight")
            {
                b.AddFloat32(name, values.AsSpan(0, 96 * 32).ToArray(), 96, 32);
            }
            else
            {
                b.AddFloat32(name, values, shape);
            }
        }

        a.WriteTo(missing);
        b.WriteTo(misshapen);
        var missingEx = Assert.Throws<MissingWeightException>(() => _tiny.Compiled.Load(missing));
        Assert.Contains("vit.encoder.layer.1.intermediate.dense.weight", missingEx.Message, StringComparison.Ordinal);
        var shapeEx = Assert.Throws<WeightShapeException>(() => _tiny.Compiled.Load(misshapen));
        Assert.Contains("'decoder.decoder_pred.weight' has shape [96, 32], expected [192, 32]", shapeEx.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_checkpoint_whose_config_json_describes_another_model_is_refused_naming_the_fields()
    {
        string golden = GoldenData.Case("tiny-default");
        string dir = Path.Combine(_temp, "checkpoint");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(golden, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
        string config = Path.Combine(dir, "config.json");
        var spec = Configuration.ViTMAESpec.Load(Path.Combine(golden, "config.json"));

        // Same weights (every tensor fits), another architecture: a silent wrong model without the check.
        File.WriteAllText(config, (spec with { HiddenAct = "relu", LayerNormEps = 1e-6 }).ToConfigJson());
        foreach (string path in new[] { dir, Path.Combine(dir, "model.safetensors") })
        {
            var ex = Assert.Throws<Configuration.ViTMAEConfigException>(() => _tiny.Compiled.Load(path));
            Assert.Contains("VMAE016", ex.Message, StringComparison.Ordinal);
            Assert.Contains($"hidden_act: {spec.HiddenAct} vs relu", ex.Message, StringComparison.Ordinal);
            Assert.Contains("layer_norm_eps: ", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("num_hidden_layers", ex.Message, StringComparison.Ordinal);
        }

        // What does not change the weights or the forward pass may differ; another model type's config is not ours to check.
        File.WriteAllText(config, (spec with { MaskRatio = 0.5, HiddenDropoutProb = 0.1, InitializerRange = 0.5 }).ToConfigJson());
        Assert.True(_tiny.Compiled.Load(dir).HasDecoder);
        File.WriteAllText(config, """{"model_type": "bert", "num_hidden_layers": 99}""");
        Assert.True(_tiny.Compiled.Load(dir).HasDecoder);
        File.WriteAllText(config, spec.ToConfigJson());
        Assert.True(_tiny.Compiled.Load(dir).HasDecoder);
    }

    [Fact]
    public void Head_mask_multiplies_the_probabilities_of_each_head()
    {
        IViTMAESession session = _tiny.Model.CreateSession();
        float[] plain = session.Forward(new ViTMAEInputs(_tiny.Pixels, 1) { Noise = _tiny.Noise, OutputAttentions = true }).Attentions.ToArray();
        float[] ones = session.Forward(new ViTMAEInputs(_tiny.Pixels, 1) { Noise = _tiny.Noise, OutputAttentions = true, HeadMask = new float[] { 1, 1, 1, 1 } }).Attentions.ToArray();
        Assert.Equal(plain, ones);

        // [layers, heads]: layer 0 head 2 off, layer 1 head 0 halved.
        float[] mask = { 1, 1, 0, 1, 0.5f, 1, 1, 1 };
        ViTMAEModelOutput masked = session.Forward(new ViTMAEInputs(_tiny.Pixels, 1) { Noise = _tiny.Noise, OutputAttentions = true, HeadMask = mask });
        TensorView layer0Head2 = masked.Attentions[0][0][2];
        Assert.All(layer0Head2.ToArray(), p => Assert.Equal(0f, p));
        float[] head1 = masked.Attentions[0][0][1].ToArray();
        AssertClose(plain.AsSpan(1 * 25, 25).ToArray(), head1);            // unmasked heads of the first layer do not change
        float[] layer1Head0 = masked.Attentions[1][0][0].ToArray();
        Assert.Equal(0.5f * 5, layer1Head0.Sum(), 4);                       // each of the 5 rows sums to 0.5
    }

    [Fact]
    public void Noise_comes_from_the_session_seed_when_not_given()
    {
        float[] MaskOf(int seed) => _tiny.Model.CreateSession(seed: seed).Forward(new ViTMAEInputs(_tiny.Pixels, 1)).Mask.ToArray();
        Assert.Equal(MaskOf(5), MaskOf(5));
        Assert.Equal(12f, MaskOf(5).Sum()); // L − len_keep = 16 − 4
        Assert.Contains(Enumerable.Range(6, 10), seed => !MaskOf(seed).SequenceEqual(MaskOf(5)));
    }

    [Fact]
    public void Bad_calls_get_clear_errors()
    {
        IViTMAESession session = _tiny.Model.CreateSession(maxBatch: 2);
        float[] pixels = _tiny.Pixels;
        Assert.Contains("pixel_values", Assert.Throws<ViTMAEInputException>(() => session.Forward(new ViTMAEInputs(pixels.AsSpan(1).ToArray(), 1))).Message, StringComparison.Ordinal);
        Assert.Contains("outside this session's range 1..2", Assert.Throws<ViTMAEInputException>(() => session.Forward(new ViTMAEInputs(new float[3 * pixels.Length], 3))).Message, StringComparison.Ordinal);
        Assert.Contains("48x48 was not compiled", Assert.Throws<ViTMAEInputException>(() => session.Forward(new ViTMAEInputs(new float[3 * 48 * 48], 1) { Height = 48, Width = 48 })).Message, StringComparison.Ordinal);
        Assert.Contains("noise", Assert.Throws<ViTMAEInputException>(() => session.Forward(new ViTMAEInputs(pixels, 1) { Noise = new float[3] })).Message, StringComparison.Ordinal);
        Assert.Contains("head_mask", Assert.Throws<ViTMAEInputException>(() => session.Forward(new ViTMAEInputs(pixels, 1) { HeadMask = new float[5] })).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => _tiny.Model.CreateSession(maxBatch: 0));
    }

    [Fact]
    public void Outputs_have_hugging_face_shapes_and_optional_outputs_are_empty_unless_requested()
    {
        IViTMAESession session = _tiny.Model.CreateSession(maxBatch: 3);
        float[] pixels = Enumerable.Repeat(_tiny.Pixels, 3).SelectMany(p => p).ToArray();
        ViTMAEPreTrainingOutput output = session.ForwardPreTraining(new ViTMAEInputs(pixels, 3));
        Assert.Equal(new[] { 3, 16, 192 }, output.Logits.Shape.ToArray());
        Assert.Equal(new[] { 3, 5, 64 }, output.Encoder.LastHiddenState.Shape.ToArray());
        Assert.Equal(new[] { 3, 16 }, output.Mask.Shape.ToArray());
        Assert.Equal(48, output.IdsRestore.Length);
        Assert.True(output.Encoder.HiddenStates.IsEmpty && output.Encoder.Attentions.IsEmpty && output.DecoderHiddenStates.IsEmpty && output.DecoderAttentions.IsEmpty);

        output = session.ForwardPreTraining(new ViTMAEInputs(pixels, 3) { OutputHiddenStates = true, OutputAttentions = true });
        Assert.Equal(new[] { 3, 3, 5, 64 }, output.Encoder.HiddenStates.Shape.ToArray());
        Assert.Equal(new[] { 2, 3, 4, 5, 5 }, output.Encoder.Attentions.Shape.ToArray());
        Assert.Equal(new[] { 3, 3, 17, 32 }, output.DecoderHiddenStates.Shape.ToArray());
        Assert.Equal(new[] { 2, 3, 4, 17, 17 }, output.DecoderAttentions.Shape.ToArray());
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        float[] Logits(int threads)
        {
            using IViTMAESession session = _tiny.Model.CreateSession(maxBatch: 1, seed: 0, degreeOfParallelism: threads);
            return session.ForwardPreTraining(new ViTMAEInputs(_tiny.Pixels, 1) { Noise = _tiny.Noise }).Logits.ToArray();
        }

        float[] one = Logits(1);
        Assert.Equal(one, Logits(2));
        Assert.Equal(one, Logits(3));
    }

    [Fact]
    public void Steady_state_forward_allocates_nothing()
    {
        IViTMAESession session = _tiny.Model.CreateSession();
        float[] pixels = _tiny.Pixels, noise = _tiny.Noise;
        for (int i = 0; i < 3; i++)
        {
            session.ForwardPreTraining(new ViTMAEInputs(pixels, 1) { Noise = noise });
            session.ForwardPreTraining(new ViTMAEInputs(pixels, 1));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            session.ForwardPreTraining(new ViTMAEInputs(pixels, 1) { Noise = noise });
            session.Forward(new ViTMAEInputs(pixels, 1));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async System.Threading.Tasks.Task A_session_shared_by_two_threads_refuses_the_second_call_and_never_corrupts_or_hangs(int workers)
    {
        // Before: one worker returned 3,760 wrong results of 4,000; two workers 86 wrong results and then a deadlock.
        using IViTMAESession session = _tiny.Model.CreateSession(degreeOfParallelism: workers);
        float[] pixels = _tiny.Pixels, noise = _tiny.Noise;
        // The loss is returned by value, computed inside the call: unlike the logits (a view into the session, which the
        // other thread's next call may overwrite once this call has returned) it shows exactly what the call computed.
        float expected = session.ForwardPreTraining(new ViTMAEInputs(pixels, 1) { Noise = noise }).Loss;
        int wrong = 0, refused = 0, done = 0;
        using var start = new System.Threading.Barrier(2);
        void Hammer()
        {
            start.SignalAndWait();
            for (int i = 0; i < 2000; i++)
            {
                try
                {
                    float loss = session.ForwardPreTraining(new ViTMAEInputs(pixels, 1) { Noise = noise }).Loss;
                    if (BitConverter.SingleToInt32Bits(loss) != BitConverter.SingleToInt32Bits(expected))
                    {
                        System.Threading.Interlocked.Increment(ref wrong);
                    }

                    System.Threading.Interlocked.Increment(ref done);
                }
                catch (InvalidOperationException ex) when (ex is not ObjectDisposedException)
                {
                    Assert.Contains("already running a call on another thread", ex.Message, StringComparison.Ordinal);
                    System.Threading.Interlocked.Increment(ref refused);
                }
            }
        }

        var a = System.Threading.Tasks.Task.Run(Hammer);
        var b = System.Threading.Tasks.Task.Run(Hammer);
        // A deadlock (the old failure with two workers) shows as a TimeoutException here.
        await System.Threading.Tasks.Task.WhenAll(a, b).WaitAsync(TimeSpan.FromSeconds(120));
        Assert.True(refused > 0, "no call was ever refused: the threads never overlapped, so the test proves nothing");
        Assert.Equal(4000, refused + done);
        Assert.Equal(0, wrong); // every call that was let in ran alone
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_disposed_session_refuses_every_call(int workers)
    {
        IViTMAESession session = _tiny.Model.CreateSession(degreeOfParallelism: workers);
        session.Forward(new ViTMAEInputs(_tiny.Pixels, 1));
        session.Dispose();
        session.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => session.Forward(new ViTMAEInputs(_tiny.Pixels, 1)));
        Assert.Contains("disposed", e.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => session.ForwardPreTraining(new ViTMAEInputs(_tiny.Pixels, 1)));
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
        }

        Assert.True(max <= 1e-5, "max abs error " + max);
    }
}
