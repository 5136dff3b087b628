using System;
using System.ComponentModel;

namespace ViTMAE.Compiled.Runtime;

/// <summary>
/// The non-GEMM steps of ViTMAE between the layers, one image at a time, with Hugging Face's semantics.
/// Generated code calls them with constant shapes.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static partial class Blocks
{
    /// <summary>
    /// Encoder input after masking (<c>ViTMAEEmbeddings.forward</c>): row 0 = <c>cls_token + pos[0]</c>, row 1 + j =
    /// the embedding of patch <c>idsShuffle[j]</c> for j &lt; len_keep. <paramref name="embeddings"/> already holds
    /// <c>patch_embeddings + pos[1:]</c> (position embeddings are added before masking).
    /// </summary>
    /// <param name="embeddings">[L, D] patch embeddings plus positions.</param>
    /// <param name="clsToken">[D].</param>
    /// <param name="positions">[1 + L, D] position table (row 0 belongs to CLS).</param>
    /// <param name="idsShuffle">[L] argsort of the noise.</param>
    /// <param name="lenKeep">Patches kept.</param>
    /// <param name="hidden">[1 + len_keep, D] receives the encoder input.</param>
    public static void GatherKept(ReadOnlySpan<float> embeddings, ReadOnlySpan<float> clsToken, ReadOnlySpan<float> positions, ReadOnlySpan<int> idsShuffle, Span<float> hidden, int lenKeep)
    {
        int d = clsToken.Length;
        for (int c = 0; c < d; c++)
        {
            hidden[c] = clsToken[c] + positions[c];
        }

        for (int j = 0; j < lenKeep; j++)
        {
            embeddings.Slice(idsShuffle[j] * d, d).CopyTo(hidden.Slice((1 + j) * d, d));
        }
    }

    /// <summary>Adds the position table rows 1..L to the patch embeddings in place: <c>embeddings[l] += positions[1 + l]</c>.</summary>
    public static void AddPatchPositions(Span<float> embeddings, ReadOnlySpan<float> positions, int patches, int dim) =>
        System.Numerics.Tensors.TensorPrimitives.Add(embeddings[..(patches * dim)], positions.Slice(dim, patches * dim), embeddings[..(patches * dim)]);

    /// <summary>
    /// Decoder input (<c>ViTMAEDecoder.forward</c>): after <c>decoder_embed</c>, append <c>mask_token</c> for removed
    /// patches, unshuffle with <c>ids_restore</c> (CLS stays first) and add <c>decoder_pos_embed</c>:
    /// row 1 + l = (ids_restore[l] &lt; len_keep ? tokens[1 + ids_restore[l]] : mask_token) + pos[1 + l].
    /// </summary>
    /// <param name="tokens">[1 + len_keep, Dd] decoder_embed output.</param>
    /// <param name="maskToken">[Dd].</param>
    /// <param name="positions">[1 + L, Dd] decoder position table.</param>
    /// <param name="idsRestore">[L].</param>
    /// <param name="lenKeep">Patches kept.</param>
    /// <param name="hidden">[1 + L, Dd] receives the decoder input.</param>
    public static void Unshuffle(ReadOnlySpan<float> tokens, ReadOnlySpan<float> maskToken, ReadOnlySpan<float> positions, ReadOnlySpan<int> idsRestore, Span<float> hidden, int lenKeep)
    {
        int d = maskToken.Length;
        System.Numerics.Tensors.TensorPrimitives.Add(tokens[..d], positions[..d], hidden[..d]);
        for (int l = 0; l < idsRestore.Length; l++)
        {
            int r = idsRestore[l];
            ReadOnlySpan<float> source = r < lenKeep ? tokens.Slice((1 + r) * d, d) : maskToken;
            System.Numerics.Tensors.TensorPrimitives.Add(source, positions.Slice((1 + l) * d, d), hidden.Slice((1 + l) * d, d));
        }
    }

    /// <summary>
    /// A LayerNorm that also keeps each row's (mean, rstd) for the backward pass when <paramref name="stats"/> is not empty
    /// (a training forward), and computes the same y without them otherwise.
    /// </summary>
    public static void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> y, Span<float> stats, int rows, int dim, float eps,
        Threading.ComputePool? pool)
    {
        if (stats.IsEmpty)
        {
            Kernels.LayerNormKernel.Forward(x, gamma, beta, y, rows, dim, eps, pool);
        }
        else
        {
            Kernels.LayerNormKernel.Forward(x, gamma, beta, y, stats, rows, dim, eps, pool);
        }
    }

    /// <summary>Copies <paramref name="hidden"/> into entry <paramref name="index"/> of <paramref name="states"/> (nothing when not requested).</summary>
    public static void Record(ReadOnlySpan<float> hidden, Span<float> states, int index)
    {
        if (!states.IsEmpty)
        {
            hidden.CopyTo(states.Slice(index * hidden.Length, hidden.Length));
        }
    }

    /// <summary>Entry <paramref name="index"/> of size <paramref name="size"/> of an optional output (empty when not requested).</summary>
    public static Span<float> Entry(Span<float> output, int index, int size) => output.IsEmpty ? default : output.Slice(index * size, size);

    /// <summary>
    /// <c>ViTMAEForPreTraining.forward_loss</c> for a batch: per-patch mean squared error between
    /// <paramref name="logits"/> and the target (the patchified pixels, normalised per patch with the unbiased
    /// variance and eps 1e-6 when <paramref name="normPixLoss"/>), averaged over removed patches of the whole batch:
    /// <c>sum(mse · mask) / sum(mask)</c>. NaN when nothing is masked (0/0), as in Hugging Face. Accumulates in double.
    /// </summary>
    /// <param name="patches">[B·L, P] patchified pixel values.</param>
    /// <param name="logits">[B·L, P] predictions.</param>
    /// <param name="mask">[B·L] 1 for removed patches.</param>
    /// <param name="patchDim">P.</param>
    /// <param name="normPixLoss">Normalise each target patch.</param>
    public static float PixelLoss(ReadOnlySpan<float> patches, ReadOnlySpan<float> logits, ReadOnlySpan<float> mask, int patchDim, bool normPixLoss)
    {
        double weighted = 0, maskSum = 0;
        for (int n = 0; n < mask.Length; n++)
        {
            ReadOnlySpan<float> target = patches.Slice(n * patchDim, patchDim);
            ReadOnlySpan<float> pred = logits.Slice(n * patchDim, patchDim);
            double mean = 0, scale = 1;
            if (normPixLoss)
            {
                double sum = 0;
                for (int i = 0; i < patchDim; i++)
                {
                    sum += target[i];
                }

                mean = sum / patchDim;
                double sq = 0;
                for (int i = 0; i < patchDim; i++)
                {
                    double dv = target[i] - mean;
                    sq += dv * dv;
                }

                double variance = sq / (patchDim - 1); // torch.var: unbiased
                scale = 1.0 / Math.Sqrt(variance + 1e-6);
            }

            double se = 0;
            for (int i = 0; i < patchDim; i++)
            {
                double t = normPixLoss ? (target[i] - mean) * scale : target[i];
                double e = pred[i] - t;
                se += e * e;
            }

            weighted += se / patchDim * mask[n];
            maskSum += mask[n];
        }

        return (float)(weighted / maskSum);
    }
}
