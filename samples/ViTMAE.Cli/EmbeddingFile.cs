using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Cli;

/// <summary>An input that could not be embedded, with a one-line reason.</summary>
internal sealed record SkippedInput(string Path, string Reason);

/// <summary>
/// What an embedding run was made with: every value that must be equal for two parts to be merged (docs/SCALE.md).
/// Written to the file's <c>__metadata__</c> as strings.
/// </summary>
internal sealed record EmbeddingSettings(string Model, string Config, string WeightsSha256, string Preprocessor, string Masking, int Hidden, int InputsTotal, string InputsSha256, int Batch)
{
    /// <summary>SHA-256 of the sorted input list (one path per line): shards of one run share it.</summary>
    public static string HashInputs(IEnumerable<string> paths) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", paths))));

    /// <summary>The settings as the metadata keys and values the file holds (the hidden size is the tensors' width).</summary>
    public IEnumerable<(string Key, string Value)> Fields() =>
    [
        ("model", Model), ("config", Config), ("weights_sha256", WeightsSha256), ("preprocessor", Preprocessor), ("masking", Masking),
        ("inputs_total", Inv(InputsTotal)), ("inputs_sha256", InputsSha256), ("batch", Inv(Batch)),
    ];

    public void AddTo(SafeTensorsWriter writer)
    {
        foreach ((string key, string value) in Fields())
        {
            writer.AddMetadata(key, value);
        }
    }

    /// <summary>Each field that differs from <paramref name="other"/>'s, as <c>key 'this' vs 'other'</c>.</summary>
    public IEnumerable<string> Differences(EmbeddingSettings other) =>
        Fields().Zip(other.Fields(), (a, b) => a.Value == b.Value ? null : a.Key + " '" + a.Value + "' vs '" + b.Value + "'").OfType<string>();

    public static EmbeddingSettings Read(IReadOnlyDictionary<string, string> metadata, int hidden, string path) => new(
        Get(metadata, "model", path), Get(metadata, "config", path), Get(metadata, "weights_sha256", path), Get(metadata, "preprocessor", path),
        Get(metadata, "masking", path), hidden, ParseInt(Get(metadata, "inputs_total", path), "inputs_total", path), Get(metadata, "inputs_sha256", path),
        ParseInt(Get(metadata, "batch", path), "batch", path));

    internal static string Get(IReadOnlyDictionary<string, string> metadata, string key, string path) =>
        metadata.TryGetValue(key, out string? value) ? value : throw new CliUsageException(path + ": not a vitmae embedding file (no '" + key + "' in its metadata)");

    internal static int ParseInt(string text, string key, string path) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : throw new CliUsageException(path + ": metadata '" + key + "' is not a number: " + text);

    internal static string Inv(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// The file <c>vitmae embed</c> writes and <c>vitmae merge</c> reads: safetensors with tensors <c>cls</c> and <c>mean</c>
/// <c>[N, hidden]</c> (float32, row i = <c>paths[i]</c>) and a self-describing <c>__metadata__</c>: format, the
/// settings, <c>shard</c> ("i/n"), <c>paths</c> and <c>skipped</c> (JSON), and <c>complete</c> ("false" while a run is
/// under way: a resumable partial file). The writer sorts metadata keys and tensor names, so equal contents give equal
/// bytes: a merge of all shards is byte-identical to an unsharded run.
/// </summary>
internal sealed class EmbeddingFile
{
    public const string Format = "vitmae-embeddings/1";

    public required EmbeddingSettings Settings { get; init; }

    public required int Shard { get; init; }

    public required int ShardCount { get; init; }

    public required List<string> Paths { get; init; }

    public required List<SkippedInput> Skipped { get; init; }

    /// <summary>
    /// The CLS features, row-major <c>[Paths.Count, hidden]</c> (the array may be longer: only those rows count); null
    /// for a file read with <c>features: false</c>, whose data <see cref="WriteMerged"/> streams from the file itself.
    /// </summary>
    public float[]? Cls { get; init; }

    /// <summary>The mean-pooled features, as <see cref="Cls"/>.</summary>
    public float[]? Mean { get; init; }

    /// <summary>
    /// The most rows a file of one shard may hold: each tensor at most 2 GiB (<c>int.MaxValue</c> bytes), what a reader
    /// can map as one span and an embed run keeps in memory (vit-mae-base: 699,050 images).
    /// </summary>
    public static int MaxShardRows(int hidden) => int.MaxValue / (sizeof(float) * hidden);

    public bool Complete { get; init; }

    /// <summary>Writes the file atomically (a temporary file renamed over <paramref name="path"/>): a crash leaves the old one whole.</summary>
    public void Write(string path)
    {
        int values = Paths.Count * Settings.Hidden;
        float[] cls = Cls ?? throw new InvalidOperationException("no features to write"), mean = Mean!;
        Write(path, s => SafeTensorsWriter.WriteFloat32(s, cls.AsSpan(0, values)), s => SafeTensorsWriter.WriteFloat32(s, mean.AsSpan(0, values)));
    }

    /// <summary>The header length the file would have with the metadata it holds now (see <see cref="SafeTensorsFile.MaxHeaderLength"/>).</summary>
    public long HeaderLength => Writer(_ => { }, _ => { }).HeaderLength;

    /// <summary>
    /// Writes this file's metadata with <c>cls</c> and <c>mean</c> taken from <paramref name="parts"/> in order (files
    /// read with <c>features: false</c>), copying one part at a time: a merge never holds the features in memory, and its
    /// tensors may exceed what one array holds.
    /// </summary>
    public void WriteMerged(string path, IReadOnlyList<string> parts) =>
        Write(path, s => CopyFromParts(s, parts, "cls"), s => CopyFromParts(s, parts, "mean"));

    private static void CopyFromParts(Stream stream, IReadOnlyList<string> parts, string tensor)
    {
        foreach (string part in parts)
        {
            using SafeTensorsFile file = SafeTensorsFile.Open(part);
            TensorInfo info = file.GetInfo(tensor);
            if (info.DType != DType.F32)
            {
                throw new CliUsageException(part + ": tensor " + tensor + " is " + info.DType.ToSafeTensorsName() + ", expected F32 as embed writes it");
            }

            stream.Write(file.GetBytes(info.Name));
        }
    }

    private void Write(string path, Action<Stream> writeCls, Action<Stream> writeMean)
    {
        SafeTensorsWriter writer = Writer(writeCls, writeMean);
        long header = writer.HeaderLength;
        if (header > SafeTensorsFile.MaxHeaderLength)
        {
            throw new CliUsageException(string.Create(CultureInfo.InvariantCulture,
                $"{path}: its metadata ({Paths.Count} paths, {Skipped.Count} skipped) would make a {header / 1e6:F0} MB header, over the {SafeTensorsFile.MaxHeaderLength / 1e6:F0} MB safetensors readers accept (Hugging Face's too); keep fewer inputs per file (more shards, and the parts unmerged) or shorter paths"));
        }

        string temporary = path + ".partial";
        writer.WriteTo(temporary);
        File.Move(temporary, path, overwrite: true);
    }

    private SafeTensorsWriter Writer(Action<Stream> writeCls, Action<Stream> writeMean)
    {
        int rows = Paths.Count, hidden = Settings.Hidden;
        var writer = new SafeTensorsWriter()
            .AddMetadata("format", Format)
            .AddMetadata("shard", EmbeddingSettings.Inv(Shard) + "/" + EmbeddingSettings.Inv(ShardCount))
            .AddMetadata("paths", Json(w => { foreach (string p in Paths) w.WriteStringValue(p); }))
            .AddMetadata("skipped", Json(w =>
            {
                foreach (SkippedInput s in Skipped)
                {
                    w.WriteStartObject();
                    w.WriteString("path", s.Path);
                    w.WriteString("reason", s.Reason);
                    w.WriteEndObject();
                }
            }))
            .AddMetadata("complete", Complete ? "true" : "false")
            .AddStreamed("cls", DType.F32, writeCls, rows, hidden)
            .AddStreamed("mean", DType.F32, writeMean, rows, hidden);
        Settings.AddTo(writer);
        return writer;
    }

    /// <summary>Reads a file written by <see cref="Write(string)"/>, checking its format and shapes.</summary>
    /// <exception cref="CliUsageException">Not such a file, or inconsistent metadata.</exception>
    public static EmbeddingFile Read(string path, bool features = true)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        if (!file.Metadata.TryGetValue("format", out string? format) || format != Format)
        {
            throw new CliUsageException(path + ": not a vitmae embedding file (metadata 'format' is " + (format ?? "missing") + ", expected " + Format + ")");
        }

        TensorInfo cls = file.GetInfo("cls");
        if (cls.Rank != 2 || !file.GetInfo("mean").ShapeEquals([(int)cls.Shape[0], (int)cls.Shape[1]]))
        {
            throw new CliUsageException(path + ": tensors cls " + cls.ShapeText + " and mean " + file.GetInfo("mean").ShapeText + " should both be [N, hidden]");
        }

        int rows = (int)cls.Shape[0], hidden = (int)cls.Shape[1];
        string[] shard = EmbeddingSettings.Get(file.Metadata, "shard", path).Split('/');
        var paths = ReadArray(EmbeddingSettings.Get(file.Metadata, "paths", path), path, e => e.GetString()!);
        var skipped = ReadArray(EmbeddingSettings.Get(file.Metadata, "skipped", path), path,
            e => new SkippedInput(e.GetProperty("path").GetString()!, e.GetProperty("reason").GetString()!));
        if (paths.Count != rows || shard.Length != 2)
        {
            throw new CliUsageException(string.Create(CultureInfo.InvariantCulture, $"{path}: {paths.Count} paths for {rows} rows, or a shard that is not i/n"));
        }

        return new EmbeddingFile
        {
            Settings = EmbeddingSettings.Read(file.Metadata, hidden, path),
            Shard = EmbeddingSettings.ParseInt(shard[0], "shard", path),
            ShardCount = EmbeddingSettings.ParseInt(shard[1], "shard", path),
            Paths = paths,
            Skipped = skipped,
            Cls = features ? file.ReadFloat32("cls") : null,
            Mean = features ? file.ReadFloat32("mean") : null,
            Complete = EmbeddingSettings.Get(file.Metadata, "complete", path) == "true",
        };
    }

    private static string Json(Action<Utf8JsonWriter> items)
    {
        // Utf8JsonWriter: no reflection, NativeAOT-safe; non-ASCII paths stay readable, as JSON allows.
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartArray();
            items(writer);
            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static List<T> ReadArray<T>(string json, string path, Func<JsonElement, T> item)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var result = new List<T>();
            foreach (JsonElement e in document.RootElement.EnumerateArray())
            {
                result.Add(item(e));
            }

            return result;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new CliUsageException(path + ": malformed metadata list (" + ex.Message + ")");
        }
    }
}
