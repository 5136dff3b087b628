using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using ViTMAE.Compiled.Configuration;

namespace ViTMAE.Compiled.Generator
{
    /// <summary>The generator's diagnostics: one descriptor per ID; the message is the parser's sentence.</summary>
    internal static class Diagnostics
    {
        private const string Category = "ViTMAE.Compiled";
        private const string HelpLink = "https://huggingface.co/docs/transformers/model_doc/vit_mae#transformers.ViTMAEConfig";

        public static readonly DiagnosticDescriptor InvalidJson = Error(ConfigDiagnosticIds.InvalidJson, "ViTMAE config is not valid JSON");
        public static readonly DiagnosticDescriptor WrongType = Error(ConfigDiagnosticIds.WrongType, "ViTMAE config value has the wrong type");
        public static readonly DiagnosticDescriptor WrongModelType = Error(ConfigDiagnosticIds.WrongModelType, "Config is not a ViTMAE config");
        public static readonly DiagnosticDescriptor UnknownActivation = Error(ConfigDiagnosticIds.UnknownActivation, "Unsupported hidden_act");
        public static readonly DiagnosticDescriptor HeadsDoNotDivide = Error(ConfigDiagnosticIds.HeadsDoNotDivide, "Hidden size not divisible by the head count");
        public static readonly DiagnosticDescriptor PatchDoesNotDivideImage = Error(ConfigDiagnosticIds.PatchDoesNotDivideImage, "Image size not divisible by the patch size");
        public static readonly DiagnosticDescriptor NonPositiveSize = Error(ConfigDiagnosticIds.NonPositiveSize, "Size must be positive");
        public static readonly DiagnosticDescriptor InvalidMaskRatio = Error(ConfigDiagnosticIds.InvalidMaskRatio, "Invalid mask_ratio");
        public static readonly DiagnosticDescriptor SinCosDimension = Error(ConfigDiagnosticIds.SinCosDimension, "Hidden size unusable by the 2-D sin-cos position table");
        public static readonly DiagnosticDescriptor DuplicateClassName = Error(ConfigDiagnosticIds.DuplicateClassName, "Two configs generate the same class");
        public static readonly DiagnosticDescriptor UnsupportedGeometry = Error(ConfigDiagnosticIds.UnsupportedGeometry, "Unsupported patch or image geometry");
        public static readonly DiagnosticDescriptor InvalidMetadata = Error(ConfigDiagnosticIds.InvalidMetadata, "Invalid ViTMAE item metadata");
        public static readonly DiagnosticDescriptor ValueOutOfRange = Error(ConfigDiagnosticIds.ValueOutOfRange, "Config value out of range");
        public static readonly DiagnosticDescriptor ModelTooLarge = Error(ConfigDiagnosticIds.ModelTooLarge, "Model too large");
        public static readonly DiagnosticDescriptor UnknownKey = new DiagnosticDescriptor(
            ConfigDiagnosticIds.UnknownKey, "Unknown ViTMAE config key", "{0}", Category, DiagnosticSeverity.Warning, isEnabledByDefault: true, helpLinkUri: HelpLink);

        public static DiagnosticDescriptor ById(string id) => id switch
        {
            ConfigDiagnosticIds.InvalidJson => InvalidJson,
            ConfigDiagnosticIds.WrongType => WrongType,
            ConfigDiagnosticIds.WrongModelType => WrongModelType,
            ConfigDiagnosticIds.UnknownActivation => UnknownActivation,
            ConfigDiagnosticIds.HeadsDoNotDivide => HeadsDoNotDivide,
            ConfigDiagnosticIds.PatchDoesNotDivideImage => PatchDoesNotDivideImage,
            ConfigDiagnosticIds.NonPositiveSize => NonPositiveSize,
            ConfigDiagnosticIds.InvalidMaskRatio => InvalidMaskRatio,
            ConfigDiagnosticIds.SinCosDimension => SinCosDimension,
            ConfigDiagnosticIds.DuplicateClassName => DuplicateClassName,
            ConfigDiagnosticIds.UnsupportedGeometry => UnsupportedGeometry,
            ConfigDiagnosticIds.InvalidMetadata => InvalidMetadata,
            ConfigDiagnosticIds.ValueOutOfRange => ValueOutOfRange,
            ConfigDiagnosticIds.ModelTooLarge => ModelTooLarge,
            ConfigDiagnosticIds.UnknownKey => UnknownKey,
            _ => throw new ArgumentOutOfRangeException(nameof(id), id, "unknown diagnostic ID"),
        };

        private static DiagnosticDescriptor Error(string id, string title) =>
            new DiagnosticDescriptor(id, title, "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: HelpLink);
    }

    /// <summary>
    /// A diagnostic as pipeline data: equatable, no <see cref="Location"/> or symbol (those would defeat caching),
    /// turned into a <see cref="Diagnostic"/> only when reported.
    /// </summary>
    internal sealed record DiagnosticInfo(string Id, string Message, string Path, JsonSpan Span)
    {
        public static DiagnosticInfo FromConfig(string path, ConfigDiagnostic d) => new DiagnosticInfo(d.Id, d.Message, path, d.Span);

        public static DiagnosticInfo AtStart(string id, string path, string message) =>
            new DiagnosticInfo(id, message, path, new JsonSpan(0, 0, 0, 0, 0, 0));

        public Diagnostic ToDiagnostic()
        {
            var location = Location.Create(
                Path,
                new TextSpan(Span.Start, Span.Length),
                new LinePositionSpan(new LinePosition(Span.StartLine, Span.StartColumn), new LinePosition(Span.EndLine, Span.EndColumn)));
            return Diagnostic.Create(Diagnostics.ById(Id), location, Message);
        }
    }
}
