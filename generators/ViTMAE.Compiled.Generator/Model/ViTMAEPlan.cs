using System.Globalization;
using System.Linq;
using ViTMAE.Compiled.Configuration;

namespace ViTMAE.Compiled.Generator.Model
{
    /// <summary>
    /// One activation buffer of the static arena, per image: <see cref="Rows"/> × <see cref="Cols"/> floats. The arena for a
    /// batch of B images is B times larger, and each buffer sits at B × <see cref="OffsetPerImage"/>, so one table serves
    /// every batch size. Buffers whose live ranges (first to last step that touches them) do not overlap share memory.
    /// </summary>
    internal sealed record BufferSlot(string Name, int Rows, int Cols, int FirstStep, int LastStep, int OffsetPerImage)
    {
        /// <summary>Floats per image.</summary>
        public int FloatsPerImage => Rows * Cols;

        /// <summary>"[rows, cols]".</summary>
        public string Shape => "[" + Rows.ToString(CultureInfo.InvariantCulture) + ", " + Cols.ToString(CultureInfo.InvariantCulture) + "]";

        /// <summary>True when the two buffers are alive at the same step.</summary>
        public bool Overlaps(BufferSlot other) => FirstStep <= other.LastStep && other.FirstStep <= LastStep;
    }

    /// <summary>
    /// The plan of one input resolution: the steps of the forward pass of one image, in order, and the static buffer table
    /// laid out from their live ranges. Each declared resolution gets its own, so every shape in the emitted code is a constant.
    /// </summary>
    internal sealed record ResolutionPlan(
        int Height,
        int Width,
        int GridHeight,
        int GridWidth,
        int LenKeep,
        EquatableArray<Step> Steps,
        EquatableArray<BufferSlot> Buffers,
        int ArenaFloatsPerImage,
        TrainingPlan Training)
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
        public long ModelFlops => Steps.Where(s => s.Stage is PlanStage.Embeddings or PlanStage.Encoder).Sum(s => s.Flops);

        /// <summary>FLOPs of <c>ViTMAEForPreTraining</c> (encoder, decoder) for one image; the loss is O(L·P) and not counted.</summary>
        public long PreTrainingFlops => Steps.Sum(s => s.Flops);

        /// <summary>FLOPs of a training step for one image: the forward and the backward pass (without pixel gradients).</summary>
        public long TrainingFlops => PreTrainingFlops + Training.BackwardFlops;

        /// <summary>The buffer named <paramref name="name"/>.</summary>
        public BufferSlot Buffer(string name) => Buffers.First(b => b.Name == name);

        /// <summary>The encoder's layer stack.</summary>
        public LayerStackStep Encoder => Steps.OfType<LayerStackStep>().First(s => s.Stage == PlanStage.Encoder);

        /// <summary>The decoder's layer stack.</summary>
        public LayerStackStep Decoder => Steps.OfType<LayerStackStep>().First(s => s.Stage == PlanStage.Decoder);
    }

    /// <summary>
    /// Where one layer of a stack keeps what its backward pass needs, inside the stack's block of the training arena: layer i's
    /// values start at i × <see cref="Stride"/>, and its output is layer i + 1's <see cref="X"/>. Offsets per image, in floats.
    /// </summary>
    internal sealed record LayerBlockLayout(
        int Stride, int X, int Stats1, int Norm1, int Qkv, int Probs, int Context, int XMid, int Stats2, int Norm2, int Pre, int Post, int Floats);

    /// <summary>
    /// The training arena of one resolution: the forward pass's steps followed by their backward steps in reverse order (step
    /// i's backward runs at 2·F − 1 − i). Buffers the backward pass reads stay alive until then; the rest, and the gradients,
    /// share memory by the same first-fit placement as inference. The layer stacks keep one block per layer
    /// (<see cref="LayerBlockLayout"/>).
    /// </summary>
    internal sealed record TrainingPlan(
        EquatableArray<BufferSlot> Buffers, int ArenaFloatsPerImage, LayerBlockLayout Encoder, LayerBlockLayout Decoder, long BackwardFlops)
    {
        /// <summary>The buffer named <paramref name="name"/>.</summary>
        public BufferSlot Buffer(string name) => Buffers.First(b => b.Name == name);
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

        /// <summary>Training arena floats per image: enough for the largest resolution.</summary>
        public int TrainingArenaFloatsPerImage => Resolutions.Max(r => r.Training.ArenaFloatsPerImage);

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
