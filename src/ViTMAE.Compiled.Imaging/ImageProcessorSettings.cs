using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;
using ViTMAE.Compiled.Configuration;

namespace ViTMAE.Compiled.Imaging;

/// <summary>
/// The settings of Hugging Face's <c>ViTImageProcessor</c> (the processor of <c>facebook/vit-mae-*</c>), as read from a
/// <c>preprocessor_config.json</c>. Defaults are facebook/vit-mae-base's: resize to 224×224 with BILINEAR, rescale by
/// 1/255, normalise with the ImageNet mean and standard deviation.
/// </summary>
public sealed class ImageProcessorSettings
{
    /// <summary>ImageNet mean, <c>IMAGENET_DEFAULT_MEAN</c> in transformers.</summary>
    public static IReadOnlyList<double> ImageNetMean { get; } = [0.485, 0.456, 0.406];

    /// <summary>ImageNet standard deviation, <c>IMAGENET_DEFAULT_STD</c> in transformers.</summary>
    public static IReadOnlyList<double> ImageNetStd { get; } = [0.229, 0.224, 0.225];

    /// <summary>facebook/vit-mae-base's preprocessor: 224×224, BILINEAR, ×1/255, ImageNet mean/std.</summary>
    public static ImageProcessorSettings VitMaeBase { get; } = new();

    /// <summary><c>do_resize</c>: resize to <see cref="Height"/>×<see cref="Width"/> (default true).</summary>
    public bool DoResize { get; init; } = true;

    /// <summary>Output height (<c>size["height"]</c>, or <c>size</c> when it is a number). Default 224.</summary>
    public int Height { get; init; } = 224;

    /// <summary>Output width (<c>size["width"]</c>, or <c>size</c> when it is a number). Default 224.</summary>
    public int Width { get; init; } = 224;

    /// <summary><c>resample</c>: the PIL filter used to resize. Default BILINEAR (2).</summary>
    public PilResample Resample { get; init; } = PilResample.Bilinear;

    /// <summary><c>do_rescale</c>: multiply by <see cref="RescaleFactor"/> (default true).</summary>
    public bool DoRescale { get; init; } = true;

    /// <summary><c>rescale_factor</c>, default 1/255. Applied in double and then rounded to float32, as HF does.</summary>
    public double RescaleFactor { get; init; } = 1.0 / 255.0;

    /// <summary><c>do_normalize</c>: subtract <see cref="ImageMean"/> and divide by <see cref="ImageStd"/> in float32 (default true).</summary>
    public bool DoNormalize { get; init; } = true;

    /// <summary><c>image_mean</c> per channel (R, G, B). Default ImageNet.</summary>
    public IReadOnlyList<double> ImageMean { get; init; } = ImageNetMean;

    /// <summary><c>image_std</c> per channel (R, G, B). Default ImageNet.</summary>
    public IReadOnlyList<double> ImageStd { get; init; } = ImageNetStd;

    /// <summary>Reads a <c>preprocessor_config.json</c> file.</summary>
    /// <exception cref="PreprocessorConfigException">The file cannot be read, is not JSON, or has bad values.</exception>
    public static ImageProcessorSettings FromFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string json;
        try
        {
            // Size first, without opening: a FIFO or a device reports 0 bytes, and opening or reading it can block forever.
            var file = new FileInfo(path);
            if (file.Exists && file.Length == 0)
            {
                throw new PreprocessorConfigException(path, "expected a JSON object, found an empty file (a FIFO or a device reports 0 bytes too, and is not opened)");
            }

            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new PreprocessorConfigException(path, $"cannot read the file ({ex.Message})", ex);
        }

        return FromJson(json, path);
    }

    /// <summary>
    /// Parses the JSON of a <c>preprocessor_config.json</c>. Keys that are absent keep facebook/vit-mae-base's values;
    /// unknown keys are ignored. <c>size</c> may be a number (square) or <c>{"height": h, "width": w}</c>;
    /// <c>{"shortest_edge": n}</c> is rejected because <c>ViTImageProcessor</c> rejects it too.
    /// <c>image_mean</c>/<c>image_std</c> may be a list or a single number (used for every channel).
    /// </summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="source">A path or description for error messages.</param>
    /// <exception cref="PreprocessorConfigException">Not JSON, or a value of the wrong type or out of range.</exception>
    public static ImageProcessorSettings FromJson(string json, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(json);

        // System.Text.Json accepts an unpaired surrogate in the text or in a \u escape ("\ud800") when it parses, and
        // throws InvalidOperationException (or ArgumentException) when it decodes the string: both are refused first.
        if (UnpairedSurrogate(json) is int at)
        {
            throw new PreprocessorConfigException(source, string.Create(CultureInfo.InvariantCulture,
                $"expected Unicode text, found an unpaired UTF-16 surrogate U+{(int)json[at]:X4} at character {at}"));
        }

        byte[] utf8 = Encoding.UTF8.GetBytes(json);
        if (JsonText.FindInvalidEscape(utf8, new JsonReaderOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }) is JsonTextProblem escape)
        {
            throw new PreprocessorConfigException(source, "not valid JSON text: " + escape.Message);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            throw new PreprocessorConfigException(source, $"not valid JSON ({ex.Message})", ex);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new PreprocessorConfigException(source, $"expected a JSON object, found {root.ValueKind}");
            }

            var defaults = VitMaeBase;
            int height = defaults.Height, width = defaults.Width;
            if (root.TryGetProperty("size", out JsonElement size) && size.ValueKind != JsonValueKind.Null)
            {
                (height, width) = ParseSize(size, source);
            }

            PilResample resample = defaults.Resample;
            if (root.TryGetProperty("resample", out JsonElement r) && r.ValueKind != JsonValueKind.Null)
            {
                int value = GetInt(r, "resample", source);
                if (value is < 1 or > 5)
                {
                    throw new PreprocessorConfigException(
                        source,
                        $"\"resample\": {value} is not supported; expected a PIL filter 1–5 (LANCZOS, BILINEAR, BICUBIC, BOX, HAMMING){(value == 0 ? "; NEAREST (0) is not implemented" : string.Empty)}");
                }

                resample = (PilResample)value;
            }

            var settings = new ImageProcessorSettings
            {
                DoResize = GetBool(root, "do_resize", defaults.DoResize, source),
                Height = height,
                Width = width,
                Resample = resample,
                DoRescale = GetBool(root, "do_rescale", defaults.DoRescale, source),
                RescaleFactor = root.TryGetProperty("rescale_factor", out JsonElement rf) && rf.ValueKind != JsonValueKind.Null
                    ? GetDouble(rf, "rescale_factor", source)
                    : defaults.RescaleFactor,
                DoNormalize = GetBool(root, "do_normalize", defaults.DoNormalize, source),
                ImageMean = GetChannels(root, "image_mean", defaults.ImageMean, source),
                ImageStd = GetChannels(root, "image_std", defaults.ImageStd, source),
            };
            settings.Validate(source);
            return settings;
        }
    }

    /// <summary>Index of the first surrogate char of <paramref name="text"/> that is not half of a pair, or null.</summary>
    private static int? UnpairedSurrogate(string text)
    {
        for (int i = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF'); i >= 0 && i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return i;
            }
        }

        return null;
    }

    /// <summary>
    /// Checks the values: positive sizes, three means and three non-zero standard deviations (or one of each, which
    /// applies to every channel).
    /// </summary>
    /// <exception cref="PreprocessorConfigException">A value is out of range.</exception>
    public void Validate(string? source = null)
    {
        if (Height <= 0 || Width <= 0 || Height > ImageDecodeOptions.DefaultMaxSide || Width > ImageDecodeOptions.DefaultMaxSide)
        {
            throw new PreprocessorConfigException(source, $"size {Height}×{Width} must be positive and at most {ImageDecodeOptions.DefaultMaxSide} per side");
        }

        if (Resample is < PilResample.Lanczos or > PilResample.Hamming)
        {
            throw new PreprocessorConfigException(source, $"resample {(int)Resample} is not supported (expected 1–5)");
        }

        if (ImageMean is null || ImageStd is null || ImageMean.Count is not (1 or 3) || ImageStd.Count != ImageMean.Count)
        {
            throw new PreprocessorConfigException(source, string.Create(CultureInfo.InvariantCulture,
                $"image_mean and image_std need 3 values each (R, G, B), or 1 each for every channel; found {ImageMean?.Count ?? 0} and {ImageStd?.Count ?? 0}"));
        }

        foreach (double s in ImageStd)
        {
            if (s == 0 || !double.IsFinite(s))
            {
                throw new PreprocessorConfigException(source, $"image_std value {s.ToString(CultureInfo.InvariantCulture)} must be finite and non-zero");
            }
        }

        if (!double.IsFinite(RescaleFactor))
        {
            throw new PreprocessorConfigException(source, "rescale_factor must be finite");
        }
    }

    private static (int Height, int Width) ParseSize(JsonElement size, string? source)
    {
        if (size.ValueKind == JsonValueKind.Number)
        {
            int s = GetInt(size, "size", source);
            return (s, s);
        }

        if (size.ValueKind == JsonValueKind.Object)
        {
            bool hasH = size.TryGetProperty("height", out JsonElement h);
            bool hasW = size.TryGetProperty("width", out JsonElement w);
            if (hasH && hasW)
            {
                return (GetInt(h, "size.height", source), GetInt(w, "size.width", source));
            }

            if (size.TryGetProperty("shortest_edge", out _))
            {
                throw new PreprocessorConfigException(
                    source,
                    "\"size\": {\"shortest_edge\": …} is not supported: ViTImageProcessor needs {\"height\", \"width\"} or a number");
            }

            throw new PreprocessorConfigException(source, "\"size\" must have both \"height\" and \"width\"");
        }

        if (size.ValueKind == JsonValueKind.Array && size.GetArrayLength() == 2)
        {
            // Old feature-extractor configs store (height, width) as a pair.
            return (GetInt(size[0], "size[0]", source), GetInt(size[1], "size[1]", source));
        }

        throw new PreprocessorConfigException(source, $"\"size\" must be a number or an object, found {size.ValueKind}");
    }

    private static bool GetBool(JsonElement root, string key, bool fallback, string? source)
    {
        if (!root.TryGetProperty(key, out JsonElement e) || e.ValueKind == JsonValueKind.Null)
        {
            return fallback;
        }

        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new PreprocessorConfigException(source, $"\"{key}\" must be true or false, found {e.ValueKind}"),
        };
    }

    private static int GetInt(JsonElement e, string key, string? source)
    {
        if (e.ValueKind == JsonValueKind.Number)
        {
            if (e.TryGetInt32(out int i))
            {
                return i;
            }

            if (e.TryGetDouble(out double d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue)
            {
                return (int)d;
            }
        }

        throw new PreprocessorConfigException(source, $"\"{key}\" must be an integer, found {e.GetRawText()}");
    }

    private static double GetDouble(JsonElement e, string key, string? source)
    {
        if (e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out double d))
        {
            return d;
        }

        throw new PreprocessorConfigException(source, $"\"{key}\" must be a number, found {e.GetRawText()}");
    }

    private static IReadOnlyList<double> GetChannels(JsonElement root, string key, IReadOnlyList<double> fallback, string? source)
    {
        if (!root.TryGetProperty(key, out JsonElement e) || e.ValueKind == JsonValueKind.Null)
        {
            return fallback;
        }

        if (e.ValueKind == JsonValueKind.Number)
        {
            double v = GetDouble(e, key, source);
            return [v, v, v];
        }

        if (e.ValueKind != JsonValueKind.Array)
        {
            throw new PreprocessorConfigException(source, $"\"{key}\" must be a list of numbers, found {e.ValueKind}");
        }

        var values = new List<double>();
        foreach (JsonElement item in e.EnumerateArray())
        {
            values.Add(GetDouble(item, key, source));
        }

        if (values.Count == 1)
        {
            return [values[0], values[0], values[0]];
        }

        if (values.Count != 3)
        {
            throw new PreprocessorConfigException(source, $"\"{key}\" must have 3 values (R, G, B), found {values.Count}");
        }

        return values.ToArray();
    }
}
