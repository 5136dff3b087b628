using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;
using ViTMAE.Compiled.Configuration;

namespace ViTMAE.Compiled.Weights;

/// <summary>
/// The weights of a Hugging Face checkpoint: a single <c>model.safetensors</c>, a sharded checkpoint described by
/// <c>model.safetensors.index.json</c>, or a directory holding either. Tensors are looked up by name across
/// shards, and the checked <see cref="Require(string, ReadOnlySpan{int})"/> binding used by generated code
/// reports a missing key, a wrong shape or an unsupported dtype with the file, tensor and values involved.
/// </summary>
/// <remarks>
/// All files are opened and validated by <see cref="Open"/>. For a sharded checkpoint the index's
/// <c>weight_map</c> is authoritative: every entry must exist in its shard, and shard tensors it does not list are ignored.
/// Shard paths are relative to the index file and must stay inside its directory.
/// </remarks>
public sealed class WeightSource : IDisposable
{
    /// <summary>File name of a single-file checkpoint.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>File name of a sharded checkpoint's index.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly SafeTensorsFile[] _files;
    private readonly Dictionary<string, (SafeTensorsFile File, TensorInfo Info)> _tensors;
    private readonly string[] _names;

    private WeightSource(string sourcePath, bool isSharded, SafeTensorsFile[] files,
        Dictionary<string, (SafeTensorsFile, TensorInfo)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        SourcePath = sourcePath;
        IsSharded = isSharded;
        _files = files;
        _tensors = tensors;
        Metadata = metadata;
        _names = [.. tensors.Keys];
        Array.Sort(_names, StringComparer.Ordinal);
    }

    /// <summary>The <c>.safetensors</c> file or the index file the weights came from.</summary>
    public string SourcePath { get; }

    /// <summary>Whether the weights came from a sharded index.</summary>
    public bool IsSharded { get; }

    /// <summary>The open files (one, or one per distinct shard).</summary>
    public IReadOnlyList<SafeTensorsFile> Files => _files;

    /// <summary>The single file's <c>__metadata__</c>, or the index's <c>metadata</c> (non-string values as their JSON text).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>All tensor names in ordinal order.</summary>
    public IEnumerable<string> Names => _names;

    /// <summary>Number of tensors.</summary>
    public int Count => _names.Length;

    /// <summary>
    /// Opens a checkpoint: a <c>.safetensors</c> file, a <c>*.index.json</c> sharded index, or a directory
    /// containing <see cref="SingleFileName"/> (preferred) or <see cref="IndexFileName"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">The path does not exist, or a directory holds neither file.</exception>
    /// <exception cref="WeightsFormatException">A file or the index is malformed, or a shard lacks a tensor the index lists.</exception>
    public static WeightSource Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
        {
            string single = Path.Combine(path, SingleFileName);
            string index = Path.Combine(path, IndexFileName);
            if (File.Exists(single))
            {
                path = single;
            }
            else if (File.Exists(index))
            {
                path = index;
            }
            else if (PyTorchCheckpoint(path) is string bin)
            {
                throw new WeightsFormatException(path, null,
                    $"the folder holds a PyTorch checkpoint ({Path.GetFileName(bin)}) but no {SingleFileName}: .bin (pickle) checkpoints are not read, because " +
                    "unpickling runs arbitrary code. Convert it once with Hugging Face: python -c \"from transformers import ViTMAEForPreTraining as M; " +
                    $"M.from_pretrained('{path}').save_pretrained('{path}', safe_serialization=True)\"");
            }
            else
            {
                throw new FileNotFoundException($"The directory '{path}' holds neither {SingleFileName} nor {IndexFileName}.", single);
            }
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Weights file '{path}' not found.", path);
        }

        return path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? OpenIndex(path) : FromFile(SafeTensorsFile.Open(path));
    }

    /// <summary>A PyTorch checkpoint in <paramref name="directory"/> (pytorch_model.bin or its sharded index), or null.</summary>
    private static string? PyTorchCheckpoint(string directory)
    {
        foreach (string name in new[] { "pytorch_model.bin", "pytorch_model.bin.index.json" })
        {
            string candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Wraps an already open file; the source takes ownership and disposes it.</summary>
    public static WeightSource FromFile(SafeTensorsFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var tensors = new Dictionary<string, (SafeTensorsFile, TensorInfo)>(file.Tensors.Count, StringComparer.Ordinal);
        foreach (KeyValuePair<string, TensorInfo> entry in file.Tensors)
        {
            tensors.Add(entry.Key, (file, entry.Value));
        }

        return new WeightSource(file.FilePath, isSharded: false, [file], tensors, file.Metadata);
    }

    /// <summary>Largest sharded index read: real ones are tens of kilobytes.</summary>
    private const long MaxIndexBytes = 64L << 20;

    private static WeightSource OpenIndex(string indexPath)
    {
        // Size first, without opening: a FIFO or device reports 0 bytes and would block or never end.
        long length = new FileInfo(indexPath).Length;
        if (length == 0 || length > MaxIndexBytes)
        {
            throw new WeightsFormatException(indexPath, null, length == 0
                ? "the index is empty (or not a regular file)"
                : $"the index is {length} bytes, more than the {MaxIndexBytes} bytes any sharded index needs");
        }

        byte[] json = File.ReadAllBytes(indexPath);

        // System.Text.Json parses invalid UTF-8 inside strings and unpaired surrogate escapes ("\ud800"), then throws
        // InvalidOperationException when a name or value is read: both are checked first, with their position.
        if (JsonText.FindInvalidUtf8(json) is JsonTextProblem notUtf8)
        {
            throw new WeightsFormatException(indexPath, null, "the index is not valid UTF-8: " + notUtf8.Message);
        }

        if (JsonText.FindInvalidEscape(json, default) is JsonTextProblem escape)
        {
            throw new WeightsFormatException(indexPath, null, "the index is not valid JSON text: " + escape.Message);
        }

        var weightMap = new List<(string Tensor, string Shard)>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new WeightsFormatException(indexPath, null, "the index must be a JSON object");
            }

            if (root.TryGetProperty("metadata", out JsonElement meta) && meta.ValueKind == JsonValueKind.Object)
            {
                foreach (JsonProperty item in meta.EnumerateObject())
                {
                    metadata[item.Name] = item.Value.ValueKind == JsonValueKind.String ? item.Value.GetString()! : item.Value.GetRawText();
                }
            }

            if (!root.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new WeightsFormatException(indexPath, null, "the index has no \"weight_map\" object");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty item in map.EnumerateObject())
            {
                if (item.Value.ValueKind != JsonValueKind.String)
                {
                    throw new WeightsFormatException(indexPath, item.Name, $"weight_map entry '{item.Name}' must be a shard file name");
                }

                if (!seen.Add(item.Name))
                {
                    throw new WeightsFormatException(indexPath, item.Name, $"weight_map lists '{item.Name}' twice");
                }

                string shardName = item.Value.GetString()!;
                CheckShardName(indexPath, item.Name, shardName);
                weightMap.Add((item.Name, shardName));
            }
        }
        catch (JsonException e)
        {
            throw new WeightsFormatException(indexPath, null, $"the index is not valid JSON: {e.Message}", e);
        }

        string directory = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var shards = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        try
        {
            var tensors = new Dictionary<string, (SafeTensorsFile, TensorInfo)>(weightMap.Count, StringComparer.Ordinal);
            foreach ((string tensor, string shardName) in weightMap)
            {
                string shardPath = ResolveShard(indexPath, directory, tensor, shardName);
                if (!shards.TryGetValue(shardPath, out SafeTensorsFile? shard))
                {
                    if (!File.Exists(shardPath))
                    {
                        throw new WeightsFormatException(indexPath, tensor, $"shard '{shardName}' (listed for tensor '{tensor}') does not exist");
                    }

                    shard = SafeTensorsFile.Open(shardPath);
                    shards.Add(shardPath, shard);
                }

                if (!shard.TryGetInfo(tensor, out TensorInfo? info))
                {
                    throw new WeightsFormatException(indexPath, tensor, $"weight_map puts tensor '{tensor}' in '{shardName}', which does not contain it");
                }

                tensors.Add(tensor, (shard, info));
            }

            return new WeightSource(indexPath, isSharded: true, [.. shards.Values], tensors, metadata);
        }
        catch
        {
            foreach (SafeTensorsFile shard in shards.Values)
            {
                shard.Dispose();
            }

            throw;
        }
    }

    /// <summary>
    /// A shard name as the index gives it, checked before any <see cref="Path"/> method sees it: not empty, and free of
    /// control characters (a NUL makes <see cref="Path.GetFullPath(string)"/> throw ArgumentException; no checkpoint
    /// writer puts a control character in a file name).
    /// </summary>
    private static void CheckShardName(string indexPath, string tensor, string shardName)
    {
        if (shardName.Length == 0)
        {
            throw new WeightsFormatException(indexPath, tensor,
                $"weight_map entry '{Printable(tensor)}': expected a shard file name relative to the index (such as \"model-00001-of-00002.safetensors\"), found an empty string");
        }

        for (int i = 0; i < shardName.Length; i++)
        {
            if (char.IsControl(shardName[i]))
            {
                throw new WeightsFormatException(indexPath, tensor, string.Create(CultureInfo.InvariantCulture,
                    $"shard name \"{Printable(shardName)}\" for tensor '{Printable(tensor)}' contains characters no file name can have: expected a file name relative to the index, found {CharName(shardName[i])} at character {i}"));
            }
        }
    }

    /// <summary>"U+0000 (NUL)" and the like, for messages.</summary>
    private static string CharName(char c) => string.Create(CultureInfo.InvariantCulture,
        $"U+{(int)c:X4}{(c == '\0' ? " (NUL)" : char.IsControl(c) ? " (a control character)" : $" '{c}'")}");

    /// <summary><paramref name="text"/> for an error message: control characters as \uXXXX escapes, at most 200 characters.</summary>
    private static string Printable(string text)
    {
        var builder = new StringBuilder(Math.Min(text.Length, 200) + 8);
        foreach (char c in text.Length > 200 ? text.AsSpan(0, 200) : text.AsSpan())
        {
            if (char.IsControl(c))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return text.Length > 200 ? builder.Append('…').ToString() : builder.ToString();
    }

    private static string ResolveShard(string indexPath, string directory, string tensor, string shardName)
    {
        int invalid = shardName.AsSpan().IndexOfAny(Path.GetInvalidPathChars());
        if (invalid >= 0)
        {
            throw new WeightsFormatException(indexPath, tensor, string.Create(CultureInfo.InvariantCulture,
                $"shard name \"{Printable(shardName)}\" for tensor '{Printable(tensor)}' contains characters no file name can have: expected a file name relative to the index, found {CharName(shardName[invalid])} at character {invalid}"));
        }

        if (Path.IsPathRooted(shardName))
        {
            throw new WeightsFormatException(indexPath, tensor, $"shard '{shardName}' for tensor '{tensor}' must be a path relative to the index");
        }

        string full = Path.GetFullPath(Path.Combine(directory, shardName));
        string root = Path.EndsInDirectorySeparator(directory) ? directory : directory + Path.DirectorySeparatorChar;
        if (!full.StartsWith(root, StringComparison.Ordinal))
        {
            throw new WeightsFormatException(indexPath, tensor, $"shard '{shardName}' for tensor '{tensor}' lies outside the index's directory");
        }

        return full;
    }

    /// <summary>Whether a tensor named <paramref name="name"/> exists.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>Looks up a tensor's entry.</summary>
    public bool TryGetInfo(string name, [NotNullWhen(true)] out TensorInfo? info)
    {
        bool found = _tensors.TryGetValue(name, out var entry);
        info = entry.Info;
        return found;
    }

    /// <summary>The entry of <paramref name="name"/>.</summary>
    /// <exception cref="MissingWeightException">No such tensor (the message says if only the <c>vit.</c> prefix differs).</exception>
    public TensorInfo GetInfo(string name) => Find(name).Info;

    /// <summary>The file (shard) that holds <paramref name="name"/>.</summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    public SafeTensorsFile GetFile(string name) => Find(name).File;

    /// <summary>
    /// The key prefix of the encoder weights: <c>"vit."</c> for a ViTMAEForPreTraining checkpoint,
    /// <c>""</c> for a ViTMAEModel checkpoint, <see langword="null"/> if neither kind of key is present.
    /// </summary>
    public string? DetectPrefix()
    {
        bool bare = false;
        foreach (string name in _names)
        {
            if (name.StartsWith(WeightErrors.VitPrefix + "embeddings.", StringComparison.Ordinal)
                || name.StartsWith(WeightErrors.VitPrefix + "encoder.", StringComparison.Ordinal))
            {
                return WeightErrors.VitPrefix;
            }

            bare |= name.StartsWith("embeddings.", StringComparison.Ordinal) || name.StartsWith("encoder.", StringComparison.Ordinal);
        }

        return bare ? string.Empty : null;
    }

    /// <summary>The tensor's raw little-endian bytes (valid until <see cref="Dispose"/>).</summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        var (file, info) = Find(name);
        return file.GetBytes(info);
    }

    /// <summary>Reads an F32, F16 or BF16 tensor into a new float array.</summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is not F32, F16 or BF16.</exception>
    public float[] ReadFloat32(string name) => GetFile(name).ReadFloat32(name);

    /// <summary>Reads an F32, F16 or BF16 tensor into <paramref name="destination"/>, whose length must equal the element count.</summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is not F32, F16 or BF16.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public void ReadFloat32(string name, Span<float> destination) => GetFile(name).ReadFloat32(name, destination);

    /// <summary>Reads an integer tensor (I64, I32, I16, I8, U32, U16, U8 or BOOL) widened to int64.</summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is a float or U64.</exception>
    public long[] ReadInt64(string name) => GetFile(name).ReadInt64(name);

    /// <summary>Reads a U8 or BOOL tensor into a new byte array.</summary>
    /// <exception cref="MissingWeightException">No such tensor.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is not U8 or BOOL.</exception>
    public byte[] ReadUInt8(string name) => GetFile(name).ReadUInt8(name);

    /// <summary>
    /// Checks, without reading data, that <paramref name="name"/> exists, has exactly <paramref name="expectedShape"/>
    /// and a dtype readable as float32 (F32, F16, BF16).
    /// </summary>
    /// <exception cref="MissingWeightException">The key is absent; the message says if only the <c>vit.</c> prefix differs.</exception>
    /// <exception cref="WeightShapeException">The shape differs.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is not F32, F16 or BF16.</exception>
    public TensorInfo RequireInfo(string name, params ReadOnlySpan<int> expectedShape)
    {
        var (file, info) = Find(name);
        if (!info.ShapeEquals(expectedShape))
        {
            var expected = ImmutableArray.CreateBuilder<long>(expectedShape.Length);
            foreach (int d in expectedShape)
            {
                expected.Add(d);
            }

            throw new WeightShapeException(file.FilePath, name, expected.MoveToImmutable(), info.Shape);
        }

        file.CheckFloat32(info);
        return info;
    }

    /// <summary>Checks the tensor like <see cref="RequireInfo"/> and returns its values as a new float array.</summary>
    /// <exception cref="MissingWeightException">The key is absent; the message says if only the <c>vit.</c> prefix differs.</exception>
    /// <exception cref="WeightShapeException">The shape differs.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is not F32, F16 or BF16.</exception>
    public float[] Require(string name, params ReadOnlySpan<int> expectedShape)
    {
        RequireInfo(name, expectedShape);
        return ReadFloat32(name);
    }

    /// <summary>Checks the tensor like <see cref="RequireInfo"/> and converts its values into <paramref name="destination"/>.</summary>
    /// <exception cref="MissingWeightException">The key is absent; the message says if only the <c>vit.</c> prefix differs.</exception>
    /// <exception cref="WeightShapeException">The shape differs.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is not F32, F16 or BF16.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    public void Require(string name, Span<float> destination, params ReadOnlySpan<int> expectedShape)
    {
        RequireInfo(name, expectedShape);
        ReadFloat32(name, destination);
    }

    /// <summary>
    /// Checks the tensor like <see cref="RequireInfo"/> and returns its values: a zero-copy view of the mapping for
    /// aligned F32 data, otherwise a converted copy. Either way the span is valid until <see cref="Dispose"/>.
    /// Suited to packing weights at load time without an intermediate array.
    /// </summary>
    /// <exception cref="MissingWeightException">The key is absent; the message says if only the <c>vit.</c> prefix differs.</exception>
    /// <exception cref="WeightShapeException">The shape differs.</exception>
    /// <exception cref="UnsupportedDTypeException">The dtype is not F32, F16 or BF16.</exception>
    public ReadOnlySpan<float> RequireSpan(string name, params ReadOnlySpan<int> expectedShape)
    {
        TensorInfo info = RequireInfo(name, expectedShape);
        SafeTensorsFile file = GetFile(name);
        return file.TryGetFloat32Span(info, out ReadOnlySpan<float> view) ? view : file.ReadFloat32(name);
    }

    /// <summary>Unmaps every file.</summary>
    public void Dispose()
    {
        foreach (SafeTensorsFile file in _files)
        {
            file.Dispose();
        }
    }

    private (SafeTensorsFile File, TensorInfo Info) Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _tensors.TryGetValue(name, out var entry)
            ? entry
            : throw WeightErrors.Missing(SourcePath, name, _tensors.ContainsKey, _tensors.Count);
    }
}
