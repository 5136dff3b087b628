using System;
using ViTMAE.Compiled.Kernels;
using ViTMAE.Compiled.Threading;
using static ViTMAE.Compiled.Tests.Kernels.KernelTestSupport;

namespace ViTMAE.Compiled.Tests.Kernels;

/// <summary>LayerNorm forward with statistics and LayerNorm backward.</summary>
public class LayerNormBackwardTests
{
    public static TheoryData<string> Paths => PathData();

    private const double U = 1.0 / (1 << 24);

    private static readonly int[] Rows = [1, 5, 13, 64, 65, 197];
    private static readonly int[] Dims = [1, 3, 17, 64, 100, 192, 768];

    [Theory]
    [MemberData(nameof(Paths))]
    public void Forward_with_statistics_gives_the_same_output_and_the_row_statistics(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(61);
        foreach (int rows in new[] { 1, 5, 13, 197 })
        foreach (int dim in Dims)
        foreach (float eps in new[] { 1e-12f, 1e-5f })
        {
            float[] x = Random(rng, rows * dim, 2f, 0.5f), gamma = Random(rng, dim, 1f, 1f), beta = Random(rng, dim);
            float[] plain = new float[rows * dim], y = new float[rows * dim], stats = new float[2 * rows + 3];
            stats.AsSpan(2 * rows).Fill(-7f);
            LayerNormKernel.Forward(x, gamma, beta, plain, rows, dim, eps, p);
            LayerNormKernel.Forward(x, gamma, beta, y, stats, rows, dim, eps, p);
            string what = $"{path} rows={rows} dim={dim} eps={eps}";
            AssertExact(plain, y, what + " y");
            for (int i = 2 * rows; i < stats.Length; i++) Assert.Equal(-7f, stats[i]);
            for (int r = 0; r < rows; r++)
            {
                double mean = 0, variance = 0;
                for (int i = 0; i < dim; i++) mean += x[r * dim + i];
                mean /= dim;
                for (int i = 0; i < dim; i++) variance += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
                double rstd = 1 / Math.Sqrt(variance / dim + eps);
                // Float sums of dim terms (|x| ≤ 2.5): ≤ dim·u·Σ|x|/dim of the mean; rstd to a relative (dim + 4)·u, plus
                // what the mean's error does to a variance (negligible at this spread; dim = 1 has variance 0 exactly).
                Assert.True(Math.Abs(stats[2 * r] - mean) <= (dim + 1) * U * 2.5, $"{what} mean[{r}] {stats[2 * r]} vs {mean}");
                Assert.True(Math.Abs(stats[2 * r + 1] - rstd) <= 4 * (dim + 4) * U * rstd, $"{what} rstd[{r}] {stats[2 * r + 1]} vs {rstd}");
            }
            // In place (y is x) with statistics: same result.
            float[] inPlace = (float[])x.Clone();
            LayerNormKernel.Forward(inPlace, gamma, beta, inPlace, stats, rows, dim, eps, p);
            AssertExact(plain, inPlace, what + " in place");
        }
    }

    private sealed record Inputs(float[] X, float[] Gamma, float[] DY, float[] Stats, float Eps);

    private static Inputs Make(Random rng, int rows, int dim, float eps, SimdPath p)
    {
        float[] x = Random(rng, rows * dim, 2f, 0.5f), gamma = Random(rng, dim, 1f, 1f), beta = Random(rng, dim), dy = Random(rng, rows * dim);
        float[] stats = new float[2 * rows], y = new float[rows * dim];
        LayerNormKernel.Forward(x, gamma, beta, y, stats, rows, dim, eps, p);
        return new Inputs(x, gamma, dy, stats, eps);
    }

    /// <summary>
    /// Tolerances. dX_i = rstd·(g_i − mean(g) − x̂_i·mean(g⊙x̂)): each mean is a float sum of dim terms (error ≤ dim·u of
    /// the mean of |terms|), x̂ carries the float statistics' error (≤ (dim + 4)·u relative, see the forward test), and a
    /// few roundings per element; so ≤ (dim + 8)·u·rstd·(|g_i| + mean|g| + (|x̂_i| + 1)·mean|g⊙x̂|), taken 4 times.
    /// dGamma and dBeta: per column, blocks of 64 rows from zero then added in order, so a chain of at most 64 + rows/64
    /// additions, each term dY·x̂ with x̂'s relative error: ≤ (64 + rows/64 + dim + 8)·u·Σ_r|dY·x̂| (or Σ|dY|), taken 4
    /// times, plus the final add to the initial value.
    /// </summary>
    private static (Func<int, double> DX, Func<int, double> DGamma, Func<int, double> DBeta) Tolerances(Inputs a, int rows, int dim, float[] dGamma0, float[] dBeta0)
    {
        var dxTol = new double[rows * dim];
        var gTol = new double[dim];
        var bTol = new double[dim];
        for (int r = 0; r < rows; r++)
        {
            double mean = a.Stats[2 * r], rstd = a.Stats[2 * r + 1];
            double meanG = 0, meanGx = 0;
            for (int i = 0; i < dim; i++)
            {
                double xh = (a.X[r * dim + i] - mean) * rstd, g = a.DY[r * dim + i] * a.Gamma[i];
                meanG += Math.Abs(g) / dim;
                meanGx += Math.Abs(g * xh) / dim;
                gTol[i] += Math.Abs(a.DY[r * dim + i] * xh);
                bTol[i] += Math.Abs(a.DY[r * dim + i]);
            }
            for (int i = 0; i < dim; i++)
            {
                double xh = (a.X[r * dim + i] - mean) * rstd, g = a.DY[r * dim + i] * a.Gamma[i];
                dxTol[r * dim + i] = 4 * (dim + 8) * U * rstd * (Math.Abs(g) + meanG + (Math.Abs(xh) + 1) * meanGx);
            }
        }
        double chain = 64 + rows / 64.0;
        return (i => dxTol[i] + 1e-30,
            i => 4 * (chain + dim + 8) * U * gTol[i] + 2 * U * Math.Abs(dGamma0[i]) + 1e-30,
            i => 4 * (chain + 8) * U * bTol[i] + 2 * U * Math.Abs(dBeta0[i]) + 1e-30);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Backward_matches_the_double_reference(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(62);
        foreach (int rows in Rows)
        foreach (int dim in Dims)
        {
            float eps = dim % 2 == 0 ? 1e-12f : 1e-5f;
            Inputs a = Make(rng, rows, dim, eps, p);
            float[] dGamma0 = Random(rng, dim), dBeta0 = Random(rng, dim), dx0 = Random(rng, rows * dim);
            float[] wantDx = new float[rows * dim], wantG = (float[])dGamma0.Clone(), wantB = (float[])dBeta0.Clone();
            ReferenceKernels.LayerNormBackward(a.DY, a.X, a.Gamma, eps, wantDx, wantG, wantB, rows, dim);
            var (dxTol, gTol, bTol) = Tolerances(a, rows, dim, dGamma0, dBeta0);
            foreach (bool accumulate in new[] { false, true })
            {
                float[] dx = accumulate ? (float[])dx0.Clone() : new float[rows * dim];
                float[] dg = (float[])dGamma0.Clone(), db = (float[])dBeta0.Clone();
                LayerNormKernel.Backward(a.DY, a.X, a.Gamma, a.Stats, dx, dg, db, rows, dim, accumulate, p);
                string what = $"{path} rows={rows} dim={dim} accumulate={accumulate}";
                float[] want = accumulate ? new float[rows * dim] : wantDx;
                if (accumulate) for (int i = 0; i < want.Length; i++) want[i] = (float)((double)dx0[i] + wantDx[i]);
                AssertClose(want, dx, i => dxTol(i) + (accumulate ? 2 * U * Math.Abs(want[i]) : 0), what + " dX");
                AssertClose(wantG, dg, gTol, what + " dGamma");
                AssertClose(wantB, db, bTol, what + " dBeta");
            }
        }
    }

    /// <summary>LayerNorm in double (the function whose derivatives the finite differences take).</summary>
    private static double Loss(double[] x, double[] gamma, double[] beta, float[] w, int rows, int dim, double eps)
    {
        double loss = 0;
        for (int r = 0; r < rows; r++)
        {
            double mean = 0, variance = 0;
            for (int i = 0; i < dim; i++) mean += x[r * dim + i];
            mean /= dim;
            for (int i = 0; i < dim; i++) variance += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
            double rstd = 1 / Math.Sqrt(variance / dim + eps);
            for (int i = 0; i < dim; i++) loss += w[r * dim + i] * ((x[r * dim + i] - mean) * rstd * gamma[i] + beta[i]);
        }
        return loss;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Backward_agrees_with_central_finite_differences(string path)
    {
        // loss = Σ w⊙LayerNorm(x)·gamma + beta in double, dY = w. Central differences with h = 1e-4: the truncation error
        // h²/6·|∂³loss| is ~1e-8·rstd³·Σ|w| per coordinate (rstd ≈ 0.9 here) and the cancellation error ~1e-16·|loss|/h
        // ≈ 1e-10, both far below the kernel's float tolerance (the same bounds as against the double reference), which
        // the comparison then measures; unlike that reference, it cannot share a wrong formula with the kernel.
        SimdPath p = Parse(path);
        var rng = new Random(63);
        foreach (var (rows, dim) in new[] { (3, 17), (5, 64), (2, 192) })
        {
            const float eps = 1e-5f;
            Inputs a = Make(rng, rows, dim, eps, p);
            float[] dx = new float[rows * dim], dg = new float[dim], db = new float[dim];
            LayerNormKernel.Backward(a.DY, a.X, a.Gamma, a.Stats, dx, dg, db, rows, dim, false, p);
            var (dxTol, gTol, bTol) = Tolerances(a, rows, dim, new float[dim], new float[dim]);
            double[] x = Array.ConvertAll(a.X, v => (double)v), gamma = Array.ConvertAll(a.Gamma, v => (double)v), beta = new double[dim];
            const double h = 1e-4;
            double Fd(double[] v, int i)
            {
                double keep = v[i];
                v[i] = keep + h;
                double plus = Loss(x, gamma, beta, a.DY, rows, dim, eps);
                v[i] = keep - h;
                double minus = Loss(x, gamma, beta, a.DY, rows, dim, eps);
                v[i] = keep;
                return (plus - minus) / (2 * h);
            }
            float[] fdX = new float[rows * dim], fdG = new float[dim], fdB = new float[dim];
            for (int i = 0; i < rows * dim; i++) fdX[i] = (float)Fd(x, i);
            for (int i = 0; i < dim; i++)
            {
                fdG[i] = (float)Fd(gamma, i);
                fdB[i] = (float)Fd(beta, i);
            }
            string what = $"{path} rows={rows} dim={dim}";
            AssertClose(fdX, dx, i => dxTol(i) + 1e-7, what + " dX vs finite differences");
            AssertClose(fdG, dg, i => gTol(i) + 1e-7, what + " dGamma vs finite differences");
            AssertClose(fdB, db, i => bTol(i) + 1e-7, what + " dBeta vs finite differences");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Backward_in_place_on_dY_or_x_equals_separate_output(string path)
    {
        SimdPath p = Parse(path);
        var rng = new Random(64);
        int rows = 13, dim = 100;
        Inputs a = Make(rng, rows, dim, 1e-6f, p);
        float[] dx = new float[rows * dim], dg = new float[dim], db = new float[dim];
        LayerNormKernel.Backward(a.DY, a.X, a.Gamma, a.Stats, dx, dg, db, rows, dim, false, p);
        float[] onDy = (float[])a.DY.Clone(), dg2 = new float[dim], db2 = new float[dim];
        LayerNormKernel.Backward(onDy, a.X, a.Gamma, a.Stats, onDy, dg2, db2, rows, dim, false, p);
        AssertExact(dx, onDy, "dX on dY");
        AssertExact(dg, dg2, "dGamma with dX on dY");
        AssertExact(db, db2, "dBeta with dX on dY");
        float[] onX = (float[])a.X.Clone();
        Array.Clear(dg2);
        Array.Clear(db2);
        LayerNormKernel.Backward(a.DY, onX, a.Gamma, a.Stats, onX, dg2, db2, rows, dim, false, p);
        AssertExact(dx, onX, "dX on x");
        AssertExact(dg, dg2, "dGamma with dX on x");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Backward_is_bit_identical_on_any_pool(int workers)
    {
        var rng = new Random(65);
        using var pool = new ComputePool(workers);
        foreach (var (rows, dim) in new[] { (197, 768), (200, 100), (832, 192), (65, 300) })
        {
            Inputs a = Make(rng, rows, dim, 1e-6f, SimdPath.Auto);
            float[] dg0 = Random(rng, dim), db0 = Random(rng, dim), dx0 = Random(rng, rows * dim);
            float[] dx = (float[])dx0.Clone(), dg = (float[])dg0.Clone(), db = (float[])db0.Clone();
            LayerNormKernel.Backward(a.DY, a.X, a.Gamma, a.Stats, dx, dg, db, rows, dim, true);
            for (int repeat = 0; repeat < 3; repeat++)
            {
                float[] pdx = (float[])dx0.Clone(), pdg = (float[])dg0.Clone(), pdb = (float[])db0.Clone();
                LayerNormKernel.Backward(a.DY, a.X, a.Gamma, a.Stats, pdx, pdg, pdb, rows, dim, true, pool);
                Assert.Equal(dx, pdx);
                Assert.Equal(dg, pdg);
                Assert.Equal(db, pdb);
            }

            float[] y = new float[rows * dim], stats = new float[2 * rows], py = new float[rows * dim], pstats = new float[2 * rows];
            float[] beta = Random(rng, dim);
            LayerNormKernel.Forward(a.X, a.Gamma, beta, y, stats, rows, dim, 1e-6f);
            LayerNormKernel.Forward(a.X, a.Gamma, beta, py, pstats, rows, dim, 1e-6f, pool);
            Assert.Equal(y, py);
            Assert.Equal(stats, pstats);
        }
    }

    [Fact]
    public void Forward_with_statistics_and_backward_do_not_allocate()
    {
        var rng = new Random(66);
        int rows = 70, dim = 300;
        Inputs a = Make(rng, rows, dim, 1e-6f, SimdPath.Auto);
        float[] y = new float[rows * dim], beta = new float[dim], dx = new float[rows * dim], dg = new float[dim], db = new float[dim];
        using var pool = new ComputePool(2);
        void Call()
        {
            LayerNormKernel.Forward(a.X, a.Gamma, beta, y, a.Stats, rows, dim, 1e-6f);
            LayerNormKernel.Backward(a.DY, a.X, a.Gamma, a.Stats, dx, dg, db, rows, dim, false);
            LayerNormKernel.Backward(a.DY, a.X, a.Gamma, a.Stats, dx, dg, db, rows, dim, true, pool);
        }
        Call();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Call();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Misuse_is_rejected()
    {
        int rows = 3, dim = 4;
        float[] x = new float[12], g = new float[4], s = new float[6], dy = new float[12], dx = new float[12], dg = new float[4], db = new float[4];
        var ex = Assert.Throws<ArgumentException>(() => LayerNormKernel.Backward(dy, x, g, s.AsSpan(1), dx, dg, db, rows, dim, false));
        Assert.Contains("stats has 5 floats, expected at least rows × 2 = 6", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => LayerNormKernel.Backward(dy.AsSpan(1), x, g, s, dx, dg, db, rows, dim, false));
        Assert.Throws<ArgumentException>(() => LayerNormKernel.Backward(dy, x, g, s, dx.AsSpan(1), dg, db, rows, dim, false));
        Assert.Throws<ArgumentException>(() => LayerNormKernel.Backward(dy, x, g, s, dx, dg.AsSpan(1), db, rows, dim, false));
        float[] big = new float[24];
        Assert.Throws<ArgumentException>(() => LayerNormKernel.Backward(big.AsSpan(0, 12), x, g, s, big.AsSpan(2, 12), dg, db, rows, dim, false)); // partial overlap
        Assert.Throws<ArgumentException>(() => LayerNormKernel.Backward(dy, x, g, s, dx, dg, dg, rows, dim, false));
        Assert.Throws<ArgumentException>(() => LayerNormKernel.Forward(x, g, g, new float[12], s.AsSpan(1), rows, dim, 1e-5f));
        Assert.Throws<ArgumentException>(() => LayerNormKernel.Forward(x, g, g, new float[12], x.AsSpan(0, 6), rows, dim, 1e-5f));
        LayerNormKernel.Backward([], [], g, [], [], dg, db, 0, dim, false); // no rows: nothing to add
    }
}
