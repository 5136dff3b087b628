extern alias Gen;

using System.Linq;
using Gen::ViTMAE.Compiled.Generator;
using Gen::ViTMAE.Compiled.Generator.Model;
using GenSpec = Gen::ViTMAE.Compiled.Configuration.ViTMAESpec;

namespace ViTMAE.Compiled.Generator.Tests;

/// <summary>The planner is pure data: check token counts, FLOPs and the buffer table without Roslyn.</summary>
public class PlanTests
{
    [Fact]
    public void Vit_mae_base_token_counts_and_flops()
    {
        ResolutionPlan plan = ViTMAEPlanner.Plan(new GenSpec()).Default;
        Assert.Equal((196, 49, 50, 197), (plan.NumPatches, plan.LenKeep, plan.EncoderTokens, plan.DecoderTokens));

        // ViTMAEModel masked ≈ 8.8 GFLOP, ViTMAEForPreTraining ≈ 19.6 GFLOP (../shared/DESIGN.md §3), computed by hand here:
        long perLayer = 2L * 50 * 768 * (3 * 768 + 768 + 3072 + 3072) + 2L * 2 * 50 * 50 * 768;
        long encoder = 2L * 196 * 768 * 768 + 12 * perLayer;
        Assert.Equal(encoder, plan.ModelFlops);
        long decoderLayer = 2L * 197 * 512 * (3 * 512 + 512 + 2048 + 2048) + 2L * 2 * 197 * 197 * 512;
        long decoder = 2L * 50 * 512 * 768 + 8 * decoderLayer + 2L * 196 * 768 * 512;
        Assert.Equal(encoder + decoder, plan.PreTrainingFlops);
        Assert.InRange(plan.ModelFlops / 1e9, 8.7, 8.9);
        Assert.InRange(plan.PreTrainingFlops / 1e9, 19.3, 19.9);
    }

    [Fact]
    public void Buffers_alive_at_the_same_step_never_overlap_in_memory()
    {
        foreach (GenSpec spec in new[] { new GenSpec(), new GenSpec { HiddenSize = 96, NumAttentionHeads = 6, IntermediateSize = 200, ImageHeight = 48, ImageWidth = 48, MaskRatio = 0.6 } })
        {
            ResolutionPlan plan = ViTMAEPlanner.Plan(spec).Default;
            BufferSlot[] slots = plan.Buffers.ToArray();
            for (int i = 0; i < slots.Length; i++)
            {
                Assert.Equal(0, slots[i].OffsetPerImage % ViTMAEPlanner.AlignmentFloats);
                Assert.True(slots[i].OffsetPerImage + slots[i].FloatsPerImage <= plan.ArenaFloatsPerImage);
                for (int j = i + 1; j < slots.Length; j++)
                {
                    if (!slots[i].Overlaps(slots[j]))
                    {
                        continue;
                    }

                    bool disjoint = slots[i].OffsetPerImage + slots[i].FloatsPerImage <= slots[j].OffsetPerImage ||
                                    slots[j].OffsetPerImage + slots[j].FloatsPerImage <= slots[i].OffsetPerImage;
                    Assert.True(disjoint, $"{slots[i].Name} and {slots[j].Name} are alive together but share memory");
                }
            }

            // Reuse pays: the arena is smaller than the sum of all buffers.
            Assert.True(plan.ArenaFloatsPerImage < slots.Sum(s => s.FloatsPerImage));
        }
    }

    [Fact]
    public void Every_buffer_a_step_touches_is_alive_at_that_step()
    {
        foreach (GenSpec spec in new[] { new GenSpec(), new GenSpec { NormPixLoss = true, MaskRatio = 0.0, NumHiddenLayers = 1, DecoderNumHiddenLayers = 3 } })
        {
            ResolutionPlan plan = ViTMAEPlanner.Plan(spec).Default;
            var slots = plan.Buffers.ToDictionary(b => b.Name);
            for (int i = 0; i < plan.Steps.Count; i++)
            {
                foreach (string buffer in plan.Steps[i].Touches)
                {
                    Assert.True(slots.ContainsKey(buffer), $"step {i} ({plan.Steps[i].Name}) touches '{buffer}', which has no slot");
                    Assert.InRange(i, slots[buffer].FirstStep, slots[buffer].LastStep);
                }
            }

            // Every slot is touched by some step (no dead entries in the table), and the outputs live to the end.
            Assert.All(plan.Buffers, b => Assert.Contains(plan.Steps, s => s.Touches.Contains(b.Name)));
            foreach (string output in new[] { "last_hidden_state", "mask", "logits" })
            {
                Assert.Equal(plan.Steps.Count - 1, slots[output].LastStep);
            }
        }
    }

    [Fact]
    public void Flops_are_the_sum_of_the_steps_and_the_layer_plan_is_shared_by_both_stacks()
    {
        ResolutionPlan plan = ViTMAEPlanner.Plan(new GenSpec()).Default;
        Assert.Equal(plan.Steps.Sum(s => s.Flops), plan.PreTrainingFlops);
        LayerPlan encoder = plan.Encoder.Layer, decoder = plan.Decoder.Layer;
        Assert.Equal(encoder.Steps.Select(s => s.GetType()), decoder.Steps.Select(s => s.GetType()));
        Assert.Equal(12, plan.Encoder.Count);
        Assert.Equal(8, plan.Decoder.Count);
        Assert.Equal((50, 768, 12, 64, 3072), (encoder.Tokens, encoder.Hidden, encoder.Heads, encoder.HeadDim, encoder.Intermediate));
        Assert.Equal((197, 512, 16, 32, 2048), (decoder.Tokens, decoder.Hidden, decoder.Heads, decoder.HeadDim, decoder.Intermediate));
    }

    [Fact]
    public void Extra_resolutions_get_their_own_plan_and_the_arena_fits_the_largest()
    {
        var spec = new GenSpec { HiddenSize = 64, NumAttentionHeads = 4, IntermediateSize = 128, ImageHeight = 32, ImageWidth = 32, PatchSize = 8,
            DecoderHiddenSize = 32, DecoderNumAttentionHeads = 4, DecoderIntermediateSize = 64, NumHiddenLayers = 2, DecoderNumHiddenLayers = 2 };
        ViTMAEPlan plan = ViTMAEPlanner.Plan(spec, new[] { (32, 48), (32, 32), (32, 48) });
        Assert.Equal(new[] { "32x32", "32x48" }, plan.Resolutions.Select(r => r.Name));
        ResolutionPlan wide = plan.Resolutions[1];
        Assert.Equal((4, 6, 24, 6, 7, 25), (wide.GridHeight, wide.GridWidth, wide.NumPatches, wide.LenKeep, wide.EncoderTokens, wide.DecoderTokens)); // golden tiny-interp: len_keep 6
        Assert.Equal(wide.ArenaFloatsPerImage, plan.ArenaFloatsPerImage);
        Assert.True(plan.Resolutions[0].ArenaFloatsPerImage < wide.ArenaFloatsPerImage);
    }

    [Fact]
    public void Placement_reuses_memory_of_dead_buffers()
    {
        var placed = ViTMAEPlanner.Place(new[]
        {
            new BufferSlot("a", 1, 16, 0, 1, 0),
            new BufferSlot("b", 1, 16, 2, 3, 0),
            new BufferSlot("c", 2, 16, 1, 2, 0),
        });
        Assert.Equal(0, placed[2].OffsetPerImage);   // largest first
        Assert.Equal(32, placed[0].OffsetPerImage);  // alive with c
        Assert.Equal(32, placed[1].OffsetPerImage);  // alive with c, not with a: takes a's place
    }
}
