using System;
using ViTMAE.Compiled.Imaging;

namespace ViTMAE.Compiled.Tests.Imaging;

/// <summary>A processor for a grey (1-channel) model, and the figure's enlargement.</summary>
public sealed class GreyProcessorTests
{
    private static readonly ImageProcessorSettings FashionMnist = Settings();

    private static ImageProcessorSettings Settings(bool resize = true, int size = 28) => new()
    {
        DoResize = resize, Height = size, Width = size, Resample = PilResample.Bicubic, ImageMean = [0.2860], ImageStd = [0.3530],
    };

    [Fact]
    public void Colour_pixels_become_PIL_luma_then_rescale_and_normalise()
    {
        var processor = new ImageProcessor(Settings(resize: false), channels: 1);
        Assert.Equal(1, processor.Channels);
        // Two pixels: pure red (L = round(255·0.299) = 76) and a grey 200 (L = 200).
        var image = new RgbImage(2, 1, [255, 0, 0, 200, 200, 200]);
        float[] values = processor.Preprocess(image);
        Assert.Equal(2, values.Length);
        Assert.Equal(((float)(76 / 255.0) - 0.286f) / 0.353f, values[0]);
        Assert.Equal(((float)(200 / 255.0) - 0.286f) / 0.353f, values[1]);
        Assert.Equal(values[1], processor.ValueOf(0, 200));
        Assert.Throws<ArgumentOutOfRangeException>(() => processor.ValueOf(1, 0));
    }

    [Fact]
    public void A_grey_image_resized_for_a_grey_model_equals_the_first_channel_of_the_colour_processor()
    {
        // A grey picture has R = G = B, so the luma is the level itself: one channel of the RGB path, resized the same way.
        var rng = new Random(5);
        var grey = new byte[40 * 30];
        rng.NextBytes(grey);
        RgbImage image = RgbImage.FromGrey(40, 30, grey);
        float[] one = new ImageProcessor(FashionMnist, channels: 1).Preprocess(image);
        float[] three = new ImageProcessor(FashionMnist, channels: 3).Preprocess(image);
        Assert.Equal(28 * 28, one.Length);
        Assert.Equal(3 * 28 * 28, three.Length);
        Assert.Equal(three.AsSpan(0, 28 * 28).ToArray(), one);
        Assert.Equal(three.AsSpan(28 * 28, 28 * 28).ToArray(), one);
    }

    [Fact]
    public void Batches_and_buffers_are_sized_by_the_channel_count()
    {
        var processor = new ImageProcessor(FashionMnist, channels: 1);
        RgbImage image = RgbImage.FromGrey(28, 28, new byte[28 * 28]);
        Assert.Equal(3 * 28 * 28, processor.PreprocessBatch([image, image, image]).Length);
        var error = Assert.Throws<ArgumentException>(() => processor.PreprocessBatch([image], new float[3 * 28 * 28]));
        Assert.Contains("1×1×28×28", error.Message);
    }

    [Fact]
    public void A_grey_processor_refuses_three_different_means_and_odd_channel_counts()
    {
        Assert.Throws<PreprocessorConfigException>(() => new ImageProcessor(ImageProcessorSettings.VitMaeBase, channels: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImageProcessor(FashionMnist, channels: 2));
        // One value applies to every channel of a colour model, as Hugging Face's normalize broadcasts it.
        var colour = new ImageProcessor(FashionMnist, channels: 3);
        Assert.Equal(colour.ValueOf(0, 17), colour.ValueOf(2, 17));
    }

    [Fact]
    public void Enlarge_repeats_every_pixel_into_a_block_and_keeps_the_layout()
    {
        var processor = new ImageProcessor(Settings(resize: false, size: 8), channels: 1);
        var grey = new byte[64];
        new Random(1).NextBytes(grey);
        float[] pixels = processor.Preprocess(RgbImage.FromGrey(8, 8, grey));
        var mask = new float[4];
        ReconstructionGrid grid = ReconstructionGrid.Render(pixels, new float[4 * 16], mask, 1, 8, 8,
            new ReconstructionOptions { PatchSize = 4, ImageMean = FashionMnist.ImageMean, ImageStd = FashionMnist.ImageStd });
        ReconstructionGrid large = grid.Enlarge(3);
        Assert.Equal(grid.Width * 3, large.Width);
        Assert.Equal(grid.Height * 3, large.Height);
        Assert.Equal(24, large.PanelWidth);
        RgbImage small = grid.GetPanel(0, ReconstructionPanel.Original), big = large.GetPanel(0, ReconstructionPanel.Original);
        for (int y = 0; y < 24; y++)
        {
            for (int x = 0; x < 24; x++)
            {
                Assert.Equal(small.Pixels[(((y / 3) * 8) + (x / 3)) * 3], big.Pixels[((y * 24) + x) * 3]);
            }
        }

        Assert.Same(grid, grid.Enlarge(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => grid.Enlarge(0));
    }
}
