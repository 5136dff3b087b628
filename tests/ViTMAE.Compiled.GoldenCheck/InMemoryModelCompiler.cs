extern alias Gen;

using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Runtime.Loader;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Emit;
using Microsoft.CodeAnalysis.Text;
using ViTMAE.Compiled.Modeling;
using ViTMAEGenerator = Gen::ViTMAE.Compiled.Generator.ViTMAEGenerator;

namespace ViTMAE.Compiled.GoldenCheck;

/// <summary>How <see cref="InMemoryModelCompiler"/> presents a config to the generator (the item metadata MSBuild would pass).</summary>
public sealed record ModelCompileOptions
{
    /// <summary><c>ViTMAEClass</c>: the generated class.</summary>
    public string ClassName { get; init; } = "GoldenModel";

    /// <summary><c>ViTMAENamespace</c>: its namespace.</summary>
    public string Namespace { get; init; } = "GoldenCheck.Generated";

    /// <summary>Path of the additional file (shown in diagnostics and in the generated header).</summary>
    public string ConfigPath { get; init; } = "config.json";

    /// <summary>Input resolutions besides the config's <c>image_size</c> (<c>ViTMAEResolutions</c>, "HxW;HxW"); empty: none.</summary>
    public IReadOnlyList<(int Height, int Width)> ExtraResolutions { get; init; } = [];

    /// <summary>Name of the emitted assembly (each load context holds one; the name only needs to be readable).</summary>
    public string AssemblyName { get; init; } = "GoldenCheck.Generated";

    /// <summary>The <c>ViTMAEResolutions</c> metadata value, or null when there are no extra resolutions.</summary>
    public string? ResolutionsMetadata => ExtraResolutions.Count == 0
        ? null
        : string.Join(";", ExtraResolutions.Select(r => r.Height.ToString(CultureInfo.InvariantCulture) + "x" + r.Width.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Fully qualified name of the generated class.</summary>
    public string FullClassName => Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName;
}

/// <summary>The generator reported a diagnostic, or its output does not compile.</summary>
public sealed class ModelCompilationException : Exception
{
    /// <summary>Creates the exception for <paramref name="stage"/> ("generator" or "compile") with its diagnostics.</summary>
    public ModelCompilationException(string stage, IReadOnlyList<string> diagnostics, IReadOnlyList<(string HintName, string Text)>? sources = null)
        : base("failed with " + diagnostics.Count.ToString(CultureInfo.InvariantCulture) + " diagnostic(s):" + Environment.NewLine +
               string.Join(Environment.NewLine, diagnostics.Select(d => "  " + d)))
    {
        Stage = stage;
        Diagnostics = diagnostics;
        Sources = sources ?? [];
    }

    /// <summary>The generated sources, when the generator got that far (for inspection of compile errors).</summary>
    public IReadOnlyList<(string HintName, string Text)> Sources { get; }

    /// <summary>"generator" (the generator reported a diagnostic) or "compile" (its output has errors).</summary>
    public string Stage { get; }

    /// <summary>The diagnostics, formatted by Roslyn (id, location, message).</summary>
    public IReadOnlyList<string> Diagnostics { get; }
}

/// <summary>
/// Compiles a ViTMAE <c>config.json</c> through <see cref="ViTMAEGenerator"/> in memory (Roslyn's generator driver, as
/// the compiler runs it), emits the result to a PE image and loads it into a collectible <see cref="AssemblyLoadContext"/>.
/// </summary>
public static class InMemoryModelCompiler
{
    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(CreateReferences);

    /// <summary>
    /// The compilation references: the framework's <c>System.*</c> assemblies from TRUSTED_PLATFORM_ASSEMBLIES,
    /// the runtime library <c>ViTMAE.Compiled.dll</c> and, if present beside it, <c>System.Numerics.Tensors.dll</c>.
    /// </summary>
    public static ImmutableArray<MetadataReference> MetadataReferences => References.Value;

    /// <summary>Runs the generator only: the generated sources (hint name → text) and the generator's diagnostics.</summary>
    public static (IReadOnlyList<(string HintName, string Text)> Sources, ImmutableArray<Diagnostic> Diagnostics, CSharpCompilation Output) Generate(
        string configText, ModelCompileOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configText);
        ArgumentNullException.ThrowIfNull(options);
        CSharpCompilation input = CSharpCompilation.Create(
            options.AssemblyName,
            [CSharpSyntaxTree.ParseText(SourceText.From("namespace GoldenCheck { internal static class Anchor { } }", Encoding.UTF8), ParseOptions, path: "Anchor.cs", cancellationToken: cancellationToken)],
            References.Value,
            new CSharpCompilationOptions(
                OutputKind.DynamicallyLinkedLibrary,
                optimizationLevel: OptimizationLevel.Release,
                allowUnsafe: true,
                nullableContextOptions: NullableContextOptions.Enable,
                concurrentBuild: true));

        var metadata = new Dictionary<string, string>
        {
            ["build_metadata.AdditionalFiles.ViTMAEClass"] = options.ClassName,
            ["build_metadata.AdditionalFiles.ViTMAENamespace"] = options.Namespace,
        };
        if (options.ResolutionsMetadata is { } resolutions)
        {
            metadata["build_metadata.AdditionalFiles.ViTMAEResolutions"] = resolutions;
        }

        var text = new InMemoryAdditionalText(options.ConfigPath, configText);
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            [new ViTMAEGenerator().AsSourceGenerator()],
            [text],
            ParseOptions,
            new OptionsProvider(options.ConfigPath, metadata, options.Namespace));
        driver = driver.RunGeneratorsAndUpdateCompilation(input, out Compilation output, out ImmutableArray<Diagnostic> diagnostics, cancellationToken);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        var sources = result.GeneratedSources.Select(s => (s.HintName, s.SourceText.ToString())).ToArray();
        if (result.Exception is { } crash)
        {
            throw new ModelCompilationException("generator", ["the generator threw " + crash.GetType().Name + ": " + crash.Message]);
        }

        return (sources, diagnostics, (CSharpCompilation)output);
    }

    /// <summary>
    /// Generates, compiles and loads the class for <paramref name="configText"/>. Any generator diagnostic of warning
    /// or error severity, or any compiler error, raises <see cref="ModelCompilationException"/>.
    /// </summary>
    public static CompiledModel Compile(string configText, ModelCompileOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clock = Stopwatch.StartNew();
        var (sources, generatorDiagnostics, output) = Generate(configText, options, cancellationToken);
        Diagnostic[] bad = generatorDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToArray();
        if (bad.Length > 0)
        {
            throw new ModelCompilationException("generator", bad.Select(d => d.ToString()).ToArray(), sources);
        }

        if (sources.Count == 0)
        {
            throw new ModelCompilationException("generator", ["the generator produced no source for " + options.ConfigPath]);
        }

        using var pe = new MemoryStream();
        using var pdb = new MemoryStream();
        EmitResult emitted = output.Emit(pe, pdb, options: new EmitOptions(debugInformationFormat: DebugInformationFormat.PortablePdb), cancellationToken: cancellationToken);
        Diagnostic[] errors = emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToArray();
        if (!emitted.Success || errors.Length > 0)
        {
            throw new ModelCompilationException("compile", errors.Take(50).Select(d => d.ToString()).ToArray(), sources);
        }

        string[] warnings = emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Warning).Select(d => d.ToString()).ToArray();
        pe.Position = 0;
        pdb.Position = 0;
        var context = new IsolatedLoadContext(options.AssemblyName);
        try
        {
            Assembly assembly = context.LoadFromStream(pe, pdb);
            Type type = assembly.GetType(options.FullClassName, throwOnError: false)
                ?? throw new ModelCompilationException("compile", ["the generated assembly has no type " + options.FullClassName], sources);
            return new CompiledModel(context, type, sources, warnings, clock.Elapsed);
        }
        catch
        {
            context.Unload();
            throw;
        }
    }

    private static ImmutableArray<MetadataReference> CreateReferences()
    {
        string tpa = (string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "";
        var paths = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string path in tpa.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string name = Path.GetFileName(path);
            if (name.StartsWith("System.", StringComparison.Ordinal) || name is "netstandard.dll" or "mscorlib.dll")
            {
                paths.TryAdd(name, path);
            }
        }

        string runtime = typeof(IViTMAEModel).Assembly.Location;
        paths["ViTMAE.Compiled.dll"] = runtime;
        string tensors = Path.Combine(Path.GetDirectoryName(runtime) ?? ".", "System.Numerics.Tensors.dll");
        if (File.Exists(tensors))
        {
            paths.TryAdd("System.Numerics.Tensors.dll", tensors);
        }

        return paths.Values.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToImmutableArray();
    }

    /// <summary>Collectible; resolves nothing itself, so ViTMAE.Compiled and the framework come from the default context.</summary>
    private sealed class IsolatedLoadContext(string name) : AssemblyLoadContext(name, isCollectible: true)
    {
        protected override Assembly? Load(AssemblyName assemblyName) => null;
    }

    private sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(text, Encoding.UTF8);

        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }

    private sealed class OptionsProvider(string configPath, Dictionary<string, string> metadata, string rootNamespace) : AnalyzerConfigOptionsProvider
    {
        private static readonly DictionaryOptions Empty = new([]);

        public override AnalyzerConfigOptions GlobalOptions { get; } = new DictionaryOptions(new Dictionary<string, string>
        {
            ["build_property.RootNamespace"] = rootNamespace,
        });

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Empty;

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) =>
            textFile.Path == configPath ? new DictionaryOptions(metadata) : Empty;
    }

    private sealed class DictionaryOptions(Dictionary<string, string> values) : AnalyzerConfigOptions
    {
        public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) => values.TryGetValue(key, out value);
    }
}

/// <summary>A generated model class loaded into its own collectible load context. Dispose unloads it.</summary>
public sealed class CompiledModel : IDisposable
{
    private AssemblyLoadContext? _context;
    private Type? _type;

    internal CompiledModel(AssemblyLoadContext context, Type type, IReadOnlyList<(string HintName, string Text)> sources, IReadOnlyList<string> warnings, TimeSpan compileTime)
    {
        _context = context;
        _type = type;
        Sources = sources;
        Warnings = warnings;
        CompileTime = compileTime;
    }

    /// <summary>The generated class.</summary>
    public Type ModelType => _type ?? throw new ObjectDisposedException(nameof(CompiledModel));

    /// <summary>The generated sources (hint name, text).</summary>
    public IReadOnlyList<(string HintName, string Text)> Sources { get; }

    /// <summary>Compiler warnings in the generated code (errors fail <see cref="InMemoryModelCompiler.Compile"/>).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Time to generate, compile, emit and load.</summary>
    public TimeSpan CompileTime { get; }

    /// <summary>Calls the generated <c>public static T Load(string path)</c> and returns the model as <see cref="IViTMAEModel"/>.</summary>
    /// <exception cref="MissingMethodException">The class has no such method (the emitter does not emit the forward pass yet).</exception>
    public IViTMAEModel Load(string weightsPath)
    {
        MethodInfo load = ModelType.GetMethod("Load", BindingFlags.Public | BindingFlags.Static, [typeof(string)])
            ?? throw new MissingMethodException("generated class " + ModelType.FullName + " has no 'public static Load(string path)' (does the emitter emit the forward pass yet?)");
        object? model;
        try
        {
            model = load.Invoke(null, [weightsPath]);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }

        return model as IViTMAEModel
            ?? throw new InvalidCastException("generated " + ModelType.FullName + ".Load returned " + (model?.GetType().FullName ?? "null") + ", which does not implement " + typeof(IViTMAEModel).FullName);
    }

    /// <summary>The generated <c>WeightLayout</c>: every tensor of the compiled model.</summary>
    public WeightCatalog WeightLayout =>
        ModelType.GetProperty("WeightLayout", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as WeightCatalog
        ?? throw new MissingMemberException("generated class " + ModelType.FullName + " has no 'public static WeightCatalog WeightLayout'");

    /// <summary>Calls the generated <c>CreateTrainer(parameters, options, maxBatch, seed, degreeOfParallelism)</c>.</summary>
    public Training.TrainingSession CreateTrainer(Training.ModelParameters parameters, Training.TrainingOptions options, int maxBatch, int degreeOfParallelism = 0, int seed = 0) =>
        (Training.TrainingSession)InvokeStatic("CreateTrainer", parameters, options, maxBatch, seed, degreeOfParallelism);

    /// <summary>Calls the generated <c>ResumeTraining(folder, maxBatch, degreeOfParallelism)</c>.</summary>
    public Training.TrainingSession ResumeTraining(string folder, int maxBatch, int degreeOfParallelism = 0) =>
        (Training.TrainingSession)InvokeStatic("ResumeTraining", folder, maxBatch, degreeOfParallelism);

    /// <summary>Calls the generated <c>FromParameters(parameters)</c>: an inference model of a run's parameters.</summary>
    public IViTMAEModel FromParameters(Training.ModelParameters parameters) => (IViTMAEModel)InvokeStatic("FromParameters", parameters);

    private object InvokeStatic(string name, params object[] arguments)
    {
        MethodInfo method = ModelType.GetMethod(name, BindingFlags.Public | BindingFlags.Static)
            ?? throw new MissingMethodException("generated class " + ModelType.FullName + " has no 'public static " + name + "(...)'");
        try
        {
            return method.Invoke(null, arguments)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    /// <summary>A public constant (or static readonly field) of the generated class, or null if it has none.</summary>
    public object? GetConstant(string name) =>
        ModelType.GetField(name, BindingFlags.Public | BindingFlags.Static) is { } field ? field.GetValue(null) : null;

    /// <summary>Unloads the load context (it is collected once nothing references its types).</summary>
    public void Dispose()
    {
        _type = null;
        AssemblyLoadContext? context = Interlocked.Exchange(ref _context, null);
        context?.Unload();
    }
}
