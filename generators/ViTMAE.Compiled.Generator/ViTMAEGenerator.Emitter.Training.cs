using System;
using System.Collections.Generic;
using System.Linq;
using ViTMAE.Compiled.Generator.Model;

namespace ViTMAE.Compiled.Generator
{
    /// <summary>
    /// Training: the generated <c>Trainer</c> (a <c>TrainingSession</c> with the compiled passes), and the backward pass,
    /// written by walking the plan's steps in reverse, one call (or a few) per step. The forward pass of a training step
    /// is the same emitted code as inference, at the training shapes (see <c>ILayerShape.Training</c>).
    /// </summary>
    internal static partial class ViTMAEEmitter
    {
        private const string Tr = "global::ViTMAE.Compiled.Training.";

        // ---------------------------------------------------------------- the public API (user's namespace)

        private static void EmitTrainingApi(CodeWriter w, ModelTarget target, ViTMAEPlan plan, string impl)
        {
            string c = target.ClassName;
            string extraGrids = string.Concat(plan.Resolutions.Skip(1).Select(r => ", (" + I(r.GridHeight) + ", " + I(r.GridWidth) + ")"));
            w.Line("/// <summary>The model with a training run's current parameters (they are copied: later steps do not change it).</summary>");
            w.Line("/// <exception cref=\"global::System.ArgumentException\">The parameters are another model's.</exception>");
            w.Line("public static " + c + " FromParameters(" + Tr + "ModelParameters parameters) =>");
            w.Line("    new " + c + "(" + Rt + "ModelWeights.FromParameters(CheckParameters(parameters)" + extraGrids + "));");
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Starts a training run of ViTMAEForPreTraining from <paramref name=\"parameters\"/> (which the trainer then owns and updates),");
            w.Line("/// for batches of up to <paramref name=\"maxBatch\"/> images; <paramref name=\"seed\"/> seeds the masking noise drawn when a step");
            w.Line("/// gives none; <paramref name=\"degreeOfParallelism\"/> threads share each step (0: every processor).");
            w.Line("/// </summary>");
            w.Line("/// <exception cref=\"global::System.ArgumentException\">The parameters are another model's, or an option is invalid.</exception>");
            w.Line("/// <exception cref=\"global::System.NotSupportedException\">The config asks for dropout (see <c>TrainingOptions.IgnoreDropout</c>), or its mask_ratio removes no patch.</exception>");
            w.Line("public static Trainer CreateTrainer(" + Tr + "ModelParameters parameters, " + Tr + "TrainingOptions options, int maxBatch = 1, int seed = 0, int degreeOfParallelism = 0) =>");
            w.Line("    new Trainer(CheckParameters(parameters), options ?? throw new global::System.ArgumentNullException(nameof(options)), null, maxBatch, seed, degreeOfParallelism);");
            w.Line();
            w.Line("/// <summary>Continues a run saved by <c>TrainingSession.Save</c>: the next step is bit-identical to the uninterrupted run's.</summary>");
            w.Line("/// <exception cref=\"global::System.IO.FileNotFoundException\">The folder lacks config.json, model.safetensors or optimizer.safetensors (a saved model without optimizer state is not a run).</exception>");
            w.Line("/// <exception cref=\"global::ViTMAE.Compiled.ViTMAEException\">The folder holds another model's run, or a file is malformed (the message names it).</exception>");
            w.Line("public static Trainer ResumeTraining(string folder, int maxBatch = 1, int degreeOfParallelism = 0) =>");
            w.Line("    new Trainer(null, null, " + Tr + "TrainingCheckpoint.Load(folder, WeightLayout), maxBatch, 0, degreeOfParallelism);");
            w.Line();
            w.Open("private static " + Tr + "ModelParameters CheckParameters(" + Tr + "ModelParameters parameters)");
            w.Line("global::System.ArgumentNullException.ThrowIfNull(parameters);");
            w.Line("return parameters.Catalog.Spec == CompiledSpec ? parameters : throw new global::System.ArgumentException(");
            w.Line("    \"the parameters are of another model (\" + parameters.Catalog.Spec.Describe() + \"); this class is \" + CompiledSpec.Describe(), nameof(parameters));");
            w.Close();
            w.Line();
            EmitTrainer(w, target, plan, impl);
        }

        private static void EmitTrainer(CodeWriter w, ModelTarget target, ViTMAEPlan plan, string impl)
        {
            string c = target.ClassName;
            w.Line("/// <summary>");
            w.Line("/// A training run of " + c + ": the compiled forward and backward passes in a training arena of " + I(plan.TrainingArenaFloatsPerImage) + " floats per");
            w.Line("/// image, AdamW, gradient accumulation and clipping (see <see cref=\"" + Tr.Substring("global::".Length) + "TrainingSession\"/>). One step at a time.");
            w.Line("/// </summary>");
            w.Open("public sealed class Trainer : " + Tr + "TrainingSession");
            w.Line("private readonly " + Rt + "ModelWeights _weights;");
            w.Line("private readonly " + Rt + "Workspace _workspace;");
            w.Line();
            w.Line("internal Trainer(" + Tr + "ModelParameters? parameters, " + Tr + "TrainingOptions? options, " + Tr + "TrainingCheckpoint? checkpoint, int maxBatch, int seed, int degreeOfParallelism)");
            w.Line("    : base(parameters, options, checkpoint, seed, " + Rt + "Workspace.CheckedProduct(maxBatch, " + I(plan.MaxNumPatches) + "))");
            w.Line("{");
            w.Indent();
            foreach (ResolutionPlan r in plan.Resolutions.Where(r => r.LenKeep >= r.NumPatches).Take(1))
            {
                w.Line("// mask_ratio " + D(plan.Spec.MaskRatio) + " keeps all " + I(r.NumPatches) + " patches at " + r.Name + " px: the loss is 0/0.");
                w.Line("_weights = null!;");
                w.Line("_workspace = null!;");
                w.Line("throw new global::System.NotSupportedException(\"mask_ratio " + D(plan.Spec.MaskRatio) + " removes no patch at " + r.Name +
                       " px (len_keep = L = " + I(r.NumPatches) + "): the pixel loss is 0/0 (NaN) and cannot be trained\");");
            }

            if (plan.Resolutions.All(r => r.LenKeep < r.NumPatches))
            {
                string extraGrids = string.Concat(plan.Resolutions.Skip(1).Select(r => ", (" + I(r.GridHeight) + ", " + I(r.GridWidth) + ")"));
                w.Line("// The trainer's own packed copy of the parameters (re-packed after each optimizer step), with the backward packing.");
                w.Line("_weights = " + Rt + "ModelWeights.FromParameters(Parameters" + extraGrids + ");");
                w.Line("_weights.EnableBackward();");
                var attention = new List<string>();
                foreach (ResolutionPlan r in plan.Resolutions)
                {
                    foreach ((int tokens, string headDim) in new[] { (r.EncoderTokens, "HeadDim"), (r.DecoderTokens, "DecoderHeadDim") })
                    {
                        attention.Add("global::ViTMAE.Compiled.Kernels.AttentionKernel.ScratchLength(" + I(tokens) + ", " + headDim + ")");
                        attention.Add("global::ViTMAE.Compiled.Kernels.AttentionKernel.BackwardScratchLength(" + I(tokens) + ", " + headDim + ")");
                    }
                }

                w.Line("// Attention scratch per worker: the forward's and the backward's, for every sequence.");
                w.Line("int attentionScratch = " + Rt + "Workspace.Max(");
                w.Line("    " + string.Join(",\n                " + "    ", attention.Distinct()) + ");");

                // Every Linear's weight gradient over the batch: (rows per image, input features, output features).
                var linears = new List<string>();
                foreach (ResolutionPlan r in plan.Resolutions)
                {
                    foreach (Step step in r.Steps)
                    {
                        if (step is LinearStep linear)
                        {
                            int rows = linear.Note.Contains("CLS row skipped") ? r.DecoderTokens : linear.M;
                            linears.Add("(" + I(rows) + ", " + I(linear.N) + ", " + I(linear.K) + ")");
                        }
                        else if (step is LayerStackStep stack)
                        {
                            foreach (LinearStep inner in stack.Layer.Steps.OfType<LinearStep>())
                            {
                                linears.Add("(" + I(inner.M) + ", " + I(inner.N) + ", " + I(inner.K) + ")");
                            }
                        }
                    }
                }

                w.Line("// The weight-gradient kernel's scratch: the largest over every Linear (rows per image, out, in) at the full batch.");
                w.Line("long gradientScratch = " + Rt + "Workspace.WeightGradientScratch(maxBatch, [" + string.Join(", ", linears.Distinct()) + "]);");
                w.Line("_workspace = new " + Rt + "Workspace(maxBatch, TrainingArenaFloatsPerImage, " + I(plan.MaxNumPatches) + ", attentionScratch, seed, degreeOfParallelism, gradientScratch);");
            }

            w.Close();
            w.Line();
            w.Line("/// <summary>Largest batch of a step.</summary>");
            w.Line("public int MaxBatch => _workspace.MaxBatch;");
            w.Line();
            w.Line("/// <summary>Threads sharing each step.</summary>");
            w.Line("public int DegreeOfParallelism => _workspace.Pool.DegreeOfParallelism;");
            w.Line();
            w.Line("/// <inheritdoc/>");
            if (plan.Resolutions.Count == 1)
            {
                w.Open("protected override int PatchCount(in " + Md + "ViTMAEInputs inputs)");
                w.Line("Resolve(inputs);");
                w.Line("return " + I(plan.Default.NumPatches) + ";");
                w.Close();
            }
            else
            {
                w.Line("protected override int PatchCount(in " + Md + "ViTMAEInputs inputs) => Resolve(inputs) switch");
                w.Line("{");
                for (int i = 0; i < plan.Resolutions.Count; i++)
                {
                    w.Line("    " + (i == plan.Resolutions.Count - 1 ? "_" : I(i)) + " => " + I(plan.Resolutions[i].NumPatches) + ",");
                }

                w.Line("};");
            }

            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Open("protected override float ForwardBackward(in " + Md + "ViTMAEInputs inputs, global::System.Span<float> pixelValuesGradient, float scale)");
            EmitTrainerDispatch(w, target, plan, impl, r => "Train<" + TrainingShapes(impl, r) + ">(_weights, GradientViews, _workspace, inputs, pixelValuesGradient, scale)");
            w.Close();
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Open("protected override float ForwardLoss(in " + Md + "ViTMAEInputs inputs)");
            EmitTrainerDispatch(w, target, plan, impl, r => "PreTraining<" + TrainingShapes(impl, r) + ">(_weights, _workspace, inputs).Loss");
            w.Close();
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line("protected override void RefreshWeights() => _weights.Refresh(Parameters);");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line("protected override void Dispose(bool disposing) => _workspace.Dispose();");
            w.Line();
            w.Line("private int Resolve(in " + Md + "ViTMAEInputs inputs) => " + Rt + "InputCheck.Resolve(");
            w.Line("    inputs, s_resolutions, NumChannels, PatchSize, MaxBatch, NumHiddenLayers, NumAttentionHeads, DecoderNumHiddenLayers, DecoderNumAttentionHeads);");
            w.Close();
        }

        private static string TrainingShapes(string impl, ResolutionPlan r) =>
            impl + ShapeName(r) + "Training, " + impl + ShapeName(r) + "EncoderTraining, " + impl + ShapeName(r) + "DecoderTraining";

        /// <summary>One call of the forward class at the inputs' resolution, in the trainer's workspace (one call at a time).</summary>
        private static void EmitTrainerDispatch(CodeWriter w, ModelTarget target, ViTMAEPlan plan, string impl, Func<ResolutionPlan, string> call)
        {
            w.Line("using " + Rt + "Workspace.CallScope scope = _workspace.Enter();");
            string forward = impl + ForwardName(target) + ".";
            if (plan.Resolutions.Count == 1)
            {
                w.Line("return " + forward + call(plan.Default) + ";");
                return;
            }

            w.Line("return Resolve(inputs) switch");
            w.Line("{");
            for (int i = 0; i < plan.Resolutions.Count; i++)
            {
                w.Line("    " + (i == plan.Resolutions.Count - 1 ? "_" : I(i)) + " => " + forward + call(plan.Resolutions[i]) + ",");
            }

            w.Line("};");
        }

        // ---------------------------------------------------------------- the implementation (generator's namespace)

        private static void EmitTrainMethod(CodeWriter w)
        {
            w.Line("/// <summary>A training step's passes: the forward at the training shapes (keeping what the backward reads), then the backward.</summary>");
            w.Line("internal static float Train<R, E, D>(ModelWeights m, ModelGradients g, Workspace ws, in ViTMAEInputs inputs, Span<float> pixelValuesGradient, float scale)");
            w.Line("    where R : struct, IResolutionShape where E : struct, ILayerShape where D : struct, ILayerShape");
            w.Line("{");
            w.Indent();
            w.Line("float loss = PreTraining<R, E, D>(m, ws, inputs).Loss;");
            w.Line("Backward<R, E, D>(m, g, ws, inputs, pixelValuesGradient, scale);");
            w.Line("return loss;");
            w.Outdent();
            w.Line("}");
        }

        /// <summary>The gradient buffer of a forward buffer (what flows back into it).</summary>
        private static string GradientOf(string buffer) => buffer switch
        {
            Buffers.Logits => "dLogits",
            Buffers.DecoderNorm => "dDecoderNorm",
            Buffers.DecoderTokens => "dDecoderTokens",
            Buffers.LastHiddenState => "dLastHiddenState",
            Buffers.Embeddings => "dEmbeddings",
            Buffers.Patches => "dPatches",
            _ => throw new InvalidOperationException("no gradient buffer for " + buffer),
        };

        private static void EmitBackwardMethod(CodeWriter w, ResolutionPlan r)
        {
            w.Line("/// <summary>");
            w.Line("/// The backward pass of ViTMAEForPreTraining: the forward's steps in reverse, each reading what its forward kept in the");
            w.Line("/// training arena. Parameter gradients (times <paramref name=\"scale\"/>) are added to <paramref name=\"g\"/>; d pixel_values");
            w.Line("/// is written when <paramref name=\"pixelValuesGradient\"/> is not empty.");
            w.Line("/// </summary>");
            w.Line("private static void Backward<R, E, D>(ModelWeights m, ModelGradients g, Workspace ws, in ViTMAEInputs inputs, Span<float> pixelValuesGradient, float scale)");
            w.Line("    where R : struct, IResolutionShape where E : struct, ILayerShape where D : struct, ILayerShape");
            w.Line("{");
            w.Indent();
            w.Line("int batch = inputs.Batch;");
            w.Line("int pixelsPerImage = R.Channels * R.Height * R.Width;");
            w.Line("Span<float> scratch = ws.GradientScratch;");
            BindBuffers(w, new[] { Buffers.Patches, Buffers.Mask, Buffers.LastHiddenState, Buffers.DecoderNorm, Buffers.Logits });
            w.Line("Span<float> finalStats = ws.Buffer(R.FinalStatsOffset, R.Tokens * 2, batch);");
            w.Line("Span<float> decoderNormStats = ws.Buffer(R.DecoderNormStatsOffset, R.DecoderTokens * 2, batch);");
            w.Line("Span<float> encoderOutput = ws.Buffer(E.XOffset + (R.Layers * E.Stride), R.Tokens * R.Hidden, batch);");
            w.Line("Span<float> decoderOutput = ws.Buffer(D.XOffset + (R.DecoderLayers * D.Stride), R.DecoderTokens * R.DecoderHidden, batch);");
            w.Line("Span<float> dLogits = ws.Buffer(R.DLogitsOffset, R.DecoderTokens * R.PatchDim, batch); // decoder rows; CLS rows zero");
            w.Line("Span<float> dDecoderNorm = ws.Buffer(R.DDecoderNormOffset, R.DecoderTokens * R.DecoderHidden, batch);");
            w.Line("Span<float> dDecoderTokens = ws.Buffer(R.DDecoderTokensOffset, R.Tokens * R.DecoderHidden, batch);");
            w.Line("Span<float> dLastHiddenState = ws.Buffer(R.DLastHiddenStateOffset, R.Tokens * R.Hidden, batch);");
            w.Line("Span<float> dEmbeddings = ws.Buffer(R.DEmbeddingsOffset, R.Patches * R.Hidden, batch);");
            w.Line("Span<float> dPatches = pixelValuesGradient.IsEmpty ? default : ws.Buffer(R.DPatchesOffset, R.Patches * R.PatchDim, batch);");
            w.Line("Span<float> dDecoderHidden = ws.Buffer(D.ResidualGradOffset, R.DecoderTokens * R.DecoderHidden, batch);");
            w.Line("Span<float> dHidden = ws.Buffer(E.ResidualGradOffset, R.Tokens * R.Hidden, batch);");
            for (int i = r.Steps.Count - 1; i >= 0; i--)
            {
                w.Line();
                EmitBackwardStep(w, r.Steps[i]);
            }

            w.Outdent();
            w.Line("}");
        }

        private static void EmitBackwardStep(CodeWriter w, Step step)
        {
            w.Line("// " + step.Name + " backward: " + step.Describe());
            switch (step)
            {
                case LossStep:
                    w.Line("Blocks.PixelLossBackward(patches, logits, mask, dLogits, dPatches, R.Patches, R.PatchDim, R.NormPixLoss, scale);");
                    break;
                case LinearStep linear when linear.Note.Contains("CLS row skipped"):
                    // dLogits has the decoder's row layout with zero CLS rows: one call over every decoder row gives the CLS rows
                    // a zero gradient and adds nothing to the weight and bias gradients.
                    w.Line("// (over every decoder row: dLogits' CLS rows are zero, so the CLS row gets no gradient and the sums nothing)");
                    w.Line("m." + linear.Weight + "!.BackwardInput(" + GradientOf(linear.Output) + ", " + GradientOf(linear.Input) + ", batch * R.DecoderTokens, pool: ws.Pool);");
                    w.Line("GradientKernels.WeightGradient(" + GradientOf(linear.Output) + ", R.PatchDim, " + Camel(linear.Input) + ", g." + linear.Weight + "Weight.Span, g." + linear.Weight +
                           "Bias.Span, batch * R.DecoderTokens, R.PatchDim, R.DecoderHidden, scratch, ws.Pool);");
                    break;
                case LinearStep linear when linear.Stage == PlanStage.Embeddings:
                    (_, string rows, string cols) = BufferSymbols(linear.Output);
                    (_, _, string inCols) = BufferSymbols(linear.Input);
                    w.Line("GradientKernels.WeightGradient(" + GradientOf(linear.Output) + ", " + cols + ", " + Camel(linear.Input) + ", g." + linear.Weight + "Weight.Span, g." + linear.Weight +
                           "Bias.Span, batch * " + rows + ", " + cols + ", " + inCols + ", scratch, ws.Pool);");
                    w.Line("g.FlushPatchWeight(); // patch order -> the convolution's [D, C, p, p]");
                    w.Open("if (!pixelValuesGradient.IsEmpty)");
                    w.Line("m." + linear.Weight + ".BackwardInput(" + GradientOf(linear.Output) + ", " + GradientOf(linear.Input) + ", batch * " + rows + ", accumulate: true, pool: ws.Pool); // + the loss target's share");
                    w.Close();
                    break;
                case LinearStep linear:
                    (_, string mRows, string nCols) = BufferSymbols(linear.Output);
                    (_, _, string kCols) = BufferSymbols(linear.Input);
                    w.Line("m." + linear.Weight + "!.BackwardInput(" + GradientOf(linear.Output) + ", " + GradientOf(linear.Input) + ", batch * " + mRows + ", pool: ws.Pool);");
                    w.Line("GradientKernels.WeightGradient(" + GradientOf(linear.Output) + ", " + nCols + ", " + Camel(linear.Input) + ", g." + linear.Weight + "Weight.Span, g." + linear.Weight +
                           "Bias.Span, batch * " + mRows + ", " + nCols + ", " + kCols + ", scratch, ws.Pool);");
                    break;
                case LayerNormStep norm:
                    bool afterDecoder = norm.Input == Buffers.DecoderHidden;
                    string weight = afterDecoder ? "m.DecoderNormWeight!" : "m.NormWeight";
                    string grads = afterDecoder ? "g.DecoderNormWeight.Span, g.DecoderNormBias.Span" : "g.NormWeight.Span, g.NormBias.Span";
                    w.Line("LayerNormKernel.Backward(" + GradientOf(norm.Output) + ", " + (afterDecoder ? "decoderOutput" : "encoderOutput") + ", " + weight + ", " +
                           (afterDecoder ? "decoderNormStats" : "finalStats") + ", " + (afterDecoder ? "dDecoderHidden" : "dHidden") + ", " + grads + ", batch * " +
                           (afterDecoder ? "R.DecoderTokens, R.DecoderHidden" : "R.Tokens, R.Hidden") + ", accumulate: false, ws.Pool);");
                    break;
                case LayerStackStep stack:
                    bool decoder = stack.Stage == PlanStage.Decoder;
                    string l = decoder ? "D" : "E";
                    w.Open("for (int layer = R." + (decoder ? "DecoderLayers" : "Layers") + " - 1; layer >= 0; layer--)");
                    w.Line("LayerBackward<" + l + ">(m." + (decoder ? "Decoder" : "Encoder") + "[layer], g." + (decoder ? "Decoder" : "Encoder") + "[layer], ws, batch, layer, InputCheck.LayerHeadMask(inputs." +
                           (decoder ? "DecoderHeadMask" : "HeadMask") + ", layer, " + l + ".Heads));");
                    w.Close();
                    break;
                case UnshuffleStep:
                    PerImage(w, "Blocks.UnshuffleBackward(dDecoderHidden.Slice(b * R.DecoderTokens * R.DecoderHidden, R.DecoderTokens * R.DecoderHidden), ws.Restore(b, R.Patches), " +
                                "dDecoderTokens.Slice(b * R.Tokens * R.DecoderHidden, R.Tokens * R.DecoderHidden), g.MaskToken.Span, R.Kept);");
                    break;
                case GatherKeptStep:
                    PerImage(w, "Blocks.GatherKeptBackward(dHidden.Slice(b * R.Tokens * R.Hidden, R.Tokens * R.Hidden), ws.Shuffle(b, R.Patches), " +
                                "dEmbeddings.Slice(b * R.Patches * R.Hidden, R.Patches * R.Hidden), g.ClsToken.Span, R.Kept);");
                    break;
                case MaskingStep:
                    w.Line("// (no gradient: the noise and the permutation are inputs)");
                    break;
                case AddPositionsStep:
                    w.Line("// (the position table is frozen, as in Hugging Face: the gradient passes through to the patch embeddings)");
                    break;
                case PatchifyStep:
                    w.Open("if (!pixelValuesGradient.IsEmpty)");
                    PerImage(w, "Patches.Unpatchify(dPatches.Slice(b * R.Patches * R.PatchDim, R.Patches * R.PatchDim), pixelValuesGradient.Slice(b * pixelsPerImage, pixelsPerImage), R.Channels, R.Height, R.Width, R.PatchSize);");
                    w.Close();
                    break;
                default:
                    throw new InvalidOperationException("no backward emitter for step " + step.GetType().Name);
            }
        }

        /// <summary>
        /// The layer's backward, written once from the layer plan's steps in reverse for both stacks. The residual gradient
        /// (∂loss/∂output on entry) is updated in place into ∂loss/∂x: each residual branch adds its input gradient to it.
        /// </summary>
        private static void EmitLayerBackwardMethod(CodeWriter w, ResolutionPlan r)
        {
            LayerPlan encoder = r.Encoder.Layer, decoder = r.Decoder.Layer;
            w.Line("/// <summary>The backward of one pre-LN layer (encoder or decoder) of a training forward: gradients added to <paramref name=\"g\"/>.</summary>");
            w.Line("private static void LayerBackward<L>(TransformerLayerWeights w, TransformerLayerGradients g, Workspace ws, int batch, int layer, ReadOnlySpan<float> headMask)");
            w.Line("    where L : struct, ILayerShape");
            w.Line("{");
            w.Indent();
            w.Line("LayerBuffers b = LayerBuffers.Bind<L>(ws, batch, layer);");
            w.Line("LayerGradientBuffers d = LayerGradientBuffers.Bind<L>(ws, batch);");
            w.Line("int rows = batch * L.Tokens;");
            w.Line("Span<float> scratch = ws.GradientScratch;");
            for (int i = encoder.Steps.Count - 1; i >= 0; i--)
            {
                Step e = encoder.Steps[i], dStep = decoder.Steps[i];
                string name = e.Name.Substring(encoder.Prefix.Length + 1);
                w.Line();
                w.Line("// " + name + " backward: encoder " + e.Describe() + "; decoder " + dStep.Describe());
                switch (name)
                {
                    case "output":
                        w.Line("w.Output.BackwardInput(d.Residual, d.Mlp, rows, pool: ws.Pool);");
                        w.Line("GradientKernels.WeightGradient(d.Residual, L.Hidden, b.Post, g.OutputWeight.Span, g.OutputBias.Span, rows, L.Hidden, L.Intermediate, scratch, ws.Pool);");
                        break;
                    case "intermediate":
                        w.Line("Activations.Backward(L.Activation, b.Pre, d.Mlp, d.Mlp);");
                        w.Line("w.Intermediate.BackwardInput(d.Mlp, d.Norm, rows, pool: ws.Pool);");
                        w.Line("GradientKernels.WeightGradient(d.Mlp, L.Intermediate, b.Norm2, g.IntermediateWeight.Span, g.IntermediateBias.Span, rows, L.Intermediate, L.Hidden, scratch, ws.Pool);");
                        break;
                    case "layernorm_after":
                        w.Line("LayerNormKernel.Backward(d.Norm, b.XMid, w.LayerNormAfterWeight, b.Stats2, d.Residual, g.LayerNormAfterWeight.Span, g.LayerNormAfterBias.Span, rows, L.Hidden, accumulate: true, ws.Pool);");
                        break;
                    case "attention.output":
                        w.Line("w.AttentionOutput.BackwardInput(d.Residual, d.Context, rows, pool: ws.Pool);");
                        w.Line("GradientKernels.WeightGradient(d.Residual, L.Hidden, b.Context, g.AttentionOutputWeight.Span, g.AttentionOutputBias.Span, rows, L.Hidden, L.Hidden, scratch, ws.Pool);");
                        break;
                    case "attention":
                        w.Open("for (int i = 0; i < batch; i++)");
                        w.Line("int qkv = L.Tokens * 3 * L.Hidden, context = L.Tokens * L.Hidden, probs = L.Heads * L.Tokens * L.Tokens;");
                        w.Line("AttentionKernel.Backward(b.Qkv.Slice(i * qkv, qkv), b.Probs.Slice(i * probs, probs), headMask, d.Context.Slice(i * context, context), d.Qkv.Slice(i * qkv, qkv),");
                        w.Line("    L.Tokens, L.Heads, L.HeadDim, ws.AttentionScratch, ws.Pool);");
                        w.Close();
                        break;
                    case "qkv":
                        w.Line("w.Qkv.BackwardInput(d.Qkv, d.Norm, rows, pool: ws.Pool);");
                        w.Line("GradientKernels.WeightGradient(d.Qkv, 3 * L.Hidden, b.Norm1, g.QueryWeight.Span, g.QueryBias.Span, rows, L.Hidden, L.Hidden, scratch, ws.Pool);");
                        w.Line("GradientKernels.WeightGradient(d.Qkv.Slice(L.Hidden), 3 * L.Hidden, b.Norm1, g.KeyWeight.Span, g.KeyBias.Span, rows, L.Hidden, L.Hidden, scratch, ws.Pool);");
                        w.Line("GradientKernels.WeightGradient(d.Qkv.Slice(2 * L.Hidden), 3 * L.Hidden, b.Norm1, g.ValueWeight.Span, g.ValueBias.Span, rows, L.Hidden, L.Hidden, scratch, ws.Pool);");
                        break;
                    case "layernorm_before":
                        w.Line("LayerNormKernel.Backward(d.Norm, b.X, w.LayerNormBeforeWeight, b.Stats1, d.Residual, g.LayerNormBeforeWeight.Span, g.LayerNormBeforeBias.Span, rows, L.Hidden, accumulate: true, ws.Pool);");
                        break;
                    default:
                        throw new InvalidOperationException("no backward emitter for layer step " + name);
                }
            }

            w.Outdent();
            w.Line("}");
        }
    }
}
