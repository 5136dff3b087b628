// Linked into every project under tests/ (Directory.Build.targets): Hugging Face's ViTMAEForPreTraining state_dict
// keys and shapes, written out by hand from modeling_vit_mae.py, independently of the generator's WeightLayout
// (tests compare the two, and use this list to write random checkpoints).
using System.Collections.Generic;
using ViTMAE.Compiled.Configuration;

namespace ViTMAE.Compiled.TestSupport;

/// <summary>The tensors of a Hugging Face <c>ViTMAEForPreTraining</c> checkpoint.</summary>
internal static class HfCheckpointLayout
{
    /// <summary>Every tensor of a ViTMAEForPreTraining checkpoint for <paramref name="spec"/>: name → shape.</summary>
    public static IEnumerable<(string Name, int[] Shape)> PreTrainingTensors(ViTMAESpec spec)
    {
        int d = spec.HiddenSize, dd = spec.DecoderHiddenSize, n = spec.NumPatches;
        yield return ("vit.embeddings.cls_token", [1, 1, d]);
        yield return ("vit.embeddings.position_embeddings", [1, n + 1, d]);
        yield return ("vit.embeddings.patch_embeddings.projection.weight", [d, spec.NumChannels, spec.PatchSize, spec.PatchSize]);
        yield return ("vit.embeddings.patch_embeddings.projection.bias", [d]);
        for (int i = 0; i < spec.NumHiddenLayers; i++)
        {
            foreach (var t in Layer($"vit.encoder.layer.{i}", d, spec.IntermediateSize, spec.QkvBias))
            {
                yield return t;
            }
        }

        yield return ("vit.layernorm.weight", [d]);
        yield return ("vit.layernorm.bias", [d]);
        yield return ("decoder.decoder_embed.weight", [dd, d]);
        yield return ("decoder.decoder_embed.bias", [dd]);
        yield return ("decoder.mask_token", [1, 1, dd]);
        yield return ("decoder.decoder_pos_embed", [1, n + 1, dd]);
        for (int i = 0; i < spec.DecoderNumHiddenLayers; i++)
        {
            foreach (var t in Layer($"decoder.decoder_layers.{i}", dd, spec.DecoderIntermediateSize, spec.QkvBias))
            {
                yield return t;
            }
        }

        yield return ("decoder.decoder_norm.weight", [dd]);
        yield return ("decoder.decoder_norm.bias", [dd]);
        yield return ("decoder.decoder_pred.weight", [spec.PatchDim, dd]);
        yield return ("decoder.decoder_pred.bias", [spec.PatchDim]);
    }

    private static IEnumerable<(string, int[])> Layer(string p, int d, int inter, bool qkvBias)
    {
        foreach (string proj in new[] { "query", "key", "value" })
        {
            yield return ($"{p}.attention.attention.{proj}.weight", [d, d]);
            if (qkvBias)
            {
                yield return ($"{p}.attention.attention.{proj}.bias", [d]);
            }
        }

        yield return ($"{p}.attention.output.dense.weight", [d, d]);
        yield return ($"{p}.attention.output.dense.bias", [d]);
        yield return ($"{p}.intermediate.dense.weight", [inter, d]);
        yield return ($"{p}.intermediate.dense.bias", [inter]);
        yield return ($"{p}.output.dense.weight", [d, inter]);
        yield return ($"{p}.output.dense.bias", [d]);
        yield return ($"{p}.layernorm_before.weight", [d]);
        yield return ($"{p}.layernorm_before.bias", [d]);
        yield return ($"{p}.layernorm_after.weight", [d]);
        yield return ($"{p}.layernorm_after.bias", [d]);
    }
}
