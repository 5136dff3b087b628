using System;
using System.Globalization;
using System.Linq;
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
    /// The plan of one input resolution: token counts, every GEMM, FLOPs and the static buffer table. Each declared
    /// resolution gets its own, so every shape in the emitted code is a constant.
    /// </summary>
    internal sealed record ResolutionPlan(
        int Height,
        int Width,
        int GridHeight,
        int GridWidth,
        int LenKeep,
        EquatableArray<GemmShape> Gemms,
        EquatableArray<BufferSlot> Buffers,
        int ArenaFloatsPerImage)
    {
        /// <summary>L: patches per image.</summary>
        public int NumPatches => GridHeight * GridWidth;

        /// <summary>Encoder sequence: CLS + kept patches.</summary>
        public int EncoderTokens => 1 + LenKeep;

        /// <summary>Decoder sequence: CLS + every patch.</summary>
        public int DecoderTokens => 1 + NumPatches;

        /// <summary>"224x224": used in names and messages.</summary>
        public string Name => Height.ToString(CultureInfo.InvariantCulture) + "x" + Width.ToString(CultureInfo.InvariantCulture);

        /// <summary>FLOPs of <c>ViTMAEModel</c> (embeddings and encoder) for one image.</summary>
        public long ModelFlops => SumFlops(PlanStage.Embeddings) + SumFlops(PlanStage.Encoder);

        /// <summary>FLOPs of <c>ViTMAEForPreTraining</c> (encoder, decoder) for one image; the loss is O(L·P) and not counted.</summary>
        public long PreTrainingFlops => ModelFlops + SumFlops(PlanStage.Decoder);

        /// <summary>The buffer named <paramref name="name"/>.</summary>
        public BufferSlot Buffer(string name) => Buffers.First(b => b.Name == name);

        private long SumFlops(PlanStage stage) => Gemms.Where(g => g.Stage == stage).Sum(g => g.Flops);
    }

    /// <summary>
    /// Everything the emitter needs, computed from the spec alone: one <see cref="ResolutionPlan"/> per input
    /// resolution (the config's first, then those declared with <c>ViTMAEResolutions</c>). Pure data, equatable,
    /// free of Roslyn symbols; testable without a compilation.
    /// </summary>
    internal sealed record ViTMAEPlan(ViTMAESpec Spec, EquatableArray<ResolutionPlan> Resolutions)
    {
        /// <summary>The config's own resolution.</summary>
        public ResolutionPlan Default => Resolutions[0];

        /// <summary>Arena floats per image: enough for the largest resolution.</summary>
        public int ArenaFloatsPerImage => Resolutions.Max(r => r.ArenaFloatsPerImage);

        /// <summary>Arena bytes per image.</summary>
        public long ArenaBytesPerImage => ArenaFloatsPerImage * 4L;

        /// <summary>Largest patch count over the resolutions.</summary>
        public int MaxNumPatches => Resolutions.Max(r => r.NumPatches);

        /// <summary>Largest encoder sequence over the resolutions.</summary>
        public int MaxEncoderTokens => Resolutions.Max(r => r.EncoderTokens);

        /// <summary>Largest decoder sequence over the resolutions.</summary>
        public int MaxDecoderTokens => Resolutions.Max(r => r.DecoderTokens);
    }

    /// <summary>A config file's identity in the consuming project: path, target class and namespace.</summary>
    internal sealed record ModelTarget(string Path, string Namespace, string ClassName)
    {
        public string FullName => Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName;
    }
}
