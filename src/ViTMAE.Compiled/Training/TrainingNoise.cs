using System;

namespace ViTMAE.Compiled.Training;

/// <summary>
/// The masking noise a trainer draws when the caller gives none: value n of the run is a pure function of (seed, n), so
/// the whole generator state is one counter. A run saved after n values and resumed continues with value n + 1, exactly
/// as the uninterrupted run would (System.Random's state cannot be saved; a counter can).
/// </summary>
/// <remarks>Hand-written because it is six lines: SplitMix64's finaliser over a Weyl sequence, top 24 bits → [0, 1).</remarks>
internal static class TrainingNoise
{
    /// <summary>Fills <paramref name="noise"/> with values <paramref name="drawn"/>, <paramref name="drawn"/> + 1, … of the run of <paramref name="seed"/>.</summary>
    public static void Fill(long seed, long drawn, Span<float> noise)
    {
        ulong key = Mix(unchecked((ulong)seed) ^ 0x5851F42D4C957F2DUL);
        for (int i = 0; i < noise.Length; i++)
        {
            ulong z = Mix(key + unchecked((ulong)(drawn + i) * 0x9E3779B97F4A7C15UL));
            noise[i] = (z >> 40) * (1f / (1 << 24));
        }
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
