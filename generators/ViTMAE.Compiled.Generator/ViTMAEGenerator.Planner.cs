using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Generator.Model;

namespace ViTMAE.Compiled.Generator
{
    /// <summary>
    /// Spec → plan: the steps of ViTMAEForPreTraining's forward pass for one image (each with its shapes, FLOPs and the
    /// buffers it touches), and a static buffer table whose buffers share memory when their live ranges, read off the
    /// steps, do not overlap. Pure function of the spec.
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
            LayerPlan encoder = Layer("encoder", PlanStage.Encoder, t, d, spec.NumAttentionHeads, spec.IntermediateSize, spec.HiddenAct, Buffers.Hidden, spec.QkvBias);
            LayerPlan decoder = Layer("decoder", PlanStage.Decoder, td, dd, spec.DecoderNumAttentionHeads, spec.DecoderIntermediateSize, spec.HiddenAct, Buffers.DecoderHidden, spec.QkvBias);

            // The forward pass of ViTMAEForPreTraining for one image, in order. ViTMAEModel is the steps up to the final
            // LayerNorm. Every emitted call, the FLOP count and the buffer table come from this list.
            var steps = new List<Step>
            {
                new PatchifyStep(l, p),
                new LinearStep("patch_embeddings", PlanStage.Embeddings, "PatchEmbedding", Buffers.Patches, Buffers.Embeddings, l, d, p, LinearEpilogue.None, "", "the stride-" + I(spec.PatchSize) + " convolution"),
                new AddPositionsStep(l, d),
                new MaskingStep(l, keep),
                new GatherKeptStep(t, d),
                new LayerStackStep("encoder", PlanStage.Encoder, spec.NumHiddenLayers, encoder),
                new LayerNormStep("layernorm", PlanStage.Encoder, "Norm", Buffers.Hidden, Buffers.LastHiddenState, t, d),
                new LinearStep("decoder_embed", PlanStage.Decoder, "DecoderEmbed", Buffers.LastHiddenState, Buffers.DecoderTokens, t, dd, d, LinearEpilogue.None, "", ""),
                new UnshuffleStep(td, dd),
                new LayerStackStep("decoder", PlanStage.Decoder, spec.DecoderNumHiddenLayers, decoder),
                new LayerNormStep("decoder_norm", PlanStage.Decoder, "DecoderNorm", Buffers.DecoderHidden, Buffers.DecoderNorm, td, dd),
                new LinearStep("decoder_pred", PlanStage.Decoder, "DecoderPred", Buffers.DecoderNorm, Buffers.Logits, l, p, dd, LinearEpilogue.None, "", "CLS row skipped"),
                new LossStep(l, p, spec.NormPixLoss),
            };

            // Buffer shapes (per image), and live ranges from the steps that touch them. The call's outputs
            // (last_hidden_state, mask, logits) are views the caller reads after the call: they live to the last step.
            var shapes = new (string Name, int Rows, int Cols)[]
            {
                (Buffers.Patches, l, p),
                (Buffers.Embeddings, l, d),
                (Buffers.Mask, l, 1),
                (Buffers.Hidden, t, d),
                (encoder.Norm, t, d),
                (encoder.Qkv, t, 3 * d),
                (encoder.Context, t, d),
                (encoder.Mlp, t, spec.IntermediateSize),
                (Buffers.LastHiddenState, t, d),
                (Buffers.DecoderTokens, t, dd),
                (Buffers.DecoderHidden, td, dd),
                (decoder.Norm, td, dd),
                (decoder.Qkv, td, 3 * dd),
                (decoder.Context, td, dd),
                (decoder.Mlp, td, spec.DecoderIntermediateSize),
                (Buffers.DecoderNorm, td, dd),
                (Buffers.Logits, l, p),
            };
            var outputs = new[] { Buffers.LastHiddenState, Buffers.Mask, Buffers.Logits };
            var slots = new List<BufferSlot>();
            foreach ((string name, int rows, int cols) in shapes)
            {
                int first = steps.FindIndex(s => s.Touches.Contains(name));
                int last = Array.IndexOf(outputs, name) >= 0 ? steps.Count - 1 : steps.FindLastIndex(s => s.Touches.Contains(name));
                slots.Add(new BufferSlot(name, rows, cols, first, last, 0));
            }

            List<BufferSlot> placed = Place(slots);
            int arena = placed.Count == 0 ? 0 : placed.Max(s => s.OffsetPerImage + RoundUp(s.FloatsPerImage));
            TrainingPlan training = PlanTraining(spec, steps, l, t, td, p, d, dd, encoder, decoder);
            return new ResolutionPlan(height, width, gh, gw, keep, new EquatableArray<Step>(steps), new EquatableArray<BufferSlot>(placed), arena, training);
        }

        /// <summary>
        /// The training arena: what each step's backward needs kept from the forward, and the gradients flowing back. Live ranges
        /// are in a timeline of 2·F steps: forward step i at i, its backward at 2·F − 1 − i.
        /// </summary>
        private static TrainingPlan PlanTraining(ViTMAESpec spec, List<Step> steps, int l, int t, int td, int p, int d, int dd, LayerPlan encoder, LayerPlan decoder)
        {
            int f = steps.Count;
            int Fwd(string name) => steps.FindIndex(s => s.Name == name);
            int Bwd(string name) => (2 * f) - 1 - Fwd(name);
            LayerBlockLayout encoderBlock = Block(encoder), decoderBlock = Block(decoder);
            int encoderStack = (spec.NumHiddenLayers * encoderBlock.Stride) + RoundUp(t * d);
            int decoderStack = (spec.DecoderNumHiddenLayers * decoderBlock.Stride) + RoundUp(td * dd);

            // (name, rows, cols, first, last): saved activations live from the forward step that writes them to the backward step
            // that last reads them; gradients from the backward step that writes them to the one that consumes them.
            var slots = new List<BufferSlot>
            {
                Slot(Buffers.Patches, l, p, Fwd("patchify"), Bwd("patch_embeddings")),
                Slot(Buffers.Embeddings, l, d, Fwd("patch_embeddings"), Fwd("gather_kept")),
                Slot(Buffers.Mask, l, 1, Fwd("random_masking"), Bwd("loss")),
                Slot(TrainingBuffers.EncoderLayers, 1, encoderStack, Fwd("gather_kept"), Bwd("encoder")),
                Slot(TrainingBuffers.FinalStats, t, 2, Fwd("layernorm"), Bwd("layernorm")),
                Slot(Buffers.LastHiddenState, t, d, Fwd("layernorm"), Bwd("decoder_embed")),
                Slot(Buffers.DecoderTokens, t, dd, Fwd("decoder_embed"), Fwd("unshuffle")),
                Slot(TrainingBuffers.DecoderLayers, 1, decoderStack, Fwd("unshuffle"), Bwd("decoder")),
                Slot(Buffers.DecoderNorm, td, dd, Fwd("decoder_norm"), Bwd("decoder_pred")),
                Slot(TrainingBuffers.DecoderNormStats, td, 2, Fwd("decoder_norm"), Bwd("decoder_norm")),
                Slot(Buffers.Logits, l, p, Fwd("decoder_pred"), Bwd("loss")),
                Slot(TrainingBuffers.DLogits, td, p, Bwd("loss"), Bwd("decoder_pred")), // decoder rows: the CLS row is zero
                Slot(TrainingBuffers.DDecoderNorm, td, dd, Bwd("decoder_pred"), Bwd("decoder_norm")),
                Slot(TrainingBuffers.DecoderResidualGrad, td, dd, Bwd("decoder_norm"), Bwd("unshuffle")),
                Slot(TrainingBuffers.DecoderNormGrad, td, dd, Bwd("decoder"), Bwd("decoder")),
                Slot(TrainingBuffers.DecoderQkvGrad, td, 3 * dd, Bwd("decoder"), Bwd("decoder")),
                Slot(TrainingBuffers.DecoderContextGrad, td, dd, Bwd("decoder"), Bwd("decoder")),
                Slot(TrainingBuffers.DecoderMlpGrad, td, spec.DecoderIntermediateSize, Bwd("decoder"), Bwd("decoder")),
                Slot(TrainingBuffers.DDecoderTokens, t, dd, Bwd("unshuffle"), Bwd("decoder_embed")),
                Slot(TrainingBuffers.DLastHiddenState, t, d, Bwd("decoder_embed"), Bwd("layernorm")),
                Slot(TrainingBuffers.EncoderResidualGrad, t, d, Bwd("layernorm"), Bwd("gather_kept")),
                Slot(TrainingBuffers.EncoderNormGrad, t, d, Bwd("encoder"), Bwd("encoder")),
                Slot(TrainingBuffers.EncoderQkvGrad, t, 3 * d, Bwd("encoder"), Bwd("encoder")),
                Slot(TrainingBuffers.EncoderContextGrad, t, d, Bwd("encoder"), Bwd("encoder")),
                Slot(TrainingBuffers.EncoderMlpGrad, t, spec.IntermediateSize, Bwd("encoder"), Bwd("encoder")),
                Slot(TrainingBuffers.DEmbeddings, l, d, Bwd("gather_kept"), Bwd("patch_embeddings")),
                Slot(TrainingBuffers.DPatches, l, p, Bwd("loss"), Bwd("patchify")),
            };

            List<BufferSlot> placed = Place(slots);
            int arena = placed.Max(s => s.OffsetPerImage + RoundUp(s.FloatsPerImage));

            // Backward FLOPs: every Linear costs twice its forward (input and weight gradients), attention twice its forward
            // products (dV, dP, dQ, dK); the patch projection needs only its weight gradient (its input gradient is computed
            // for pixel gradients alone).
            long backward = (2 * steps.Sum(s => s.Flops)) - steps.First(s => s.Name == "patch_embeddings").Flops;
            return new TrainingPlan(new EquatableArray<BufferSlot>(placed), arena, encoderBlock, decoderBlock, backward);
        }

        /// <summary>One layer's saved values, one after the other, each on a 64-byte boundary.</summary>
        private static LayerBlockLayout Block(LayerPlan layer)
        {
            int t = layer.Tokens, d = layer.Hidden;
            int offset = 0;
            int Next(int floats)
            {
                int at = offset;
                offset += RoundUp(floats);
                return at;
            }

            int x = Next(t * d), stats1 = Next(t * 2), norm1 = Next(t * d), qkv = Next(t * 3 * d), probs = Next(layer.Heads * t * t);
            int context = Next(t * d), xMid = Next(t * d), stats2 = Next(t * 2), norm2 = Next(t * d), pre = Next(t * layer.Intermediate);
            int post = Next(t * layer.Intermediate);
            return new LayerBlockLayout(offset, x, stats1, norm1, qkv, probs, context, xMid, stats2, norm2, pre, post, offset);
        }

        private static BufferSlot Slot(string name, int rows, int cols, int first, int last) => new BufferSlot(name, rows, cols, first, last, 0);

        /// <summary>
        /// The steps of one pre-LN layer (<c>ViTMAELayer</c>): x += Wo·Attn(LN_before(x)); x += W2·act(W1·LN_after(x)).
        /// The encoder and the decoder use the same steps at their own shapes and buffers.
        /// </summary>
        private static LayerPlan Layer(string prefix, PlanStage stage, int tokens, int hidden, int heads, int intermediate, string activation, string x, bool qkvBias)
        {
            string norm = prefix + "_layer_norm", qkv = prefix + "_qkv", context = prefix + "_context", mlp = prefix + "_mlp";
            var steps = new Step[]
            {
                new LayerNormStep(prefix + ".layernorm_before", stage, "LayerNormBefore", x, norm, tokens, hidden),
                new LinearStep(prefix + ".qkv", stage, "Qkv", norm, qkv, tokens, 3 * hidden, hidden, LinearEpilogue.None, "", qkvBias ? "query|key|value fused" : "query|key|value fused, no bias"),
                new AttentionStep(prefix + ".attention", stage, qkv, context, tokens, heads, hidden / heads),
                new LinearStep(prefix + ".attention.output", stage, "AttentionOutput", context, x, tokens, hidden, hidden, LinearEpilogue.Accumulate, "", ""),
                new LayerNormStep(prefix + ".layernorm_after", stage, "LayerNormAfter", x, norm, tokens, hidden),
                new LinearStep(prefix + ".intermediate", stage, "Intermediate", norm, mlp, tokens, intermediate, hidden, LinearEpilogue.Activation, activation, ""),
                new LinearStep(prefix + ".output", stage, "Output", mlp, x, tokens, hidden, intermediate, LinearEpilogue.Accumulate, "", ""),
            };
            return new LayerPlan(prefix, tokens, hidden, heads, hidden / heads, intermediate, activation, x, norm, qkv, context, mlp, new EquatableArray<Step>(steps));
        }

        private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

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

        private static int RoundUp(int floats) => (floats + AlignmentFloats - 1) / AlignmentFloats * AlignmentFloats;
    }
}
