using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.GoldenCheck;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Onnx;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Differential.Tests;

/// <summary>Named outputs of one forward pass, copied out of the session's workspace: float tensors and int64 tensors.</summary>
public sealed class NamedOutputs
{
    public Dictionary<string, (int[] Shape, float[] Values)> Floats { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, (int[] Shape, long[] Values)> Ints { get; } = new(StringComparer.Ordinal);

    public IEnumerable<string> Names => Floats.Keys.Concat(Ints.Keys);

    public void Add(string name, TensorView view) => Floats[name] = (view.Shape.ToArray(), view.ToArray());

    public void Add(string name, int[] shape, float[] values) => Floats[name] = (shape, values);

    public void Add(string name, int[] shape, long[] values) => Ints[name] = (shape, values);

    public static NamedOutputs FromOnnx(IReadOnlyDictionary<string, OnnxTensor> tensors)
    {
        var outputs = new NamedOutputs();
        foreach (var (name, tensor) in tensors)
        {
            if (tensor.Floats is { } f)
            {
                outputs.Add(name, tensor.Shape.ToArray(), f);
            }
            else
            {
                outputs.Add(name, tensor.Shape.ToArray(), tensor.Int64s!);
            }
        }

        return outputs;
    }
}

/// <summary>The worst error of one compared tensor.</summary>
public readonly record struct TensorError(string Name, double MaxAbs, double Scale, int WorstIndex, float Reference, float Actual)
{
    /// <summary>max|a − b| / max(1, max|ref|): the quantity the tolerance bounds.</summary>
    public double Relative => MaxAbs / Scale;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Name}: max|a-b| {MaxAbs:E2} (scale {Scale:G4}, rel {Relative:E2}) at [{WorstIndex}] ref {Reference:R} ours {Actual:R}");
}

/// <summary>
/// One differential case: the seed's config compiled through the generator in memory, its random checkpoint written
/// in the generated class's layout, the generated model and ONNX Runtime run on the same pixels and noise.
/// </summary>
public sealed class DifferentialCase : IDisposable
{
    private readonly string _dir;

    public DifferentialCase(int seed)
    {
        Config = RandomConfig.FromSeed(seed);
        Json = Config.ToJson();
        Spec = ViTMAESpec.Parse(Json, "seed-" + seed.ToString(CultureInfo.InvariantCulture) + ".json");
        _dir = Path.Combine(Path.GetTempPath(), "vitmae-diff-" + seed.ToString(CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
        try
        {
            Compiled = InMemoryModelCompiler.Compile(Json, new ModelCompileOptions
            {
                ClassName = "Diff" + seed.ToString(CultureInfo.InvariantCulture),
                Namespace = "Differential.Generated",
                AssemblyName = "Differential.Seed" + seed.ToString(CultureInfo.InvariantCulture),
            });
            Layout = ReadWeightLayout(Compiled.ModelType);
            Pixels = RandomData.Pixels(seed, Config);
            Noise = RandomData.Noise(seed, Config.Batch, Config.NumPatches);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public RandomConfig Config { get; }

    public string Json { get; }

    public ViTMAESpec Spec { get; }

    public CompiledModel Compiled { get; } = null!;

    /// <summary>The generated class's <c>WeightLayout</c> (key, shape), read by reflection.</summary>
    public IReadOnlyList<(string Name, int[] Shape)> Layout { get; } = [];

    public float[] Pixels { get; } = [];

    /// <summary>Noise <c>[B, L]</c> for every run (random without ties unless a test replaces it).</summary>
    public float[] Noise { get; set; } = [];

    /// <summary>How to replay this case, for assertion messages.</summary>
    public string Replay => "replay: VITMAE_DIFF_SEED=" + Config.Seed.ToString(CultureInfo.InvariantCulture) + " dotnet test tests/ViTMAE.Compiled.Differential.Tests";

    public static IReadOnlyList<(string Name, int[] Shape)> ReadWeightLayout(Type modelType)
    {
        PropertyInfo property = modelType.GetProperty("WeightLayout", BindingFlags.Public | BindingFlags.Static)
            ?? throw new InvalidOperationException(modelType.FullName + " has no public static WeightLayout");
        var layout = (IReadOnlyList<WeightSpec>)property.GetValue(null)!;
        return layout.Select(w => (w.Key, w.Shape.ToArray())).ToArray();
    }

    /// <summary>Writes the ViTMAEForPreTraining checkpoint (every tensor random) and returns its path.</summary>
    public string WritePreTrainingCheckpoint()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        RandomData.PreTrainingCheckpoint(Config.Seed, Layout).WriteTo(path);
        return path;
    }

    /// <summary>
    /// Writes a checkpoint whose tensor <c>Name</c> holds the random values of tensor <c>ValuesOf</c> (for checking
    /// that the comparison notices a wrong mapping) and returns its path.
    /// </summary>
    public string WritePreTrainingCheckpoint(IEnumerable<(string Name, int[] Shape, string ValuesOf)> tensors, string fileName)
    {
        var writer = new SafeTensorsWriter();
        foreach (var (name, shape, valuesOf) in tensors)
        {
            writer.AddFloat32(name, RandomData.TensorValues(Config.Seed, valuesOf, shape.Aggregate(1, (a, b) => a * b)), shape);
        }

        string path = Path.Combine(_dir, fileName);
        writer.WriteTo(path);
        return path;
    }

    /// <summary>Writes the ViTMAEModel checkpoint (encoder keys without <c>vit.</c>, no decoder) and returns its path.</summary>
    public string WriteEncoderCheckpoint()
    {
        string path = Path.Combine(_dir, "encoder.safetensors");
        RandomData.EncoderCheckpoint(Config.Seed, Layout).WriteTo(path);
        return path;
    }

    /// <summary>Runs ONNX Runtime on <paramref name="checkpoint"/> with every optional output.</summary>
    public NamedOutputs RunOnnx(string checkpoint, bool encoderOnly)
    {
        using WeightSource weights = WeightSource.Open(checkpoint);
        using OnnxReference reference = OnnxReference.Create(Spec, weights, new OnnxBuildOptions
        {
            Batch = Config.Batch,
            OutputHiddenStates = true,
            OutputAttentions = true,
            EncoderOnly = encoderOnly,
        });
        return NamedOutputs.FromOnnx(reference.Run(Pixels, Noise));
    }

    /// <summary>The generated model's <c>Forward</c> (ViTMAEModel) with hidden states and attentions, in ONNX output names.</summary>
    public NamedOutputs RunForward(IViTMAEModel model, bool explicitNoise = true)
    {
        IViTMAESession session = model.CreateSession(maxBatch: Config.Batch, seed: Config.Seed);
        var inputs = new ViTMAEInputs(Pixels, Config.Batch) { Noise = explicitNoise ? Noise : default, OutputHiddenStates = true, OutputAttentions = true };
        ViTMAEModelOutput output = session.Forward(inputs);
        var outputs = new NamedOutputs();
        AddEncoder(outputs, output);
        return outputs;
    }

    /// <summary>The generated model's <c>ForwardPreTraining</c> with every optional output, in ONNX output names.</summary>
    public NamedOutputs RunPreTraining(IViTMAEModel model)
    {
        IViTMAESession session = model.CreateSession(maxBatch: Config.Batch, seed: Config.Seed);
        var inputs = new ViTMAEInputs(Pixels, Config.Batch) { Noise = Noise, OutputHiddenStates = true, OutputAttentions = true };
        ViTMAEPreTrainingOutput output = session.ForwardPreTraining(inputs);
        var outputs = new NamedOutputs();
        AddEncoder(outputs, output.Encoder);
        outputs.Add("loss", [], [output.Loss]);
        outputs.Add("logits", output.Logits);
        for (int i = 0; i < output.DecoderHiddenStates.Shape[0]; i++)
        {
            outputs.Add("decoder_hidden_states." + I(i), output.DecoderHiddenStates[i]);
        }

        for (int i = 0; i < output.DecoderAttentions.Shape[0]; i++)
        {
            outputs.Add("decoder_attentions." + I(i), output.DecoderAttentions[i]);
        }

        return outputs;
    }

    private static void AddEncoder(NamedOutputs outputs, ViTMAEModelOutput output)
    {
        outputs.Add("last_hidden_state", output.LastHiddenState);
        outputs.Add("mask", output.Mask);
        outputs.Add("ids_restore", output.Mask.Shape.ToArray(), output.IdsRestore.ToArray().Select(i => (long)i).ToArray());
        for (int i = 0; i < output.HiddenStates.Shape[0]; i++)
        {
            outputs.Add("hidden_states." + I(i), output.HiddenStates[i]);
        }

        for (int i = 0; i < output.Attentions.Shape[0]; i++)
        {
            outputs.Add("attentions." + I(i), output.Attentions[i]);
        }
    }

    public void Dispose()
    {
        Compiled?.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Compares two output sets: same names and shapes; <c>mask</c> and <c>ids_restore</c> exactly; every float tensor
/// within <c>max|a − b| ≤ tolerance · max(1, max|ref|)</c>, NaN exactly where the reference has NaN.
/// </summary>
public static class OutputComparer
{
    /// <summary>Outputs compared bit for bit.</summary>
    private static readonly HashSet<string> Exact = new(StringComparer.Ordinal) { "mask", "ids_restore" };

    /// <summary>
    /// Compares <paramref name="actual"/> with <paramref name="reference"/> over <paramref name="names"/> (default: every
    /// reference output). Returns the per-tensor errors and a list of problems (empty when everything matches).
    /// </summary>
    public static (List<TensorError> Errors, List<string> Problems) Compare(NamedOutputs reference, NamedOutputs actual, double tolerance, IEnumerable<string>? names = null)
    {
        var errors = new List<TensorError>();
        var problems = new List<string>();
        string[] compared = (names ?? reference.Names).ToArray();
        foreach (string name in compared)
        {
            if (reference.Ints.TryGetValue(name, out var refInts))
            {
                if (!actual.Ints.TryGetValue(name, out var ours))
                {
                    problems.Add($"{name}: missing from the generated model's outputs");
                    continue;
                }

                if (!refInts.Shape.SequenceEqual(ours.Shape))
                {
                    problems.Add($"{name}: shape {Shape(ours.Shape)}, reference {Shape(refInts.Shape)}");
                    continue;
                }

                int bad = Enumerable.Range(0, refInts.Values.Length).FirstOrDefault(i => refInts.Values[i] != ours.Values[i], -1);
                if (bad >= 0)
                {
                    problems.Add($"{name}: differs at [{bad}]: ours {ours.Values[bad]}, reference {refInts.Values[bad]} (ours [{string.Join(",", ours.Values)}], reference [{string.Join(",", refInts.Values)}])");
                }

                continue;
            }

            if (!reference.Floats.TryGetValue(name, out var refFloats))
            {
                problems.Add($"{name}: not an output of the reference");
                continue;
            }

            if (!actual.Floats.TryGetValue(name, out var ourFloats))
            {
                problems.Add($"{name}: missing from the generated model's outputs");
                continue;
            }

            if (!refFloats.Shape.SequenceEqual(ourFloats.Shape))
            {
                problems.Add($"{name}: shape {Shape(ourFloats.Shape)}, reference {Shape(refFloats.Shape)}");
                continue;
            }

            TensorError error = Error(name, refFloats.Values, ourFloats.Values, out string? nanProblem);
            errors.Add(error);
            if (nanProblem is not null)
            {
                problems.Add(nanProblem);
            }
            else if (Exact.Contains(name) ? error.MaxAbs != 0 : !(error.Relative <= tolerance))
            {
                problems.Add(error + (Exact.Contains(name) ? " (must be exact)" : string.Create(CultureInfo.InvariantCulture, $" > tolerance {tolerance:E1}")));
            }
        }

        foreach (string name in actual.Names.Where(n => names is null && !reference.Floats.ContainsKey(n) && !reference.Ints.ContainsKey(n)))
        {
            problems.Add($"{name}: output of the generated model that the reference does not have");
        }

        return (errors, problems);
    }

    private static TensorError Error(string name, float[] reference, float[] actual, out string? nanProblem)
    {
        nanProblem = null;
        double maxAbs = 0, scale = 1;
        int worst = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            float r = reference[i], a = actual[i];
            if (!float.IsFinite(r) || !float.IsFinite(a))
            {
                // NaN where the reference has NaN, the same infinity where it has one.
                bool same = (float.IsNaN(r) && float.IsNaN(a)) || r.Equals(a);
                if (!same && nanProblem is null)
                {
                    nanProblem = string.Create(CultureInfo.InvariantCulture, $"{name}: at [{i}] ours {a:R}, reference {r:R} (non-finite values must agree)");
                }

                continue;
            }

            scale = Math.Max(scale, Math.Abs(r));
            double diff = Math.Abs((double)r - a);
            if (diff > maxAbs)
            {
                maxAbs = diff;
                worst = i;
            }
        }

        return new TensorError(name, maxAbs, scale, worst, reference.Length == 0 ? 0 : reference[worst], actual.Length == 0 ? 0 : actual[worst]);
    }

    private static string Shape(int[] shape) => "[" + string.Join(", ", shape) + "]";
}

/// <summary>Which seeds run: 24 in CI; <c>VITMAE_DIFF_CASES=n</c> for n of them, <c>VITMAE_DIFF_SEED=a,b</c> to replay.</summary>
public static class Seeds
{
    public const string CasesVariable = "VITMAE_DIFF_CASES";
    public const string SeedVariable = "VITMAE_DIFF_SEED";
    public const string FirstVariable = "VITMAE_DIFF_FIRST";
    public const string LogVariable = "VITMAE_DIFF_LOG";

    /// <summary>
    /// <paramref name="defaultCount"/> seeds from <paramref name="first"/> on; <c>VITMAE_DIFF_CASES</c> overrides the count
    /// (scaled by <paramref name="share"/> for the smaller suites) and <c>VITMAE_DIFF_FIRST</c> shifts the start;
    /// <c>VITMAE_DIFF_SEED</c> (comma-separated) replaces them with exactly those seeds.
    /// </summary>
    public static TheoryData<int> Get(int defaultCount, int first, double share = 1.0)
    {
        var data = new TheoryData<int>();
        string? replay = Environment.GetEnvironmentVariable(SeedVariable);
        if (!string.IsNullOrWhiteSpace(replay))
        {
            foreach (string part in replay.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                data.Add(int.Parse(part, CultureInfo.InvariantCulture));
            }

            return data;
        }

        int count = defaultCount;
        if (int.TryParse(Environment.GetEnvironmentVariable(CasesVariable), NumberStyles.Integer, CultureInfo.InvariantCulture, out int requested) && requested > 0)
        {
            count = Math.Max(1, (int)Math.Ceiling(requested * share));
        }

        if (int.TryParse(Environment.GetEnvironmentVariable(FirstVariable), NumberStyles.Integer, CultureInfo.InvariantCulture, out int shift))
        {
            first += shift;
        }

        for (int i = 0; i < count; i++)
        {
            data.Add(first + i);
        }

        return data;
    }

    /// <summary>Appends <paramref name="line"/> to the file named by <c>VITMAE_DIFF_LOG</c>, if set (for sweeps).</summary>
    public static void Log(string line)
    {
        string? path = Environment.GetEnvironmentVariable(LogVariable);
        if (!string.IsNullOrEmpty(path))
        {
            lock (typeof(Seeds))
            {
                File.AppendAllText(path, line + Environment.NewLine, Encoding.UTF8);
            }
        }
    }
}
