using System;
using ViTMAE.Compiled.Configuration;

namespace ViTMAE.Compiled.Generator.Model
{
    /// <summary>Which part of the model a step belongs to.</summary>
    internal enum PlanStage
    {
        Embeddings,
        Encoder,
        Decoder,
        Loss,
    }

    /// <summary>
    /// One matrix product of the forward pass, per image: C[M,N] = A[M,K]·Bᵀ, repeated <see cref="Repeat"/> times
    /// (once per layer, or once per head for attention). <see cref="Fusion"/> names what the epilogue does.
    /// </summary>
    internal sealed record GemmShape(string Name, PlanStage Stage, int M, int N, int K, int Repeat, string Fusion)
    {
        /// <summary>Multiply-adds count twice: 2·M·N·K·Repeat.</summary>
        public long Flops => 2L * M * N * K * Repeat;
    }

    /// <summary>
    /// One activation buffer of the static arena, per image. The arena for a batch of B images is B times larger,
    /// and each buffer sits at B × <see cref="OffsetPerImage"/>, so one table serves every batch size.
    /// Buffers whose live ranges (first to last step that touches them) do not overlap share memory.
    /// </summary>
    internal sealed record BufferSlot(string Name, string Shape, int FloatsPerImage, int FirstStep, int LastStep, int OffsetPerImage)
    {
        /// <summary>True when the two buffers are alive at the same step.</summary>
        public bool Overlaps(BufferSlot other) => FirstStep <= other.LastStep && other.FirstStep <= LastStep;
    }

    /// <summary>
    /// Everything the emitter needs, computed from the spec alone: token counts, the GEMM list, FLOPs and the
    /// static buffer table. Pure data, equatable, free of Roslyn symbols; testable without a compilation.
    /// </summary>
    internal sealed record ViTMAEPlan(
        ViTMAESpec Spec,
        int NumPatches,
        int LenKeep,
        int EncoderTokens,
        int DecoderTokens,
        int PatchDim,
        EquatableArray<GemmShape> Gemms,
        EquatableArray<BufferSlot> Buffers,
        int ArenaFloatsPerImage,
        int AttentionScratchFloats)
    {
        /// <summary>FLOPs of <c>ViTMAEModel</c> (embeddings and encoder) for one image.</summary>
        public long ModelFlops => SumFlops(PlanStage.Embeddings) + SumFlops(PlanStage.Encoder);

        /// <summary>FLOPs of <c>ViTMAEForPreTraining</c> (encoder, decoder) for one image; the loss is O(L·P) and not counted.</summary>
        public long PreTrainingFlops => ModelFlops + SumFlops(PlanStage.Decoder);

        /// <summary>Arena bytes per image.</summary>
        public long ArenaBytesPerImage => ArenaFloatsPerImage * 4L;

        private long SumFlops(PlanStage stage)
        {
            long total = 0;
            foreach (GemmShape g in Gemms)
            {
                if (g.Stage == stage)
                {
                    total += g.Flops;
                }
            }

            return total;
        }
    }

    /// <summary>A config file's identity in the consuming project: path, target class and namespace.</summary>
    internal sealed record ModelTarget(string Path, string Namespace, string ClassName)
    {
        public string FullName => Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName;
    }
}
