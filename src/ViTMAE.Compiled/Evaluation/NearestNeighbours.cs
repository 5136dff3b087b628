using System;
using System.Numerics.Tensors;
using ViTMAE.Compiled.Kernels;

namespace ViTMAE.Compiled.Evaluation;

/// <summary>
/// k-nearest-neighbour classification with cosine similarity: rows are L2-normalised, the similarities of a block of
/// queries to every reference row are one GEMM (<see cref="PackedLinear"/>: the references packed once as its weight),
/// each query takes the majority class of its k most similar references (ties: the class with the larger summed
/// similarity).
/// </summary>
public static class NearestNeighbours
{
    /// <summary>Accuracy of k-NN on <paramref name="queries"/> against <paramref name="references"/> (both [rows, dim]).</summary>
    public static double Accuracy(ReadOnlySpan<float> references, ReadOnlySpan<byte> referenceLabels, ReadOnlySpan<float> queries, ReadOnlySpan<byte> queryLabels,
        int dim, int k = 20, int classes = 10, Threading.ComputePool? pool = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        int n = referenceLabels.Length, q = queryLabels.Length;
        if (references.Length != (long)n * dim || queries.Length != (long)q * dim)
            throw new ArgumentException($"features must be rows × {dim}: references {references.Length} for {n} labels, queries {queries.Length} for {q}");
        k = Math.Min(k, n);
        float[] unitReferences = Normalised(references, n, dim), unitQueries = Normalised(queries, q, dim);
        var packed = new PackedLinear(unitReferences, new float[n], n, dim);
        const int block = 128;
        float[] similarity = new float[block * n];
        var bestIndex = new int[k];
        var bestValue = new float[k];
        var votes = new int[classes];
        var weight = new double[classes];
        int right = 0;
        for (int start = 0; start < q; start += block)
        {
            int rows = Math.Min(block, q - start);
            packed.Forward(unitQueries.AsSpan(start * dim, rows * dim), similarity.AsSpan(0, rows * n), rows, pool: pool);
            for (int r = 0; r < rows; r++)
            {
                TopK(similarity.AsSpan(r * n, n), bestIndex, bestValue);
                Array.Clear(votes);
                Array.Clear(weight);
                for (int j = 0; j < k; j++)
                {
                    int label = referenceLabels[bestIndex[j]];
                    votes[label]++;
                    weight[label] += bestValue[j];
                }

                int winner = 0;
                for (int c = 1; c < classes; c++)
                {
                    if (votes[c] > votes[winner] || (votes[c] == votes[winner] && weight[c] > weight[winner])) winner = c;
                }

                right += winner == queryLabels[start + r] ? 1 : 0;
            }
        }

        return (double)right / Math.Max(1, q);
    }

    private static float[] Normalised(ReadOnlySpan<float> rows, int count, int dim)
    {
        var result = rows.ToArray();
        for (int i = 0; i < count; i++)
        {
            Span<float> row = result.AsSpan(i * dim, dim);
            float norm = TensorPrimitives.Norm(row);
            if (norm > 0) TensorPrimitives.Divide(row, norm, row);
        }

        return result;
    }

    /// <summary>The k largest values and their indices (k small: insertion into a sorted list).</summary>
    private static void TopK(ReadOnlySpan<float> values, int[] index, float[] best)
    {
        int k = index.Length, filled = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (filled == k && !(v > best[k - 1])) continue;
            int at = filled < k ? filled++ : k - 1;
            while (at > 0 && best[at - 1] < v)
            {
                best[at] = best[at - 1];
                index[at] = index[at - 1];
                at--;
            }

            best[at] = v;
            index[at] = i;
        }
    }
}
