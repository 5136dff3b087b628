using System;
using ViTMAE.Compiled.Kernels;
using static ViTMAE.Compiled.Tests.Kernels.KernelTestSupport;

namespace ViTMAE.Compiled.Tests.Kernels;

public class LayerNormSoftmaxTests
{
    public static TheoryData<string> Paths => PathData();

    private const double U = 1.0 / (1 << 24);

    [Theory]
    [MemberData(nameof(Paths))]
    public void LayerNorm_matches_reference(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(11);
        foreach (int rows in new[] { 1, 5, 197 })
        foreach (int dim in new[] { 1, 3, 17, 64, 768 })
        foreach (float eps in new[] { 1e-12f, 1e-6f })
        foreach (float offset in new[] { 0f, 100f })
        {
            float[] x = Random(rng, rows * dim, 2f, offset), gamma = Random(rng, dim, 1f, 1f), beta = Random(rng, dim);
            float[] want = new float[rows * dim], got = new float[rows * dim];
            ReferenceKernels.LayerNorm(x, gamma, beta, want, rows, dim, eps);
            LayerNormKernel.Forward(x, gamma, beta, got, rows, dim, eps, p);
            // The float statistics of a row at offset 100 carry ≈ dim·u·100 of absolute error, i.e. relative to the row's
            // spread (≈ 1.15) a few e-5 at most; normalised values are O(√dim) at worst.
            double scale = offset == 0 ? 1 : 100;
            AssertClose(want, got, i => 16 * U * Math.Sqrt(dim) * scale * (Math.Abs(gamma[i % dim]) * 3 + 1) + 4 * U * Math.Abs(want[i]),
                $"{path} rows={rows} dim={dim} eps={eps} offset={offset}");

            // In place (y is x) gives the same result bit for bit.
            float[] inPlace = (float[])x.Clone();
            LayerNormKernel.Forward(inPlace, gamma, beta, inPlace, rows, dim, eps, p);
            AssertExact(got, inPlace, $"{path} in place rows={rows} dim={dim}");
        }
    }

    [Fact]
    public void LayerNorm_constant_row_gives_beta_and_rejects_partial_overlap()
    {
        float[] x = [3, 3, 3, 3, 3], y = new float[5];
        LayerNormKernel.Forward(x, [2, 2, 2, 2, 2], [1, 2, 3, 4, 5], y, 1, 5, 1e-12f);
        Assert.Equal([1f, 2, 3, 4, 5], y);
        float[] buf = new float[8];
        Assert.Throws<ArgumentException>(() => LayerNormKernel.Forward(buf.AsSpan(0, 4), [1, 1, 1, 1], [0, 0, 0, 0], buf.AsSpan(2, 4), 1, 4, 1e-6f));
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Softmax_matches_reference(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(12);
        foreach (int dim in new[] { 1, 2, 3, 15, 16, 17, 50, 197 })
        foreach (float spread in new[] { 1f, 30f, 300f })
        {
            int rows = 3;
            float[] x = Random(rng, rows * dim, spread, 500f); // large logits: overflow without max subtraction
            float[] want = (float[])x.Clone(), got = (float[])x.Clone();
            for (int r = 0; r < rows; r++) ReferenceKernels.Softmax(want.AsSpan(r * dim, dim));
            SoftmaxKernel.Forward(got, rows, dim, p);
            AssertClose(want, got, i => (8 + dim) * U * Math.Abs(want[i]) + 1e-44, $"{path} dim={dim} spread={spread}");
            for (int r = 0; r < rows; r++)
            {
                double sum = 0;
                for (int j = 0; j < dim; j++) sum += got[r * dim + j];
                Assert.True(Math.Abs(sum - 1) < 1e-5, $"{path} dim={dim}: row sum {sum}");
            }
        }
    }

    [Fact]
    public void Softmax_single_row_entry_point()
    {
        float[] row = [1f, 2f, 3f];
        float[] want = (float[])row.Clone();
        SoftmaxKernel.Forward(row);
        ReferenceKernels.Softmax(want);
        AssertClose(want, row, _ => 1e-7, "row");
    }

    [Fact]
    public void Kernels_do_not_allocate()
    {
        var rng = new Random(13);
        float[] x = Random(rng, 5 * 768), g = Random(rng, 768), b = Random(rng, 768), y = new float[5 * 768];
        void Run()
        {
            LayerNormKernel.Forward(x, g, b, y, 5, 768, 1e-6f);
            SoftmaxKernel.Forward(y, 5, 768);
            Activations.GeluErf(y);
            Activations.GeluTanh(y);
            Activations.Selu(y);
            Activations.Relu(y);
        }
        Run();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
