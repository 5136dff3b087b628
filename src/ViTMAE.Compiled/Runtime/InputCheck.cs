using System;
using System.ComponentModel;
using System.Globalization;
using System.Text;
using ViTMAE.Compiled.Modeling;

namespace ViTMAE.Compiled.Runtime;

/// <summary>Validation shared by every generated model: each bad input gets a message naming expected and found.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class InputCheck
{
    /// <summary>
    /// Checks <paramref name="inputs"/> against the compiled shapes and returns the index of its resolution in
    /// <paramref name="resolutions"/>. Throws <see cref="ViTMAEInputException"/> on any mismatch.
    /// </summary>
    public static int Resolve(in ViTMAEInputs inputs, ReadOnlySpan<(int Height, int Width)> resolutions, int channels, int patchSize, int maxBatch,
        int layers, int heads, int decoderLayers, int decoderHeads)
    {
        if (inputs.Batch < 1 || inputs.Batch > maxBatch)
        {
            throw new ViTMAEInputException("batch", Format("batch {0} is outside this session's range 1..{1} (create the session with a larger maxBatch)", inputs.Batch, maxBatch));
        }

        int height = inputs.Height == 0 ? resolutions[0].Height : inputs.Height;
        int width = inputs.Width == 0 ? resolutions[0].Width : inputs.Width;
        int index = -1;
        for (int i = 0; i < resolutions.Length; i++)
        {
            if (resolutions[i].Height == height && resolutions[i].Width == width)
            {
                index = i;
                break;
            }
        }

        if (index < 0)
        {
            var declared = new StringBuilder();
            foreach ((int h, int w) in resolutions)
            {
                declared.Append(declared.Length == 0 ? "" : ", ").Append(h.ToString(CultureInfo.InvariantCulture)).Append('x').Append(w.ToString(CultureInfo.InvariantCulture));
            }

            throw new ViTMAEInputException("resolution", Format("{0}x{1} was not compiled; compiled resolutions: {2} (declare more with the ViTMAEResolutions item metadata, e.g. ViTMAEResolutions=\"{0}x{1}\")", height, width, declared));
        }

        long pixels = (long)inputs.Batch * channels * height * width;
        if (inputs.PixelValues.Length != pixels)
        {
            throw new ViTMAEInputException("pixel_values", Format("has {0} values, expected [B, C, H, W] = [{1}, {2}, {3}, {4}] = {5}", inputs.PixelValues.Length, inputs.Batch, channels, height, width, pixels));
        }

        int patches = (height / patchSize) * (width / patchSize);
        if (!inputs.Noise.IsEmpty && inputs.Noise.Length != inputs.Batch * patches)
        {
            throw new ViTMAEInputException("noise", Format("has {0} values, expected [B, L] = [{1}, {2}] = {3}", inputs.Noise.Length, inputs.Batch, patches, inputs.Batch * patches));
        }

        CheckHeadMask("head_mask", inputs.HeadMask, layers, heads);
        CheckHeadMask("decoder_head_mask", inputs.DecoderHeadMask, decoderLayers, decoderHeads);
        return index;
    }

    private static void CheckHeadMask(string name, ReadOnlySpan<float> mask, int layers, int heads)
    {
        if (!mask.IsEmpty && mask.Length != heads && mask.Length != layers * heads)
        {
            throw new ViTMAEInputException(name, Format("has {0} values, expected [heads] = [{1}] or [layers, heads] = [{2}, {1}] = {3}", mask.Length, heads, layers, layers * heads));
        }
    }

    /// <summary>The head mask of one layer: all of a <c>[heads]</c> mask, one row of a <c>[layers, heads]</c> mask, or empty.</summary>
    public static ReadOnlySpan<float> LayerHeadMask(ReadOnlySpan<float> mask, int layer, int heads) =>
        mask.IsEmpty || mask.Length == heads ? mask : mask.Slice(layer * heads, heads);

    private static string Format(string format, params object[] args) => string.Format(CultureInfo.InvariantCulture, format, args);
}
