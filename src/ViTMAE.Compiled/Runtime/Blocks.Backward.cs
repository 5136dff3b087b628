using System;
using System.Numerics.Tensors;

namespace ViTMAE.Compiled.Runtime;

// The backward of the non-GEMM steps between the layers: each reverses one forward method of Blocks, with the same
// layouts. Gradients of parameters are added to (a training step accumulates over images and micro-batches); gradients
// of activations are overwritten.
public static partial class Blocks
{
    /// <summary>
    /// The gradient of <see cref="PixelLoss"/> for a batch, times <paramref name="scale"/>: with S = Σ mask over the batch,
    /// ∂loss/∂logits[n, i] = mask[n] · 2 · (logits[n, i] − target[n, i]) / (P · S). Written into the decoder's row layout
    /// [B, 1 + L, P] (row 0 of each image, the CLS token, has no prediction: zero), so that decoder_pred's backward runs
    /// over every decoder row at once. When <paramref name="dPatches"/> is not empty it receives the gradient that flows to
    /// the pixels through the target (−∂loss/∂logits, through the per-patch normalisation when
    /// <paramref name="normPixLoss"/>): Hugging Face's target is a differentiable function of <c>pixel_values</c>.
    /// </summary>
    /// <param name="patches">[B·L, P] patchified pixel values (the target before normalisation).</param>
    /// <param name="logits">[B·L, P] predictions.</param>
    /// <param name="mask">[B·L] 1 for removed patches.</param>
    /// <param name="dLogits">[B, 1 + L, P] receives ∂loss/∂logits (CLS rows zero).</param>
    /// <param name="dPatches">[B·L, P] receives the target's share of ∂loss/∂patches, or empty.</param>
    /// <param name="patchCount">L, patches per image.</param>
    /// <param name="patchDim">P.</param>
    /// <param name="normPixLoss">The target is normalised per patch (unbiased variance, eps 1e-6).</param>
    /// <param name="scale">Multiplies every gradient (1 / micro-batches when gradients are accumulated).</param>
    /// <exception cref="ArgumentException">A span is shorter than its shape, or no patch is masked (the loss is 0/0).</exception>
    public static void PixelLossBackward(ReadOnlySpan<float> patches, ReadOnlySpan<float> logits, ReadOnlySpan<float> mask, Span<float> dLogits, Span<float> dPatches,
        int patchCount, int patchDim, bool normPixLoss, float scale)
    {
        int rows = mask.Length;
        if (patchCount <= 0 || rows % patchCount != 0 || patches.Length < rows * patchDim || logits.Length < rows * patchDim ||
            dLogits.Length < (rows + (rows / patchCount)) * patchDim || (!dPatches.IsEmpty && dPatches.Length < rows * patchDim))
        {
            throw new ArgumentException($"pixel loss backward of {rows} patches x {patchDim} values (L = {patchCount}): a span is too short");
        }

        double maskSum = 0;
        for (int n = 0; n < rows; n++)
        {
            maskSum += mask[n];
        }

        if (maskSum == 0)
        {
            throw new ArgumentException("no patch is masked: the pixel loss is 0/0 (NaN) and has no gradient; training needs mask_ratio > 0 with at least one removed patch");
        }

        double coefficient = 2.0 * scale / (patchDim * maskSum);
        for (int n = 0; n < rows; n++)
        {
            int image = n / patchCount, l = n % patchCount;
            if (l == 0)
            {
                dLogits.Slice(image * (patchCount + 1) * patchDim, patchDim).Clear();
            }

            ReadOnlySpan<float> target = patches.Slice(n * patchDim, patchDim);
            ReadOnlySpan<float> pred = logits.Slice(n * patchDim, patchDim);
            Span<float> dPred = dLogits.Slice(((image * (patchCount + 1)) + 1 + l) * patchDim, patchDim);
            Span<float> dTarget = dPatches.IsEmpty ? default : dPatches.Slice(n * patchDim, patchDim);
            double weight = coefficient * mask[n];
            if (!normPixLoss)
            {
                for (int i = 0; i < patchDim; i++)
                {
                    dPred[i] = (float)(weight * (pred[i] - (double)target[i]));
                }

                if (!dTarget.IsEmpty)
                {
                    for (int i = 0; i < patchDim; i++)
                    {
                        dTarget[i] = -dPred[i];
                    }
                }

                continue;
            }

            // The normalised target y = (x − mean) / s with s = sqrt(var_unbiased + 1e-6), exactly as the forward computes it.
            (double mean, double invStd) = PatchStatistics(target);
            double dotTarget = 0, sumTarget = 0;
            for (int i = 0; i < patchDim; i++)
            {
                double y = (target[i] - mean) * invStd;
                double g = weight * (pred[i] - y);
                dPred[i] = (float)g;

                // ∂loss/∂y = −g: accumulate what the normalisation's backward needs.
                sumTarget -= g;
                dotTarget -= g * y;
            }

            if (dTarget.IsEmpty)
            {
                continue;
            }

            // dx_j = (1/s)·(dy_j − mean(dy) − y_j·Σ_i dy_i·y_i / (P − 1)).
            double meanDy = sumTarget / patchDim, projection = dotTarget / (patchDim - 1);
            for (int i = 0; i < patchDim; i++)
            {
                double y = (target[i] - mean) * invStd;
                double dy = -weight * (pred[i] - y);
                dTarget[i] = (float)(invStd * (dy - meanDy - (y * projection)));
            }
        }
    }

    /// <summary>The mean and 1 / sqrt(unbiased variance + 1e-6) of one target patch, in double (norm_pix_loss).</summary>
    private static (double Mean, double InvStd) PatchStatistics(ReadOnlySpan<float> target)
    {
        double sum = 0;
        for (int i = 0; i < target.Length; i++)
        {
            sum += target[i];
        }

        double mean = sum / target.Length;
        double sq = 0;
        for (int i = 0; i < target.Length; i++)
        {
            double dv = target[i] - mean;
            sq += dv * dv;
        }

        return (mean, 1.0 / Math.Sqrt((sq / (target.Length - 1)) + 1e-6));
    }

    /// <summary>
    /// The backward of <see cref="GatherKept"/> for one image: <paramref name="dEmbeddings"/> row <c>idsShuffle[j]</c> =
    /// <paramref name="dHidden"/> row 1 + j for the kept patches, zero for the removed ones; the CLS row's gradient is added
    /// to <paramref name="dClsToken"/> (its position row is frozen).
    /// </summary>
    /// <param name="dHidden">[1 + len_keep, D] gradient of the encoder input.</param>
    /// <param name="idsShuffle">[L] as in the forward.</param>
    /// <param name="dEmbeddings">[L, D] receives the gradient of the patch embeddings (plus positions).</param>
    /// <param name="dClsToken">[D], added to.</param>
    /// <param name="lenKeep">Patches kept.</param>
    public static void GatherKeptBackward(ReadOnlySpan<float> dHidden, ReadOnlySpan<int> idsShuffle, Span<float> dEmbeddings, Span<float> dClsToken, int lenKeep)
    {
        int d = dClsToken.Length;
        TensorPrimitives.Add(dClsToken, dHidden[..d], dClsToken);
        dEmbeddings[..(idsShuffle.Length * d)].Clear();
        for (int j = 0; j < lenKeep; j++)
        {
            dHidden.Slice((1 + j) * d, d).CopyTo(dEmbeddings.Slice(idsShuffle[j] * d, d));
        }
    }

    /// <summary>
    /// The backward of <see cref="Unshuffle"/> for one image: <paramref name="dTokens"/> row 0 = <paramref name="dHidden"/>
    /// row 0; row 1 + r = row 1 + l of <paramref name="dHidden"/> where r = ids_restore[l] &lt; len_keep; the rows of removed
    /// patches are added to <paramref name="dMaskToken"/> (the decoder position table is frozen).
    /// </summary>
    /// <param name="dHidden">[1 + L, Dd] gradient of the decoder input.</param>
    /// <param name="idsRestore">[L] as in the forward.</param>
    /// <param name="dTokens">[1 + len_keep, Dd] receives the gradient of decoder_embed's output.</param>
    /// <param name="dMaskToken">[Dd], added to.</param>
    /// <param name="lenKeep">Patches kept.</param>
    public static void UnshuffleBackward(ReadOnlySpan<float> dHidden, ReadOnlySpan<int> idsRestore, Span<float> dTokens, Span<float> dMaskToken, int lenKeep)
    {
        int d = dMaskToken.Length;
        dHidden[..d].CopyTo(dTokens[..d]);
        for (int l = 0; l < idsRestore.Length; l++)
        {
            int r = idsRestore[l];
            ReadOnlySpan<float> row = dHidden.Slice((1 + l) * d, d);
            if (r < lenKeep)
            {
                row.CopyTo(dTokens.Slice((1 + r) * d, d));
            }
            else
            {
                TensorPrimitives.Add(dMaskToken, row, dMaskToken);
            }
        }
    }
}
