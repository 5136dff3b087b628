using System;
using System.Buffers;
using System.Collections.Generic;

namespace ViTMAE.Compiled.Imaging;

/// <summary>
/// Turns decoded images into the model's <c>pixel_values</c> exactly as Hugging Face's slow <c>ViTImageProcessor</c>
/// does: PIL resize in uint8 (<see cref="PilResize"/>), then <c>rescale</c>, then <c>normalize</c>, written channel-first.
/// </summary>
/// <remarks>
/// <para>Arithmetic follows transformers' <c>image_transforms.py</c> to the bit: <c>rescale</c> computes
/// <c>image.astype(float64) * rescale_factor</c> and casts the product to float32; <c>normalize</c> casts mean and
/// std to the image's dtype (float32) and computes <c>(image − mean) / std</c> in float32. Because the result depends
/// only on the channel and the uint8 value, it is tabulated once per processor (3×256 floats), which is both exact and
/// fast. Without <c>do_rescale</c> the uint8 value is cast to float32 before normalising, as HF does.</para>
/// <para>A processor made for a grey model (<c>channels: 1</c>, e.g. the bundled Fashion-MNIST one) writes one channel: the resized RGB image converted as PIL's <c>convert("L")</c>
/// (L = (R·299 + G·587 + B·114) / 1000, rounded), as the training batches convert it. Hugging Face's processor has no
/// such mode (it would broadcast the mean over three channels); a grey model needs one channel, whatever the file has.</para>
/// <para>Batches are written into one caller-provided <c>[B, C, H, W]</c> buffer; resizing borrows its scratch buffers
/// from <see cref="ArrayPool{T}"/>, so steady-state preprocessing allocates nothing beyond decoding. Instances are
/// immutable and thread-safe.</para>
/// </remarks>
public sealed class ImageProcessor
{
    private readonly float[] _lut;

    /// <summary>
    /// Creates a processor; <paramref name="settings"/> defaults to <see cref="ImageProcessorSettings.VitMaeBase"/>;
    /// <paramref name="channels"/> is the model's <c>num_channels</c>: 3, or 1 for a grey model.
    /// </summary>
    /// <exception cref="PreprocessorConfigException">The settings are out of range, or a grey processor is given three different means or deviations.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> is neither 1 nor 3.</exception>
    public ImageProcessor(ImageProcessorSettings? settings = null, int channels = 3)
    {
        if (channels is not (1 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "Images are preprocessed for 3-channel (RGB) or 1-channel (grey) models.");
        }

        Settings = settings ?? ImageProcessorSettings.VitMaeBase;
        Settings.Validate();
        Channels = channels;
        if (channels == 1 && (Distinct(Settings.ImageMean) || Distinct(Settings.ImageStd)))
        {
            throw new PreprocessorConfigException(null,
                "a grey (1-channel) model needs one image_mean and one image_std value; the settings have three different ones (a colour model's)");
        }

        _lut = new float[channels * 256];
        for (int c = 0; c < channels; c++)
        {
            // One value broadcasts over the channels, as in Hugging Face's normalize.
            float mean = (float)Settings.ImageMean[Settings.ImageMean.Count == 1 ? 0 : c];
            float std = (float)Settings.ImageStd[Settings.ImageStd.Count == 1 ? 0 : c];
            for (int v = 0; v < 256; v++)
            {
                float x = Settings.DoRescale ? (float)(v * Settings.RescaleFactor) : v;
                if (Settings.DoNormalize)
                {
                    x = (x - mean) / std;
                }

                _lut[(c * 256) + v] = x;
            }
        }

        static bool Distinct(IReadOnlyList<double> values)
        {
            for (int i = 1; i < values.Count; i++)
            {
                if (values[i] != values[0])
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>The settings this processor applies.</summary>
    public ImageProcessorSettings Settings { get; }

    /// <summary>Channels of the output: 3 (R, G, B), or 1 (grey).</summary>
    public int Channels { get; }

    /// <summary>The float value (after rescale and normalise) that uint8 level <paramref name="value"/> of channel <paramref name="channel"/> becomes.</summary>
    public float ValueOf(int channel, byte value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(channel);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(channel, Channels);
        return _lut[(channel * 256) + value];
    }

    /// <summary>Output size (height, width) for <paramref name="image"/>: the configured size, or the image's own without <c>do_resize</c>.</summary>
    public (int Height, int Width) OutputSize(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Settings.DoResize ? (Settings.Height, Settings.Width) : (image.Height, image.Width);
    }

    /// <summary>Resizes like the processor's resize step (<c>resized_u8</c>), or returns the image itself without <c>do_resize</c>.</summary>
    public RgbImage Resize(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Settings.DoResize ? PilResize.Resize(image, Settings.Width, Settings.Height, Settings.Resample) : image;
    }

    /// <summary>
    /// Rescales and normalises an interleaved uint8 RGB image <c>[height, width, 3]</c> into channel-first floats
    /// <c>[C, height, width]</c> (no resizing; a 1-channel processor converts to grey first).
    /// </summary>
    public void Normalize(ReadOnlySpan<byte> rgb, int height, int width, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        int plane = checked(height * width);
        if (rgb.Length != plane * 3)
        {
            throw new ArgumentException($"Expected {height}×{width}×3 bytes, got {rgb.Length}.", nameof(rgb));
        }

        if (destination.Length != plane * Channels)
        {
            throw new ArgumentException($"Expected room for {Channels}×{height}×{width} floats, got {destination.Length}.", nameof(destination));
        }

        if (Channels == 1)
        {
            ReadOnlySpan<float> lut = _lut;
            for (int i = 0; i < plane; i++)
            {
                // PIL's convert("L") (ITU-R 601-2 luma, rounded), as TrainingBatches converts colour for a grey model.
                int grey = ((rgb[3 * i] * 299) + (rgb[(3 * i) + 1] * 587) + (rgb[(3 * i) + 2] * 114) + 500) / 1000;
                destination[i] = lut[grey];
            }

            return;
        }

        ReadOnlySpan<float> lut0 = _lut.AsSpan(0, 256), lut1 = _lut.AsSpan(256, 256), lut2 = _lut.AsSpan(512, 256);
        Span<float> r = destination[..plane], g = destination.Slice(plane, plane), b = destination.Slice(2 * plane, plane);
        for (int i = 0; i < plane; i++)
        {
            r[i] = lut0[rgb[3 * i]];
            g[i] = lut1[rgb[(3 * i) + 1]];
            b[i] = lut2[rgb[(3 * i) + 2]];
        }
    }

    /// <summary>Preprocesses one image into <paramref name="destination"/>, <c>[C, H, W]</c>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not exactly C·H·W floats.</exception>
    public void Preprocess(RgbImage image, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        (int height, int width) = OutputSize(image);
        if (!Settings.DoResize || (height == image.Height && width == image.Width))
        {
            Normalize(image.Pixels, image.Height, image.Width, destination);
            return;
        }

        int length = checked(height * width * 3);
        byte[] resized = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Span<byte> span = resized.AsSpan(0, length);
            PilResize.Resize(image.Pixels, image.Width, image.Height, 3, span, width, height, Settings.Resample);
            Normalize(span, height, width, destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(resized);
        }
    }

    /// <summary>Preprocesses one image into a new <c>[C, H, W]</c> array.</summary>
    public float[] Preprocess(RgbImage image)
    {
        (int height, int width) = OutputSize(image);
        var result = new float[checked(Channels * height * width)];
        Preprocess(image, result);
        return result;
    }

    /// <summary>
    /// Preprocesses a batch into one <c>[B, C, H, W]</c> buffer. Without <c>do_resize</c> every image must have the
    /// same size.
    /// </summary>
    /// <exception cref="ArgumentException">The buffer has the wrong length, or the images differ in size without resizing.</exception>
    public void PreprocessBatch(IReadOnlyList<RgbImage> images, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0)
        {
            if (!destination.IsEmpty)
            {
                throw new ArgumentException("An empty batch needs an empty destination.", nameof(destination));
            }

            return;
        }

        (int height, int width) = OutputSize(images[0]);
        int perImage = checked(Channels * height * width);
        if (destination.Length != checked(perImage * images.Count))
        {
            throw new ArgumentException($"Expected room for {images.Count}×{Channels}×{height}×{width} floats, got {destination.Length}.", nameof(destination));
        }

        for (int i = 0; i < images.Count; i++)
        {
            (int h, int w) = OutputSize(images[i]);
            if (h != height || w != width)
            {
                throw new ArgumentException($"Image {i} is {w}×{h} but image 0 is {width}×{height}; without do_resize a batch needs one size.", nameof(images));
            }

            Preprocess(images[i], destination.Slice(i * perImage, perImage));
        }
    }

    /// <summary>Preprocesses a batch into a new <c>[B, C, H, W]</c> array.</summary>
    public float[] PreprocessBatch(IReadOnlyList<RgbImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0)
        {
            return [];
        }

        (int height, int width) = OutputSize(images[0]);
        var result = new float[checked(images.Count * Channels * height * width)];
        PreprocessBatch(images, result);
        return result;
    }

    /// <summary>Decodes and preprocesses image files into one <c>[B, C, H, W]</c> buffer, one file at a time.</summary>
    /// <exception cref="ImageDecodeException">A file is missing, unsupported, too large, corrupt or truncated.</exception>
    public void PreprocessFiles(IReadOnlyList<string> paths, Span<float> destination, ImageDecodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (!Settings.DoResize)
        {
            var images = new RgbImage[paths.Count];
            for (int i = 0; i < paths.Count; i++)
            {
                images[i] = ImageDecoder.Load(paths[i], options);
            }

            PreprocessBatch(images, destination);
            return;
        }

        int perImage = checked(Channels * Settings.Height * Settings.Width);
        if (destination.Length != checked(perImage * paths.Count))
        {
            throw new ArgumentException($"Expected room for {paths.Count}×{Channels}×{Settings.Height}×{Settings.Width} floats, got {destination.Length}.", nameof(destination));
        }

        for (int i = 0; i < paths.Count; i++)
        {
            Preprocess(ImageDecoder.Load(paths[i], options), destination.Slice(i * perImage, perImage));
        }
    }

    /// <summary>Decodes and preprocesses image files into a new <c>[B, C, H, W]</c> array (requires <c>do_resize</c> or equal sizes).</summary>
    public float[] PreprocessFiles(IReadOnlyList<string> paths, ImageDecodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var images = new RgbImage[paths.Count];
        for (int i = 0; i < paths.Count; i++)
        {
            images[i] = ImageDecoder.Load(paths[i], options);
        }

        return PreprocessBatch(images);
    }
}
