using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace ViTMAE.Compiled.Imaging.Datasets;

/// <summary>
/// Batches of <c>pixel_values</c> for pretraining, as MAE's <c>main_pretrain.py</c> / Hugging Face's <c>run_mae.py</c> make
/// them: each epoch a new permutation of the images (the last incomplete batch dropped), each image a random resized crop
/// (area 0.2–1 of the image, aspect 3/4–4/3, torchvision's ten tries then a centre crop) resized bicubically (PIL's) to
/// the model's size, flipped horizontally with probability ½, rescaled to [0, 1] and normalised per channel.
/// </summary>
/// <remarks>
/// Every random choice is a pure function of (seed, epoch, position): batch b of epoch e is the same whichever thread
/// builds it and whether the run was interrupted and resumed, so a resumed run sees exactly the batches the
/// uninterrupted one would. Colour images feed a 1-channel model as PIL's <c>convert("L")</c> grey; grey images feed a
/// 3-channel model as R = G = B; other channel counts get the grey value in every channel.
/// </remarks>
public sealed class TrainingBatches
{
    private readonly ImageDataset _data;
    private readonly float[] _mean, _std;
    private readonly int _channels, _height, _width;
    private readonly int[] _order;
    private long _orderEpoch = -1;

    /// <summary>Batches of <paramref name="data"/> for a model of <paramref name="channels"/> × <paramref name="height"/> × <paramref name="width"/>.</summary>
    /// <param name="data">The images.</param>
    /// <param name="channels">The model's <c>num_channels</c>.</param>
    /// <param name="height">The model's image height.</param>
    /// <param name="width">The model's image width.</param>
    /// <param name="mean">Per-channel mean of the [0, 1] values (one value, or one per channel).</param>
    /// <param name="std">Per-channel standard deviation (one value, or one per channel).</param>
    /// <param name="seed">The run's seed.</param>
    /// <param name="augment">false: the whole image resized, never flipped (e.g. for evaluation); the order still shuffles.</param>
    public TrainingBatches(ImageDataset data, int channels, int height, int width, IReadOnlyList<double> mean, IReadOnlyList<double> std, long seed, bool augment = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        _data = data;
        _channels = channels;
        _height = height;
        _width = width;
        _mean = PerChannel(mean, channels, nameof(mean));
        _std = PerChannel(std, channels, nameof(std));
        foreach (float s in _std)
        {
            if (!(s > 0)) throw new ArgumentOutOfRangeException(nameof(std), "every standard deviation must be positive");
        }

        Seed = seed;
        Augment = augment;
        _order = new int[data.Count];
    }

    /// <summary>The run's seed.</summary>
    public long Seed { get; }

    /// <summary>Whether crops and flips are drawn.</summary>
    public bool Augment { get; }

    /// <summary>Images in the data set.</summary>
    public int Count => _data.Count;

    /// <summary>Floats of one image: channels × height × width.</summary>
    public int ImageFloats => _channels * _height * _width;

    /// <summary>Full batches of <paramref name="batch"/> images per epoch (the remainder is dropped, as in MAE).</summary>
    public int BatchesPerEpoch(int batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        return _data.Count / batch;
    }

    /// <summary>
    /// Writes batch <paramref name="index"/> of epoch <paramref name="epoch"/> ([batch, C, H, W]) into
    /// <paramref name="pixels"/>. Images are prepared on the thread pool; the result does not depend on it.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="pixels"/> is not batch × <see cref="ImageFloats"/> long.</exception>
    /// <exception cref="ImageDecodeException">An image file cannot be decoded (the message names it).</exception>
    public void Fill(long epoch, int index, int batch, float[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, BatchesPerEpoch(batch));
        if (pixels.Length != (long)batch * ImageFloats)
        {
            throw new ArgumentException($"pixels holds {pixels.Length} floats, expected batch × C × H × W = {(long)batch * ImageFloats}", nameof(pixels));
        }

        int[] order = Order(epoch);
        int first = index * batch;
        Parallel.For(0, batch, i => Prepare(epoch, first + i, order[first + i], pixels.AsSpan(i * ImageFloats, ImageFloats)));
    }

    /// <summary>
    /// Writes images <paramref name="first"/> … <paramref name="first"/> + <paramref name="count"/> − 1 in the data set's own
    /// order, whole (resized, never cropped or flipped), into <paramref name="pixels"/> ([count, C, H, W]): for embedding
    /// and evaluation.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="pixels"/> is shorter than count × <see cref="ImageFloats"/>.</exception>
    public void FillInOrder(int first, int count, Span<float> pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first + (long)count, Count, nameof(count));
        if (pixels.Length < (long)count * ImageFloats)
        {
            throw new ArgumentException($"pixels holds {pixels.Length} floats, expected at least count × C × H × W = {(long)count * ImageFloats}", nameof(pixels));
        }

        for (int i = 0; i < count; i++)
        {
            RgbImage source = _data.Read(first + i);
            RgbImage resized = source.Width == _width && source.Height == _height ? source : PilResize.Resize(source, _width, _height, PilResample.Bicubic);
            Write(resized, flip: false, pixels.Slice(i * ImageFloats, ImageFloats));
        }
    }

    /// <summary>The epoch's permutation of the image indices (Fisher–Yates on the epoch's stream).</summary>
    private int[] Order(long epoch)
    {
        if (_orderEpoch != epoch)
        {
            for (int i = 0; i < _order.Length; i++) _order[i] = i;
            var random = new SplitMix(Seed, epoch, -1);
            for (int i = _order.Length - 1; i > 0; i--)
            {
                int j = random.Next(i + 1);
                (_order[i], _order[j]) = (_order[j], _order[i]);
            }

            _orderEpoch = epoch;
        }

        return _order;
    }

    private void Prepare(long epoch, int position, int image, Span<float> destination)
    {
        RgbImage source = _data.Read(image);
        var random = new SplitMix(Seed, epoch, position);
        (int top, int left, int h, int w) = Augment ? CropBox(ref random, source.Height, source.Width) : (0, 0, source.Height, source.Width);
        bool flip = Augment && random.NextDouble() < 0.5;
        RgbImage crop = top == 0 && left == 0 && h == source.Height && w == source.Width ? source : Crop(source, top, left, h, w);
        RgbImage resized = crop.Width == _width && crop.Height == _height ? crop : PilResize.Resize(crop, _width, _height, PilResample.Bicubic);
        Write(resized, flip, destination);
    }

    /// <summary>torchvision's <c>RandomResizedCrop.get_params</c> with scale (0.2, 1) and ratio (3/4, 4/3).</summary>
    internal static (int Top, int Left, int Height, int Width) CropBox(ref SplitMix random, int height, int width)
    {
        const double minScale = 0.2, maxScale = 1.0, minRatio = 3.0 / 4.0, maxRatio = 4.0 / 3.0;
        double area = (double)height * width;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (minScale + (random.NextDouble() * (maxScale - minScale)));
            double aspect = Math.Exp(Math.Log(minRatio) + (random.NextDouble() * (Math.Log(maxRatio) - Math.Log(minRatio))));
            int w = (int)Math.Round(Math.Sqrt(target * aspect), MidpointRounding.ToEven);
            int h = (int)Math.Round(Math.Sqrt(target / aspect), MidpointRounding.ToEven);
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                return (random.Next(height - h + 1), random.Next(width - w + 1), h, w);
            }
        }

        // Fallback: the centre crop of the allowed aspect ratios.
        double ratio = (double)width / height;
        int cw = width, ch = height;
        if (ratio < minRatio)
        {
            ch = (int)Math.Round(cw / minRatio, MidpointRounding.ToEven);
        }
        else if (ratio > maxRatio)
        {
            cw = (int)Math.Round(ch * maxRatio, MidpointRounding.ToEven);
        }

        return ((height - ch) / 2, (width - cw) / 2, ch, cw);
    }

    private static RgbImage Crop(RgbImage source, int top, int left, int height, int width)
    {
        var crop = new RgbImage(width, height);
        for (int y = 0; y < height; y++)
        {
            source.Row(top + y).Slice(left * RgbImage.Channels, width * RgbImage.Channels).CopyTo(crop.Row(y));
        }

        return crop;
    }

    private void Write(RgbImage image, bool flip, Span<float> destination)
    {
        int plane = _height * _width;
        ReadOnlySpan<byte> rgb = image.Pixels;
        for (int y = 0; y < _height; y++)
        {
            for (int x = 0; x < _width; x++)
            {
                int s = ((y * _width) + (flip ? _width - 1 - x : x)) * 3, d = (y * _width) + x;
                byte r = rgb[s], g = rgb[s + 1], b = rgb[s + 2];
                if (_channels == 3)
                {
                    destination[d] = Normalize(r, 0);
                    destination[plane + d] = Normalize(g, 1);
                    destination[(2 * plane) + d] = Normalize(b, 2);
                    continue;
                }

                // PIL's convert("L"): L = (R·299 + G·587 + B·114) / 1000, rounded (ITU-R 601-2 luma).
                byte grey = (byte)(((r * 299) + (g * 587) + (b * 114) + 500) / 1000);
                for (int c = 0; c < _channels; c++)
                {
                    destination[(c * plane) + d] = Normalize(grey, c);
                }
            }
        }
    }

    private float Normalize(byte value, int channel) => ((value / 255f) - _mean[channel]) / _std[channel];

    private static float[] PerChannel(IReadOnlyList<double> values, int channels, string name)
    {
        ArgumentNullException.ThrowIfNull(values, name);
        if (values.Count != 1 && values.Count != channels)
        {
            throw new ArgumentException($"{name} has {values.Count} values, expected 1 or {channels} (one per channel)", name);
        }

        var result = new float[channels];
        for (int c = 0; c < channels; c++) result[c] = (float)values[values.Count == 1 ? 0 : c];
        return result;
    }
}

/// <summary>SplitMix64 keyed by (seed, epoch, position): a counter-based stream, so any image's draws can be replayed alone.</summary>
/// <remarks>Hand-written: ten lines, and System.Random's sequence cannot be keyed by position.</remarks>
internal struct SplitMix
{
    private ulong _state;

    public SplitMix(long seed, long epoch, long position)
    {
        _state = Mix(Mix(unchecked((ulong)seed) ^ 0xD1B54A32D192ED03UL) + unchecked((ulong)epoch * 0x9E3779B97F4A7C15UL));
        _state = Mix(_state + unchecked((ulong)position * 0xBF58476D1CE4E5B9UL));
    }

    /// <summary>Uniform in [0, 1) with 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, n) (Lemire's multiply-shift; the bias for n ≪ 2^32 is below 2^-32).</summary>
    public int Next(int n) => (int)(((NextUInt64() >> 32) * (ulong)n) >> 32);

    private ulong NextUInt64()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
