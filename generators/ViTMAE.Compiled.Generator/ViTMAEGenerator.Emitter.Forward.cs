using System;
using System.Collections.Generic;
using System.Linq;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Generator.Model;

namespace ViTMAE.Compiled.Generator
{
    /// <summary>
    /// The public API of the generated class (load, sessions) and its implementation: per declared resolution a struct of
    /// constants, and one forward class whose methods are generic over those structs, written by walking the plan's steps,
    /// one call per step. Encoder and decoder layers share one emitted body. Generated methods stay small (one per block
    /// kind) so that the JIT optimises them fully.
    /// </summary>
    internal static partial class ViTMAEEmitter
    {
        /// <summary>The namespace of the implementation (the generator's own; its types are file-local).</summary>
        internal const string ImplementationNamespace = "ViTMAE.Compiled.Generated";

        private const string Rt = "global::ViTMAE.Compiled.Runtime.";
        private const string Md = "global::ViTMAE.Compiled.Modeling.";

        // ---------------------------------------------------------------- the public API (user's namespace)

        private static void EmitApi(CodeWriter w, ModelTarget target, ViTMAEPlan plan)
        {
            string c = target.ClassName;
            string impl = "global::" + ImplementationNamespace + ".";
            w.Line("/// <summary>The configuration this class was compiled from, as a runtime value (e.g. to check or create weights).</summary>");
            w.Line("public static global::ViTMAE.Compiled.Configuration.ViTMAESpec CompiledSpec { get; } = new global::ViTMAE.Compiled.Configuration.ViTMAESpec");
            w.Line("{");
            w.Line("    HiddenSize = HiddenSize, NumHiddenLayers = NumHiddenLayers, NumAttentionHeads = NumAttentionHeads, IntermediateSize = IntermediateSize,");
            w.Line("    HiddenAct = HiddenAct, HiddenDropoutProb = HiddenDropoutProb, AttentionProbsDropoutProb = AttentionProbsDropoutProb,");
            w.Line("    InitializerRange = InitializerRange, LayerNormEps = LayerNormEps, ImageHeight = ImageHeight, ImageWidth = ImageWidth,");
            w.Line("    PatchSize = PatchSize, NumChannels = NumChannels, QkvBias = QkvBias, DecoderNumAttentionHeads = DecoderNumAttentionHeads,");
            w.Line("    DecoderHiddenSize = DecoderHiddenSize, DecoderNumHiddenLayers = DecoderNumHiddenLayers, DecoderIntermediateSize = DecoderIntermediateSize,");
            w.Line("    MaskRatio = MaskRatio, NormPixLoss = NormPixLoss,");
            w.Line("};");
            w.Line();
            int tensors = (plan.Spec.QkvBias ? 16 : 13) * (plan.Spec.NumHiddenLayers + plan.Spec.DecoderNumHiddenLayers) + 14;
            w.Line("/// <summary>");
            w.Line("/// Every tensor of the model (" + I(tensors) + "), with its Hugging Face key, shape and role, in state-dict order. A");
            w.Line("/// <c>ViTMAEModel</c> checkpoint holds the <c>vit.*</c> part without the <c>vit.</c> prefix and no decoder.");
            w.Line("/// </summary>");
            w.Line("public static global::ViTMAE.Compiled.WeightCatalog WeightLayout { get; } = global::ViTMAE.Compiled.WeightCatalog.For(CompiledSpec);");
            w.Line();
            w.Line("private static readonly (int Height, int Width)[] s_resolutions = { " + string.Join(", ", plan.Resolutions.Select(r => "(" + I(r.Height) + ", " + I(r.Width) + ")")) + " };");
            w.Line();
            w.Line("/// <summary>The weights, packed once at load; immutable afterwards, so one instance serves every thread.</summary>");
            w.Line("private readonly " + Rt + "ModelWeights _weights;");
            w.Line();
            w.Line("private " + c + "(" + Rt + "ModelWeights weights) => _weights = weights;");
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Loads a Hugging Face checkpoint: a <c>model.safetensors</c> file, a sharded <c>model.safetensors.index.json</c>, or a");
            w.Line("/// folder holding either. A <c>config.json</c> beside it must describe this compiled model (VMAE016 names the fields that differ).");
            w.Line("/// </summary>");
            w.Line("/// <exception cref=\"global::ViTMAE.Compiled.ViTMAEException\">A tensor is missing, has another shape or an unsupported dtype, the file is malformed, or the checkpoint's config.json is another model's.</exception>");
            w.Open("public static " + c + " Load(string path)");
            w.Line("using var source = global::ViTMAE.Compiled.Weights.WeightSource.Open(path);");
            w.Line("global::ViTMAE.Compiled.Configuration.ViTMAESpec.CheckCheckpointConfig(path, CompiledSpec);");
            w.Line("return Load(source);");
            w.Close();
            w.Line();
            string extraGrids = string.Concat(plan.Resolutions.Skip(1).Select(r => ", (" + I(r.GridHeight) + ", " + I(r.GridWidth) + ")"));
            w.Line("/// <summary>Loads the weights from an open source (a <c>ViTMAEForPreTraining</c> or <c>ViTMAEModel</c> checkpoint).</summary>");
            w.Line("public static " + c + " Load(global::ViTMAE.Compiled.Weights.WeightSource source) =>");
            w.Line("    new " + c + "(" + Rt + "ModelWeights.Load(WeightLayout, new " + Rt + "Checkpoint(source)" + extraGrids + "));");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line("public global::ViTMAE.Compiled.Configuration.ViTMAESpec Spec => CompiledSpec;");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line("public bool HasDecoder => _weights.HasDecoder;");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line("public global::System.ReadOnlySpan<(int Height, int Width)> Resolutions => s_resolutions;");
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Creates a workspace for batches of up to <paramref name=\"maxBatch\"/> images; <paramref name=\"seed\"/> seeds the noise drawn");
            w.Line("/// when the caller passes none; <paramref name=\"degreeOfParallelism\"/> threads share each call (0: every processor).");
            w.Line("/// </summary>");
            w.Line("public Session CreateSession(int maxBatch = 1, int seed = 0, int degreeOfParallelism = 0) => new Session(this, maxBatch, seed, degreeOfParallelism);");
            w.Line();
            w.Line(Md + "IViTMAESession " + Md + "IViTMAEModel.CreateSession(int maxBatch, int seed, int degreeOfParallelism) => CreateSession(maxBatch, seed, degreeOfParallelism);");
            w.Line();
            EmitSession(w, target, plan, impl);
            w.Line();
            EmitTrainingApi(w, target, plan, impl);
        }

        private static void EmitSession(CodeWriter w, ModelTarget target, ViTMAEPlan plan, string impl)
        {
            string c = target.ClassName;
            w.Line("/// <summary>");
            w.Line("/// A per-caller workspace: the activation arena (" + I(plan.ArenaFloatsPerImage) + " floats per image), masking indices and");
            w.Line("/// attention scratch, allocated once and reused by every call. Outputs are views into it, valid until the next call.");
            w.Line("/// One call at a time: give each thread its own session (a concurrent call throws InvalidOperationException, a call");
            w.Line("/// after <see cref=\"Dispose\"/> ObjectDisposedException).");
            w.Line("/// </summary>");
            w.Open("public sealed class Session : " + Md + "IViTMAESession");
            w.Line("private readonly " + c + " _model;");
            w.Line();
            w.Open("internal Session(" + c + " model, int maxBatch, int seed, int degreeOfParallelism)");
            w.Line("_model = model;");
            w.Line("int scratch = global::System.Math.Max(");
            w.Line("    global::ViTMAE.Compiled.Kernels.AttentionKernel.ScratchLength(" + I(plan.MaxEncoderTokens) + ", HeadDim),");
            w.Line("    global::ViTMAE.Compiled.Kernels.AttentionKernel.ScratchLength(" + I(plan.MaxDecoderTokens) + ", DecoderHeadDim));");
            w.Line("Workspace = new " + Rt + "Workspace(maxBatch, ArenaFloatsPerImage, " + I(plan.MaxNumPatches) + ", scratch, seed, degreeOfParallelism);");
            w.Close();
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line("public int MaxBatch => Workspace.MaxBatch;");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line("public int DegreeOfParallelism => Workspace.Pool.DegreeOfParallelism;");
            w.Line();
            w.Line("/// <summary>Stops the session's worker threads; later calls throw ObjectDisposedException (a running call finishes first).</summary>");
            w.Line("public void Dispose() => Workspace.Dispose();");
            w.Line();
            w.Line("internal " + Rt + "Workspace Workspace { get; }");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Open("public " + Md + "ViTMAEModelOutput Forward(in " + Md + "ViTMAEInputs inputs)");
            EmitDispatch(w, target, plan, impl, "Model", decoder: false);
            w.Close();
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Open("public " + Md + "ViTMAEPreTrainingOutput ForwardPreTraining(in " + Md + "ViTMAEInputs inputs)");
            w.Open("if (!_model.HasDecoder)");
            w.Line("throw new " + Md + "ViTMAEInputException(\"model\", \"the checkpoint has no decoder (a ViTMAEModel checkpoint); load a ViTMAEForPreTraining checkpoint to run ForwardPreTraining\");");
            w.Close();
            w.Line();
            EmitDispatch(w, target, plan, impl, "PreTraining", decoder: true);
            w.Close();
            w.Line();
            w.Line("private int Resolve(in " + Md + "ViTMAEInputs inputs) => " + Rt + "InputCheck.Resolve(");
            w.Line("    inputs, s_resolutions, NumChannels, PatchSize, MaxBatch, NumHiddenLayers, NumAttentionHeads, DecoderNumHiddenLayers, DecoderNumAttentionHeads);");
            w.Close();
        }

        private static void EmitDispatch(CodeWriter w, ModelTarget target, ViTMAEPlan plan, string impl, string method, bool decoder)
        {
            // One call at a time: a second thread (or a call after Dispose) gets an exception at once, never a torn arena.
            w.Line("using " + Rt + "Workspace.CallScope call = Workspace.Enter();");
            string Call(ResolutionPlan r)
            {
                string shapes = impl + ShapeName(r) + ", " + impl + ShapeName(r) + "Encoder" + (decoder ? ", " + impl + ShapeName(r) + "Decoder" : "");
                return impl + ForwardName(target) + "." + method + "<" + shapes + ">(_model._weights, Workspace, inputs)";
            }

            if (plan.Resolutions.Count == 1)
            {
                w.Line("Resolve(inputs);");
                w.Line("return " + Call(plan.Default) + ";");
                return;
            }

            w.Line("return Resolve(inputs) switch");
            w.Line("{");
            for (int i = 0; i < plan.Resolutions.Count; i++)
            {
                string key = i == plan.Resolutions.Count - 1 ? "_" : I(i);
                w.Line("    " + key + " => " + Call(plan.Resolutions[i]) + ",");
            }

            w.Line("};");
        }

        // ---------------------------------------------------------------- the implementation (generator's namespace)

        private static string ShapeName(ResolutionPlan r) => "At" + r.Name;

        private static string ForwardName(ModelTarget target) => target.ClassName + "Forward";

        private static void EmitImplementation(CodeWriter w, ModelTarget target, ViTMAEPlan plan)
        {
            w.Open("namespace " + ImplementationNamespace);
            w.Line("using System;");
            w.Line("using ViTMAE.Compiled.Kernels;");
            w.Line("using ViTMAE.Compiled.Modeling;");
            w.Line("using ViTMAE.Compiled.Runtime;");
            for (int i = 0; i < plan.Resolutions.Count; i++)
            {
                w.Line();
                EmitShapes(w, plan, i);
            }

            w.Line();
            EmitForward(w, target, plan);
            w.Close();
        }

        /// <summary>The constants of one resolution, and of its encoder and decoder layer stacks: for inference, then for training.</summary>
        private static void EmitShapes(CodeWriter w, ViTMAEPlan plan, int index)
        {
            ResolutionPlan r = plan.Resolutions[index];
            w.Line("/// <summary>");
            w.Line("/// " + r.Name + " px" + (index == 0 ? " (the config's resolution)" : " (declared; interpolated position tables)") + ": L = " + I(r.NumPatches) +
                   " patches, len_keep = " + I(r.LenKeep) + ", encoder T = " + I(r.EncoderTokens) + ", decoder " + I(r.DecoderTokens) + " tokens; inference arena offsets per image.");
            w.Line("/// </summary>");
            EmitResolutionShape(w, plan, index, training: false);
            w.Line();
            w.Line("/// <summary>" + r.Name + " px for training: the training arena (" + I(r.Training.ArenaFloatsPerImage) + " floats per image), where the backward pass finds what it needs.</summary>");
            EmitResolutionShape(w, plan, index, training: true);
            foreach (bool training in new[] { false, true })
            {
                foreach (LayerStackStep stack in new[] { r.Encoder, r.Decoder })
                {
                    w.Line();
                    EmitLayerShape(w, plan, r, stack, training);
                }
            }
        }

        private static void EmitResolutionShape(CodeWriter w, ViTMAEPlan plan, int index, bool training)
        {
            ViTMAESpec s = plan.Spec;
            ResolutionPlan r = plan.Resolutions[index];
            w.Open("file readonly struct " + ShapeName(r) + (training ? "Training" : "") + " : IResolutionShape");
            Prop(w, "Index", I(index));
            Prop(w, "Height", I(r.Height));
            Prop(w, "Width", I(r.Width));
            Prop(w, "Channels", I(s.NumChannels));
            Prop(w, "PatchSize", I(s.PatchSize));
            Prop(w, "PatchDim", I(s.PatchDim));
            Prop(w, "Patches", I(r.NumPatches));
            Prop(w, "Kept", I(r.LenKeep));
            Prop(w, "Tokens", I(r.EncoderTokens));
            Prop(w, "DecoderTokens", I(r.DecoderTokens));
            Prop(w, "Hidden", I(s.HiddenSize));
            Prop(w, "DecoderHidden", I(s.DecoderHiddenSize));
            Prop(w, "Layers", I(s.NumHiddenLayers));
            Prop(w, "DecoderLayers", I(s.DecoderNumHiddenLayers));
            Prop(w, "Eps", F(s.LayerNormEps), "float");
            Prop(w, "NormPixLoss", B(s.NormPixLoss), "bool");
            Prop(w, "Training", B(training), "bool");
            Func<string, BufferSlot?> find = name => (training ? r.Training.Buffers : r.Buffers).FirstOrDefault(b => b.Name == name);
            var members = new (string Member, string Buffer)[]
            {
                ("PatchesOffset", Buffers.Patches), ("EmbeddingsOffset", Buffers.Embeddings), ("MaskOffset", Buffers.Mask),
                ("LastHiddenStateOffset", Buffers.LastHiddenState), ("DecoderTokensOffset", Buffers.DecoderTokens),
                ("DecoderNormOffset", Buffers.DecoderNorm), ("LogitsOffset", Buffers.Logits),
                ("FinalStatsOffset", TrainingBuffers.FinalStats), ("DecoderNormStatsOffset", TrainingBuffers.DecoderNormStats),
                ("DLogitsOffset", TrainingBuffers.DLogits), ("DDecoderNormOffset", TrainingBuffers.DDecoderNorm),
                ("DDecoderTokensOffset", TrainingBuffers.DDecoderTokens), ("DLastHiddenStateOffset", TrainingBuffers.DLastHiddenState),
                ("DEmbeddingsOffset", TrainingBuffers.DEmbeddings), ("DPatchesOffset", TrainingBuffers.DPatches),
            };
            foreach ((string member, string buffer) in members)
            {
                BufferSlot? slot = find(buffer);
                Prop(w, member, slot is null ? "0" : I(slot.OffsetPerImage), comment: slot is null ? "(training only)" : buffer + " " + slot.Shape + ", steps " + I(slot.FirstStep) + "-" + I(slot.LastStep));
            }

            w.Close();
        }

        private static void EmitLayerShape(CodeWriter w, ViTMAEPlan plan, ResolutionPlan r, LayerStackStep stack, bool training)
        {
            ViTMAESpec s = plan.Spec;
            LayerPlan l = stack.Layer;
            bool decoder = stack.Stage == PlanStage.Decoder;
            string name = ShapeName(r) + (decoder ? "Decoder" : "Encoder") + (training ? "Training" : "");
            w.Line("/// <summary>The " + l.Prefix + " layers at " + r.Name + " px" + (training ? " for training" : "") + ": [" + I(l.Tokens) + ", " + I(l.Hidden) + "], " + I(l.Heads) +
                   " heads, MLP " + I(l.Intermediate) + (training ? "; one block of " + I((decoder ? r.Training.Decoder : r.Training.Encoder).Stride) + " floats per layer" : "") + ".</summary>");
            w.Open("file readonly struct " + name + " : ILayerShape");
            Prop(w, "Tokens", I(l.Tokens));
            Prop(w, "Hidden", I(l.Hidden));
            Prop(w, "Heads", I(l.Heads));
            Prop(w, "HeadDim", I(l.HeadDim));
            Prop(w, "Intermediate", I(l.Intermediate));
            Prop(w, "Eps", F(s.LayerNormEps), "float");
            Prop(w, "Activation", "Activation." + ActivationName(l.Activation), "Activation");
            Prop(w, "Training", B(training), "bool");
            if (!training)
            {
                // Inference: the layers share one set of buffers; x is updated in place; no statistics are kept.
                int x = r.Buffer(l.X).OffsetPerImage, norm = r.Buffer(l.Norm).OffsetPerImage;
                Prop(w, "Stride", "0");
                Prop(w, "XOffset", I(x), comment: l.X + " " + r.Buffer(l.X).Shape);
                Prop(w, "Norm1Offset", I(norm), comment: l.Norm + " " + r.Buffer(l.Norm).Shape);
                Prop(w, "Stats1Offset", "0", comment: "(training only)");
                Prop(w, "QkvOffset", I(r.Buffer(l.Qkv).OffsetPerImage), comment: l.Qkv + " " + r.Buffer(l.Qkv).Shape);
                Prop(w, "ProbsOffset", "0", comment: "(training only)");
                Prop(w, "ContextOffset", I(r.Buffer(l.Context).OffsetPerImage), comment: l.Context + " " + r.Buffer(l.Context).Shape);
                Prop(w, "XMidOffset", I(x), comment: "x, in place");
                Prop(w, "Norm2Offset", I(norm), comment: l.Norm + ", shared");
                Prop(w, "Stats2Offset", "0", comment: "(training only)");
                Prop(w, "PreOffset", "0", comment: "(training only: the activation is fused into the GEMM)");
                Prop(w, "PostOffset", I(r.Buffer(l.Mlp).OffsetPerImage), comment: l.Mlp + " " + r.Buffer(l.Mlp).Shape);
                foreach (string member in new[] { "ResidualGradOffset", "NormGradOffset", "QkvGradOffset", "ContextGradOffset", "MlpGradOffset" })
                {
                    Prop(w, member, "0", comment: "(training only)");
                }
            }
            else
            {
                LayerBlockLayout block = decoder ? r.Training.Decoder : r.Training.Encoder;
                int stack0 = r.Training.Buffer(decoder ? TrainingBuffers.DecoderLayers : TrainingBuffers.EncoderLayers).OffsetPerImage;
                string p = decoder ? "d_decoder_" : "d_encoder_";
                Prop(w, "Stride", I(block.Stride));
                Prop(w, "XOffset", I(stack0 + block.X));
                Prop(w, "Norm1Offset", I(stack0 + block.Norm1));
                Prop(w, "Stats1Offset", I(stack0 + block.Stats1));
                Prop(w, "QkvOffset", I(stack0 + block.Qkv));
                Prop(w, "ProbsOffset", I(stack0 + block.Probs));
                Prop(w, "ContextOffset", I(stack0 + block.Context));
                Prop(w, "XMidOffset", I(stack0 + block.XMid));
                Prop(w, "Norm2Offset", I(stack0 + block.Norm2));
                Prop(w, "Stats2Offset", I(stack0 + block.Stats2));
                Prop(w, "PreOffset", I(stack0 + block.Pre));
                Prop(w, "PostOffset", I(stack0 + block.Post));
                Prop(w, "ResidualGradOffset", I(r.Training.Buffer(p + "residual").OffsetPerImage));
                Prop(w, "NormGradOffset", I(r.Training.Buffer(p + "layer_norm").OffsetPerImage));
                Prop(w, "QkvGradOffset", I(r.Training.Buffer(p + "qkv").OffsetPerImage));
                Prop(w, "ContextGradOffset", I(r.Training.Buffer(p + "context").OffsetPerImage));
                Prop(w, "MlpGradOffset", I(r.Training.Buffer(p + "mlp").OffsetPerImage));
            }

            w.Close();
        }

        private static void Prop(CodeWriter w, string name, string value, string type = "int", string comment = "") =>
            w.Line("public static " + type + " " + name + " => " + value + ";" + (comment.Length > 0 ? " // " + comment : ""));

        /// <summary>The forward pass, generic over the resolution: the plan's steps in order, one call each.</summary>
        private static void EmitForward(CodeWriter w, ModelTarget target, ViTMAEPlan plan)
        {
            ResolutionPlan r = plan.Default;
            w.Line("/// <summary>");
            w.Line("/// The forward pass of " + target.ClassName + " at any compiled resolution R: ViTMAEModel (embeddings, masking, encoder) and");
            w.Line("/// ViTMAEForPreTraining (decoder, pixel loss). Each block below is one step of the plan; shapes in the comments are");
            w.Line("/// the config's resolution (" + r.Name + " px).");
            w.Line("/// </summary>");
            w.Open("file static class " + ForwardName(target));
            EmitModelMethod(w, r);
            w.Line();
            EmitPreTrainingMethod(w, r);
            w.Line();
            EmitLayerMethod(w, r);
            w.Line();
            EmitTrainMethod(w);
            w.Line();
            EmitBackwardMethod(w, r);
            w.Line();
            EmitLayerBackwardMethod(w, r);
            w.Close();
        }

        private static void EmitModelMethod(CodeWriter w, ResolutionPlan r)
        {
            w.Line("/// <summary>ViTMAEModel: embeddings with random masking, the encoder layers, the final LayerNorm.</summary>");
            w.Line("internal static ViTMAEModelOutput Model<R, E>(ModelWeights m, Workspace ws, in ViTMAEInputs inputs)");
            w.Line("    where R : struct, IResolutionShape where E : struct, ILayerShape");
            w.Line("{");
            w.Indent();
            w.Line("int batch = inputs.Batch;");
            w.Line("int pixelsPerImage = R.Channels * R.Height * R.Width;");
            BindBuffers(w, new[] { Buffers.Patches, Buffers.Embeddings, Buffers.Mask, Buffers.Hidden, Buffers.LastHiddenState });
            w.Line("ReadOnlySpan<float> noise = ws.Noise(inputs.Noise, batch * R.Patches);");
            w.Line("ReadOnlySpan<float> positions = m.PositionTables[R.Index];");
            w.Line("Span<float> hiddenStates = inputs.OutputHiddenStates ? ws.HiddenStates((R.Layers + 1) * hidden.Length) : default;");
            w.Line("Span<float> attentions = inputs.OutputAttentions ? ws.Attentions(R.Layers * batch * E.Heads * E.Tokens * E.Tokens) : default;");
            foreach (Step step in r.Steps.Where(s => s.Stage is PlanStage.Embeddings or PlanStage.Encoder))
            {
                w.Line();
                EmitStep(w, step);
            }

            w.Line();
            w.Line("return new ViTMAEModelOutput(");
            w.Line("    new TensorView(lastHiddenState, new TensorShape(batch, R.Tokens, R.Hidden)),");
            w.Line("    new TensorView(mask, new TensorShape(batch, R.Patches)),");
            w.Line("    ws.RestoreBatch(batch, R.Patches),");
            w.Line("    inputs.OutputHiddenStates ? new TensorView(hiddenStates, new TensorShape(R.Layers + 1, batch, R.Tokens, R.Hidden)) : default,");
            w.Line("    inputs.OutputAttentions ? new TensorView(attentions, new TensorShape(R.Layers, batch, E.Heads, R.Tokens, R.Tokens)) : default);");
            w.Outdent();
            w.Line("}");
        }

        private static void EmitPreTrainingMethod(CodeWriter w, ResolutionPlan r)
        {
            w.Line("/// <summary>ViTMAEForPreTraining: the encoder, the decoder on every patch (mask tokens for removed ones), the pixel loss.</summary>");
            w.Line("internal static ViTMAEPreTrainingOutput PreTraining<R, E, D>(ModelWeights m, Workspace ws, in ViTMAEInputs inputs)");
            w.Line("    where R : struct, IResolutionShape where E : struct, ILayerShape where D : struct, ILayerShape");
            w.Line("{");
            w.Indent();
            w.Line("ViTMAEModelOutput encoder = Model<R, E>(m, ws, inputs);");
            w.Line("int batch = inputs.Batch;");
            BindBuffers(w, new[] { Buffers.Patches, Buffers.Mask, Buffers.LastHiddenState, Buffers.DecoderTokens, Buffers.DecoderHidden, Buffers.DecoderNorm, Buffers.Logits });
            w.Line("ReadOnlySpan<float> decoderPositions = m.DecoderPositionTables![R.Index];");
            w.Line("Span<float> decoderHiddenStates = inputs.OutputHiddenStates ? ws.DecoderHiddenStates((R.DecoderLayers + 1) * decoderHidden.Length) : default;");
            w.Line("Span<float> decoderAttentions = inputs.OutputAttentions ? ws.DecoderAttentions(R.DecoderLayers * batch * D.Heads * D.Tokens * D.Tokens) : default;");
            foreach (Step step in r.Steps.Where(s => s.Stage is PlanStage.Decoder or PlanStage.Loss))
            {
                w.Line();
                EmitStep(w, step);
            }

            w.Line();
            w.Line("return new ViTMAEPreTrainingOutput(");
            w.Line("    loss,");
            w.Line("    new TensorView(logits, new TensorShape(batch, R.Patches, R.PatchDim)),");
            w.Line("    encoder,");
            w.Line("    inputs.OutputHiddenStates ? new TensorView(decoderHiddenStates, new TensorShape(R.DecoderLayers + 1, batch, R.DecoderTokens, R.DecoderHidden)) : default,");
            w.Line("    inputs.OutputAttentions ? new TensorView(decoderAttentions, new TensorShape(R.DecoderLayers, batch, D.Heads, R.DecoderTokens, R.DecoderTokens)) : default);");
            w.Outdent();
            w.Line("}");
        }

        /// <summary>Binds the model-level buffers a method touches, once, at its start.</summary>
        private static void BindBuffers(CodeWriter w, IEnumerable<string> buffers)
        {
            foreach (string buffer in buffers)
            {
                (string offset, string rows, string cols) = BufferSymbols(buffer);
                w.Line("Span<float> " + Camel(buffer) + " = ws.Buffer(" + offset + ", " + rows + (cols == "1" ? "" : " * " + cols) + ", batch);");
            }
        }

        /// <summary>A model-level buffer's arena offset and shape, in terms of the shape structs' constants.</summary>
        private static (string Offset, string Rows, string Cols) BufferSymbols(string buffer) => buffer switch
        {
            Buffers.Patches => ("R.PatchesOffset", "R.Patches", "R.PatchDim"),
            Buffers.Embeddings => ("R.EmbeddingsOffset", "R.Patches", "R.Hidden"),
            Buffers.Mask => ("R.MaskOffset", "R.Patches", "1"),
            Buffers.Hidden => ("E.XOffset", "R.Tokens", "R.Hidden"),
            Buffers.LastHiddenState => ("R.LastHiddenStateOffset", "R.Tokens", "R.Hidden"),
            Buffers.DecoderTokens => ("R.DecoderTokensOffset", "R.Tokens", "R.DecoderHidden"),
            Buffers.DecoderHidden => ("D.XOffset", "R.DecoderTokens", "R.DecoderHidden"),
            Buffers.DecoderNorm => ("R.DecoderNormOffset", "R.DecoderTokens", "R.DecoderHidden"),
            Buffers.Logits => ("R.LogitsOffset", "R.Patches", "R.PatchDim"),
            _ => throw new InvalidOperationException("no model-level buffer " + buffer),
        };

        /// <summary>Image <c>b</c>'s rows of a model-level buffer.</summary>
        private static string Image(string buffer)
        {
            (_, string rows, string cols) = BufferSymbols(buffer);
            string size = cols == "1" ? rows : rows + " * " + cols;
            return Camel(buffer) + ".Slice(b * " + size + ", " + size + ")";
        }

        /// <summary>One model-level step: a comment with its shapes, then its call (in a loop over images where it works per image).</summary>
        private static void EmitStep(CodeWriter w, Step step)
        {
            w.Line("// " + step.Name + ": " + step.Describe());
            switch (step)
            {
                case PatchifyStep:
                    PerImage(w, "Patches.Patchify(inputs.PixelValues.Slice(b * pixelsPerImage, pixelsPerImage), " + Image(Buffers.Patches) + ", R.Channels, R.Height, R.Width, R.PatchSize);");
                    break;
                case AddPositionsStep:
                    PerImage(w, "Blocks.AddPatchPositions(" + Image(Buffers.Embeddings) + ", positions, R.Patches, R.Hidden);");
                    break;
                case MaskingStep:
                    PerImage(w, "Masking.RandomMasking(noise.Slice(b * R.Patches, R.Patches), ws.Shuffle(b, R.Patches), ws.Restore(b, R.Patches), " + Image(Buffers.Mask) + ", R.Kept, ws.SortScratch);");
                    break;
                case GatherKeptStep:
                    PerImage(w, "Blocks.GatherKept(" + Image(Buffers.Embeddings) + ", m.ClsToken, positions, ws.Shuffle(b, R.Patches), " + Image(Buffers.Hidden) + ", R.Kept);");
                    w.Line("Blocks.Record(hidden, hiddenStates, 0);");
                    break;
                case UnshuffleStep:
                    PerImage(w, "Blocks.Unshuffle(" + Image(Buffers.DecoderTokens) + ", m.MaskToken!, decoderPositions, ws.Restore(b, R.Patches), " + Image(Buffers.DecoderHidden) + ", R.Kept);");
                    w.Line("Blocks.Record(decoderHidden, decoderHiddenStates, 0);");
                    break;
                case LinearStep linear when linear.Note.Contains("CLS row skipped"):
                    PerImage(w, "m." + linear.Weight + "!.Forward(" + Camel(linear.Input) + ".Slice((b * R.DecoderTokens + 1) * R.DecoderHidden, R.Patches * R.DecoderHidden), " +
                                Image(linear.Output) + ", R.Patches, pool: ws.Pool);");
                    break;
                case LinearStep linear:
                    w.Line("m." + linear.Weight + (linear.Stage == PlanStage.Embeddings ? "" : "!") + ".Forward(" + Camel(linear.Input) + ", " + Camel(linear.Output) +
                           ", batch * " + BufferSymbols(linear.Input).Rows + ", pool: ws.Pool);");
                    break;
                case LayerNormStep norm:
                    // The stack's output: the last layer's block for training (each layer keeps its own), x itself for inference.
                    bool afterDecoder = norm.Input == Buffers.DecoderHidden;
                    string weight = afterDecoder ? "m.DecoderNormWeight!, m.DecoderNormBias!" : "m.NormWeight, m.NormBias";
                    (_, string rows, string cols) = BufferSymbols(norm.Input);
                    string l2 = afterDecoder ? "D" : "E", stackOutput = afterDecoder ? "decoderOutput" : "encoderOutput";
                    string stats = afterDecoder ? "R.DecoderNormStatsOffset" : "R.FinalStatsOffset";
                    w.Line("Span<float> " + stackOutput + " = ws.Buffer(" + l2 + ".XOffset + (R." + (afterDecoder ? "DecoderLayers" : "Layers") + " * " + l2 + ".Stride), " + rows + " * " + cols + ", batch);");
                    w.Line("Span<float> " + (afterDecoder ? "decoderNormStats" : "finalStats") + " = R.Training ? ws.Buffer(" + stats + ", " + rows + " * 2, batch) : default;");
                    w.Line("Blocks.LayerNorm(" + stackOutput + ", " + weight + ", " + Camel(norm.Output) + ", " + (afterDecoder ? "decoderNormStats" : "finalStats") +
                           ", batch * " + rows + ", " + cols + ", R.Eps, ws.Pool);");
                    break;
                case LayerStackStep stack:
                    bool decoder = stack.Stage == PlanStage.Decoder;
                    string l = decoder ? "D" : "E";
                    w.Open("for (int layer = 0; layer < R." + (decoder ? "DecoderLayers" : "Layers") + "; layer++)");
                    w.Line("ReadOnlySpan<float> headMask = InputCheck.LayerHeadMask(inputs." + (decoder ? "DecoderHeadMask" : "HeadMask") + ", layer, " + l + ".Heads);");
                    w.Line("Layer<" + l + ">(m." + (decoder ? "Decoder" : "Encoder") + "[layer], ws, batch, layer, headMask, Blocks.Entry(" + (decoder ? "decoderAttentions" : "attentions") +
                           ", layer, batch * " + l + ".Heads * " + l + ".Tokens * " + l + ".Tokens));");
                    w.Line("Blocks.Record(ws.Buffer(" + l + ".XOffset + ((layer + 1) * " + l + ".Stride), " + l + ".Tokens * " + l + ".Hidden, batch), " + (decoder ? "decoderHiddenStates" : "hiddenStates") + ", layer + 1);");
                    w.Close();
                    break;
                case LossStep:
                    w.Line("float loss = Blocks.PixelLoss(patches, logits, mask, R.PatchDim, R.NormPixLoss);");
                    break;
                default:
                    throw new InvalidOperationException("no emitter for step " + step.GetType().Name);
            }
        }

        private static void PerImage(CodeWriter w, string call)
        {
            w.Open("for (int b = 0; b < batch; b++)");
            w.Line(call);
            w.Close();
        }

        /// <summary>
        /// The layer body, written once from the layer plan's steps; the encoder and the decoder both call it, for inference
        /// (buffers shared, residual in place, activation fused into the GEMM) and for training (each layer's block keeps the
        /// LayerNorm statistics, the pre-activation and the probabilities; the residual stream moves to the next block).
        /// </summary>
        private static void EmitLayerMethod(CodeWriter w, ResolutionPlan r)
        {
            LayerPlan encoder = r.Encoder.Layer, decoder = r.Decoder.Layer;
            w.Line("/// <summary>");
            w.Line("/// One pre-LN transformer layer (ViTMAELayer), encoder or decoder: x += Wo·Attn(LN_before(x)); x += W2·" + encoder.Activation + "(W1·LN_after(x)).");
            w.Line("/// </summary>");
            w.Line("private static void Layer<L>(TransformerLayerWeights w, Workspace ws, int batch, int layer, ReadOnlySpan<float> headMask, Span<float> probs)");
            w.Line("    where L : struct, ILayerShape");
            w.Line("{");
            w.Indent();
            w.Line("LayerBuffers b = LayerBuffers.Bind<L>(ws, batch, layer);");
            w.Line("int rows = batch * L.Tokens;");
            for (int i = 0; i < encoder.Steps.Count; i++)
            {
                Step e = encoder.Steps[i], d = decoder.Steps[i];
                string name = e.Name.Substring(encoder.Prefix.Length + 1);
                w.Line();
                w.Line("// " + name + ": encoder " + e.Describe() + "; decoder " + d.Describe());
                switch (name)
                {
                    case "layernorm_before":
                        w.Line("Blocks.LayerNorm(b.X, w.LayerNormBeforeWeight, w.LayerNormBeforeBias, b.Norm1, b.Stats1, rows, L.Hidden, L.Eps, ws.Pool);");
                        break;
                    case "qkv":
                        w.Line("w.Qkv.Forward(b.Norm1, b.Qkv, rows, pool: ws.Pool);");
                        break;
                    case "attention":
                        w.Open("for (int i = 0; i < batch; i++)");
                        w.Line("Span<float> imageProbs = L.Training ? b.Probs.Slice(i * L.Heads * L.Tokens * L.Tokens, L.Heads * L.Tokens * L.Tokens) : Blocks.Entry(probs, i, L.Heads * L.Tokens * L.Tokens);");
                        w.Line("AttentionKernel.Forward(b.Qkv.Slice(i * L.Tokens * 3 * L.Hidden, L.Tokens * 3 * L.Hidden), headMask, b.Context.Slice(i * L.Tokens * L.Hidden, L.Tokens * L.Hidden),");
                        w.Line("    imageProbs, L.Tokens, L.Heads, L.HeadDim, ws.AttentionScratch, ws.Pool);");
                        w.Close();
                        break;
                    case "attention.output":
                        w.Line("if (L.Training) b.X.CopyTo(b.XMid); // training keeps x; inference adds in place");
                        w.Line("w.AttentionOutput.Forward(b.Context, b.XMid, rows, Epilogue.Accumulate, pool: ws.Pool);");
                        break;
                    case "layernorm_after":
                        w.Line("Blocks.LayerNorm(b.XMid, w.LayerNormAfterWeight, w.LayerNormAfterBias, b.Norm2, b.Stats2, rows, L.Hidden, L.Eps, ws.Pool);");
                        break;
                    case "intermediate":
                        w.Open("if (L.Training)");
                        w.Line("w.Intermediate.Forward(b.Norm2, b.Pre, rows, pool: ws.Pool); // the backward pass needs the pre-activation");
                        w.Line("Activations.Apply(L.Activation, b.Pre, b.Post);");
                        w.Close();
                        w.Open("else");
                        w.Line("w.Intermediate.Forward(b.Norm2, b.Post, rows, Epilogue.Activation, L.Activation, ws.Pool);");
                        w.Close();
                        break;
                    case "output":
                        w.Line("if (L.Training) b.XMid.CopyTo(b.Output); // the next layer's x");
                        w.Line("w.Output.Forward(b.Post, b.Output, rows, Epilogue.Accumulate, pool: ws.Pool);");
                        break;
                    default:
                        throw new InvalidOperationException("no emitter for layer step " + name);
                }
            }

            w.Outdent();
            w.Line("}");
        }

        private static string ActivationName(string hiddenAct) => hiddenAct switch
        {
            "gelu" => "GeluErf",
            "gelu_new" or "gelu_pytorch_tanh" => "GeluTanh",
            "gelu_fast" => "GeluFast",
            "quick_gelu" => "QuickGelu",
            "silu" or "swish" => "Silu",
            "relu" => "Relu",
            "selu" => "Selu",
            _ => throw new InvalidOperationException("hidden_act '" + hiddenAct + "' passed the parser but has no kernel"),
        };

        /// <summary>A float literal that round-trips (e.g. <c>1E-12f</c>).</summary>
        private static string F(double value) => ((float)value).ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "f";

        private static string Camel(string snake)
        {
            string pascal = Pascal(snake);
            return char.ToLowerInvariant(pascal[0]) + pascal.Substring(1);
        }

        private static string Pascal(string snake) =>
            string.Concat(snake.Split('_').Select(part => part.Length == 0 ? part : char.ToUpperInvariant(part[0]) + part.Substring(1)));
    }
}
