using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Generator.Model;

namespace ViTMAE.Compiled.Generator
{
    /// <summary>
    /// Compiles each Hugging Face ViTMAE <c>config.json</c> that the project marks as an <c>AdditionalFiles</c> item
    /// (metadata <c>ViTMAEClass</c> or <c>ViTMAEConfig="true"</c>) into one shape-specialised class.
    /// The pipeline only moves equatable data between stages, so unrelated edits leave every step cached.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class ViTMAEGenerator : IIncrementalGenerator
    {
        /// <summary>Tracking names of the pipeline steps (asserted by the incremental-caching tests).</summary>
        internal static class Steps
        {
            public const string Targets = nameof(Targets);
            public const string Parsed = nameof(Parsed);
            public const string ClassNames = nameof(ClassNames);
            public const string Checked = nameof(Checked);
            public const string Planned = nameof(Planned);
            public const string Source = nameof(Source);
        }

        /// <inheritdoc/>
        /// <summary>Whether any diagnostic is an error (warnings such as VMAE015 still let the model compile).</summary>
        private static bool HasErrors(EquatableArray<DiagnosticInfo> diagnostics)
        {
            foreach (DiagnosticInfo d in diagnostics)
            {
                if (!ConfigDiagnosticIds.IsWarning(d.Id))
                {
                    return true;
                }
            }

            return false;
        }

        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            // 1. Which additional files are ViTMAE configs (item metadata decides; only marked files are read), and what
            //    class each becomes.
            IncrementalValueProvider<string> rootNamespace = context.AnalyzerConfigOptionsProvider
                .Select(static (options, _) => options.GlobalOptions.TryGetValue("build_property.RootNamespace", out string? ns) ? ns.Trim() : "");

            IncrementalValuesProvider<ConfigFile> files = context.AdditionalTextsProvider
                .Combine(context.AnalyzerConfigOptionsProvider)
                .Select(static (pair, ct) => ConfigFile.FromMetadata(pair.Left, pair.Right.GetOptions(pair.Left), ct))
                .Where(static file => file is not null)
                .Select(static (file, _) => file!)
                .Combine(rootNamespace)
                .Select(static (pair, ct) => pair.Left.WithRootNamespace(pair.Right))
                .WithTrackingName(Steps.Targets);

            // 2. Parse each config (text → spec), collecting diagnostics with JSON positions. A reformatted file parses to the
            //    same spec, so nothing after this step runs again.
            IncrementalValuesProvider<ParsedModel> parsed = files
                .Select(static (file, ct) => ParsedModel.Create(file, ct))
                .WithTrackingName(Steps.Parsed);

            // 3. Class names that more than one config claims (the only cross-file rule). The first config by path
            //    keeps the name; every later one gets an error and no code.
            IncrementalValueProvider<EquatableArray<ClassClaim>> duplicates = parsed
                .Select(static (model, _) => new ClassClaim(model.Target.FullName, model.Target.Path))
                .Collect()
                .Select(static (claims, _) => new EquatableArray<ClassClaim>(claims
                    .GroupBy(c => c.FullName, StringComparer.Ordinal)
                    .Where(g => g.Count() > 1)
                    .Select(g => g.OrderBy(c => c.Path, StringComparer.Ordinal).First())
                    .OrderBy(c => c.FullName, StringComparer.Ordinal)))
                .WithTrackingName(Steps.ClassNames);

            IncrementalValuesProvider<ParsedModel> checkedModels = parsed
                .Combine(duplicates)
                .Select(static (pair, _) => pair.Left.CheckDuplicate(pair.Right))
                .WithTrackingName(Steps.Checked);

            // 4. Diagnostics and source are separate outputs: a diagnostic never forces code to be re-emitted.
            context.RegisterSourceOutput(checkedModels.Select(static (m, _) => m.Diagnostics), static (spc, diagnostics) =>
            {
                foreach (DiagnosticInfo d in diagnostics)
                {
                    spc.ReportDiagnostic(d.ToDiagnostic());
                }
            });

            // 5. Plan each valid config (spec → steps, shapes, buffer table), then emit it (plan → C#): two steps, so that
            //    a plan that comes out equal is not emitted again.
            IncrementalValuesProvider<PlannedModel> planned = checkedModels
                .Where(static m => m.Spec is not null && !HasErrors(m.Diagnostics) && !m.IsDuplicate)
                .Select(static (m, ct) => PlannedModel.Create(m, ct))
                .WithTrackingName(Steps.Planned);

            IncrementalValuesProvider<GeneratedSource> sources = planned
                .Select(static (m, ct) => new GeneratedSource(m.Target.FullName + ".g.cs", ViTMAEEmitter.Emit(m.Target, m.Plan)))
                .WithTrackingName(Steps.Source);

            context.RegisterSourceOutput(sources, static (spc, source) => spc.AddSource(source.HintName, source.Text));
        }

        /// <summary>An additional file marked as a ViTMAE config, with its text and target class.</summary>
        internal sealed record ConfigFile(string Path, string Text, string? ClassName, string? Namespace, string? Resolutions, string RootNamespace, bool TextReadFailed)
        {
            internal const string ResolutionsMetadata = "build_metadata.AdditionalFiles.ViTMAEResolutions";
            internal const string ClassMetadata = "build_metadata.AdditionalFiles.ViTMAEClass";
            internal const string NamespaceMetadata = "build_metadata.AdditionalFiles.ViTMAENamespace";
            internal const string MarkerMetadata = "build_metadata.AdditionalFiles.ViTMAEConfig";

            public static ConfigFile? FromMetadata(AdditionalText file, AnalyzerConfigOptions options, CancellationToken cancellationToken)
            {
                options.TryGetValue(ClassMetadata, out string? className);
                options.TryGetValue(NamespaceMetadata, out string? ns);
                options.TryGetValue(MarkerMetadata, out string? marker);
                options.TryGetValue(ResolutionsMetadata, out string? resolutions);
                bool marked = !string.IsNullOrWhiteSpace(className) || string.Equals(marker?.Trim(), "true", StringComparison.OrdinalIgnoreCase);
                if (!marked)
                {
                    return null;
                }

                SourceText? text = file.GetText(cancellationToken);
                return new ConfigFile(
                    file.Path,
                    text?.ToString() ?? "",
                    string.IsNullOrWhiteSpace(className) ? null : className!.Trim(),
                    string.IsNullOrWhiteSpace(ns) ? null : ns!.Trim(),
                    string.IsNullOrWhiteSpace(resolutions) ? null : resolutions!.Trim(),
                    "",
                    text is null);
            }

            public ConfigFile WithRootNamespace(string rootNamespace) => this with { RootNamespace = rootNamespace };
        }

        /// <summary>Result of parsing one config: the target, the spec and extra resolutions (null spec on error) and diagnostics.</summary>
        internal sealed record ParsedModel(ModelTarget Target, ViTMAESpec? Spec, EquatableArray<Resolution> ExtraResolutions, EquatableArray<DiagnosticInfo> Diagnostics, bool IsDuplicate)
        {
            public static ParsedModel Create(ConfigFile file, CancellationToken cancellationToken)
            {
                var diagnostics = new List<DiagnosticInfo>();
                ModelTarget target = Naming.Resolve(file, diagnostics);
                if (file.TextReadFailed)
                {
                    diagnostics.Add(DiagnosticInfo.AtStart(ConfigDiagnosticIds.InvalidJson, file.Path, "the file could not be read"));
                    return new ParsedModel(target, null, EquatableArray<Resolution>.Empty, new EquatableArray<DiagnosticInfo>(diagnostics), false);
                }

                var configDiagnostics = new List<ConfigDiagnostic>();
                ViTMAESpec? spec = ViTMAEConfigParser.Parse(file.Text, configDiagnostics);
                cancellationToken.ThrowIfCancellationRequested();
                diagnostics.AddRange(configDiagnostics.Select(d => DiagnosticInfo.FromConfig(file.Path, d)));
                List<(int Height, int Width)> extra = spec is null ? new List<(int, int)>() : Naming.ParseResolutions(file, spec, diagnostics);
                return new ParsedModel(target, spec, new EquatableArray<Resolution>(extra.Select(r => new Resolution(r.Height, r.Width))), new EquatableArray<DiagnosticInfo>(diagnostics), false);
            }

            /// <summary>Marks this model as a duplicate when another config (earlier by path) owns its class name.</summary>
            public ParsedModel CheckDuplicate(EquatableArray<ClassClaim> owners)
            {
                foreach (ClassClaim owner in owners)
                {
                    if (owner.FullName == Target.FullName && owner.Path != Target.Path)
                    {
                        return this with
                        {
                            IsDuplicate = true,
                            Diagnostics = new EquatableArray<DiagnosticInfo>(Diagnostics.Concat(new[]
                            {
                                DiagnosticInfo.AtStart(ConfigDiagnosticIds.DuplicateClassName, Target.Path,
                                    "class '" + Target.FullName + "' is already generated from '" + owner.Path +
                                    "'; give each config its own ViTMAEClass metadata"),
                            })),
                        };
                    }
                }

                return this;
            }
        }

        /// <summary>An extra input resolution declared with <c>ViTMAEResolutions</c>.</summary>
        internal sealed record Resolution(int Height, int Width);

        /// <summary>The plan of a valid config, ready to emit.</summary>
        internal sealed record PlannedModel(ModelTarget Target, ViTMAEPlan Plan)
        {
            public static PlannedModel Create(ParsedModel model, CancellationToken cancellationToken)
            {
                cancellationToken.ThrowIfCancellationRequested();
                return new PlannedModel(model.Target, ViTMAEPlanner.Plan(model.Spec!, model.ExtraResolutions.Select(r => (r.Height, r.Width))));
            }
        }

        /// <summary>A config's claim on a generated class name.</summary>
        internal sealed record ClassClaim(string FullName, string Path);

        /// <summary>Hint name and text of one generated file.</summary>
        internal sealed record GeneratedSource(string HintName, string Text);
    }
}
