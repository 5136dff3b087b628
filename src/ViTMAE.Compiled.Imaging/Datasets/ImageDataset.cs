using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace ViTMAE.Compiled.Imaging.Datasets;

/// <summary>A fixed, ordered collection of images (any size; grey or colour), read one at a time.</summary>
public abstract class ImageDataset
{
    /// <summary>How many images.</summary>
    public abstract int Count { get; }

    /// <summary>A one-line description for logs, e.g. "Fashion-MNIST train (60000 images, 28×28 grey)".</summary>
    public abstract string Description { get; }

    /// <summary>Image <paramref name="index"/> as 8-bit RGB (a grey image has R = G = B).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside [0, Count).</exception>
    /// <exception cref="ImageDecodeException">The image file cannot be decoded (the message names it).</exception>
    public abstract RgbImage Read(int index);

    /// <summary>
    /// Opens <paramref name="path"/>: a folder holding Fashion-MNIST's (or MNIST's) IDX files is read as that data set's
    /// <paramref name="split"/>; any other folder is read as its image files (PNG, JPEG, BMP, GIF, recursively, in ordinal
    /// order of their relative paths).
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="DatasetFormatException">It holds neither IDX files nor images, or an IDX file is malformed.</exception>
    public static ImageDataset Open(string path, DatasetSplit split = DatasetSplit.Train)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!Directory.Exists(path))
        {
            throw new DirectoryNotFoundException("data folder not found: " + path);
        }

        return (ImageDataset?)IdxImageDataset.TryOpen(path, split) ?? ImageFolderDataset.Open(path);
    }
}

/// <summary>Which part of a data set with a fixed split.</summary>
public enum DatasetSplit
{
    /// <summary>The training images (Fashion-MNIST: 60,000).</summary>
    Train,

    /// <summary>The test images (Fashion-MNIST: 10,000).</summary>
    Test,
}

/// <summary>
/// MNIST-family IDX files in a folder (Debian's <c>dataset-fashion-mnist</c> installs them under
/// <c>/usr/share/datasets/fashion-mnist/</c>): <c>train-images-idx3-ubyte[.gz]</c>, <c>train-labels-idx1-ubyte[.gz]</c>,
/// and the <c>t10k-</c> pair for the test split. Labels are optional for training and required by a probe.
/// </summary>
public sealed class IdxImageDataset : ImageDataset
{
    private readonly byte[] _pixels;

    private IdxImageDataset(string description, byte[] pixels, int count, int height, int width, byte[]? labels)
    {
        Description = description;
        _pixels = pixels;
        Count = count;
        Height = height;
        Width = width;
        Labels = labels;
    }

    /// <inheritdoc/>
    public override int Count { get; }

    /// <inheritdoc/>
    public override string Description { get; }

    /// <summary>Rows of every image.</summary>
    public int Height { get; }

    /// <summary>Columns of every image.</summary>
    public int Width { get; }

    /// <summary>The class of each image (0–9), or null when the folder has no labels file.</summary>
    public byte[]? Labels { get; }

    /// <summary>Image <paramref name="index"/>'s grey values, row-major (no copy).</summary>
    public ReadOnlySpan<byte> Grey(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return _pixels.AsSpan(index * Height * Width, Height * Width);
    }

    /// <inheritdoc/>
    public override RgbImage Read(int index) => RgbImage.FromGrey(Width, Height, Grey(index));

    /// <summary>The split's IDX files in <paramref name="folder"/>, or null when it has no images file for the split.</summary>
    /// <exception cref="DatasetFormatException">A file is malformed, or images and labels disagree.</exception>
    public static IdxImageDataset? TryOpen(string folder, DatasetSplit split)
    {
        string prefix = split == DatasetSplit.Train ? "train" : "t10k";
        string? images = Find(folder, prefix + "-images-idx3-ubyte");
        if (images is null)
        {
            return null;
        }

        IdxFile imageFile = IdxFile.Read(images);
        if (imageFile.Shape.Length != 3)
        {
            throw new DatasetFormatException(images, "3 dimensions [images, rows, columns]", imageFile.Shape.Length + " dimensions");
        }

        int count = imageFile.Shape[0], height = imageFile.Shape[1], width = imageFile.Shape[2];
        byte[]? labels = null;
        if (Find(folder, prefix + "-labels-idx1-ubyte") is string labelPath)
        {
            IdxFile labelFile = IdxFile.Read(labelPath);
            if (labelFile.Shape.Length != 1 || labelFile.Shape[0] != count)
            {
                throw new DatasetFormatException(labelPath, $"[{count}] labels (one per image of {Path.GetFileName(images)})", "shape [" + string.Join(", ", labelFile.Shape) + "]");
            }

            labels = labelFile.Data;
        }

        string name = folder.Contains("fashion", StringComparison.OrdinalIgnoreCase) ? "Fashion-MNIST" : "IDX";
        return new IdxImageDataset($"{name} {prefix} ({count} images, {height}×{width} grey) from {folder}", imageFile.Data, count, height, width, labels);
    }

    private static string? Find(string folder, string name) =>
        new[] { name + ".gz", name }.Select(n => Path.Combine(folder, n)).FirstOrDefault(File.Exists);
}

/// <summary>The image files under a folder, decoded on demand by <see cref="ImageDecoder"/>.</summary>
public sealed class ImageFolderDataset : ImageDataset
{
    private static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".bmp", ".gif" };
    private readonly ImageDecodeOptions? _options;

    private ImageFolderDataset(string folder, string[] files, ImageDecodeOptions? options)
    {
        Files = files;
        _options = options;
        Description = $"{files.Length} images under {folder}";
    }

    /// <summary>The files, in the order of their indices.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <inheritdoc/>
    public override int Count => Files.Count;

    /// <inheritdoc/>
    public override string Description { get; }

    /// <summary>The image files under <paramref name="folder"/> (recursively), sorted by relative path (ordinal).</summary>
    /// <exception cref="DatasetFormatException">The folder holds no image file.</exception>
    public static ImageFolderDataset Open(string folder, ImageDecodeOptions? options = null)
    {
        string[] files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => Extensions.Contains(Path.GetExtension(f)))
            .OrderBy(f => Path.GetRelativePath(folder, f), StringComparer.Ordinal)
            .ToArray();
        if (files.Length == 0)
        {
            throw new DatasetFormatException(folder, "image files (.png, .jpg, .jpeg, .bmp, .gif) or Fashion-MNIST IDX files (train-images-idx3-ubyte[.gz])", "neither");
        }

        return new ImageFolderDataset(folder, files, options);
    }

    /// <inheritdoc/>
    public override RgbImage Read(int index) => ImageDecoder.Load(Files[index], _options);
}
