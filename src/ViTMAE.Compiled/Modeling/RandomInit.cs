using System;
using System.Collections.Generic;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Modeling;

/// <summary>
/// A deterministic random initialisation in Hugging Face's scheme (<c>ViTMAEPreTrainedModel._init_weights</c>), for
/// running and benchmarking a model without downloading weights: Linear weights ~ N(0, initializer_range), biases 0,
/// LayerNorm weight 1 and bias 0, the patch projection Xavier-uniform, CLS and mask tokens ~ N(0, initializer_range),
/// and both position tables the fixed 2-D sin-cos embedding. The output of such a model means nothing; its cost is real.
/// </summary>
public static class RandomInit
{
    /// <summary>Writes a <c>ViTMAEForPreTraining</c> checkpoint for <paramref name="spec"/> to <paramref name="path"/>.</summary>
    public static void WriteCheckpoint(ViTMAESpec spec, string path, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var random = new Random(seed);
        var writer = new SafeTensorsWriter();
        writer.AddMetadata("format", "pt");
        writer.AddMetadata("generated_by", "ViTMAE.Compiled RandomInit seed " + seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (WeightSpec entry in WeightCatalog.For(spec))
        {
            writer.AddFloat32(entry.Key, Initial(spec, entry, random), entry.ShapeArray());
        }

        writer.WriteTo(path);
    }

    /// <summary>The initial value of one tensor, by role (HF's <c>_init_weights</c>), drawing from <paramref name="random"/> in catalog order.</summary>
    internal static float[] Initial(ViTMAESpec spec, WeightSpec entry, Random random)
    {
        int n = checked((int)entry.ElementCount);
        switch (entry.Role)
        {
            case WeightRole.PatchProjection:
                // xavier_uniform_ on the [D, C·p·p] view of the convolution weight.
                int fanIn = spec.NumChannels * spec.PatchSize * spec.PatchSize;
                return Uniform(random, n, Math.Sqrt(6.0 / (fanIn + spec.HiddenSize)));
            case WeightRole.PositionTable:
                return SinCos2D(entry.Shape[2], spec.GridHeight, addClsToken: true);
            case WeightRole.ClsToken or WeightRole.MaskToken or WeightRole.LinearWeight:
                return Normal(random, n, spec.InitializerRange);
            case WeightRole.LayerNormWeight:
                return Ones(n);
            default:
                return new float[n]; // biases and LayerNorm shifts
        }
    }

    /// <summary>
    /// The path of a random checkpoint for <paramref name="spec"/> in the temp folder
    /// (<c>vitmae-random-v2-{name}-seed{seed}.safetensors</c>; v2 since the draws follow the weight catalog), written on first use and reused afterwards. The file is
    /// written under a process-unique name and moved into place, so concurrent callers never read a partial file.
    /// </summary>
    public static string CachedCheckpoint(ViTMAESpec spec, string name, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrEmpty(name);
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(),
            "vitmae-random-v2-" + name + "-seed" + seed.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".safetensors");
        if (!System.IO.File.Exists(path))
        {
            string partial = path + "." + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".tmp";
            WriteCheckpoint(spec, partial, seed);
            System.IO.File.Move(partial, path, overwrite: true);
        }

        return path;
    }

    /// <summary>
    /// Hugging Face's <c>get_2d_sincos_pos_embed(embed_dim, grid_size, add_cls_token)</c>: <c>[(1 +) G², D]</c>; the first
    /// half of each row encodes the patch's column, the second half its row (HF's meshgrid puts width first), each half
    /// as [sin(pos·ω), cos(pos·ω)] with ω_k = 1 / 10000^(k / (D/4)). The CLS row is zeros.
    /// </summary>
    public static float[] SinCos2D(int dim, int gridSize, bool addClsToken)
    {
        if (dim % 4 != 0)
        {
            throw new ArgumentException("the 2-D sin-cos table needs a dimension divisible by 4, got " + dim, nameof(dim));
        }

        int offset = addClsToken ? 1 : 0;
        var table = new float[(offset + gridSize * gridSize) * dim];
        int quarter = dim / 4;
        for (int row = 0; row < gridSize; row++)
        {
            for (int col = 0; col < gridSize; col++)
            {
                int baseIndex = (offset + row * gridSize + col) * dim;
                for (int k = 0; k < quarter; k++)
                {
                    double omega = 1.0 / Math.Pow(10000, k / (double)quarter);
                    table[baseIndex + k] = (float)Math.Sin(col * omega);
                    table[baseIndex + quarter + k] = (float)Math.Cos(col * omega);
                    table[baseIndex + 2 * quarter + k] = (float)Math.Sin(row * omega);
                    table[baseIndex + 3 * quarter + k] = (float)Math.Cos(row * omega);
                }
            }
        }

        return table;
    }

    private static float[] Ones(int n)
    {
        var values = new float[n];
        Array.Fill(values, 1f);
        return values;
    }

    private static float[] Uniform(Random random, int n, double bound)
    {
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = (float)(((random.NextDouble() * 2) - 1) * bound);
        }

        return values;
    }

    /// <summary>N(0, std) by Box–Muller (deterministic for a seed; System.Random has no normal sampler).</summary>
    private static float[] Normal(Random random, int n, double std)
    {
        var values = new float[n];
        for (int i = 0; i < n; i += 2)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1)) * std;
            values[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < n)
            {
                values[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
            }
        }

        return values;
    }
}
