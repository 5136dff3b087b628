using System;
using System.Collections.Generic;
using System.IO;
using StbImageWriteSharp;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Runtime;

namespace ViTMAE.Compiled.Imaging;

/// <summary>How removed patches are drawn in the "masked" panel.</summary>
public enum MaskedPatchStyle
{
    /// <summary>Filled with the normalisation mean (a normalised value of 0), as the MAE demo's <c>x·(1 − mask)</c> shows them: a neutral grey.</summary>
    MeanGrey = 0,

    /// <summary>The original patch at a quarter of its brightness, so the removed content stays faintly visible.</summary>
    Darken = 1,
}

/// <summary>The four panels of one row of a <see cref="ReconstructionGrid"/>, left to right.</summary>
public enum ReconstructionPanel
{
    /// <summary>The input image.</summary>
    Original = 0,

    /// <summary>The input with the removed patches blanked out.</summary>
    Masked = 1,

    /// <summary>The decoder's prediction for every patch.</summary>
    Reconstruction = 2,

    /// <summary>The prediction for removed patches, the original for visible ones.</summary>
    ReconstructionPlusVisible = 3,
}

/// <summary>Settings for <see cref="ReconstructionGrid.Render"/>.</summary>
public sealed class ReconstructionOptions
{
    /// <summary>Patch size p of the model (<c>patch_size</c>). Default 16.</summary>
    public int PatchSize { get; init; } = 16;

    /// <summary>
    /// The model was trained with <c>norm_pix_loss</c>: its logits predict each patch normalised by that patch's own
    /// mean and variance. The prediction is then mapped back with the <b>input</b> patch's statistics,
    /// <c>pred·sqrt(var + 1e-6) + mean</c> (unbiased variance over the patch's p·p·C values, as in the loss), which is
    /// what the MAE demo does — the picture therefore borrows the original's per-patch brightness and contrast.
    /// </summary>
    public bool NormPixLoss { get; init; }

    /// <summary>Mean used to normalise the input (per channel); default ImageNet.</summary>
    public IReadOnlyList<double> ImageMean { get; init; } = ImageProcessorSettings.ImageNetMean;

    /// <summary>Standard deviation used to normalise the input (per channel); default ImageNet.</summary>
    public IReadOnlyList<double> ImageStd { get; init; } = ImageProcessorSettings.ImageNetStd;

    /// <summary>How removed patches are drawn in the masked panel.</summary>
    public MaskedPatchStyle MaskedStyle { get; init; } = MaskedPatchStyle.MeanGrey;

    /// <summary>White space in pixels around and between the panels. Default 4.</summary>
    public int Spacing { get; init; } = 4;
}

/// <summary>
/// The MAE paper's reconstruction figure as one RGB picture: one row per image with four panels — original, masked,
/// reconstruction, reconstruction with the visible patches pasted from the original.
/// </summary>
/// <remarks>
/// Inputs are what the model saw and produced: <c>pixel_values [B, C, H, W]</c> (normalised), <c>logits
/// [B, L, p·p·C]</c> and <c>mask [B, L]</c> (1 = removed). Logits are unpatchified (patches row-major, values
/// (row, column, channel) with channel fastest); with <see cref="ReconstructionOptions.NormPixLoss"/> each predicted
/// patch is first de-normalised with the input patch's mean and unbiased variance. Every panel is then mapped back to
/// pixels with <c>round((x·std + mean)·255)</c> clamped to 0–255. Grey (C = 1) models are drawn in grey.
/// </remarks>
public sealed class ReconstructionGrid
{
    private const byte Background = 255;

    private ReconstructionGrid(int rows, int panelWidth, int panelHeight, int spacing)
    {
        Rows = rows;
        PanelWidth = panelWidth;
        PanelHeight = panelHeight;
        Spacing = spacing;
        Width = (4 * panelWidth) + (5 * spacing);
        Height = (rows * panelHeight) + ((rows + 1) * spacing);
        Rgb = new byte[checked(Width * Height * 3)];
        Rgb.AsSpan().Fill(Background);
    }

    /// <summary>Number of image rows.</summary>
    public int Rows { get; }

    /// <summary>Width of one panel (the input's W).</summary>
    public int PanelWidth { get; }

    /// <summary>Height of one panel (the input's H).</summary>
    public int PanelHeight { get; }

    /// <summary>Spacing around and between panels.</summary>
    public int Spacing { get; }

    /// <summary>Width of the whole picture.</summary>
    public int Width { get; }

    /// <summary>Height of the whole picture.</summary>
    public int Height { get; }

    /// <summary>The picture, <c>[Height, Width, 3]</c> RGB bytes.</summary>
    public byte[] Rgb { get; }

    /// <summary>Renders the grid.</summary>
    /// <param name="pixelValues">The model input, <c>[B, C, H, W]</c>, normalised.</param>
    /// <param name="logits">The decoder output, <c>[B, L, p·p·C]</c>.</param>
    /// <param name="mask">The mask, <c>[B, L]</c>: 1 removed, 0 kept.</param>
    /// <param name="batch">B.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="options">Patch size, norm_pix_loss, normalisation and style; defaults when null.</param>
    /// <exception cref="ArgumentException">The spans do not match the shapes.</exception>
    public static ReconstructionGrid Render(
        ReadOnlySpan<float> pixelValues,
        ReadOnlySpan<float> logits,
        ReadOnlySpan<float> mask,
        int batch,
        int height,
        int width,
        ReconstructionOptions? options = null)
    {
        options ??= new ReconstructionOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Spacing);
        int p = options.PatchSize;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(p);
        if (height % p != 0 || width % p != 0)
        {
            throw new ArgumentException($"Image {height}×{width} is not a whole number of {p}×{p} patches.", nameof(options));
        }

        long plane = (long)height * width;
        if (pixelValues.Length % (batch * plane) != 0)
        {
            throw new ArgumentException($"pixel_values holds {pixelValues.Length} floats, not a multiple of {batch}×{height}×{width}.", nameof(pixelValues));
        }

        int channels = (int)(pixelValues.Length / (batch * plane));
        if (channels is not (1 or 3))
        {
            throw new ArgumentException($"pixel_values implies {channels} channels; only 1 or 3 can be drawn.", nameof(pixelValues));
        }

        if (options.ImageMean.Count < channels || options.ImageStd.Count < channels)
        {
            throw new ArgumentException($"Need {channels} mean and std values.", nameof(options));
        }

        int numPatches = (height / p) * (width / p);
        int patchLength = p * p * channels;
        int perImage = channels * height * width;
        if (logits.Length != (long)batch * numPatches * patchLength)
        {
            throw new ArgumentException($"logits should be [{batch}, {numPatches}, {patchLength}] ({(long)batch * numPatches * patchLength} floats), got {logits.Length}.", nameof(logits));
        }

        if (mask.Length != batch * numPatches)
        {
            throw new ArgumentException($"mask should be [{batch}, {numPatches}], got {mask.Length} values.", nameof(mask));
        }

        var grid = new ReconstructionGrid(batch, width, height, options.Spacing);
        var prediction = new float[perImage];
        var target = new float[perImage];
        var predictedPatches = new float[numPatches * patchLength];
        var maskImage = new bool[height * width];
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> x = pixelValues.Slice(b * perImage, perImage);
            ReadOnlySpan<float> m = mask.Slice(b * numPatches, numPatches);
            logits.Slice(b * numPatches * patchLength, numPatches * patchLength).CopyTo(predictedPatches);
            if (options.NormPixLoss)
            {
                Patches.Patchify(x, target, channels, height, width, p);
                for (int l = 0; l < numPatches; l++)
                {
                    ReadOnlySpan<float> t = target.AsSpan(l * patchLength, patchLength);
                    double mean = 0;
                    foreach (float v in t)
                    {
                        mean += v;
                    }

                    mean /= patchLength;
                    double ss = 0;
                    foreach (float v in t)
                    {
                        ss += (v - mean) * (v - mean);
                    }

                    double variance = patchLength > 1 ? ss / (patchLength - 1) : 0;
                    double scale = Math.Sqrt(variance + 1e-6);
                    Span<float> pred = predictedPatches.AsSpan(l * patchLength, patchLength);
                    for (int i = 0; i < pred.Length; i++)
                    {
                        pred[i] = (float)((pred[i] * scale) + mean);
                    }
                }
            }

            Patches.Unpatchify(predictedPatches, prediction, channels, height, width, p);
            int gridW = width / p;
            for (int y = 0; y < height; y++)
            {
                for (int xx = 0; xx < width; xx++)
                {
                    maskImage[(y * width) + xx] = m[((y / p) * gridW) + (xx / p)] > 0.5f;
                }
            }

            for (int panel = 0; panel < 4; panel++)
            {
                grid.DrawPanel(b, (ReconstructionPanel)panel, x, prediction, maskImage, channels, options);
            }
        }

        return grid;
    }

    /// <summary>
    /// The picture enlarged <paramref name="factor"/> times with nearest-neighbour sampling (every pixel a
    /// factor×factor block: patches stay sharp), e.g. to show 28×28 panels at a readable size.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="factor"/> is not 1–64.</exception>
    public ReconstructionGrid Enlarge(int factor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(factor, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(factor, 64);
        if (factor == 1)
        {
            return this;
        }

        var large = new ReconstructionGrid(Rows, PanelWidth * factor, PanelHeight * factor, Spacing * factor);
        for (int y = 0; y < large.Height; y++)
        {
            ReadOnlySpan<byte> source = Rgb.AsSpan(y / factor * Width * 3, Width * 3);
            Span<byte> row = large.Rgb.AsSpan(y * large.Width * 3, large.Width * 3);
            for (int x = 0; x < large.Width; x++)
            {
                source.Slice(x / factor * 3, 3).CopyTo(row.Slice(x * 3, 3));
            }
        }

        return large;
    }

    /// <summary>A copy of one panel as an <see cref="RgbImage"/>.</summary>
    public RgbImage GetPanel(int row, ReconstructionPanel panel)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Rows);
        var image = new RgbImage(PanelWidth, PanelHeight);
        (int left, int top) = Origin(row, panel);
        for (int y = 0; y < PanelHeight; y++)
        {
            Rgb.AsSpan((((top + y) * Width) + left) * 3, PanelWidth * 3).CopyTo(image.Row(y));
        }

        return image;
    }

    /// <summary>The whole picture as an <see cref="RgbImage"/> (shares <see cref="Rgb"/>).</summary>
    public RgbImage ToImage() => new(Width, Height, Rgb);

    /// <summary>Encodes the picture as PNG.</summary>
    public byte[] EncodePng()
    {
        using var stream = new MemoryStream();
        WritePng(stream);
        return stream.ToArray();
    }

    /// <summary>Writes the picture as PNG to <paramref name="stream"/>.</summary>
    public void WritePng(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        new ImageWriter().WritePng(Rgb, Width, Height, StbImageWriteSharp.ColorComponents.RedGreenBlue, stream);
    }

    /// <summary>Writes the picture as a PNG file (created or overwritten).</summary>
    public void WritePng(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.Create(path);
        WritePng(stream);
    }

    private (int Left, int Top) Origin(int row, ReconstructionPanel panel) =>
        (Spacing + ((int)panel * (PanelWidth + Spacing)), Spacing + (row * (PanelHeight + Spacing)));

    private void DrawPanel(
        int row,
        ReconstructionPanel panel,
        ReadOnlySpan<float> original,
        ReadOnlySpan<float> prediction,
        ReadOnlySpan<bool> removed,
        int channels,
        ReconstructionOptions options)
    {
        int plane = PanelWidth * PanelHeight;
        (int left, int top) = Origin(row, panel);
        for (int y = 0; y < PanelHeight; y++)
        {
            Span<byte> dst = Rgb.AsSpan((((top + y) * Width) + left) * 3, PanelWidth * 3);
            for (int x = 0; x < PanelWidth; x++)
            {
                int i = (y * PanelWidth) + x;
                bool isRemoved = removed[i];
                for (int c = 0; c < 3; c++)
                {
                    int ch = channels == 1 ? 0 : c;
                    double mean = options.ImageMean[ch], std = options.ImageStd[ch];
                    float source = original[(ch * plane) + i];
                    byte level = panel switch
                    {
                        ReconstructionPanel.Original => ToLevel(source, mean, std),
                        ReconstructionPanel.Masked when !isRemoved => ToLevel(source, mean, std),
                        ReconstructionPanel.Masked when options.MaskedStyle == MaskedPatchStyle.MeanGrey => ToLevel(0f, mean, std),
                        ReconstructionPanel.Masked => (byte)(ToLevel(source, mean, std) / 4),
                        ReconstructionPanel.Reconstruction => ToLevel(prediction[(ch * plane) + i], mean, std),
                        _ => ToLevel(isRemoved ? prediction[(ch * plane) + i] : source, mean, std),
                    };

                    dst[(3 * x) + c] = level;
                }
            }
        }
    }

    /// <summary>De-normalises one value: <c>clamp(round((v·std + mean)·255), 0, 255)</c>.</summary>
    public static byte ToLevel(float value, double mean, double std)
    {
        double level = Math.Round(((value * std) + mean) * 255.0, MidpointRounding.AwayFromZero);
        return level <= 0 || double.IsNaN(level) ? (byte)0 : level >= 255 ? (byte)255 : (byte)level;
    }
}
