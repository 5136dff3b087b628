using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ViTMAE.Compiled.Runtime;
using ViTMAE.Compiled.Modeling;

namespace ViTMAE.Compiled.Differential.Tests;

/// <summary>
/// Properties that hold for every config: random masking as seen through the generated model's outputs, the
/// patchify/unpatchify round trip and Hugging Face's 2-D sin-cos position table.
/// </summary>
public sealed class PropertyTests
{
    public static TheoryData<int> MaskingSeeds => Seeds.Get(6, 2001, share: 0.25);

    /// <summary>
    /// For random configs, through <c>Forward</c>'s outputs: ids_restore is a permutation and the inverse of
    /// ids_shuffle = argsort(noise); the mask is 1 exactly for ranks ≥ len_keep and sums to L − len_keep; the kept
    /// tokens (hidden_states[0] rows 1..len_keep, recomputed in double from the checkpoint) are the patches in
    /// ascending-noise order, after CLS + pos[0]. With the session's own noise, the permutation and mask properties hold too.
    /// </summary>
    [Theory]
    [MemberData(nameof(MaskingSeeds))]
    public void Masking_properties_hold_through_the_generated_model(int seed)
    {
        using var c = new DifferentialCase(seed);
        RandomConfig cfg = c.Config;
        IViTMAEModel model = c.Compiled.Load(c.WritePreTrainingCheckpoint());
        int l = cfg.NumPatches, keep = cfg.LenKeep, b = cfg.Batch, d = cfg.HiddenSize;
        string where = cfg + " " + c.Replay;

        NamedOutputs explicitNoise = c.RunForward(model, explicitNoise: true);
        long[] idsRestore = explicitNoise.Ints["ids_restore"].Values;
        float[] mask = explicitNoise.Floats["mask"].Values;
        Assert.True(new[] { b, 1 + keep, d }.SequenceEqual(explicitNoise.Floats["last_hidden_state"].Shape), where);
        CheckPermutationAndMask(idsRestore, mask, b, l, keep, where);

        // Double-precision embeddings from the checkpoint's values: conv (as a dot product per patch) + bias + position.
        float[] conv = RandomData.TensorValues(seed, "vit.embeddings.patch_embeddings.projection.weight", d * cfg.PatchDim);
        float[] bias = RandomData.TensorValues(seed, "vit.embeddings.patch_embeddings.projection.bias", d);
        float[] pos = RandomData.TensorValues(seed, "vit.embeddings.position_embeddings", (l + 1) * d);
        float[] cls = RandomData.TensorValues(seed, "vit.embeddings.cls_token", d);
        float[] embeddings = explicitNoise.Floats["hidden_states.0"].Values;
        int p = cfg.PatchSize, ch = cfg.Channels, size = cfg.ImageSize;
        for (int n = 0; n < b; n++)
        {
            int[] shuffle = Inverse(idsRestore.AsSpan(n * l, l));
            for (int j = 1; j < l; j++)
            {
                Assert.True(c.Noise[(n * l) + shuffle[j - 1]] < c.Noise[(n * l) + shuffle[j]], $"ids_shuffle is not argsort(noise) at batch {n}, rank {j}: {where}");
            }

            for (int t = 0; t <= keep; t++)
            {
                int patch = t == 0 ? -1 : shuffle[t - 1];
                for (int o = 0; o < d; o++)
                {
                    double expected;
                    if (t == 0)
                    {
                        expected = (double)cls[o] + pos[o];
                    }
                    else
                    {
                        int gy = patch / cfg.Grid, gx = patch % cfg.Grid;
                        expected = (double)bias[o] + pos[((1 + patch) * d) + o];
                        for (int k = 0; k < ch; k++)
                        {
                            for (int i = 0; i < p; i++)
                            {
                                for (int jx = 0; jx < p; jx++)
                                {
                                    expected += (double)conv[(((o * ch) + k) * p + i) * p + jx] * c.Pixels[(((n * ch) + k) * size + (gy * p) + i) * size + (gx * p) + jx];
                                }
                            }
                        }
                    }

                    float actual = embeddings[(((n * (1 + keep)) + t) * d) + o];
                    Assert.True(Math.Abs(expected - actual) <= 1e-4 * Math.Max(1, Math.Abs(expected)),
                        string.Create(CultureInfo.InvariantCulture, $"embedding of token {t} (patch {patch}) batch {n} dim {o}: ours {actual:R}, double {expected:R}; {where}"));
                }
            }
        }

        // The session's own noise: still a permutation with a consistent mask.
        NamedOutputs sessionNoise = c.RunForward(model, explicitNoise: false);
        CheckPermutationAndMask(sessionNoise.Ints["ids_restore"].Values, sessionNoise.Floats["mask"].Values, b, l, keep, where);
    }

    private static void CheckPermutationAndMask(long[] idsRestore, float[] mask, int batch, int l, int keep, string where)
    {
        Assert.Equal(batch * l, idsRestore.Length);
        Assert.Equal(batch * l, mask.Length);
        for (int n = 0; n < batch; n++)
        {
            ReadOnlySpan<long> restore = idsRestore.AsSpan(n * l, l);
            Assert.True(restore.ToArray().Order().SequenceEqual(Enumerable.Range(0, l).Select(i => (long)i)), $"ids_restore of batch {n} is not a permutation: [{string.Join(",", restore.ToArray())}]; {where}");
            int[] shuffle = Inverse(restore);
            for (int i = 0; i < l; i++)
            {
                Assert.Equal(i, (int)restore[shuffle[i]]); // ids_restore[ids_shuffle[i]] = i
                Assert.True(mask[(n * l) + i] == (restore[i] >= keep ? 1f : 0f), $"mask[{n},{i}] = {mask[(n * l) + i]} but the patch's rank is {restore[i]} (len_keep {keep}); {where}");
            }

            Assert.Equal(l - keep, (int)mask.AsSpan(n * l, l).ToArray().Sum());
        }
    }

    /// <summary>ids_shuffle from ids_restore: shuffle[restore[i]] = i.</summary>
    private static int[] Inverse(ReadOnlySpan<long> restore)
    {
        var shuffle = new int[restore.Length];
        shuffle.AsSpan().Fill(-1);
        for (int i = 0; i < restore.Length; i++)
        {
            Assert.InRange(restore[i], 0, restore.Length - 1);
            shuffle[(int)restore[i]] = i;
        }

        return shuffle;
    }

    /// <summary>
    /// Patchify matches HF's <c>reshape(N, C, h, p, w, p) → einsum("nchpwq->nhwpqc") → reshape(N, h·w, p²·C)</c> element by
    /// element, and unpatchify inverts it both ways (non-square images included).
    /// </summary>
    [Fact]
    public void Patchify_matches_hugging_face_and_round_trips()
    {
        var rng = new Random(31);
        for (int trial = 0; trial < 200; trial++)
        {
            int p = rng.Next(1, 9), ch = new[] { 1, 2, 3, 4 }[rng.Next(4)], gh = rng.Next(1, 6), gw = rng.Next(1, 6);
            int h = gh * p, w = gw * p, dim = p * p * ch;
            float[] pixels = RandomData.Normal(rng, ch * h * w, 0, 1);
            var patches = new float[pixels.Length];
            Patches.Patchify(pixels, patches, ch, h, w, p);
            for (int c = 0; c < ch; c++)
            {
                for (int y = 0; y < gh; y++)
                {
                    for (int i = 0; i < p; i++)
                    {
                        for (int x = 0; x < gw; x++)
                        {
                            for (int j = 0; j < p; j++)
                            {
                                // x[c, y·p + i, x·p + j] → patches[y·gw + x, (i·p + j)·C + c]
                                Assert.Equal(pixels[(c * h + (y * p) + i) * w + (x * p) + j], patches[((y * gw) + x) * dim + ((i * p) + j) * ch + c]);
                            }
                        }
                    }
                }
            }

            var back = new float[pixels.Length];
            Patches.Unpatchify(patches, back, ch, h, w, p);
            Assert.Equal(pixels, back);

            float[] randomPatches = RandomData.Normal(rng, pixels.Length, 0, 1);
            var image = new float[pixels.Length];
            var again = new float[pixels.Length];
            Patches.Unpatchify(randomPatches, image, ch, h, w, p);
            Patches.Patchify(image, again, ch, h, w, p);
            Assert.Equal(randomPatches, again);
        }
    }

    public static TheoryData<int, int> SinCosShapes()
    {
        var data = new TheoryData<int, int>();
        foreach (int dim in new[] { 4, 8, 12, 20, 36, 44, 64, 128 })
        {
            foreach (int grid in new[] { 1, 2, 3, 6, 7, 14 })
            {
                data.Add(dim, grid);
            }
        }

        return data;
    }

    /// <summary>
    /// <c>RandomInit.SinCos2D</c>: the CLS row is zeros and the table without CLS is the same table; every value in
    /// [−1, 1]; sin² + cos² = 1 per frequency pair; the first D/2 depend only on the column and the second D/2 only on
    /// the row; distinct positions give distinct rows; and the values equal a double-precision transcription of HF's
    /// numpy code (<c>meshgrid(grid_w, grid_h)</c>, <c>omega = 1 / 10000^(arange(D/4) / (D/4))</c>, [sin, cos]).
    /// </summary>
    [Theory]
    [MemberData(nameof(SinCosShapes))]
    public void SinCos_table_has_hugging_face_structure(int dim, int grid)
    {
        float[] table = RandomInit.SinCos2D(dim, grid, addClsToken: true);
        float[] noCls = RandomInit.SinCos2D(dim, grid, addClsToken: false);
        Assert.Equal((1 + (grid * grid)) * dim, table.Length);
        Assert.All(table.AsSpan(0, dim).ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(noCls, table.AsSpan(dim).ToArray());
        Assert.All(table, v => Assert.InRange(v, -1f, 1f));

        int quarter = dim / 4, half = dim / 2;
        float[] Row(int row, int col) => noCls.AsSpan(((row * grid) + col) * dim, dim).ToArray();
        double[] reference = HuggingFaceSinCos(dim, grid);
        for (int row = 0; row < grid; row++)
        {
            for (int col = 0; col < grid; col++)
            {
                float[] r = Row(row, col);
                for (int k = 0; k < quarter; k++)
                {
                    Assert.Equal(1.0, ((double)r[k] * r[k]) + ((double)r[quarter + k] * r[quarter + k]), 5);
                    Assert.Equal(1.0, ((double)r[half + k] * r[half + k]) + ((double)r[half + quarter + k] * r[half + quarter + k]), 5);
                }

                // First half: the column only; second half: the row only.
                Assert.Equal(Row(0, col).AsSpan(0, half).ToArray(), r.AsSpan(0, half).ToArray());
                Assert.Equal(Row(row, 0).AsSpan(half).ToArray(), r.AsSpan(half).ToArray());
                for (int i = 0; i < dim; i++)
                {
                    Assert.True(Math.Abs(reference[(((row * grid) + col) * dim) + i] - r[i]) <= 1e-6,
                        $"({row},{col})[{i}]: {r[i]} vs HF {reference[(((row * grid) + col) * dim) + i]}");
                }

                // Distinct positions, distinct rows.
                for (int other = ((row * grid) + col) + 1; other < grid * grid; other++)
                {
                    float[] o = Row(other / grid, other % grid);
                    double diff = r.Zip(o, (a, b2) => Math.Abs((double)a - b2)).Max();
                    Assert.True(diff > 1e-3, $"rows ({row},{col}) and ({other / grid},{other % grid}) are (nearly) equal: max diff {diff}");
                }
            }
        }

        // Column 1 of the first half is sin(1·ω_0) = sin 1 (ω_0 = 1); row 1 of the second half the same.
        if (grid > 1)
        {
            Assert.Equal(Math.Sin(1), Row(0, 1)[0], 6);
            Assert.Equal(Math.Sin(1), Row(1, 0)[half], 6);
            Assert.Equal(0f, Row(1, 0)[0]);
        }
    }

    /// <summary>HF's <c>get_2d_sincos_pos_embed(embed_dim, grid_size)</c> without CLS, transcribed literally, in double.</summary>
    private static double[] HuggingFaceSinCos(int embedDim, int gridSize)
    {
        // grid = np.meshgrid(grid_w, grid_h): grid[0][i][j] = j (w), grid[1][i][j] = i (h); flattened row-major.
        int n = gridSize * gridSize;
        var grid0 = new double[n];
        var grid1 = new double[n];
        for (int i = 0; i < gridSize; i++)
        {
            for (int j = 0; j < gridSize; j++)
            {
                grid0[(i * gridSize) + j] = j;
                grid1[(i * gridSize) + j] = i;
            }
        }

        // emb_h = 1d(embed_dim // 2, grid[0]); emb_w = 1d(embed_dim // 2, grid[1]); emb = concat([emb_h, emb_w], axis=1).
        double[,] embH = OneD(embedDim / 2, grid0), embW = OneD(embedDim / 2, grid1);
        var result = new double[n * embedDim];
        for (int m = 0; m < n; m++)
        {
            for (int i = 0; i < embedDim / 2; i++)
            {
                result[(m * embedDim) + i] = embH[m, i];
                result[(m * embedDim) + (embedDim / 2) + i] = embW[m, i];
            }
        }

        return result;

        static double[,] OneD(int dim, double[] pos)
        {
            // omega = np.arange(dim // 2, dtype=float); omega /= dim / 2.0; omega = 1.0 / 10000**omega
            // out = np.einsum("m,d->md", pos, omega); emb = concat([sin(out), cos(out)], axis=1)
            var omega = new double[dim / 2];
            for (int k = 0; k < omega.Length; k++)
            {
                omega[k] = 1.0 / Math.Pow(10000, k / (dim / 2.0));
            }

            var emb = new double[pos.Length, dim];
            for (int m = 0; m < pos.Length; m++)
            {
                for (int k = 0; k < omega.Length; k++)
                {
                    emb[m, k] = Math.Sin(pos[m] * omega[k]);
                    emb[m, omega.Length + k] = Math.Cos(pos[m] * omega[k]);
                }
            }

            return emb;
        }
    }
}
