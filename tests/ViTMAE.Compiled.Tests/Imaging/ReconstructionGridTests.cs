using System;
using ViTMAE.Compiled.Runtime;
using ViTMAE.Compiled.Modeling;
using System.IO;
using ViTMAE.Compiled.Imaging;

namespace ViTMAE.Compiled.Tests.Imaging;

public sealed class ReconstructionGridTests
{
    [Theory]
    [InlineData(3, 32, 48, 8)]
    [InlineData(1, 16, 16, 4)]
    [InlineData(3, 224, 224, 16)]
    public void Unpatchify_inverts_patchify(int channels, int height, int width, int p)
    {
        float[] image = RandomFloats(channels * height * width, 1);
        var patches = new float[image.Length];
        var back = new float[image.Length];
        Patches.Patchify(image, patches, channels, height, width, p);
        Patches.Unpatchify(patches, back, channels, height, width, p);
        Assert.Equal(image, back);
    }

    [Fact]
    public void Patchify_orders_row_column_channel_with_channel_fastest()
    {
        // [C=2, H=2, W=4], p=2 -> 2 patches of 8 values each.
        float[] image = new float[2 * 2 * 4];
        for (int c = 0; c < 2; c++)
        {
            for (int y = 0; y < 2; y++)
            {
                for (int x = 0; x < 4; x++)
                {
                    image[(((c * 2) + y) * 4) + x] = (100 * c) + (10 * y) + x;
                }
            }
        }

        var patches = new float[image.Length];
        Patches.Patchify(image, patches, 2, 2, 4, 2);
        Assert.Equal(new float[] { 0, 100, 1, 101, 10, 110, 11, 111, 2, 102, 3, 103, 12, 112, 13, 113 }, patches);
    }

    [Fact]
    public void Nothing_masked_reproduces_the_original_in_panels_one_and_four()
    {
        // A real preprocessed image, so the original panel must give back PIL's resized pixels.
        var processor = new ImageProcessor();
        RgbImage decoded = ImageDecoder.Load(ImagingTestSupport.Preprocess("rgb_gradient_300x200.png"));
        RgbImage resized = processor.Resize(decoded);
        float[] pixelValues = processor.Preprocess(decoded);
        const int p = 16, L = 14 * 14;
        float[] logits = RandomFloats(L * p * p * 3, 2);
        var mask = new float[L];

        ReconstructionGrid grid = ReconstructionGrid.Render(pixelValues, logits, mask, 1, 224, 224, new ReconstructionOptions { PatchSize = p });
        Assert.Equal(resized.Pixels, grid.GetPanel(0, ReconstructionPanel.Original).Pixels);
        Assert.Equal(resized.Pixels, grid.GetPanel(0, ReconstructionPanel.Masked).Pixels);
        Assert.Equal(resized.Pixels, grid.GetPanel(0, ReconstructionPanel.ReconstructionPlusVisible).Pixels);
        Assert.Equal((4 * 224) + (5 * 4), grid.Width);
        Assert.Equal(224 + (2 * 4), grid.Height);
    }

    [Fact]
    public void Masked_patches_show_prediction_and_grey()
    {
        const int p = 4, h = 8, w = 8, L = 4;
        float[] x = RandomFloats(3 * h * w, 3);
        var logits = new float[L * p * p * 3];
        var mask = new float[] { 1, 0, 0, 1 }; // top-left and bottom-right removed
        var grid = ReconstructionGrid.Render(x, logits, mask, 1, h, w, new ReconstructionOptions { PatchSize = p, Spacing = 0 });
        RgbImage masked = grid.GetPanel(0, ReconstructionPanel.Masked);
        RgbImage paste = grid.GetPanel(0, ReconstructionPanel.ReconstructionPlusVisible);
        RgbImage original = grid.GetPanel(0, ReconstructionPanel.Original);

        // Removed patch: mean colour in the masked panel, prediction 0 (= mean colour) in the paste panel.
        byte[] meanColour = [ReconstructionGrid.ToLevel(0, 0.485, 0.229), ReconstructionGrid.ToLevel(0, 0.456, 0.224), ReconstructionGrid.ToLevel(0, 0.406, 0.225)];
        Assert.Equal(new byte[] { 124, 116, 104 }, meanColour);
        Assert.Equal(meanColour, masked.Pixels.AsSpan(0, 3).ToArray());
        Assert.Equal(meanColour, paste.Pixels.AsSpan(0, 3).ToArray());

        // Visible patch (top-right): original everywhere.
        int i = ((0 * w) + 5) * 3;
        Assert.Equal(original.Pixels.AsSpan(i, 3).ToArray(), masked.Pixels.AsSpan(i, 3).ToArray());
        Assert.Equal(original.Pixels.AsSpan(i, 3).ToArray(), paste.Pixels.AsSpan(i, 3).ToArray());

        var dark = ReconstructionGrid.Render(x, logits, mask, 1, h, w, new ReconstructionOptions { PatchSize = p, MaskedStyle = MaskedPatchStyle.Darken });
        Assert.Equal((byte)(original.Pixels[0] / 4), dark.GetPanel(0, ReconstructionPanel.Masked).Pixels[0]);
    }

    [Fact]
    public void Norm_pix_loss_prediction_of_the_normalised_target_gives_back_the_original()
    {
        // If the model predicted exactly the norm_pix target, de-normalising with the input patch statistics must
        // reproduce the input (up to the 1e-6 in sqrt(var + 1e-6)).
        const int p = 4, h = 8, w = 12, channels = 3, L = 6, n = p * p * channels;
        float[] x = RandomFloats(channels * h * w, 4);
        var target = new float[x.Length];
        Patches.Patchify(x, target, channels, h, w, p);
        for (int l = 0; l < L; l++)
        {
            Span<float> t = target.AsSpan(l * n, n);
            double mean = 0;
            foreach (float v in t)
            {
                mean += v;
            }

            mean /= n;
            double ss = 0;
            foreach (float v in t)
            {
                ss += (v - mean) * (v - mean);
            }

            double std = Math.Sqrt((ss / (n - 1)) + 1e-6);
            for (int k = 0; k < n; k++)
            {
                t[k] = (float)((t[k] - mean) / std);
            }
        }

        var mask = new float[] { 1, 1, 1, 1, 1, 1 };
        var grid = ReconstructionGrid.Render(x, target, mask, 1, h, w, new ReconstructionOptions { PatchSize = p, NormPixLoss = true });
        RgbImage original = grid.GetPanel(0, ReconstructionPanel.Original);
        RgbImage recon = grid.GetPanel(0, ReconstructionPanel.Reconstruction);
        for (int k = 0; k < original.Pixels.Length; k++)
        {
            Assert.InRange(recon.Pixels[k] - original.Pixels[k], -1, 1);
        }

        // Without norm_pix_loss the same logits are read as normalised pixels and the picture differs.
        var raw = ReconstructionGrid.Render(x, target, mask, 1, h, w, new ReconstructionOptions { PatchSize = p });
        Assert.NotEqual(original.Pixels, raw.GetPanel(0, ReconstructionPanel.Reconstruction).Pixels);
    }

    [Fact]
    public void Grid_of_a_batch_is_written_as_a_decodable_png()
    {
        const int p = 8, h = 32, w = 32, B = 2, L = 16;
        float[] x = RandomFloats(B * 3 * h * w, 5);
        float[] logits = RandomFloats(B * L * p * p * 3, 6);
        var mask = new float[B * L];
        for (int i = 0; i < mask.Length; i += 2)
        {
            mask[i] = 1;
        }

        ReconstructionGrid grid = ReconstructionGrid.Render(x, logits, mask, B, h, w, new ReconstructionOptions { PatchSize = p });
        Assert.Equal(B, grid.Rows);
        string dir = ImagingTestSupport.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "grid.png");
            grid.WritePng(path);
            RgbImage decoded = ImageDecoder.Load(path);
            Assert.Equal(grid.Width, decoded.Width);
            Assert.Equal(grid.Height, decoded.Height);
            Assert.Equal(grid.Rgb, decoded.Pixels);
            Assert.Equal(grid.Rgb, ImageDecoder.Decode(grid.EncodePng()).Pixels);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Grey_models_are_drawn_in_grey()
    {
        const int p = 4, h = 4, w = 4;
        float[] x = RandomFloats(h * w, 8);
        var grid = ReconstructionGrid.Render(x, new float[p * p], new float[1], 1, h, w, new ReconstructionOptions { PatchSize = p });
        byte[] px = grid.GetPanel(0, ReconstructionPanel.Original).Pixels;
        Assert.True(px[0] == px[1] && px[1] == px[2]);
    }

    [Fact]
    public void Wrong_shapes_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => ReconstructionGrid.Render(new float[3 * 8 * 8], new float[5], new float[4], 1, 8, 8, new ReconstructionOptions { PatchSize = 4 }));
        Assert.Throws<ArgumentException>(() => ReconstructionGrid.Render(new float[3 * 8 * 8], new float[4 * 48], new float[3], 1, 8, 8, new ReconstructionOptions { PatchSize = 4 }));
        Assert.Throws<ArgumentException>(() => ReconstructionGrid.Render(new float[3 * 8 * 8], new float[4 * 48], new float[4], 1, 8, 8, new ReconstructionOptions { PatchSize = 3 }));
    }

    private static float[] RandomFloats(int n, int seed)
    {
        var rng = new Random(seed);
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = (float)((rng.NextDouble() * 4) - 2);
        }

        return values;
    }
}
