using System;
using System.ComponentModel;

namespace ViTMAE.Compiled.Runtime;

/// <summary>
/// Hugging Face's <c>ViTMAEEmbeddings.random_masking</c> for one image, given its noise:
/// <c>ids_shuffle = argsort(noise)</c>, <c>ids_restore = argsort(ids_shuffle)</c>, the first <c>len_keep</c> of
/// <c>ids_shuffle</c> are kept (in that order: ascending noise, not image order), <c>mask</c> is 1 for removed patches.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class Masking
{
    /// <summary>
    /// Computes the shuffle, its inverse and the mask for one image. Ties in <paramref name="noise"/> are broken by
    /// patch index (a stable sort); NaN sorts after every number, as in PyTorch. No allocation: the sort works in
    /// <paramref name="sortScratch"/> (at least L entries).
    /// </summary>
    /// <param name="noise">[L] noise of one image.</param>
    /// <param name="lenKeep">Patches kept.</param>
    /// <param name="idsShuffle">[L] receives argsort(noise).</param>
    /// <param name="idsRestore">[L] receives the inverse permutation.</param>
    /// <param name="mask">[L] receives 0 for kept patches and 1 for removed ones, in image order.</param>
    /// <param name="sortScratch">[L] work space.</param>
    public static void RandomMasking(ReadOnlySpan<float> noise, Span<int> idsShuffle, Span<int> idsRestore, Span<float> mask, int lenKeep, Span<ulong> sortScratch)
    {
        int l = noise.Length;
        if (idsShuffle.Length < l || idsRestore.Length < l || mask.Length < l || sortScratch.Length < l || (uint)lenKeep > (uint)l)
        {
            throw new ArgumentException($"RandomMasking: {l} patches need spans of at least {l} entries and 0 <= len_keep <= {l} (len_keep {lenKeep})");
        }

        // Sort (orderable noise bits, index) pairs packed in one ulong: ascending noise, ties by index, i.e. stable.
        Span<ulong> keys = sortScratch[..l];
        for (int i = 0; i < l; i++)
        {
            keys[i] = ((ulong)OrderableBits(noise[i]) << 32) | (uint)i;
        }

        keys.Sort();
        for (int j = 0; j < l; j++)
        {
            int patch = (int)(uint)keys[j];
            idsShuffle[j] = patch;
            idsRestore[patch] = j;
            mask[patch] = j < lenKeep ? 0f : 1f;
        }
    }

    /// <summary>Maps a float to a uint whose unsigned order is the float's numeric order (NaNs last).</summary>
    private static uint OrderableBits(float value)
    {
        if (float.IsNaN(value))
        {
            return uint.MaxValue;
        }

        uint bits = BitConverter.SingleToUInt32Bits(value == 0f ? 0f : value); // -0 sorts with +0
        return (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
    }
}
