using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.GoldenCheck;

/// <summary>A folder that is not a golden case (missing, or without one of the required files).</summary>
public sealed class GoldenCaseException(string message) : Exception(message);

/// <summary>Options of <see cref="GoldenCase.Run"/>.</summary>
public sealed record GoldenRunOptions
{
    /// <summary>When set, the generated sources are written to <c>{folder}/{case}/{hint name}</c>.</summary>
    public string? SourceDumpDirectory { get; init; }

    /// <summary>Receives progress lines (stage starts); null: silent.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>What running one golden case produced: a result per reference tensor, stage errors and timings.</summary>
public sealed class GoldenCaseResult
{
    internal GoldenCaseResult(string name, string directory)
    {
        Name = name;
        Directory = directory;
    }

    /// <summary>The case (folder) name.</summary>
    public string Name { get; }

    /// <summary>The case folder.</summary>
    public string Directory { get; }

    /// <summary><c>inputs.pixel_values</c> shape <c>[B, C, H, W]</c> (empty if it could not be read).</summary>
    public IReadOnlyList<long> InputShape { get; internal set; } = [];

    /// <summary>The config's image size (0 × 0 if the config could not be parsed).</summary>
    public (int Height, int Width) ConfigImageSize { get; internal set; }

    /// <summary>The <c>ViTMAEResolutions</c> metadata passed to the generator, or null.</summary>
    public string? ExtraResolutions { get; internal set; }

    /// <summary>One result per compared reference tensor, in a stable order (model.*, pretraining.*, debug.len_keep).</summary>
    public IReadOnlyList<TensorResult> Tensors { get; internal set; } = [];

    /// <summary>Stage failures ("compile: …", "load: …", "forward: …", "pretraining: …").</summary>
    public IReadOnlyList<string> Errors { get; internal set; } = [];

    /// <summary>Compiler warnings in the generated code.</summary>
    public IReadOnlyList<string> Warnings { get; internal set; } = [];

    /// <summary>Generate + compile + load-context time.</summary>
    public TimeSpan CompileTime { get; internal set; }

    /// <summary>Time of the generated <c>Load</c> (weights).</summary>
    public TimeSpan LoadTime { get; internal set; }

    /// <summary>Time of <c>Forward</c> (first call: includes JIT).</summary>
    public TimeSpan ForwardTime { get; internal set; }

    /// <summary>Time of <c>ForwardPreTraining</c>.</summary>
    public TimeSpan PreTrainingTime { get; internal set; }

    /// <summary>Every tensor passed and no stage failed.</summary>
    public bool Passed => Errors.Count == 0 && Tensors.Count > 0 && Tensors.All(t => t.Passed);

    /// <summary>The failing tensors.</summary>
    public IEnumerable<TensorResult> Failures => Tensors.Where(t => !t.Passed);

    /// <summary>A multi-line report of the failures (for test messages).</summary>
    public string DescribeFailures()
    {
        var lines = new List<string>();
        lines.AddRange(Errors.Select(e => Name + ": " + e));
        int width = Tensors.Count == 0 ? 0 : Tensors.Max(t => t.Name.Length);
        lines.AddRange(Failures.Select(t => Name + ": " + t.Format(width)));
        return string.Join(Environment.NewLine, lines);
    }
}

/// <summary>
/// One golden case folder (<c>config.json</c>, <c>model.safetensors</c>, <c>io.safetensors</c>, optional
/// <c>meta.json</c>; see <c>shared/golden/README.md</c>): compiles the config with the generator, runs the generated
/// model on <c>inputs.*</c> and compares every <c>model.*</c> and <c>pretraining.*</c> tensor and <c>debug.len_keep</c>.
/// </summary>
public sealed class GoldenCase
{
    /// <summary>The config file of a case.</summary>
    public const string ConfigFileName = "config.json";

    /// <summary>The weights of a case.</summary>
    public const string WeightsFileName = "model.safetensors";

    /// <summary>The inputs and reference outputs of a case.</summary>
    public const string IoFileName = "io.safetensors";

    /// <summary>Name of the generated class.</summary>
    public const string ClassName = "GoldenModel";

    /// <summary>Namespace of the generated class.</summary>
    public const string Namespace = "GoldenCheck.Generated";

    private GoldenCase(string directory)
    {
        Directory = directory;
        Name = Path.GetFileName(directory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
    }

    /// <summary>The case folder (full path).</summary>
    public string Directory { get; }

    /// <summary>The folder name.</summary>
    public string Name { get; }

    /// <summary><c>config.json</c>.</summary>
    public string ConfigPath => Path.Combine(Directory, ConfigFileName);

    /// <summary><c>model.safetensors</c>.</summary>
    public string WeightsPath => Path.Combine(Directory, WeightsFileName);

    /// <summary><c>io.safetensors</c>.</summary>
    public string IoPath => Path.Combine(Directory, IoFileName);

    /// <summary>Null when <paramref name="directory"/> is a golden case folder, else a one-line reason.</summary>
    public static string? Validate(string directory)
    {
        if (string.IsNullOrWhiteSpace(directory) || !System.IO.Directory.Exists(directory))
        {
            return "no such folder: " + directory;
        }

        string[] missing = new[] { ConfigFileName, WeightsFileName, IoFileName }.Where(f => !File.Exists(Path.Combine(directory, f))).ToArray();
        return missing.Length == 0 ? null : directory + " is not a golden case folder: missing " + string.Join(", ", missing);
    }

    /// <summary>Opens a case folder.</summary>
    /// <exception cref="GoldenCaseException">The folder does not exist or lacks a required file.</exception>
    public static GoldenCase Open(string directory)
    {
        string? problem = Validate(directory);
        return problem is null ? new GoldenCase(Path.GetFullPath(directory)) : throw new GoldenCaseException(problem);
    }

    /// <summary>The subfolders of <paramref name="root"/> that hold a <c>config.json</c>, by name.</summary>
    public static IReadOnlyList<string> FindCases(string root) =>
        System.IO.Directory.Exists(root)
            ? System.IO.Directory.GetDirectories(root)
                .Where(d => File.Exists(Path.Combine(d, ConfigFileName)))
                .OrderBy(d => d, StringComparer.Ordinal)
                .ToArray()
            : [];

    /// <summary>Compiles, loads, runs and compares. Never throws for a failing model: failures are in the result.</summary>
    public GoldenCaseResult Run(GoldenRunOptions? options = null)
    {
        options ??= new GoldenRunOptions();
        var result = new GoldenCaseResult(Name, Directory);
        var results = new Dictionary<string, TensorResult>(StringComparer.Ordinal);
        var errors = new List<string>();
        List<ExpectedTensor> expected = [];
        List<string> trainingNames = [];
        SafeTensorsFile? io = null;
        try
        {
            io = SafeTensorsFile.Open(IoPath);
            expected = io.Tensors.Keys.Select(ExpectedTensor.TryParse).OfType<ExpectedTensor>().OrderBy(t => t.SortKey, StringComparer.Ordinal).ToList();
            if (expected.Count == 0)
            {
                errors.Add("io: " + IoFileName + " holds no model.*, pretraining.* or debug.len_keep tensor");
            }

            if (File.Exists(Path.Combine(Directory, GoldenTraining.FileName)))
            {
                using SafeTensorsFile grads = SafeTensorsFile.Open(Path.Combine(Directory, GoldenTraining.FileName));
                trainingNames = GoldenTraining.ExpectedNames(grads).ToList();
            }

            TensorInfo pixels = io.GetInfo("inputs.pixel_values");
            result.InputShape = pixels.Shape.ToArray();
            if (pixels.Rank != 4)
            {
                throw new GoldenCaseException("inputs.pixel_values has shape " + pixels.ShapeText + ", expected [B, C, H, W]");
            }

            int h = checked((int)pixels.Shape[2]), w = checked((int)pixels.Shape[3]);
            string configText = File.ReadAllText(ConfigPath);
            (int Height, int Width) configSize = default;
            try
            {
                ViTMAESpec spec = ViTMAESpec.Parse(configText, ConfigPath);
                configSize = (spec.ImageHeight, spec.ImageWidth);
            }
            catch (ViTMAEConfigException)
            {
                // The generator reports the problems, with positions.
            }

            result.ConfigImageSize = configSize;
            bool extra = configSize != default && configSize != (h, w);
            var compileOptions = new ModelCompileOptions
            {
                ClassName = ClassName,
                Namespace = Namespace,
                ConfigPath = ConfigPath,
                AssemblyName = "GoldenCheck.Generated." + Name,
                ExtraResolutions = extra ? [(h, w)] : [],
            };
            result.ExtraResolutions = compileOptions.ResolutionsMetadata;

            options.Log?.Invoke("compiling " + ConfigPath + (extra ? " (ViTMAEResolutions=" + compileOptions.ResolutionsMetadata + ")" : ""));
            CompiledModel? compiled = null;
            try
            {
                compiled = InMemoryModelCompiler.Compile(configText, compileOptions);
                result.CompileTime = compiled.CompileTime;
                result.Warnings = compiled.Warnings;
                DumpSources(options, compiled.Sources);
                Execute(compiled, io, expected, results, errors, result, extra, options);
                if (trainingNames.Count > 0)
                {
                    options.Log?.Invoke("training");
                    ExecuteTraining(compiled, io, results, errors);
                }
            }
            catch (ModelCompilationException e)
            {
                DumpSources(options, e.Sources);
                errors.Add(e.Stage + ": " + e.Message);
            }
            finally
            {
                compiled?.Dispose();
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            errors.Add("case: " + Describe(e));
        }
        finally
        {
            io?.Dispose();
        }

        string reason = errors.Count > 0 ? "not compared: " + Stage(errors[^1]) + " failed (see ERROR)" : "not compared";
        var list = expected.Select(t => t.Name).Concat(trainingNames)
            .Select(name => results.TryGetValue(name, out TensorResult? r) ? r : TensorResult.Failure(name, reason)).ToList();
        if (list.Count == 0)
        {
            list.Add(TensorResult.Failure("<case>", errors.Count > 0 ? FirstLine(errors[0]) : "nothing to compare"));
        }

        result.Tensors = list;
        result.Errors = errors;
        return result;
    }

    // Not inlined: the model, the session and the generated types must be unreachable once it returns, so the
    // collectible load context can be unloaded.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Execute(CompiledModel compiled, SafeTensorsFile io, List<ExpectedTensor> expected, Dictionary<string, TensorResult> results,
        List<string> errors, GoldenCaseResult result, bool extraResolution, GoldenRunOptions options)
    {
        TensorInfo pixelInfo = io.GetInfo("inputs.pixel_values");
        int batch = checked((int)pixelInfo.Shape[0]);
        int height = checked((int)pixelInfo.Shape[2]), width = checked((int)pixelInfo.Shape[3]);
        ReadOnlySpan<float> pixels = FloatSpan(io, "inputs.pixel_values", out _);
        ReadOnlySpan<float> noise = io.Contains("inputs.noise") ? FloatSpan(io, "inputs.noise", out _) : default;
        var inputs = new ViTMAEInputs(pixels, batch)
        {
            Height = height,
            Width = width,
            Noise = noise,
            OutputHiddenStates = true,
            OutputAttentions = true,
        };

        var clock = Stopwatch.StartNew();
        IViTMAEModel model;
        IViTMAESession session;
        try
        {
            options.Log?.Invoke("loading " + Path.GetFileName(Path.GetDirectoryName(io.FilePath)) + "/" + WeightsFileName);
            model = compiled.Load(Path.Combine(Path.GetDirectoryName(io.FilePath)!, WeightsFileName));
            session = model.CreateSession(maxBatch: batch);
            result.LoadTime = clock.Elapsed;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            errors.Add("load: " + Describe(e));
            return;
        }

        try
        {
            options.Log?.Invoke("Forward");
            clock.Restart();
            bool forwardOk = false;
            try
            {
                ViTMAEModelOutput output = session.Forward(in inputs);
                result.ForwardTime = clock.Elapsed;
                forwardOk = true;
                foreach (ExpectedTensor t in expected)
                {
                    if (t.Group == "model")
                    {
                        results[t.Name] = CompareEncoder(t, in output, io);
                    }
                    else if (t.Name == "debug.len_keep")
                    {
                        results[t.Name] = CompareLenKeep(t, in output, io, extraResolution ? null : compiled.GetConstant("LenKeep"));
                    }
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                errors.Add((forwardOk ? "forward (comparing): " : "forward: ") + Describe(e));
            }

            options.Log?.Invoke("ForwardPreTraining");
            clock.Restart();
            bool pretrainingOk = false;
            try
            {
                ViTMAEPreTrainingOutput output = session.ForwardPreTraining(in inputs);
                result.PreTrainingTime = clock.Elapsed;
                pretrainingOk = true;
                foreach (ExpectedTensor t in expected)
                {
                    if (t.Group == "pretraining")
                    {
                        results[t.Name] = ComparePreTraining(t, in output, io);
                    }
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                errors.Add((pretrainingOk ? "pretraining (comparing): " : "pretraining: ") + Describe(e));
            }
        }
        finally
        {
            (session as IDisposable)?.Dispose();
            (model as IDisposable)?.Dispose();
        }
    }

    // Not inlined, like Execute: the trainer and the generated types must be unreachable once it returns.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ExecuteTraining(CompiledModel compiled, SafeTensorsFile io, Dictionary<string, TensorResult> results, List<string> errors)
    {
        try
        {
            GoldenTraining.Run(compiled, Directory, io, results, errors);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            errors.Add("training: " + Describe(e));
        }
    }

    private static TensorResult CompareEncoder(ExpectedTensor t, in ViTMAEModelOutput o, SafeTensorsFile io)
    {
        try
        {
            TensorInfo info = io.GetInfo(t.Name);
            switch (t.Field)
            {
                case "last_hidden_state":
                    return CompareView(t, o.LastHiddenState, io, info, exact: false);
                case "mask":
                    return CompareView(t, o.Mask, io, info, exact: true);
                case "ids_restore":
                    return TensorComparer.CompareExact(t.Name, o.IdsRestore, io.ReadInt64(t.Name), info.Shape.AsSpan());
                case "hidden_states" when t.Index is int n:
                    return CompareEntry(t, o.HiddenStates, n, "hidden_states", io, info);
                case "attentions" when t.Index is int n:
                    return CompareEntry(t, o.Attentions, n, "attentions", io, info);
                default:
                    return TensorResult.Failure(t.Name, "no counterpart in ViTMAEModelOutput");
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return TensorResult.Failure(t.Name, "error: " + Describe(e));
        }
    }

    private static TensorResult ComparePreTraining(ExpectedTensor t, in ViTMAEPreTrainingOutput o, SafeTensorsFile io)
    {
        try
        {
            TensorInfo info = io.GetInfo(t.Name);
            switch (t.Field)
            {
                case "loss":
                    float loss = o.Loss;
                    float[] reference = ReadAsFloat(io, info);
                    return TensorComparer.Compare(t.Name, new ReadOnlySpan<float>(in loss), [], reference, info.Shape.AsSpan(), exact: false);
                case "logits":
                    return CompareView(t, o.Logits, io, info, exact: false);
                case "decoder_hidden_states" when t.Index is int n:
                    return CompareEntry(t, o.DecoderHiddenStates, n, "decoder_hidden_states", io, info);
                case "decoder_attentions" when t.Index is int n:
                    return CompareEntry(t, o.DecoderAttentions, n, "decoder_attentions", io, info);
                case "mask" or "ids_restore" or "last_hidden_state" or "hidden_states" or "attentions":
                    // Encoder outputs (HF's ViTMAEForPreTrainingOutput carries mask, ids_restore, hidden_states, attentions).
                    ViTMAEModelOutput encoder = o.Encoder;
                    return CompareEncoder(t, in encoder, io);
                default:
                    return TensorResult.Failure(t.Name, "no counterpart in ViTMAEPreTrainingOutput");
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return TensorResult.Failure(t.Name, "error: " + Describe(e));
        }
    }

    private static TensorResult CompareLenKeep(ExpectedTensor t, in ViTMAEModelOutput o, SafeTensorsFile io, object? constant)
    {
        try
        {
            TensorInfo info = io.GetInfo(t.Name);
            long[] reference = io.ReadInt64(t.Name);
            TensorShape shape = o.LastHiddenState.Shape;
            if (shape.Rank < 2)
            {
                return TensorResult.Failure(t.Name, "last_hidden_state has shape " + shape + ", cannot derive len_keep");
            }

            int lenKeep = shape[1] - 1;
            TensorResult r = TensorComparer.CompareExact(t.Name, new ReadOnlySpan<int>(in lenKeep), reference, info.Shape.AsSpan());
            if (r.Passed && constant is int c && c != lenKeep)
            {
                return r with { Passed = false, Detail = "the generated LenKeep constant is " + c.ToString(CultureInfo.InvariantCulture) + ", the output keeps " + lenKeep.ToString(CultureInfo.InvariantCulture) };
            }

            return r;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return TensorResult.Failure(t.Name, "error: " + Describe(e));
        }
    }

    private static TensorResult CompareView(ExpectedTensor t, TensorView view, SafeTensorsFile io, TensorInfo info, bool exact)
    {
        ReadOnlySpan<float> reference = FloatSpan(io, info, out _);
        return TensorComparer.Compare(t.Name, view, reference, info.Shape.AsSpan(), exact);
    }

    private static TensorResult CompareEntry(ExpectedTensor t, TensorView stacked, int index, string what, SafeTensorsFile io, TensorInfo info)
    {
        if (stacked.IsEmpty)
        {
            return TensorResult.Failure(t.Name, what + " not returned (empty view) although requested");
        }

        if (stacked.Shape.Rank == 0 || index >= stacked.Shape[0])
        {
            return TensorResult.Failure(t.Name, what + " has shape " + stacked.Shape + ": no entry " + index.ToString(CultureInfo.InvariantCulture));
        }

        return CompareView(t, stacked[index], io, info, exact: false);
    }

    private static ReadOnlySpan<float> FloatSpan(SafeTensorsFile io, string name, out float[]? copy) => FloatSpan(io, io.GetInfo(name), out copy);

    /// <summary>Zero-copy for aligned F32; otherwise a converted copy (F16/BF16, integers).</summary>
    private static ReadOnlySpan<float> FloatSpan(SafeTensorsFile io, TensorInfo info, out float[]? copy)
    {
        copy = null;
        if (io.TryGetFloat32Span(info.Name, out ReadOnlySpan<float> span))
        {
            return span;
        }

        copy = ReadAsFloat(io, info);
        return copy;
    }

    private static float[] ReadAsFloat(SafeTensorsFile io, TensorInfo info)
    {
        if (info.DType is DType.F32 or DType.F16 or DType.BF16)
        {
            return io.ReadFloat32(info.Name);
        }

        long[] values = io.ReadInt64(info.Name);
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i];
        }

        return result;
    }

    private void DumpSources(GoldenRunOptions options, IReadOnlyList<(string HintName, string Text)> sources)
    {
        if (options.SourceDumpDirectory is null || sources.Count == 0)
        {
            return;
        }

        string folder = Path.Combine(options.SourceDumpDirectory, Name);
        System.IO.Directory.CreateDirectory(folder);
        foreach ((string hint, string text) in sources)
        {
            File.WriteAllText(Path.Combine(folder, Path.GetFileName(hint)), text);
        }
    }

    /// <summary>"Type: message" plus the innermost frames (where in the generated code or runtime it failed).</summary>
    internal static string Describe(Exception e)
    {
        string text = e.GetType().Name + ": " + e.Message;
        string[] frames = (e.StackTrace ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (frames.Length > 0 && e is not GoldenCaseException and not ModelCompilationException)
        {
            text += Environment.NewLine + string.Join(Environment.NewLine, frames.Take(4).Select(f => "      " + f));
        }

        return text;
    }

    private static string Stage(string error)
    {
        int colon = error.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? FirstLine(error) : error[..colon];
    }

    private static string FirstLine(string text)
    {
        int newline = text.IndexOfAny(['\r', '\n']);
        return newline < 0 ? text : text[..newline];
    }

    /// <summary>A reference tensor to compare: <c>model.*</c>, <c>pretraining.*</c> or <c>debug.len_keep</c>.</summary>
    private sealed record ExpectedTensor(string Name, string Group, string Field, int? Index, string SortKey)
    {
        private static readonly string[] FieldOrder =
        [
            "loss", "last_hidden_state", "logits", "mask", "ids_restore", "hidden_states", "attentions", "decoder_hidden_states", "decoder_attentions",
        ];

        public static ExpectedTensor? TryParse(string name)
        {
            int dot = name.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0)
            {
                return null;
            }

            string group = name[..dot];
            string rest = name[(dot + 1)..];
            if (group is not ("model" or "pretraining") && name != "debug.len_keep")
            {
                return null;
            }

            int? index = null;
            string field = rest;
            int last = rest.LastIndexOf('.');
            if (last > 0 && int.TryParse(rest.AsSpan(last + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            {
                index = n;
                field = rest[..last];
            }

            int groupRank = group switch { "model" => 0, "pretraining" => 1, _ => 2 };
            int fieldRank = Array.IndexOf(FieldOrder, field) is int r and >= 0 ? r : FieldOrder.Length;
            string key = string.Create(CultureInfo.InvariantCulture, $"{groupRank}/{fieldRank:D2}/{field}/{index ?? -1:D6}");
            return new ExpectedTensor(name, group, field, index, key);
        }
    }
}
