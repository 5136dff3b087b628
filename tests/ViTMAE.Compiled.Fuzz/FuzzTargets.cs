// The three fuzz targets. Compiled into the fuzz harness (AFL via SharpFuzz, --replay) and, as a linked file, into
// ViTMAE.Compiled.Tests (FuzzRegressionTests), so that a regression input runs through exactly the code AFL ran.
//
// Contract of every target: the library may reject the input only with a ViTMAEException (or a subclass: the typed
// errors the library documents). Any other exception escaping Run is a finding; so is a FuzzInvariantException, which
// the targets raise when an input was accepted but the result breaks a promise (a tensor span outside the file, a
// decoded image that is not width×height×3 bytes, a config whose derived sizes overflowed).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Runtime;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Fuzz;

/// <summary>The fuzz targets, selected by name on the command line.</summary>
internal enum FuzzTarget
{
    Safetensors,
    Config,
    Image,
}

/// <summary>An input was accepted, but what the library returned breaks one of its promises.</summary>
internal sealed class FuzzInvariantException : Exception
{
    public FuzzInvariantException(string message) : base(message) { }

    public FuzzInvariantException(string message, Exception innerException) : base(message, innerException) { }

    public FuzzInvariantException() { }
}

/// <summary>
/// Runs inputs through a target. Holds the per-process workspace of the safetensors target (the input is written to a
/// file there, as users open files); not thread-safe: one instance per thread.
/// </summary>
internal sealed class FuzzTargets : IDisposable
{
    /// <summary>File names of the two valid shards the index inputs may name (written once per workspace).</summary>
    internal static readonly string[] ShardNames = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];

    /// <summary>A shard the index inputs may name whose header is cut short (a typed error when opened).</summary>
    internal const string TruncatedShardName = "truncated.safetensors";

    /// <summary>
    /// Size limits of the image target: far below the defaults, so that a mutated size field cannot make one execution
    /// decode hundreds of megapixels (AFL would report it as a hang; the defaults' boundaries have unit tests).
    /// </summary>
    internal static readonly ImageDecodeOptions ImageLimits = new() { MaxSide = 4096, MaxPixels = 1 << 20, MaxDecodedBytes = 32L << 20 };

    private static readonly DType[] Float32Readable = [DType.F32, DType.F16, DType.BF16];
    private static readonly DType[] Int64Readable = [DType.I64, DType.I32, DType.I16, DType.I8, DType.U32, DType.U16, DType.U8, DType.Bool];

    private readonly string _root;
    private readonly string _singlePath;
    private readonly string _indexPath;
    private readonly ImageProcessor _processor = new();
    private readonly ImageProcessor _unresized = new(new ImageProcessorSettings { DoResize = false });

    /// <summary>Creates the workspace: a fresh folder (RAM-backed when /dev/shm exists) unique to this instance.</summary>
    public FuzzTargets()
    {
        string tempRoot = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        _root = Path.Combine(tempRoot, string.Create(CultureInfo.InvariantCulture,
            $"vitmae-fuzz-{Environment.ProcessId}-{Guid.NewGuid():N}"));
        string single = Path.Combine(_root, "single");
        string index = Path.Combine(_root, "index");
        Directory.CreateDirectory(single);
        Directory.CreateDirectory(index);
        _singlePath = Path.Combine(single, WeightSource.SingleFileName);
        _indexPath = Path.Combine(index, WeightSource.IndexFileName);
        WriteShards(index);
    }

    /// <summary>Parses a target name (case-insensitive).</summary>
    public static bool TryParse(string name, out FuzzTarget target) => Enum.TryParse(name, ignoreCase: true, out target) && Enum.IsDefined(target);

    /// <summary>The library's typed rejections: everything a target may throw without it being a finding.</summary>
    public static bool IsTyped(Exception exception) => exception is ViTMAEException;

    /// <summary>Runs one input; returns whether the library accepted it (config: whether ViTMAESpec.Parse did). Throws on a finding only.</summary>
    public bool Run(FuzzTarget target, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        try
        {
            switch (target)
            {
                case FuzzTarget.Safetensors:
                    Safetensors(data);
                    break;
                case FuzzTarget.Config:
                    return Config(data);
                case FuzzTarget.Image:
                    Image(data);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(target), target, "Unknown fuzz target.");
            }

            return true;
        }
        catch (Exception e) when (IsTyped(e))
        {
            return false;
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    // ---- safetensors -------------------------------------------------------------------------------------------

    /// <summary>
    /// The bytes as a checkpoint, opened with <see cref="WeightSource.Open"/> as users (and generated code) do: a
    /// <c>model.safetensors</c> file, or, when the first non-blank byte is <c>{</c>, a sharded
    /// <c>model.safetensors.index.json</c> beside two valid shards and a truncated one. Then every tensor is read
    /// through every typed reader that accepts its dtype, and the readers that do not must refuse it with
    /// <see cref="UnsupportedDTypeException"/>.
    /// </summary>
    private void Safetensors(byte[] data)
    {
        string path = FirstNonBlank(data) == (byte)'{' ? _indexPath : _singlePath;
        File.WriteAllBytes(path, data);
        using WeightSource source = WeightSource.Open(path);
        ExerciseSource(source);
    }

    private static void ExerciseSource(WeightSource source)
    {
        string[] names = [.. source.Names];
        Check(names.Length == source.Count, "Names and Count disagree");
        for (int i = 1; i < names.Length; i++)
        {
            Check(string.CompareOrdinal(names[i - 1], names[i]) < 0, "Names are not in strict ordinal order");
        }

        foreach (KeyValuePair<string, string> item in source.Metadata)
        {
            Check(item.Key is not null && item.Value is not null, "null metadata entry");
        }

        _ = source.DetectPrefix();
        var checkpoint = new Checkpoint(source);
        _ = checkpoint.StoredKey("vit.embeddings.cls_token");
        _ = checkpoint.HasDecoder;

        foreach (string name in names)
        {
            ExerciseTensor(source, name);
        }

        // Absent keys: a typed MissingWeightException, with the vit.-prefix hint when only the prefix differs.
        string probe = names.Length > 0 ? names[0] : "vit.embeddings.cls_token";
        foreach (string missing in new[] { "vit." + probe, probe.StartsWith("vit.", StringComparison.Ordinal) ? probe[4..] : probe + "\u0001" })
        {
            if (!source.Contains(missing))
            {
                Expect<MissingWeightException>(() => source.GetInfo(missing), "GetInfo of an absent key");
                Expect<MissingWeightException>(() => source.ReadFloat32(missing), "ReadFloat32 of an absent key");
            }
        }
    }

    private static void ExerciseTensor(WeightSource source, string name)
    {
        TensorInfo info = source.GetInfo(name);
        SafeTensorsFile file = source.GetFile(name);
        Check(info.Name == name, "TensorInfo.Name differs from its key");
        Check(info.ByteLength >= 0 && info.DataOffset >= 0, "negative offset or length");
        Check(info.FileOffset >= file.DataStart && info.FileOffset + info.ByteLength <= file.FileLength,
            $"tensor '{name}' [{info.FileOffset}, {info.FileOffset + info.ByteLength}) lies outside the data section [{file.DataStart}, {file.FileLength})");
        Int128 product = 1;
        foreach (long d in info.Shape)
        {
            Check(d >= 0, "negative dimension accepted");
            product = product * d > long.MaxValue ? long.MaxValue + (Int128)1 : product * d;
        }

        Check(product == info.ElementCount, $"ElementCount {info.ElementCount} is not the product of {info.ShapeText}");
        Check((Int128)info.ElementCount * info.DType.BitSize() == (Int128)info.ByteLength * 8,
            $"{info.ByteLength} bytes for {info.ElementCount} elements of {info.DType.ToSafeTensorsName()}");
        _ = info.ToString();

        ReadOnlySpan<byte> bytes = source.GetBytes(name);
        Check(bytes.Length == info.ByteLength, "GetBytes length differs from ByteLength");

        int[]? intShape = info.Shape.All(d => d <= int.MaxValue) ? info.Shape.Select(d => (int)d).ToArray() : null;
        bool asFloat = Array.IndexOf(Float32Readable, info.DType) >= 0;
        bool asInt = Array.IndexOf(Int64Readable, info.DType) >= 0;
        bool asByte = info.DType is DType.U8 or DType.Bool;

        if (asFloat)
        {
            float[] values = source.ReadFloat32(name);
            Check(values.LongLength == info.ElementCount, "ReadFloat32 length");
            var copy = new float[values.Length];
            file.ReadFloat32(name, copy);
            Check(SameBits(values, copy), "ReadFloat32 into a span differs from ReadFloat32");
            if (file.TryGetFloat32Span(name, out ReadOnlySpan<float> view))
            {
                Check(SameBits(values, view), "the zero-copy F32 view differs from ReadFloat32");
            }

            if (intShape is not null)
            {
                Check(source.RequireSpan(name, intShape).Length == values.Length, "RequireSpan length");
                Check(SameBits(values, source.Require(name, intShape)), "Require differs from ReadFloat32");
                int[] wrong = [.. intShape, 1];
                Expect<WeightShapeException>(() => source.RequireInfo(name, wrong), "RequireInfo with a wrong rank");
            }
        }
        else
        {
            Expect<UnsupportedDTypeException>(() => source.ReadFloat32(name), $"ReadFloat32 of {info.DType}");
            if (intShape is not null)
            {
                Expect<UnsupportedDTypeException>(() => source.RequireInfo(name, intShape), $"RequireInfo of {info.DType}");
            }
        }

        if (asInt)
        {
            long[] values = source.ReadInt64(name);
            Check(values.LongLength == info.ElementCount, "ReadInt64 length");
            var copy = new long[values.Length];
            file.ReadInt64(name, copy);
            Check(values.AsSpan().SequenceEqual(copy), "ReadInt64 into a span differs from ReadInt64");
        }
        else
        {
            Expect<UnsupportedDTypeException>(() => source.ReadInt64(name), $"ReadInt64 of {info.DType}");
        }

        if (asByte)
        {
            byte[] values = source.ReadUInt8(name);
            Check(values.AsSpan().SequenceEqual(source.GetBytes(name)), "ReadUInt8 differs from the raw bytes");
        }
        else
        {
            Expect<UnsupportedDTypeException>(() => source.ReadUInt8(name), $"ReadUInt8 of {info.DType}");
        }
    }

    /// <summary>The shards an index input can point at: two valid ones (every float dtype, an integer one) and a truncated one.</summary>
    private static void WriteShards(string directory)
    {
        new SafeTensorsWriter()
            .AddFloat32("vit.embeddings.cls_token", [0.5f, -1f, 2f, 0f], 1, 1, 4)
            .AddRaw("vit.embeddings.patch_embeddings.projection.bias", DType.BF16, [0x80, 0x3F, 0x00, 0xC0], 2)
            .AddMetadata("format", "pt")
            .WriteTo(Path.Combine(directory, ShardNames[0]));
        new SafeTensorsWriter()
            .AddRaw("decoder.decoder_embed.weight", DType.F16, [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x7C], 3)
            .AddInt64("ids_restore", [2, 0, 1], 3)
            .AddUInt8("mask", [1, 0], 2)
            .WriteTo(Path.Combine(directory, ShardNames[1]));
        byte[] whole = new SafeTensorsWriter().AddFloat32("x", [1f, 2f], 2).ToArray();
        File.WriteAllBytes(Path.Combine(directory, TruncatedShardName), whole.AsSpan(0, whole.Length / 2));
    }

    // ---- config --------------------------------------------------------------------------------------------------

    /// <summary>
    /// The bytes as a <c>config.json</c>, decoded as <c>File.ReadAllText</c> decodes a file (what
    /// <see cref="ViTMAESpec.Load"/> does), through <see cref="ViTMAESpec.Parse"/>; an accepted spec must have
    /// consistent derived sizes. The same text then goes through the <c>preprocessor_config.json</c> parser.
    /// </summary>
    private bool Config(byte[] data)
    {
        string text;
        using (var reader = new StreamReader(new MemoryStream(data, writable: false), Encoding.UTF8, detectEncodingFromByteOrderMarks: true))
        {
            text = reader.ReadToEnd();
        }

        bool accepted = false;
        try
        {
            CheckSpec(ViTMAESpec.Parse(text, "fuzz/config.json"));
            accepted = true;
        }
        catch (Exception e) when (IsTyped(e))
        {
            // A typed rejection; the preprocessor parser still gets the text. An untyped exception propagates.
        }

        try
        {
            PreprocessorConfig(text);
        }
        catch (Exception e) when (IsTyped(e))
        {
        }

        return accepted;
    }

    private static void CheckSpec(ViTMAESpec spec)
    {
        Check(spec.HiddenSize > 0 && spec.NumHiddenLayers > 0 && spec.NumAttentionHeads > 0 && spec.IntermediateSize > 0
            && spec.NumChannels > 0 && spec.DecoderHiddenSize > 0 && spec.DecoderNumHiddenLayers > 0
            && spec.DecoderNumAttentionHeads > 0 && spec.DecoderIntermediateSize > 0, "a non-positive size was accepted");
        Check(spec.ImageHeight > 0 && spec.ImageWidth > 0 && spec.PatchSize > 0, "a non-positive image or patch size was accepted");
        Check((long)spec.HeadDim * spec.NumAttentionHeads == spec.HiddenSize, "hidden_size is not heads × head_dim");
        Check((long)spec.DecoderHeadDim * spec.DecoderNumAttentionHeads == spec.DecoderHiddenSize, "decoder_hidden_size is not heads × head_dim");
        Check((long)spec.GridHeight * spec.GridWidth == spec.NumPatches, string.Create(CultureInfo.InvariantCulture,
            $"NumPatches {spec.NumPatches} overflowed: the grid is {spec.GridHeight}×{spec.GridWidth} (image_size {spec.ImageHeight}×{spec.ImageWidth}, patch_size {spec.PatchSize})"));
        Check((long)spec.PatchSize * spec.PatchSize * spec.NumChannels == spec.PatchDim, string.Create(CultureInfo.InvariantCulture,
            $"PatchDim {spec.PatchDim} overflowed: patch_size {spec.PatchSize}² × num_channels {spec.NumChannels}"));
        Check(spec.LenKeep >= 1 && spec.LenKeep <= spec.NumPatches, string.Create(CultureInfo.InvariantCulture,
            $"LenKeep {spec.LenKeep} is outside [1, {spec.NumPatches}]"));
        Check(double.IsFinite(spec.LayerNormEps) && spec.LayerNormEps > 0, "layer_norm_eps is not positive and finite");
        Check(!string.IsNullOrEmpty(spec.Describe()), "empty Describe()");
    }

    private void PreprocessorConfig(string text)
    {
        ImageProcessorSettings settings = ImageProcessorSettings.FromJson(text, "fuzz/preprocessor_config.json");
        var processor = new ImageProcessor(settings);
        Check(settings.Height > 0 && settings.Width > 0, "a non-positive preprocessor size was accepted");
        if ((long)settings.Height * settings.Width <= 4096)
        {
            var image = new RgbImage(3, 2, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 255]);
            float[] pixels = processor.Preprocess(image);
            Check(pixels.Length == 3 * processor.OutputSize(image).Height * processor.OutputSize(image).Width, "pixel_values length");
        }

        _ = _processor.Settings;
    }

    // ---- image ---------------------------------------------------------------------------------------------------

    /// <summary>
    /// The bytes as an image file: <see cref="ImageDecoder.Decode"/> (under <see cref="ImageLimits"/>), then the
    /// vit-mae-base preprocessing to <c>pixel_values</c> (resize to 224×224, rescale, normalise) and, for small images,
    /// the preprocessing without resize.
    /// </summary>
    private void Image(byte[] data)
    {
        // The decoded-bytes promise (CheckAllocation), for an accepted and a refused file alike.
        long before = GC.GetAllocatedBytesForCurrentThread();
        RgbImage image;
        try
        {
            image = ImageDecoder.Decode(data, "fuzz/input", ImageLimits);
        }
        catch (ViTMAEException)
        {
            CheckAllocation(before, data.Length);
            throw;
        }

        CheckAllocation(before, data.Length);

        Check(image.Width > 0 && image.Height > 0, "a non-positive size was decoded");
        Check(image.Width <= ImageLimits.MaxSide && image.Height <= ImageLimits.MaxSide
            && (long)image.Width * image.Height <= ImageLimits.MaxPixels, string.Create(CultureInfo.InvariantCulture,
            $"a {image.Width}×{image.Height} image was decoded despite the limits"));
        Check(image.Pixels.LongLength == (long)image.Width * image.Height * 3, "Pixels is not width × height × 3 bytes");
        Check(ImageDecoder.DetectFormat(data) != ImageFormat.Unknown, "an image of unknown format was decoded");

        float[] pixels = _processor.Preprocess(image);
        Check(pixels.Length == 3 * 224 * 224, "pixel_values is not 3 × 224 × 224");
        if ((long)image.Width * image.Height <= 1 << 16)
        {
            float[] unresized = _unresized.Preprocess(image);
            Check(unresized.LongLength == image.Pixels.LongLength, "pixel_values without resize is not 3 × H × W");
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------------------

    /// <summary>
    /// The decoded-bytes promise: since <paramref name="before"/>, this thread allocated at most MaxDecodedBytes plus an
    /// allowance for fixed-size tables (a hostile file can hold many small ones: a 17-byte DHT segment makes a ~300-byte
    /// table), whether the decode succeeded or was refused.
    /// </summary>
    private static void CheckAllocation(long before, int inputLength)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long allowed = ImageLimits.MaxDecodedBytes + (1L << 20) + (32L * inputLength);
        Check(allocated <= allowed, string.Create(CultureInfo.InvariantCulture,
            $"decoding allocated {allocated} bytes, over MaxDecodedBytes ({ImageLimits.MaxDecodedBytes}) and the fixed-size allowance ({allowed - ImageLimits.MaxDecodedBytes})"));
    }

    private static byte FirstNonBlank(ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return b;
            }
        }

        return 0;
    }

    private static bool SameBits(ReadOnlySpan<float> a, ReadOnlySpan<float> b) =>
        MemoryMarshal.AsBytes(a).SequenceEqual(MemoryMarshal.AsBytes(b));

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(message);
        }
    }

    /// <summary>The call must throw <typeparamref name="T"/>; no exception is a broken promise, another one propagates (a finding).</summary>
    private static void Expect<T>(Action action, string what)
        where T : ViTMAEException
    {
        try
        {
            action();
        }
        catch (T)
        {
            return;
        }
        catch (ViTMAEException e)
        {
            throw new FuzzInvariantException($"{what} threw {e.GetType().Name} instead of {typeof(T).Name}", e);
        }

        throw new FuzzInvariantException($"{what} did not throw {typeof(T).Name}");
    }
}
