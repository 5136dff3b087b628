using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ViTMAE.Compiled.Modeling;
using Xunit.Abstractions;

namespace ViTMAE.Compiled.Differential.Tests;

/// <summary>
/// Generated code vs ONNX Runtime on random valid configs with fully random checkpoints: every output of
/// <c>ViTMAEModel</c> and <c>ViTMAEForPreTraining</c> (hidden states and attentions included). 24 seeds by default;
/// <c>VITMAE_DIFF_CASES=500</c> runs more, <c>VITMAE_DIFF_SEED=n</c> replays one (the seed alone determines the config,
/// the weights, the pixels and the noise).
/// </summary>
public sealed class DifferentialTests(ITestOutputHelper output)
{
    /// <summary>max|a − b| ≤ Tolerance · max(1, max|ref|) for every float tensor.</summary>
    public const double Tolerance = 1e-4;

    public static TheoryData<int> PreTrainingSeeds => Seeds.Get(24, 1);

    public static TheoryData<int> EncoderSeeds => Seeds.Get(4, 1001, share: 0.25);

    private static readonly string[] EncoderOutputPrefixes = ["hidden_states.", "attentions."];

    [Theory]
    [MemberData(nameof(PreTrainingSeeds))]
    public void Pretraining_model_matches_onnx_runtime(int seed)
    {
        using var c = new DifferentialCase(seed);

        // The emitted weight layout is Hugging Face's ViTMAEForPreTraining state dict (listed independently here).
        var expected = RandomData.PreTrainingTensors(c.Spec).Select(t => t.Name + " " + Shape(t.Shape)).Order(StringComparer.Ordinal).ToArray();
        var emitted = c.Layout.Select(t => t.Name + " " + Shape(t.Shape)).Order(StringComparer.Ordinal).ToArray();
        Assert.True(expected.SequenceEqual(emitted), $"{c.Config}: WeightLayout differs from HF's keys: missing [{string.Join("; ", expected.Except(emitted))}], extra [{string.Join("; ", emitted.Except(expected))}]. {c.Replay}");

        string checkpoint = c.WritePreTrainingCheckpoint();
        IViTMAEModel model = c.Compiled.Load(checkpoint);
        Assert.True(model.HasDecoder);
        Assert.Equal(c.Config.LenKeep, (int)c.Compiled.GetConstant("LenKeep")!);

        NamedOutputs reference = c.RunOnnx(checkpoint, encoderOnly: false);
        NamedOutputs forward = c.RunForward(model);
        NamedOutputs pretraining = c.RunPreTraining(model);

        string[] encoderNames = reference.Names.Where(IsEncoderOutput).ToArray();
        Assert.Equal(3 + (c.Config.NumLayers + 1) + c.Config.NumLayers, encoderNames.Length);
        var (forwardErrors, forwardProblems) = OutputComparer.Compare(reference, forward, Tolerance, encoderNames);
        var (pretrainingErrors, pretrainingProblems) = OutputComparer.Compare(reference, pretraining, Tolerance);
        Report(c, "Forward", forwardErrors, forwardProblems, "ForwardPreTraining", pretrainingErrors, pretrainingProblems);
    }

    [Theory]
    [MemberData(nameof(EncoderSeeds))]
    public void Encoder_only_checkpoint_matches_onnx_runtime_encoder_graph(int seed)
    {
        using var c = new DifferentialCase(seed);
        string checkpoint = c.WriteEncoderCheckpoint();
        IViTMAEModel model = c.Compiled.Load(checkpoint);
        Assert.False(model.HasDecoder);

        NamedOutputs reference = c.RunOnnx(checkpoint, encoderOnly: true);
        Assert.All(reference.Names, n => Assert.True(IsEncoderOutput(n), n + " is not a ViTMAEModel output"));
        NamedOutputs forward = c.RunForward(model);
        var (errors, problems) = OutputComparer.Compare(reference, forward, Tolerance);
        Report(c, "Forward (ViTMAEModel checkpoint)", errors, problems);
    }

    /// <summary>
    /// The harness itself: a checkpoint for ONNX Runtime with the query and key weights of decoder layer 0 swapped must
    /// fail exactly the outputs downstream of that layer, so a comparison that checks nothing cannot pass silently.
    /// </summary>
    [Fact]
    public void The_comparison_catches_a_swapped_tensor_and_only_downstream_of_it()
    {
        using var c = new DifferentialCase(5);
        IViTMAEModel model = c.Compiled.Load(c.WritePreTrainingCheckpoint());
        string swapped = c.WritePreTrainingCheckpoint(c.Layout.Select(t => t.Name switch
        {
            "decoder.decoder_layers.0.attention.attention.query.weight" => (t.Name, t.Shape, "decoder.decoder_layers.0.attention.attention.key.weight"),
            "decoder.decoder_layers.0.attention.attention.key.weight" => (t.Name, t.Shape, "decoder.decoder_layers.0.attention.attention.query.weight"),
            _ => (t.Name, t.Shape, t.Name),
        }), "swapped.safetensors");
        NamedOutputs reference = c.RunOnnx(swapped, encoderOnly: false);
        var (_, problems) = OutputComparer.Compare(reference, c.RunPreTraining(model), Tolerance);
        string[] failed = problems.Select(p => p[..p.IndexOf(':')]).ToArray();
        string[] expected = ["loss", "logits", .. Enumerable.Range(0, c.Config.DecoderNumLayers).Select(i => "decoder_attentions." + i.ToString(CultureInfo.InvariantCulture)),
            .. Enumerable.Range(1, c.Config.DecoderNumLayers).Select(i => "decoder_hidden_states." + i.ToString(CultureInfo.InvariantCulture))];
        Assert.Equal(expected.Order(StringComparer.Ordinal), failed.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Tied noise (two or three distinct values per row): HF's argsort, ONNX TopK (ties → lower index first) and the
    /// generated stable sort must all give the same permutation, and then every output agrees.
    /// </summary>
    [Fact]
    public void Tied_noise_gives_the_same_stable_argsort_in_both()
    {
        using var c = new DifferentialCase(5); // L = 36, keep 18, batch 4
        string checkpoint = c.WritePreTrainingCheckpoint();
        IViTMAEModel model = c.Compiled.Load(checkpoint);
        foreach (int levels in new[] { 1, 2, 3 })
        {
            var rng = new Random(levels);
            c.Noise = Enumerable.Range(0, c.Noise.Length).Select(_ => (float)rng.Next(levels) / levels).ToArray();
            NamedOutputs reference = c.RunOnnx(checkpoint, encoderOnly: false);
            int l = c.Config.NumPatches;
            var stable = new long[c.Noise.Length];
            for (int n = 0; n < c.Config.Batch; n++)
            {
                int[] shuffle = Enumerable.Range(0, l).OrderBy(i => c.Noise[(n * l) + i]).ToArray(); // OrderBy is stable
                for (int k = 0; k < l; k++)
                {
                    stable[(n * l) + shuffle[k]] = k;
                }
            }

            Assert.Equal(stable, reference.Ints["ids_restore"].Values);
            var (errors, problems) = OutputComparer.Compare(reference, c.RunPreTraining(model), Tolerance);
            Report(c, $"ForwardPreTraining, noise with {levels} tied value(s)", errors, problems);
        }
    }

    private static bool IsEncoderOutput(string name) =>
        name is "last_hidden_state" or "mask" or "ids_restore" || EncoderOutputPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal));

    private void Report(DifferentialCase c, params object[] runs)
    {
        var failures = new List<string>();
        var summary = new List<string>();
        for (int i = 0; i < runs.Length; i += 3)
        {
            string what = (string)runs[i];
            var errors = (List<TensorError>)runs[i + 1];
            var problems = (List<string>)runs[i + 2];
            TensorError worst = errors.Where(e => e.Name is not ("mask")).MaxBy(e => e.Relative);
            summary.Add(string.Create(CultureInfo.InvariantCulture, $"{what}: worst {worst}"));
            failures.AddRange(problems.Select(p => what + ": " + p));
        }

        string line = c.Config + " | " + string.Join(" | ", summary);
        output.WriteLine(line);
        Seeds.Log((failures.Count == 0 ? "OK   " : "FAIL ") + line + (failures.Count == 0 ? "" : " || " + string.Join(" || ", failures)));
        Assert.True(failures.Count == 0, $"{c.Config}{Environment.NewLine}{string.Join(Environment.NewLine, failures)}{Environment.NewLine}{c.Replay}");
    }

    private static string Shape(int[] shape) => "[" + string.Join(", ", shape) + "]";
}
