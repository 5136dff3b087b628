using System.Linq;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Generator.Model;

namespace ViTMAE.Compiled.Generator
{
    /// <summary>
    /// The forward pass: weights packed at load, a session that owns the workspace, and per declared resolution a
    /// nested class whose every shape is a constant. Generated methods stay small (one per block kind) so that the
    /// JIT optimises them fully; the loops over layers call them.
    /// </summary>
    internal static partial class ViTMAEEmitter
    {
        private const string Rt = "global::ViTMAE.Compiled.Modeling.";
        private const string Kn = "global::ViTMAE.Compiled.Kernels.";

        private static void EmitModel(CodeWriter w, ModelTarget target, ViTMAEPlan plan)
        {
            ViTMAESpec s = plan.Spec;
            string c = target.ClassName;
            w.Line();
            w.Line("// ---- Weights, packed once at load. Immutable afterwards: one instance serves every thread. ----");
            w.Line("private readonly " + Kn + "PackedLinear _patchEmbedding;");
            w.Line("private readonly float[] _clsToken;");
            w.Line("private readonly float[][] _positionEmbeddings;");
            w.Line("private readonly " + Rt + "TransformerLayerWeights[] _encoderLayers;");
            w.Line("private readonly float[] _layerNormWeight;");
            w.Line("private readonly float[] _layerNormBias;");
            w.Line("private readonly " + Kn + "PackedLinear? _decoderEmbed;");
            w.Line("private readonly float[]? _maskToken;");
            w.Line("private readonly float[][]? _decoderPositionEmbeddings;");
            w.Line("private readonly " + Rt + "TransformerLayerWeights[] _decoderLayers;");
            w.Line("private readonly float[]? _decoderNormWeight;");
            w.Line("private readonly float[]? _decoderNormBias;");
            w.Line("private readonly " + Kn + "PackedLinear? _decoderPred;");
            w.Line();
            w.Line("private static readonly (int Height, int Width)[] s_resolutions = { " + string.Join(", ", plan.Resolutions.Select(r => "(" + I(r.Height) + ", " + I(r.Width) + ")")) + " };");
            w.Line();
            EmitConstructor(w, c, plan);
            w.Line();
            w.Line("/// <summary>Loads a Hugging Face checkpoint: a <c>model.safetensors</c> file, a sharded <c>model.safetensors.index.json</c>, or a folder holding either.</summary>");
            w.Line("/// <exception cref=\"global::ViTMAE.Compiled.ViTMAEException\">A tensor is missing, has another shape or an unsupported dtype, or the file is malformed.</exception>");
            w.Open("public static " + c + " Load(string path)");
            w.Line("using var source = global::ViTMAE.Compiled.Weights.WeightSource.Open(path);");
            w.Line("return new " + c + "(new " + Rt + "Checkpoint(source));");
            w.Close();
            w.Line();
            w.Line("/// <summary>Loads the weights from an open source (a <c>ViTMAEForPreTraining</c> or <c>ViTMAEModel</c> checkpoint).</summary>");
            w.Line("public static " + c + " Load(global::ViTMAE.Compiled.Weights.WeightSource source) => new " + c + "(new " + Rt + "Checkpoint(source));");
            w.Line();
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
            w.Line("/// <inheritdoc/>");
            w.Line("public global::ViTMAE.Compiled.Configuration.ViTMAESpec Spec => CompiledSpec;");
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Line("public bool HasDecoder => _decoderPred is not null;");
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
            w.Line(Rt + "IViTMAESession " + Rt + "IViTMAEModel.CreateSession(int maxBatch, int seed, int degreeOfParallelism) => CreateSession(maxBatch, seed, degreeOfParallelism);");
            w.Line();
            EmitSession(w, c, plan);
            for (int i = 0; i < plan.Resolutions.Count; i++)
            {
                w.Line();
                EmitResolution(w, c, plan, i);
            }
        }

        private static void EmitConstructor(CodeWriter w, string c, ViTMAEPlan plan)
        {
            ViTMAESpec s = plan.Spec;
            w.Open("private " + c + "(" + Rt + "Checkpoint checkpoint)");
            w.Line("// Embeddings: the convolution weight [D, C, p, p] reordered to patchify order [D, p, p, C], packed as a GEMM.");
            w.Line("_patchEmbedding = new " + Kn + "PackedLinear(");
            w.Line("    " + Rt + "Patches.ConvWeightToPatchOrder(checkpoint.Require(\"vit.embeddings.patch_embeddings.projection.weight\", HiddenSize, NumChannels, PatchSize, PatchSize), HiddenSize, NumChannels, PatchSize),");
            w.Line("    checkpoint.Require(\"vit.embeddings.patch_embeddings.projection.bias\", HiddenSize), HiddenSize, PatchDim);");
            w.Line("_clsToken = checkpoint.Require(\"vit.embeddings.cls_token\", 1, 1, HiddenSize);");
            w.Line("float[] positions = checkpoint.Require(\"vit.embeddings.position_embeddings\", 1, NumPatches + 1, HiddenSize);");
            w.Line("// One position table per compiled resolution (bicubic interpolation for the extra ones, computed once here).");
            w.Line("_positionEmbeddings = new[] { positions" + string.Concat(plan.Resolutions.Skip(1).Select(r =>
                ", " + Rt + "PositionInterpolation.Encoder(positions, HiddenSize, " + I(r.GridHeight) + ", " + I(r.GridWidth) + ")")) + " };");
            w.Line();
            w.Line("// Encoder layers (query, key and value fused into one GEMM) and the final LayerNorm.");
            w.Line("_encoderLayers = new " + Rt + "TransformerLayerWeights[NumHiddenLayers];");
            w.Open("for (int layer = 0; layer < NumHiddenLayers; layer++)");
            w.Line("_encoderLayers[layer] = " + Rt + "TransformerLayerWeights.Load(checkpoint, \"vit.encoder.layer.\", layer, HiddenSize, IntermediateSize, QkvBias);");
            w.Close();
            w.Line("_layerNormWeight = checkpoint.Require(\"vit.layernorm.weight\", HiddenSize);");
            w.Line("_layerNormBias = checkpoint.Require(\"vit.layernorm.bias\", HiddenSize);");
            w.Line();
            w.Line("// Decoder: only in ViTMAEForPreTraining checkpoints; a ViTMAEModel checkpoint runs the encoder alone.");
            w.Open("if (!checkpoint.HasDecoder)");
            w.Line("_decoderLayers = global::System.Array.Empty<" + Rt + "TransformerLayerWeights>();");
            w.Line("return;");
            w.Close();
            w.Line();
            w.Line("_decoderEmbed = " + Rt + "TransformerLayerWeights.Linear(checkpoint, \"decoder.decoder_embed\", DecoderHiddenSize, HiddenSize);");
            w.Line("_maskToken = checkpoint.Require(\"decoder.mask_token\", 1, 1, DecoderHiddenSize);");
            w.Line("float[] decoderPositions = checkpoint.Require(\"decoder.decoder_pos_embed\", 1, NumPatches + 1, DecoderHiddenSize);");
            w.Line("_decoderPositionEmbeddings = new[] { decoderPositions" + string.Concat(plan.Resolutions.Skip(1).Select(r =>
                ", " + Rt + "PositionInterpolation.Decoder(decoderPositions, DecoderHiddenSize, " + I(r.NumPatches) + ")")) + " };");
            w.Line("_decoderLayers = new " + Rt + "TransformerLayerWeights[DecoderNumHiddenLayers];");
            w.Open("for (int layer = 0; layer < DecoderNumHiddenLayers; layer++)");
            w.Line("_decoderLayers[layer] = " + Rt + "TransformerLayerWeights.Load(checkpoint, \"decoder.decoder_layers.\", layer, DecoderHiddenSize, DecoderIntermediateSize, QkvBias);");
            w.Close();
            w.Line("_decoderNormWeight = checkpoint.Require(\"decoder.decoder_norm.weight\", DecoderHiddenSize);");
            w.Line("_decoderNormBias = checkpoint.Require(\"decoder.decoder_norm.bias\", DecoderHiddenSize);");
            w.Line("_decoderPred = " + Rt + "TransformerLayerWeights.Linear(checkpoint, \"decoder.decoder_pred\", PatchDim, DecoderHiddenSize);");
            w.Close();
        }

        private static void EmitSession(CodeWriter w, string c, ViTMAEPlan plan)
        {
            w.Line("/// <summary>");
            w.Line("/// A per-caller workspace: the activation arena (" + I(plan.ArenaFloatsPerImage) + " floats per image), masking indices and");
            w.Line("/// attention scratch, allocated once and reused by every call. Outputs are views into it, valid until the next call.");
            w.Line("/// One call at a time: give each thread its own session (a concurrent call throws InvalidOperationException, a call");
            w.Line("/// after <see cref=\"Dispose\"/> ObjectDisposedException).");
            w.Line("/// </summary>");
            w.Open("public sealed class Session : " + Rt + "IViTMAESession");
            w.Line("private readonly " + c + " _model;");
            w.Line();
            w.Open("internal Session(" + c + " model, int maxBatch, int seed, int degreeOfParallelism)");
            w.Line("_model = model;");
            w.Line("int scratch = global::System.Math.Max(");
            w.Line("    " + Kn + "AttentionKernel.ScratchLength(" + I(plan.MaxEncoderTokens) + ", HeadDim),");
            w.Line("    " + Kn + "AttentionKernel.ScratchLength(" + I(plan.MaxDecoderTokens) + ", DecoderHeadDim));");
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
            w.Open("public " + Rt + "ViTMAEModelOutput Forward(in " + Rt + "ViTMAEInputs inputs)");
            EmitDispatch(w, plan, "Model");
            w.Close();
            w.Line();
            w.Line("/// <inheritdoc/>");
            w.Open("public " + Rt + "ViTMAEPreTrainingOutput ForwardPreTraining(in " + Rt + "ViTMAEInputs inputs)");
            w.Open("if (!_model.HasDecoder)");
            w.Line("throw new " + Rt + "ViTMAEInputException(\"model\", \"the checkpoint has no decoder (a ViTMAEModel checkpoint); load a ViTMAEForPreTraining checkpoint to run ForwardPreTraining\");");
            w.Close();
            w.Line();
            EmitDispatch(w, plan, "PreTraining");
            w.Close();
            w.Line();
            w.Line("private int Resolve(in " + Rt + "ViTMAEInputs inputs) => " + Rt + "InputCheck.Resolve(");
            w.Line("    inputs, s_resolutions, NumChannels, PatchSize, MaxBatch, NumHiddenLayers, NumAttentionHeads, DecoderNumHiddenLayers, DecoderNumAttentionHeads);");
            w.Close();
        }

        private static void EmitDispatch(CodeWriter w, ViTMAEPlan plan, string method)
        {
            // One call at a time: a second thread (or a call after Dispose) gets an exception at once, never a torn arena.
            w.Line("using " + Rt + "Workspace.CallScope call = Workspace.Enter();");
            if (plan.Resolutions.Count == 1)
            {
                w.Line("Resolve(inputs);");
                w.Line("return " + ResolutionClass(plan.Default) + "." + method + "(_model, Workspace, inputs);");
                return;
            }

            w.Line("return Resolve(inputs) switch");
            w.Line("{");
            for (int i = 0; i < plan.Resolutions.Count; i++)
            {
                string key = i == plan.Resolutions.Count - 1 ? "_" : I(i);
                w.Line("    " + key + " => " + ResolutionClass(plan.Resolutions[i]) + "." + method + "(_model, Workspace, inputs),");
            }

            w.Line("};");
        }

        private static string ResolutionClass(ResolutionPlan r) => "At" + r.Name;

        private static string ActivationName(string hiddenAct) => hiddenAct switch
        {
            "gelu" => "GeluErf",
            "gelu_new" => "GeluTanh",
            "relu" => "Relu",
            _ => "Selu",
        };

        private static void EmitResolution(CodeWriter w, string c, ViTMAEPlan plan, int index)
        {
            ViTMAESpec s = plan.Spec;
            ResolutionPlan r = plan.Resolutions[index];
            w.Line("/// <summary>");
            w.Line("/// The forward pass at " + r.Name + " px" + (index == 0 ? " (the config's resolution)" : " (declared; interpolated position tables)") +
                   ": L = " + I(r.NumPatches) + " patches, len_keep = " + I(r.LenKeep) + ", encoder T = " + I(r.EncoderTokens) + ", decoder " + I(r.DecoderTokens) + " tokens.");
            w.Line("/// </summary>");
            w.Open("private static class " + ResolutionClass(r));
            w.Line("private const int Resolution = " + I(index) + ";");
            w.Line("private const int Height = " + I(r.Height) + ", Width = " + I(r.Width) + ", Pixels = NumChannels * Height * Width;");
            w.Line("private const int Patches = " + I(r.NumPatches) + ", Kept = " + I(r.LenKeep) + ", Tokens = " + I(r.EncoderTokens) + ", DecoderTokens = " + I(r.DecoderTokens) + ";");
            w.Line("private const int EncoderAttention = NumAttentionHeads * Tokens * Tokens, DecoderAttention = DecoderNumAttentionHeads * DecoderTokens * DecoderTokens;");
            w.Line();
            w.Line("// Arena buffers: offset and size per image (the plan's table; buffers alive at the same step never overlap).");
            foreach (BufferSlot b in r.Buffers)
            {
                w.Line("private const int " + Pascal(b.Name) + "Offset = " + I(b.OffsetPerImage) + ", " + Pascal(b.Name) + "Floats = " + I(b.FloatsPerImage) + "; // " + b.Shape + ", steps " + I(b.FirstStep) + "-" + I(b.LastStep));
            }

            w.Line();
            EmitModelMethod(w, c);
            w.Line();
            EmitPreTrainingMethod(w, c);
            w.Line();
            EmitEmbeddings(w, c);
            w.Line();
            EmitLayer(w, s, "EncoderLayer", "Tokens", "HiddenSize", "NumAttentionHeads", "HeadDim", "IntermediateSize", "Hidden", "EncoderNorm", "EncoderQkv", "EncoderContext", "EncoderMlp", "EncoderAttention");
            w.Line();
            EmitLayer(w, s, "DecoderLayer", "DecoderTokens", "DecoderHiddenSize", "DecoderNumAttentionHeads", "DecoderHeadDim", "DecoderIntermediateSize", "DecoderHidden", "DecoderNorm", "DecoderQkv", "DecoderContext", "DecoderMlp", "DecoderAttention");
            w.Close();
        }

        private static void EmitModelMethod(CodeWriter w, string c)
        {
            w.Line("/// <summary>ViTMAEModel: embeddings with random masking, the encoder layers, the final LayerNorm.</summary>");
            w.Open("internal static " + Rt + "ViTMAEModelOutput Model(" + c + " m, " + Rt + "Workspace ws, in " + Rt + "ViTMAEInputs inputs)");
            w.Line("int batch = inputs.Batch;");
            w.Line("global::System.Span<float> hidden = ws.Buffer(HiddenOffset, HiddenFloats, batch);");
            w.Line("global::System.Span<float> hiddenStates = inputs.OutputHiddenStates ? ws.HiddenStates((NumHiddenLayers + 1) * hidden.Length) : default;");
            w.Line("global::System.Span<float> attentions = inputs.OutputAttentions ? ws.Attentions(NumHiddenLayers * batch * EncoderAttention) : default;");
            w.Line();
            w.Line("// Embeddings: patchify, patch projection, + positions, random masking, CLS + kept patches.");
            w.Line("Embeddings(m, ws, inputs.PixelValues, ws.Noise(inputs.Noise, batch * Patches), batch);");
            w.Line(Rt + "Blocks.Record(hidden, hiddenStates, 0);");
            w.Line();
            w.Line("// Encoder: " + "NumHiddenLayers pre-LN layers on [batch * Tokens, HiddenSize].");
            w.Open("for (int layer = 0; layer < NumHiddenLayers; layer++)");
            w.Line("global::System.ReadOnlySpan<float> headMask = " + Rt + "InputCheck.LayerHeadMask(inputs.HeadMask, layer, NumAttentionHeads);");
            w.Line("EncoderLayer(m._encoderLayers[layer], ws, batch, headMask, " + Rt + "Blocks.Entry(attentions, layer, batch * EncoderAttention));");
            w.Line(Rt + "Blocks.Record(hidden, hiddenStates, layer + 1);");
            w.Close();
            w.Line();
            w.Line("// Final LayerNorm: last_hidden_state.");
            w.Line("global::System.Span<float> last = ws.Buffer(LastHiddenStateOffset, LastHiddenStateFloats, batch);");
            w.Line(Kn + "LayerNormKernel.Forward(hidden, m._layerNormWeight, m._layerNormBias, last, batch * Tokens, HiddenSize, (float)LayerNormEps, ws.Pool);");
            w.Line("return new " + Rt + "ViTMAEModelOutput(");
            w.Line("    new " + Rt + "TensorView(last, new " + Rt + "TensorShape(batch, Tokens, HiddenSize)),");
            w.Line("    new " + Rt + "TensorView(ws.Buffer(MaskOffset, MaskFloats, batch), new " + Rt + "TensorShape(batch, Patches)),");
            w.Line("    ws.RestoreBatch(batch, Patches),");
            w.Line("    inputs.OutputHiddenStates ? new " + Rt + "TensorView(hiddenStates, new " + Rt + "TensorShape(NumHiddenLayers + 1, batch, Tokens, HiddenSize)) : default,");
            w.Line("    inputs.OutputAttentions ? new " + Rt + "TensorView(attentions, new " + Rt + "TensorShape(NumHiddenLayers, batch, NumAttentionHeads, Tokens, Tokens)) : default);");
            w.Close();
        }

        private static void EmitPreTrainingMethod(CodeWriter w, string c)
        {
            w.Line("/// <summary>ViTMAEForPreTraining: the encoder, the decoder on every patch (mask tokens for removed ones), the pixel loss.</summary>");
            w.Open("internal static " + Rt + "ViTMAEPreTrainingOutput PreTraining(" + c + " m, " + Rt + "Workspace ws, in " + Rt + "ViTMAEInputs inputs)");
            w.Line(Rt + "ViTMAEModelOutput encoder = Model(m, ws, inputs);");
            w.Line("int batch = inputs.Batch;");
            w.Line("global::System.Span<float> tokens = ws.Buffer(DecoderTokensOffset, DecoderTokensFloats, batch);");
            w.Line("global::System.Span<float> hidden = ws.Buffer(DecoderHiddenOffset, DecoderHiddenFloats, batch);");
            w.Line("global::System.Span<float> norm = ws.Buffer(DecoderNormOffset, DecoderNormFloats, batch);");
            w.Line("global::System.Span<float> logits = ws.Buffer(LogitsOffset, LogitsFloats, batch);");
            w.Line("global::System.Span<float> hiddenStates = inputs.OutputHiddenStates ? ws.DecoderHiddenStates((DecoderNumHiddenLayers + 1) * hidden.Length) : default;");
            w.Line("global::System.Span<float> attentions = inputs.OutputAttentions ? ws.DecoderAttentions(DecoderNumHiddenLayers * batch * DecoderAttention) : default;");
            w.Line("global::System.ReadOnlySpan<float> positions = m._decoderPositionEmbeddings![Resolution];");
            w.Line();
            w.Line("// Decoder input: decoder_embed on the encoder output (CLS included), mask tokens for removed patches, unshuffle, + positions.");
            w.Line("m._decoderEmbed!.Forward(encoder.LastHiddenState.Span, tokens, batch * Tokens, ws.Pool);");
            w.Open("for (int b = 0; b < batch; b++)");
            w.Line(Rt + "Blocks.Unshuffle(tokens.Slice(b * DecoderTokensFloats, DecoderTokensFloats), m._maskToken, positions, ws.Restore(b, Patches), Kept,");
            w.Line("    hidden.Slice(b * DecoderHiddenFloats, DecoderHiddenFloats));");
            w.Close();
            w.Line(Rt + "Blocks.Record(hidden, hiddenStates, 0);");
            w.Line();
            w.Line("// Decoder: DecoderNumHiddenLayers pre-LN layers on [batch * DecoderTokens, DecoderHiddenSize].");
            w.Open("for (int layer = 0; layer < DecoderNumHiddenLayers; layer++)");
            w.Line("global::System.ReadOnlySpan<float> headMask = " + Rt + "InputCheck.LayerHeadMask(inputs.DecoderHeadMask, layer, DecoderNumAttentionHeads);");
            w.Line("DecoderLayer(m._decoderLayers[layer], ws, batch, headMask, " + Rt + "Blocks.Entry(attentions, layer, batch * DecoderAttention));");
            w.Line(Rt + "Blocks.Record(hidden, hiddenStates, layer + 1);");
            w.Close();
            w.Line();
            w.Line("// decoder_norm, then decoder_pred on the patch rows (the CLS row is dropped): logits [batch, Patches, PatchDim].");
            w.Line(Kn + "LayerNormKernel.Forward(hidden, m._decoderNormWeight, m._decoderNormBias, norm, batch * DecoderTokens, DecoderHiddenSize, (float)LayerNormEps, ws.Pool);");
            w.Open("for (int b = 0; b < batch; b++)");
            w.Line("m._decoderPred!.Forward(norm.Slice((b * DecoderTokens + 1) * DecoderHiddenSize, Patches * DecoderHiddenSize), logits.Slice(b * LogitsFloats, LogitsFloats), Patches, ws.Pool);");
            w.Close();
            w.Line();
            w.Line("// Loss: per-patch MSE against the patchified pixels (normalised per patch when norm_pix_loss), mean over removed patches.");
            w.Line("float loss = " + Rt + "Blocks.PixelLoss(ws.Buffer(PatchesOffset, PatchesFloats, batch), logits, ws.Buffer(MaskOffset, MaskFloats, batch), PatchDim, NormPixLoss);");
            w.Line("return new " + Rt + "ViTMAEPreTrainingOutput(");
            w.Line("    loss,");
            w.Line("    new " + Rt + "TensorView(logits, new " + Rt + "TensorShape(batch, Patches, PatchDim)),");
            w.Line("    encoder,");
            w.Line("    inputs.OutputHiddenStates ? new " + Rt + "TensorView(hiddenStates, new " + Rt + "TensorShape(DecoderNumHiddenLayers + 1, batch, DecoderTokens, DecoderHiddenSize)) : default,");
            w.Line("    inputs.OutputAttentions ? new " + Rt + "TensorView(attentions, new " + Rt + "TensorShape(DecoderNumHiddenLayers, batch, DecoderNumAttentionHeads, DecoderTokens, DecoderTokens)) : default);");
            w.Close();
        }

        private static void EmitEmbeddings(CodeWriter w, string c)
        {
            w.Line("/// <summary>ViTMAEEmbeddings: patch projection (the stride-p convolution as one GEMM), positions, random masking, CLS.</summary>");
            w.Open("private static void Embeddings(" + c + " m, " + Rt + "Workspace ws, global::System.ReadOnlySpan<float> pixels, global::System.ReadOnlySpan<float> noise, int batch)");
            w.Line("global::System.Span<float> patches = ws.Buffer(PatchesOffset, PatchesFloats, batch);");
            w.Line("global::System.Span<float> embeddings = ws.Buffer(EmbeddingsOffset, EmbeddingsFloats, batch);");
            w.Line("global::System.Span<float> mask = ws.Buffer(MaskOffset, MaskFloats, batch);");
            w.Line("global::System.Span<float> hidden = ws.Buffer(HiddenOffset, HiddenFloats, batch);");
            w.Line("global::System.ReadOnlySpan<float> positions = m._positionEmbeddings[Resolution];");
            w.Open("for (int b = 0; b < batch; b++)");
            w.Line(Rt + "Patches.Patchify(pixels.Slice(b * Pixels, Pixels), NumChannels, Height, Width, PatchSize, patches.Slice(b * PatchesFloats, PatchesFloats));");
            w.Close();
            w.Line();
            w.Line("// Patch projection + bias: [batch * Patches, PatchDim] x [PatchDim -> HiddenSize].");
            w.Line("m._patchEmbedding.Forward(patches, embeddings, batch * Patches, ws.Pool);");
            w.Open("for (int b = 0; b < batch; b++)");
            w.Line("// Positions are added before masking; each image then keeps its Kept lowest-noise patches, in noise order.");
            w.Line("global::System.Span<float> e = embeddings.Slice(b * EmbeddingsFloats, EmbeddingsFloats);");
            w.Line("global::System.Span<int> shuffle = ws.Shuffle(b, Patches);");
            w.Line(Rt + "Blocks.AddPatchPositions(e, positions, Patches, HiddenSize);");
            w.Line(Rt + "Masking.RandomMasking(noise.Slice(b * Patches, Patches), Kept, shuffle, ws.Restore(b, Patches), mask.Slice(b * Patches, Patches), ws.SortScratch);");
            w.Line(Rt + "Blocks.GatherKept(e, m._clsToken, positions, shuffle, Kept, hidden.Slice(b * HiddenFloats, HiddenFloats));");
            w.Close();
            w.Close();
        }

        private static void EmitLayer(CodeWriter w, ViTMAESpec s, string name, string tokens, string hidden, string heads, string headDim, string intermediate,
            string x, string norm, string qkv, string context, string mlp, string attention)
        {
            string act = ActivationName(s.HiddenAct);
            w.Line("/// <summary>One pre-LN layer: x += Wo·Attn(LN_before(x)); x += W2·" + s.HiddenAct + "(W1·LN_after(x)).</summary>");
            w.Open("private static void " + name + "(" + Rt + "TransformerLayerWeights w, " + Rt + "Workspace ws, int batch, global::System.ReadOnlySpan<float> headMask, global::System.Span<float> probs)");
            w.Line("int rows = batch * " + tokens + ";");
            w.Line("global::System.Span<float> x = ws.Buffer(" + x + "Offset, " + x + "Floats, batch);");
            w.Line("global::System.Span<float> norm = ws.Buffer(" + norm + "Offset, " + norm + "Floats, batch);");
            w.Line("global::System.Span<float> qkv = ws.Buffer(" + qkv + "Offset, " + qkv + "Floats, batch);");
            w.Line("global::System.Span<float> context = ws.Buffer(" + context + "Offset, " + context + "Floats, batch);");
            w.Line("global::System.Span<float> mlp = ws.Buffer(" + mlp + "Offset, " + mlp + "Floats, batch);");
            w.Line();
            w.Line("// Attention block: LayerNorm, fused Q|K|V, attention per image (all heads), output projection + residual.");
            w.Line(Kn + "LayerNormKernel.Forward(x, w.LayerNormBeforeWeight, w.LayerNormBeforeBias, norm, rows, " + hidden + ", (float)LayerNormEps, ws.Pool);");
            w.Line("w.Qkv.Forward(norm, qkv, rows, ws.Pool);");
            w.Open("for (int b = 0; b < batch; b++)");
            w.Line(Kn + "AttentionKernel.Forward(qkv.Slice(b * " + qkv + "Floats, " + qkv + "Floats), context.Slice(b * " + context + "Floats, " + context + "Floats),");
            w.Line("    " + tokens + ", " + heads + ", " + headDim + ", headMask, " + Rt + "Blocks.Entry(probs, b, " + attention + "), ws.AttentionScratch, ws.Pool);");
            w.Close();
            w.Line("w.AttentionOutput.Forward(context, x, rows, ws.Pool, " + Kn + "Epilogue.Accumulate);");
            w.Line();
            w.Line("// MLP block: LayerNorm, intermediate + " + s.HiddenAct + " (fused epilogue), output projection + residual.");
            w.Line(Kn + "LayerNormKernel.Forward(x, w.LayerNormAfterWeight, w.LayerNormAfterBias, norm, rows, " + hidden + ", (float)LayerNormEps, ws.Pool);");
            w.Line("w.Intermediate.Forward(norm, mlp, rows, ws.Pool, " + Kn + "Epilogue.Activation, " + Kn + "Activation." + act + ");");
            w.Line("w.Output.Forward(mlp, x, rows, ws.Pool, " + Kn + "Epilogue.Accumulate);");
            w.Close();
        }

        /// <summary>"encoder_qkv" → "EncoderQkv".</summary>
        private static string Pascal(string snake) =>
            string.Concat(snake.Split('_').Select(p => p.Length == 0 ? p : char.ToUpperInvariant(p[0]) + p.Substring(1)));
    }
}
