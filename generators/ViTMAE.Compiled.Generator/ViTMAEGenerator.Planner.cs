using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Generator.Model;

namespace ViTMAE.Compiled.Generator
{
    /// <summary>
    /// Spec → plan: the shapes of every step of ViTMAEForPreTraining's forward pass for one image, and a static
    /// buffer table whose buffers share memory when their live ranges do not overlap. Pure function of the spec.
    /// </summary>
    internal static class ViTMAEPlanner
    {
        /// <summary>Buffers start on 64-byte boundaries (16 floats), for any batch size.</summary>
        internal const int AlignmentFloats = 16;

        /// <summary>Plans the config's resolution and then each extra (height, width), skipping duplicates.</summary>
        public static ViTMAEPlan Plan(ViTMAESpec spec, IEnumerable<(int Height, int Width)>? extraResolutions = null)
        {
            var sizes = new List<(int Height, int Width)> { (spec.ImageHeight, spec.ImageWidth) };
            foreach ((int h, int w) in extraResolutions ?? Array.Empty<(int, int)>())
            {
                if (!sizes.Contains((h, w)))
                {
                    sizes.Add((h, w));
                }
            }

            return new ViTMAEPlan(spec, new EquatableArray<ResolutionPlan>(sizes.Select(s => PlanResolution(spec, s.Height, s.Width))));
        }

        /// <summary>The plan of one input resolution (which must be divisible by the patch size).</summary>
        public static ResolutionPlan PlanResolution(ViTMAESpec spec, int height, int width)
        {
            int gh = height / spec.PatchSize, gw = width / spec.PatchSize;
            int l = gh * gw;
            int keep = ViTMAESpec.KeptPatches(l, spec.MaskRatio);
            int t = 1 + keep;
            int td = 1 + l;
            int p = spec.PatchDim;
            int d = spec.HiddenSize;
            int dd = spec.DecoderHiddenSize;
            int n = spec.NumHiddenLayers;
            int m = spec.DecoderNumHiddenLayers;
            string act = spec.HiddenAct;

            var gemms = new List<GemmShape>
            {
                new GemmShape("patch_embeddings", PlanStage.Embeddings, l, d, p, 1, "bias + position embedding"),
                new GemmShape("encoder.qkv", PlanStage.Encoder, t, 3 * d, d, n, spec.QkvBias ? "fused Q|K|V, bias" : "fused Q|K|V"),
                new GemmShape("encoder.attention.scores", PlanStage.Encoder, t, t, spec.HeadDim, n * spec.NumAttentionHeads, "scale, softmax"),
                new GemmShape("encoder.attention.context", PlanStage.Encoder, t, spec.HeadDim, t, n * spec.NumAttentionHeads, "head_mask"),
                new GemmShape("encoder.attention.output", PlanStage.Encoder, t, d, d, n, "bias + residual"),
                new GemmShape("encoder.intermediate", PlanStage.Encoder, t, spec.IntermediateSize, d, n, "bias + " + act),
                new GemmShape("encoder.output", PlanStage.Encoder, t, d, spec.IntermediateSize, n, "bias + residual"),
                new GemmShape("decoder_embed", PlanStage.Decoder, t, dd, d, 1, "bias"),
                new GemmShape("decoder.qkv", PlanStage.Decoder, td, 3 * dd, dd, m, spec.QkvBias ? "fused Q|K|V, bias" : "fused Q|K|V"),
                new GemmShape("decoder.attention.scores", PlanStage.Decoder, td, td, spec.DecoderHeadDim, m * spec.DecoderNumAttentionHeads, "scale, softmax"),
                new GemmShape("decoder.attention.context", PlanStage.Decoder, td, spec.DecoderHeadDim, td, m * spec.DecoderNumAttentionHeads, "head_mask"),
                new GemmShape("decoder.attention.output", PlanStage.Decoder, td, dd, dd, m, "bias + residual"),
                new GemmShape("decoder.intermediate", PlanStage.Decoder, td, spec.DecoderIntermediateSize, dd, m, "bias + " + act),
                new GemmShape("decoder.output", PlanStage.Decoder, td, dd, spec.DecoderIntermediateSize, m, "bias + residual"),
                new GemmShape("decoder_pred", PlanStage.Decoder, l, p, dd, 1, "bias, CLS row skipped"),
            };

            // Steps of the forward pass, in order; a buffer lives from the first to the last step that touches it.
            int patchify = 0, embed = 1, mask = 2, encFirst = 3, encLast = 3 + n - 1, finalNorm = 3 + n;
            int decEmbed = finalNorm + 1, unshuffle = decEmbed + 1, decFirst = unshuffle + 1, decLast = decFirst + m - 1;
            int decNorm = decLast + 1, pred = decNorm + 1, loss = pred + 1;

            var slots = new List<BufferSlot>
            {
                Slot("patches", l, p, patchify, loss),
                Slot("embeddings", l, d, embed, mask),
                Slot("mask", l, 1, mask, loss),
                Slot("hidden", t, d, mask, finalNorm),
                Slot("encoder_norm", t, d, encFirst, encLast),
                Slot("encoder_qkv", t, 3 * d, encFirst, encLast),
                Slot("encoder_context", t, d, encFirst, encLast),
                Slot("encoder_mlp", t, spec.IntermediateSize, encFirst, encLast),
                Slot("last_hidden_state", t, d, finalNorm, loss),
                Slot("decoder_tokens", t, dd, decEmbed, unshuffle),
                Slot("decoder_hidden", td, dd, unshuffle, decNorm),
                Slot("decoder_norm", td, dd, decFirst, pred),
                Slot("decoder_qkv", td, 3 * dd, decFirst, decLast),
                Slot("decoder_context", td, dd, decFirst, decLast),
                Slot("decoder_mlp", td, spec.DecoderIntermediateSize, decFirst, decLast),
                Slot("logits", l, p, pred, loss),
            };

            List<BufferSlot> placed = Place(slots);
            int arena = placed.Count == 0 ? 0 : placed.Max(s => s.OffsetPerImage + RoundUp(s.FloatsPerImage));
            return new ResolutionPlan(height, width, gh, gw, keep, new EquatableArray<GemmShape>(gemms), new EquatableArray<BufferSlot>(placed), arena);
        }

        /// <summary>
        /// Greedy first-fit placement, largest buffer first: each buffer goes to the lowest aligned offset where it
        /// does not collide with an already placed buffer that is alive at the same time. Output is in table order.
        /// </summary>
        internal static List<BufferSlot> Place(IReadOnlyList<BufferSlot> slots)
        {
            var order = slots.Select((s, i) => (Slot: s, Index: i))
                .OrderByDescending(x => x.Slot.FloatsPerImage).ThenBy(x => x.Index).ToList();
            var result = new BufferSlot[slots.Count];
            var done = new List<BufferSlot>();
            foreach ((BufferSlot slot, int index) in order)
            {
                var conflicts = done.Where(o => o.Overlaps(slot)).OrderBy(o => o.OffsetPerImage).ToList();
                int offset = 0;
                foreach (BufferSlot other in conflicts)
                {
                    int otherEnd = other.OffsetPerImage + RoundUp(other.FloatsPerImage);
                    if (offset + RoundUp(slot.FloatsPerImage) <= other.OffsetPerImage)
                    {
                        break;
                    }

                    offset = Math.Max(offset, otherEnd);
                }

                BufferSlot placedSlot = slot with { OffsetPerImage = offset };
                result[index] = placedSlot;
                done.Add(placedSlot);
            }

            return result.ToList();
        }

        private static BufferSlot Slot(string name, int rows, int cols, int first, int last) =>
            new BufferSlot(name, "[" + rows.ToString(CultureInfo.InvariantCulture) + ", " + cols.ToString(CultureInfo.InvariantCulture) + "]", rows * cols, first, last, 0);

        private static int RoundUp(int floats) => (floats + AlignmentFloats - 1) / AlignmentFloats * AlignmentFloats;
    }
}
