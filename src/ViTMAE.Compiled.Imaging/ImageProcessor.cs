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
/// <para>Batches are written into one caller-provided <c>[B, 3, H, W]</c> buffer; resizing borrows its scratch buffers
/// from <see cref="ArrayPool{T}"/>, so steady-state preprocessing allocates nothing beyond decoding. Instances are
/// immutable and thread-safe.</para>
/// </remarks>
public sealed class ImageProcessor
{
    private readonly float[] _lut = new float[3 * 256];

    /// <summary>Creates a processor; <paramref name="settings"/> defaults to <see cref="ImageProcessorSettings.VitMaeBase"/>.</summary>
    /// <exception cref="PreprocessorConfigException">The settings are out of range.</exception>
    public ImageProcessor(ImageProcessorSettings? settings = null)
    {
        Settings = settings ?? ImageProcessorSettings.VitMaeBase;
        Settings.Validate();
        for (int c = 0; c < 3; c++)
        {
            float mean = (float)Settings.ImageMean[c];
            float std = (float)Settings.ImageStd[c];
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
    }

    /// <summary>The settings this processor applies.</summary>
    public ImageProcessorSettings Settings { get; }

    /// <summary>Channels of the output: 3 (R, G, B).</summary>
    public int Channels => 3;

    /// <summary>The float value (after rescale and normalise) that uint8 level <paramref name="value"/> of channel <paramref name="channel"/> becomes.</summary>
    public float ValueOf(int channel, byte value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(channel);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(channel, 2);
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
    /// Rescales and normalises an interleaved uint8 image <c>[height, width, 3]</c> into channel-first floats
    /// <c>[3, height, width]</c> (no resizing).
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

        if (destination.Length != plane * 3)
        {
            throw new ArgumentException($"Expected room for 3×{height}×{width} floats, got {destination.Length}.", nameof(destination));
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

    /// <summary>Preprocesses one image into <paramref name="destination"/>, <c>[3, H, W]</c>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not exactly 3·H·W floats.</exception>
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

    /// <summary>Preprocesses one image into a new <c>[3, H, W]</c> array.</summary>
    public float[] Preprocess(RgbImage image)
    {
        (int height, int width) = OutputSize(image);
        var result = new float[checked(3 * height * width)];
        Preprocess(image, result);
        return result;
    }

    /// <summary>
    /// Preprocesses a batch into one <c>[B, 3, H, W]</c> buffer. Without <c>do_resize</c> every image must have the
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
        int perImage = checked(3 * height * width);
        if (destination.Length != checked(perImage * images.Count))
        {
            throw new ArgumentException($"Expected room for {images.Count}×3×{height}×{width} floats, got {destination.Length}.", nameof(destination));
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

    /// <summary>Preprocesses a batch into a new <c>[B, 3, H, W]</c> array.</summary>
    public float[] PreprocessBatch(IReadOnlyList<RgbImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0)
        {
            return [];
        }

        (int height, int width) = OutputSize(images[0]);
        var result = new float[checked(images.Count * 3 * height * width)];
        PreprocessBatch(images, result);
        return result;
    }

    /// <summary>Decodes and preprocesses image files into one <c>[B, 3, H, W]</c> buffer, one file at a time.</summary>
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

        int perImage = checked(3 * Settings.Height * Settings.Width);
        if (destination.Length != checked(perImage * paths.Count))
        {
            throw new ArgumentException($"Expected room for {paths.Count}×3×{Settings.Height}×{Settings.Width} floats, got {destination.Length}.", nameof(destination));
        }

        for (int i = 0; i < paths.Count; i++)
        {
            Preprocess(ImageDecoder.Load(paths[i], options), destination.Slice(i * perImage, perImage));
        }
    }

    /// <summary>Decodes and preprocesses image files into a new <c>[B, 3, H, W]</c> array (requires <c>do_resize</c> or equal sizes).</summary>
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
