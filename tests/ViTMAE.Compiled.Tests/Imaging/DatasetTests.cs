using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;
using System.Linq;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Imaging.Datasets;
using ViTMAE.Compiled.Imaging.Plots;

namespace ViTMAE.Compiled.Tests.Imaging;

/// <summary>IDX files, the data set folders and the training batches (crops, flips, order, determinism).</summary>
public sealed class DatasetTests : IDisposable
{
    private readonly string _temp = Path.Combine(Path.GetTempPath(), "vitmae-dataset-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public DatasetTests() => Directory.CreateDirectory(_temp);

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    /// <summary>An IDX file of unsigned bytes with <paramref name="shape"/> and values i mod 251, gzipped when the name ends in .gz.</summary>
    private string WriteIdx(string name, int[] shape, int? dropBytes = null)
    {
        using var bytes = new MemoryStream();
        bytes.Write([0, 0, 8, (byte)shape.Length]);
        Span<byte> dim = stackalloc byte[4];
        foreach (int d in shape)
        {
            BinaryPrimitives.WriteInt32BigEndian(dim, d);
            bytes.Write(dim);
        }

        long count = shape.Aggregate(1L, (a, d) => a * d);
        for (long i = 0; i < count - (dropBytes ?? 0); i++) bytes.WriteByte((byte)(i % 251));
        string path = Path.Combine(_temp, name);
        using FileStream file = File.Create(path);
        if (name.EndsWith(".gz", StringComparison.Ordinal))
        {
            using var gzip = new GZipStream(file, CompressionLevel.Fastest);
            bytes.Position = 0;
            bytes.CopyTo(gzip);
        }
        else
        {
            bytes.Position = 0;
            bytes.CopyTo(file);
        }

        return path;
    }

    private static byte[] EncodePng(RgbImage image) =>
        ImagingTestSupport.Png(image.Width, image.Height, colorType: 2, bitDepth: 8, image.Pixels.Select(b => (int)b).ToArray());

    private IdxImageDataset SmallIdx(int count = 10, int side = 12)
    {
        WriteIdx("train-images-idx3-ubyte.gz", [count, side, side]);
        WriteIdx("train-labels-idx1-ubyte", [count]);
        return IdxImageDataset.TryOpen(_temp, DatasetSplit.Train)!;
    }

    [Fact]
    public void Idx_files_read_plain_and_gzipped()
    {
        IdxFile plain = IdxFile.Read(WriteIdx("a-idx3-ubyte", [3, 4, 5]));
        IdxFile gzipped = IdxFile.Read(WriteIdx("a-idx3-ubyte.gz", [3, 4, 5]));
        Assert.Equal([3, 4, 5], plain.Shape);
        Assert.Equal(60, plain.Data.Length);
        Assert.Equal(plain.Data, gzipped.Data);
        Assert.Equal(59 % 251, plain.Data[59]);
    }

    [Fact]
    public void Malformed_idx_files_are_typed_errors_that_say_what_was_found()
    {
        var truncated = Assert.Throws<DatasetFormatException>(() => IdxFile.Read(WriteIdx("t-idx3-ubyte", [2, 3, 3], dropBytes: 1)));
        Assert.Contains("18 data bytes", truncated.Message, StringComparison.Ordinal);

        string wrongType = Path.Combine(_temp, "float-idx");
        File.WriteAllBytes(wrongType, [0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
        var magic = Assert.Throws<DatasetFormatException>(() => IdxFile.Read(wrongType));
        Assert.Contains("00 00 0D 01", magic.Message, StringComparison.Ordinal);

        string huge = Path.Combine(_temp, "huge-idx");
        File.WriteAllBytes(huge, [0, 0, 8, 2, 0x7F, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF]);
        Assert.Contains("at most", Assert.Throws<DatasetFormatException>(() => IdxFile.Read(huge)).Message, StringComparison.Ordinal);

        string notGzip = Path.Combine(_temp, "bad-idx3-ubyte.gz");
        File.WriteAllBytes(notGzip, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        Assert.Throws<DatasetFormatException>(() => IdxFile.Read(notGzip));
        Assert.Throws<FileNotFoundException>(() => IdxFile.Read(Path.Combine(_temp, "missing")));

        // A header claiming 200 MB in a 16-byte file, plain or gzipped, is refused before the claim is allocated.
        string claim = Path.Combine(_temp, "claim-idx3-ubyte");
        File.WriteAllBytes(claim, [0, 0, 8, 3, 0, 0, 0x0B, 0xB8, 0, 0, 0x0B, 0xB8, 0, 0, 0, 22]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Contains("truncated", Assert.Throws<DatasetFormatException>(() => IdxFile.Read(claim)).Message, StringComparison.Ordinal);
        using (FileStream gz = File.Create(claim + ".gz"))
        using (var zip = new GZipStream(gz, CompressionLevel.Fastest))
        {
            zip.Write(File.ReadAllBytes(claim));
        }

        Assert.Contains("trailer", Assert.Throws<DatasetFormatException>(() => IdxFile.Read(claim + ".gz")).Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "the claimed size was allocated");

        string cut = WriteIdx("cut-idx3-ubyte.gz", [40, 28, 28]);
        byte[] gzipped = File.ReadAllBytes(cut);
        File.WriteAllBytes(cut, gzipped.AsSpan(0, gzipped.Length / 2).ToArray());
        Assert.Throws<DatasetFormatException>(() => IdxFile.Read(cut));

        string empty = Path.Combine(_temp, "empty-idx");
        File.WriteAllBytes(empty, []);
        Assert.Contains("empty", Assert.Throws<DatasetFormatException>(() => IdxFile.Read(empty)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_of_idx_files_is_a_labelled_data_set_and_labels_must_match()
    {
        IdxImageDataset data = SmallIdx();
        Assert.Equal(10, data.Count);
        Assert.Equal(12, data.Height);
        Assert.Equal(10, data.Labels!.Length);
        RgbImage image = data.Read(1);
        Assert.Equal(144 % 251, image.Pixels[0]);
        Assert.Equal(image.Pixels[0], image.Pixels[1]); // grey: R = G = B
        Assert.Null(IdxImageDataset.TryOpen(_temp, DatasetSplit.Test));

        WriteIdx("train-labels-idx1-ubyte", [9]);
        var mismatch = Assert.Throws<DatasetFormatException>(() => ImageDataset.Open(_temp));
        Assert.Contains("[10] labels", mismatch.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_folders_are_their_image_files_in_ordinal_order()
    {
        string folder = Directory.CreateDirectory(Path.Combine(_temp, "images")).FullName;
        Assert.Throws<DatasetFormatException>(() => ImageDataset.Open(folder));
        byte[] png = EncodePng(new RgbImage(5, 4));
        File.WriteAllBytes(Path.Combine(folder, "b.png"), png);
        Directory.CreateDirectory(Path.Combine(folder, "a"));
        File.WriteAllBytes(Path.Combine(folder, "a", "z.png"), png);
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "not an image");

        var data = Assert.IsType<ImageFolderDataset>(ImageDataset.Open(folder));
        Assert.Equal(["z.png", "b.png"], data.Files.Select(Path.GetFileName));
        Assert.Equal(5, data.Read(0).Width);
        Assert.Throws<DirectoryNotFoundException>(() => ImageDataset.Open(Path.Combine(_temp, "nowhere")));
    }

    [Fact]
    public void Batches_are_a_function_of_seed_epoch_and_position_only()
    {
        IdxImageDataset data = SmallIdx(count: 9);
        var a = new TrainingBatches(data, 1, 8, 8, [0.5], [0.25], seed: 3);
        var b = new TrainingBatches(data, 1, 8, 8, [0.5], [0.25], seed: 3);
        Assert.Equal(4, a.BatchesPerEpoch(2)); // the ninth image is dropped, as in MAE

        float[] x = new float[2 * 64], y = new float[2 * 64], z = new float[2 * 64];
        a.Fill(epoch: 1, index: 2, batch: 2, x);
        b.Fill(epoch: 0, index: 0, batch: 2, y); // b's cached order is another epoch's: must not matter
        b.Fill(epoch: 1, index: 2, batch: 2, y);
        Assert.Equal(x, y);

        new TrainingBatches(data, 1, 8, 8, [0.5], [0.25], seed: 4).Fill(1, 2, 2, z);
        Assert.NotEqual(x, z);
        a.Fill(2, 2, 2, z);
        Assert.NotEqual(x, z);
    }

    [Fact]
    public void Every_epoch_visits_each_image_once()
    {
        // A data set whose image i is the constant i: the batches of an epoch must hold each value once (crops and
        // flips of a constant image are that constant).
        const int count = 20;
        string folder = Directory.CreateDirectory(Path.Combine(_temp, "constant")).FullName;
        var bytes = new MemoryStream();
        bytes.Write([0, 0, 8, 3, 0, 0, 0, count, 0, 0, 0, 6, 0, 0, 0, 6]);
        for (int i = 0; i < count; i++) bytes.Write(Enumerable.Repeat((byte)(i * 10), 36).ToArray());
        File.WriteAllBytes(Path.Combine(folder, "train-images-idx3-ubyte"), bytes.ToArray());
        var batches = new TrainingBatches(ImageDataset.Open(folder), 1, 6, 6, [0.0], [1.0], seed: 9);

        for (int epoch = 0; epoch < 2; epoch++)
        {
            var seen = new System.Collections.Generic.List<int>();
            float[] pixels = new float[4 * 36];
            for (int b = 0; b < batches.BatchesPerEpoch(4); b++)
            {
                batches.Fill(epoch, b, 4, pixels);
                for (int i = 0; i < 4; i++) seen.Add((int)Math.Round(pixels[i * 36] * 255 / 10));
            }

            Assert.Equal(Enumerable.Range(0, count), seen.Order());
        }
    }

    [Fact]
    public void Crops_follow_torchvision_bounds()
    {
        var random = new SplitMix(1, 2, 3);
        for (int i = 0; i < 2000; i++)
        {
            int h = 1 + (i % 40), w = 1 + (i * 7 % 53);
            (int top, int left, int ch, int cw) = TrainingBatches.CropBox(ref random, h, w);
            Assert.InRange(ch, 1, h);
            Assert.InRange(cw, 1, w);
            Assert.InRange(top, 0, h - ch);
            Assert.InRange(left, 0, w - cw);
            if (h >= 20 && w >= 20 && w * 3 <= h * 4 && h * 3 <= w * 4)
            {
                // Large enough for the first tries to succeed: the area lies in [0.2, 1] of the image (rounding aside).
                Assert.InRange((double)ch * cw / (h * w), 0.15, 1.0);
            }
        }
    }

    [Fact]
    public void Colour_images_feed_a_grey_model_as_pil_luma_and_flips_mirror()
    {
        string folder = Directory.CreateDirectory(Path.Combine(_temp, "colour")).FullName;
        var image = new RgbImage(4, 4);
        for (int p = 0; p < 16; p++)
        {
            image.Pixels[3 * p] = (byte)(p % 4 == 0 ? 255 : 0); // a red left column
        }

        File.WriteAllBytes(Path.Combine(folder, "red.png"), EncodePng(image));
        var plain = new TrainingBatches(ImageDataset.Open(folder), 1, 4, 4, [0.0], [1.0], seed: 0, augment: false);
        float[] pixels = new float[16];
        plain.Fill(0, 0, 1, pixels);
        Assert.Equal((299 * 255 + 500) / 1000 / 255f, pixels[0], 6); // PIL "L" of pure red: 76
        Assert.Equal(0f, pixels[3]);

        var rgb = new TrainingBatches(ImageDataset.Open(folder), 3, 4, 4, [0.0], [1.0], seed: 0, augment: false);
        float[] colour = new float[48];
        rgb.Fill(0, 0, 1, colour);
        Assert.Equal(1f, colour[0]);
        Assert.Equal(0f, colour[16]);

        Assert.Throws<ArgumentException>(() => new TrainingBatches(ImageDataset.Open(folder), 3, 4, 4, [0.0, 0.1], [1.0], seed: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainingBatches(ImageDataset.Open(folder), 1, 4, 4, [0.0], [0.0], seed: 0));
        Assert.Throws<ArgumentException>(() => plain.Fill(0, 0, 1, new float[15]));
    }

    [Fact]
    public void The_loss_curve_is_a_png_of_the_planned_size()
    {
        string path = Path.Combine(_temp, "curve.png");
        double[] losses = Enumerable.Range(0, 500).Select(i => 1.0 / (1 + (i * 0.01)) + (i % 7 * 0.01)).ToArray();
        losses[10] = double.NaN;
        LossCurve.Write(losses, stepsPerEpoch: 100, path);
        RgbImage curve = ImageDecoder.Load(path);
        Assert.Equal(960, curve.Width);
        Assert.Equal(480, curve.Height);
        Assert.Contains(curve.Pixels.Chunk(3), p => p[0] == 20 && p[1] == 60 && p[2] == 160); // the average line is drawn
    }
}
