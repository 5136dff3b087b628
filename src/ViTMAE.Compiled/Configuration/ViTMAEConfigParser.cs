// Hugging Face config.json → ViTMAESpec, with a diagnostic (ID, message, JSON position) for every problem.
// Shared by the generator and the runtime library: one parser, one set of rules.

using System;
using System.Collections.Generic;
using System.Globalization;

namespace ViTMAE.Compiled.Configuration
{
    /// <summary>Diagnostic IDs of config problems. The generator reports them as compiler errors.</summary>
    static partial class ConfigDiagnosticIds
    {
        /// <summary>The file is not valid JSON (or its root is not an object).</summary>
        public const string InvalidJson = "VMAE001";

        /// <summary>A known key holds a value of the wrong JSON type.</summary>
        public const string WrongType = "VMAE002";

        /// <summary><c>model_type</c> is present and is not <c>vit_mae</c>.</summary>
        public const string WrongModelType = "VMAE003";

        /// <summary><c>hidden_act</c> is not one of the supported activations.</summary>
        public const string UnknownActivation = "VMAE004";

        /// <summary>A hidden size is not divisible by its head count.</summary>
        public const string HeadsDoNotDivide = "VMAE005";

        /// <summary>The image size is not divisible by the patch size.</summary>
        public const string PatchDoesNotDivideImage = "VMAE006";

        /// <summary>A size or count is zero or negative.</summary>
        public const string NonPositiveSize = "VMAE007";

        /// <summary><c>mask_ratio</c> is outside [0, 1) or keeps no patch.</summary>
        public const string InvalidMaskRatio = "VMAE008";

        /// <summary>A hidden size is not divisible by 4, which the 2-D sin-cos position table needs.</summary>
        public const string SinCosDimension = "VMAE009";

        /// <summary>Two configs would generate the same class.</summary>
        public const string DuplicateClassName = "VMAE010";

        /// <summary>Geometry HF's ViTMAE cannot build: non-square patches or a non-square patch grid.</summary>
        public const string UnsupportedGeometry = "VMAE011";

        /// <summary>Item metadata (class name, namespace, resolutions) is invalid.</summary>
        public const string InvalidMetadata = "VMAE012";

        /// <summary><c>layer_norm_eps</c> or a probability is out of its range.</summary>
        public const string ValueOutOfRange = "VMAE013";

        /// <summary>A derived size (a weight tensor, the activation arena, the parameter count) exceeds what the runtime can hold.</summary>
        public const string ModelTooLarge = "VMAE014";

        /// <summary>A key neither ViTMAEConfig nor PretrainedConfig knows (a warning: Hugging Face ignores it too).</summary>
        public const string UnknownKey = "VMAE015";

        /// <summary>At load: the config.json that lies with a checkpoint differs from the config the class was compiled from.</summary>
        public const string CheckpointMismatch = "VMAE016";

        /// <summary>Whether a diagnostic ID is a warning (the model is still compiled) rather than an error.</summary>
        public static bool IsWarning(string id) => id == UnknownKey;
    }

    /// <summary>One problem found in a config file: ID, message and where in the JSON it is.</summary>
    sealed partial record ConfigDiagnostic(string Id, string Message, JsonSpan Span)
    {
        /// <summary>"VMAE005 (line 7, column 18): …" — for exceptions and console output.</summary>
        public override string ToString() => Id + " (" + Span.Describe() + "): " + Message;
    }

    /// <summary>Parses a Hugging Face ViTMAE <c>config.json</c>.</summary>
    static partial class ViTMAEConfigParser
    {
        /// <summary>
        /// Parses <paramref name="json"/>. Returns the spec, or null when any error was found; every problem is
        /// added to <paramref name="diagnostics"/> (all of them, not only the first). Never throws on bad input.
        /// </summary>
        public static ViTMAESpec? Parse(string json, List<ConfigDiagnostic> diagnostics)
        {
            JsonNode root;
            try
            {
                root = JsonTreeReader.Parse(json);
            }
            catch (JsonSyntaxException ex)
            {
                diagnostics.Add(new ConfigDiagnostic(ConfigDiagnosticIds.InvalidJson, "invalid JSON: " + ex.Message, ex.Span));
                return null;
            }

            if (root.Kind != JsonKind.Object)
            {
                diagnostics.Add(new ConfigDiagnostic(ConfigDiagnosticIds.InvalidJson, "a config.json must be a JSON object, found " + root.KindName, root.Span));
                return null;
            }

            int errorsBefore = diagnostics.Count;
            var reader = new FieldReader(root, diagnostics);

            JsonNode? modelType = root["model_type"];
            if (modelType != null)
            {
                if (modelType.Kind != JsonKind.String)
                {
                    reader.WrongType("model_type", "a string", modelType);
                }
                else if (modelType.Text != ViTMAESpec.ModelTypeName)
                {
                    diagnostics.Add(new ConfigDiagnostic(
                        ConfigDiagnosticIds.WrongModelType,
                        "model_type is \"" + modelType.Text + "\"; this generator compiles ViTMAE models (\"vit_mae\")",
                        modelType.Span));
                }
            }

            var defaults = new ViTMAESpec();
            (int imageH, int imageW) = reader.SizePair("image_size", defaults.ImageHeight);
            (int patchH, int patchW) = reader.SizePair("patch_size", defaults.PatchSize);
            var spec = new ViTMAESpec
            {
                HiddenSize = reader.Int("hidden_size", defaults.HiddenSize),
                NumHiddenLayers = reader.Int("num_hidden_layers", defaults.NumHiddenLayers),
                NumAttentionHeads = reader.Int("num_attention_heads", defaults.NumAttentionHeads),
                IntermediateSize = reader.Int("intermediate_size", defaults.IntermediateSize),
                HiddenAct = reader.String("hidden_act", defaults.HiddenAct),
                HiddenDropoutProb = reader.Number("hidden_dropout_prob", defaults.HiddenDropoutProb),
                AttentionProbsDropoutProb = reader.Number("attention_probs_dropout_prob", defaults.AttentionProbsDropoutProb),
                InitializerRange = reader.Number("initializer_range", defaults.InitializerRange),
                LayerNormEps = reader.Number("layer_norm_eps", defaults.LayerNormEps),
                ImageHeight = imageH,
                ImageWidth = imageW,
                PatchSize = patchH,
                NumChannels = reader.Int("num_channels", defaults.NumChannels),
                QkvBias = reader.Bool("qkv_bias", defaults.QkvBias),
                DecoderNumAttentionHeads = reader.Int("decoder_num_attention_heads", defaults.DecoderNumAttentionHeads),
                DecoderHiddenSize = reader.Int("decoder_hidden_size", defaults.DecoderHiddenSize),
                DecoderNumHiddenLayers = reader.Int("decoder_num_hidden_layers", defaults.DecoderNumHiddenLayers),
                DecoderIntermediateSize = reader.Int("decoder_intermediate_size", defaults.DecoderIntermediateSize),
                MaskRatio = reader.Number("mask_ratio", defaults.MaskRatio),
                NormPixLoss = reader.Bool("norm_pix_loss", defaults.NormPixLoss),
            };

            if (diagnostics.Count == errorsBefore)
            {
                Validate(spec, patchW, reader);
            }

            ViTMAESpec? result = diagnostics.Count == errorsBefore ? spec : null;
            WarnUnknownKeys(root, diagnostics);
            return result;
        }

        /// <summary>The keys this parser reads.</summary>
        private static readonly string[] ViTMAEKeys =
        {
            "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act", "hidden_dropout_prob",
            "attention_probs_dropout_prob", "initializer_range", "layer_norm_eps", "image_size", "patch_size", "num_channels",
            "qkv_bias", "decoder_num_attention_heads", "decoder_hidden_size", "decoder_num_hidden_layers",
            "decoder_intermediate_size", "mask_ratio", "norm_pix_loss", "model_type",
        };

        /// <summary>Keys Hugging Face's PretrainedConfig writes or reads for every model (transformers 4.x): not ViTMAE's, not typos.</summary>
        private static readonly HashSet<string> PretrainedConfigKeys = new HashSet<string>(StringComparer.Ordinal)
        {
            "_name_or_path", "_commit_hash", "_attn_implementation", "_attn_implementation_autoset", "architectures", "torch_dtype", "dtype",
            "transformers_version", "return_dict", "output_hidden_states", "output_attentions", "torchscript", "use_bfloat16",
            "tf_legacy_loss", "pruned_heads", "tie_word_embeddings", "chunk_size_feed_forward", "is_encoder_decoder", "is_decoder",
            "cross_attention_hidden_size", "add_cross_attention", "tie_encoder_decoder", "max_length", "min_length", "do_sample",
            "early_stopping", "num_beams", "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p", "typical_p",
            "repetition_penalty", "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
            "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id",
            "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens",
            "finetuning_task", "id2label", "label2id", "num_labels", "tokenizer_class", "prefix", "bos_token_id", "pad_token_id",
            "eos_token_id", "sep_token_id", "decoder_start_token_id", "task_specific_params", "problem_type", "gradient_checkpointing",
            "use_cache", "encoder_stride",
        };

        /// <summary>
        /// VMAE015 for each top-level key that is neither a ViTMAEConfig field nor a PretrainedConfig one, with the closest
        /// ViTMAE key when it is a likely typo ("num_hiden_layers" → "num_hidden_layers"). Hugging Face ignores such keys
        /// silently, so the model still compiles — with the default the misspelt key did not set.
        /// </summary>
        private static void WarnUnknownKeys(JsonNode root, List<ConfigDiagnostic> diagnostics)
        {
            foreach (KeyValuePair<JsonNode, JsonNode> member in root.Members)
            {
                string key = member.Key.Text;
                if (Array.IndexOf(ViTMAEKeys, key) >= 0 || PretrainedConfigKeys.Contains(key))
                {
                    continue;
                }

                string? closest = null;
                int best = int.MaxValue;
                foreach (string known in ViTMAEKeys)
                {
                    int distance = EditDistance(key, known);
                    if (distance < best)
                    {
                        best = distance;
                        closest = known;
                    }
                }

                string hint = closest != null && best <= Math.Max(2, key.Length / 5)
                    ? "; did you mean '" + closest + "'? (the model is compiled with " + closest + "'s default)"
                    : "; Hugging Face ignores it, and so does this generator";
                diagnostics.Add(new ConfigDiagnostic(ConfigDiagnosticIds.UnknownKey, "unknown key '" + key + "'" + hint, member.Key.Span));
            }
        }

        /// <summary>Levenshtein distance (insertions, deletions, substitutions), for the typo hint.</summary>
        private static int EditDistance(string a, string b)
        {
            var previous = new int[b.Length + 1];
            var current = new int[b.Length + 1];
            for (int j = 0; j <= b.Length; j++) previous[j] = j;
            for (int i = 1; i <= a.Length; i++)
            {
                current[0] = i;
                for (int j = 1; j <= b.Length; j++)
                {
                    int substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                    current[j] = Math.Min(substitute, Math.Min(previous[j], current[j - 1]) + 1);
                }

                (previous, current) = (current, previous);
            }

            return previous[b.Length];
        }

        /// <summary>Semantic rules, checked once every value has the right type.</summary>
        private static void Validate(ViTMAESpec spec, int patchWidth, FieldReader r)
        {
            // Sizes and counts must be positive (a zero-layer model is not a ViTMAE).
            bool sizesOk = true;
            foreach ((string key, int value) in new[]
            {
                ("hidden_size", spec.HiddenSize), ("num_hidden_layers", spec.NumHiddenLayers),
                ("num_attention_heads", spec.NumAttentionHeads), ("intermediate_size", spec.IntermediateSize),
                ("num_channels", spec.NumChannels), ("decoder_num_attention_heads", spec.DecoderNumAttentionHeads),
                ("decoder_hidden_size", spec.DecoderHiddenSize), ("decoder_num_hidden_layers", spec.DecoderNumHiddenLayers),
                ("decoder_intermediate_size", spec.DecoderIntermediateSize),
            })
            {
                if (value <= 0)
                {
                    r.Report(ConfigDiagnosticIds.NonPositiveSize, key, key + " must be positive, found " + Invariant(value));
                    sizesOk = false;
                }
            }

            foreach ((string key, int value) in new[] { ("image_size", spec.ImageHeight), ("image_size", spec.ImageWidth), ("patch_size", spec.PatchSize), ("patch_size", patchWidth) })
            {
                if (value <= 0)
                {
                    r.Report(ConfigDiagnosticIds.NonPositiveSize, key, key + " must be positive, found " + Invariant(value));
                    sizesOk = false;
                    break;
                }
            }

            if (!Array.Exists(ViTMAESpec.SupportedActivations, a => a == spec.HiddenAct))
            {
                r.Report(ConfigDiagnosticIds.UnknownActivation, "hidden_act",
                    "hidden_act \"" + spec.HiddenAct + "\" is not supported; use one of: " + string.Join(", ", ViTMAESpec.SupportedActivations));
            }

            if (!(spec.LayerNormEps > 0) || double.IsInfinity(spec.LayerNormEps))
            {
                r.Report(ConfigDiagnosticIds.ValueOutOfRange, "layer_norm_eps", "layer_norm_eps must be a positive finite number, found " + Invariant(spec.LayerNormEps));
            }

            foreach ((string key, double p) in new[] { ("hidden_dropout_prob", spec.HiddenDropoutProb), ("attention_probs_dropout_prob", spec.AttentionProbsDropoutProb) })
            {
                if (!(p >= 0 && p <= 1))
                {
                    r.Report(ConfigDiagnosticIds.ValueOutOfRange, key, key + " must be a probability in [0, 1], found " + Invariant(p));
                }
            }

            if (!sizesOk)
            {
                return;
            }

            if (spec.HiddenSize % spec.NumAttentionHeads != 0)
            {
                r.Report(ConfigDiagnosticIds.HeadsDoNotDivide, "hidden_size",
                    "hidden_size " + Invariant(spec.HiddenSize) + " is not divisible by num_attention_heads " + Invariant(spec.NumAttentionHeads));
            }

            if (spec.DecoderHiddenSize % spec.DecoderNumAttentionHeads != 0)
            {
                r.Report(ConfigDiagnosticIds.HeadsDoNotDivide, "decoder_hidden_size",
                    "decoder_hidden_size " + Invariant(spec.DecoderHiddenSize) + " is not divisible by decoder_num_attention_heads " + Invariant(spec.DecoderNumAttentionHeads));
            }

            if (spec.HiddenSize % 4 != 0)
            {
                r.Report(ConfigDiagnosticIds.SinCosDimension, "hidden_size",
                    "hidden_size " + Invariant(spec.HiddenSize) + " is not divisible by 4, which the 2-D sin-cos position embedding needs");
            }

            if (spec.DecoderHiddenSize % 4 != 0)
            {
                r.Report(ConfigDiagnosticIds.SinCosDimension, "decoder_hidden_size",
                    "decoder_hidden_size " + Invariant(spec.DecoderHiddenSize) + " is not divisible by 4, which the 2-D sin-cos position embedding needs");
            }

            if (spec.PatchSize != patchWidth)
            {
                r.Report(ConfigDiagnosticIds.UnsupportedGeometry, "patch_size",
                    "patch_size [" + Invariant(spec.PatchSize) + ", " + Invariant(patchWidth) + "] is not square; ViTMAEForPreTraining predicts patch_size² values per patch, so patches must be square");
                return;
            }

            if (spec.ImageHeight % spec.PatchSize != 0 || spec.ImageWidth % spec.PatchSize != 0)
            {
                r.Report(ConfigDiagnosticIds.PatchDoesNotDivideImage, "image_size",
                    "image_size " + Invariant(spec.ImageHeight) + "x" + Invariant(spec.ImageWidth) + " is not divisible by patch_size " + Invariant(spec.PatchSize));
                return;
            }

            if (spec.GridHeight != spec.GridWidth)
            {
                r.Report(ConfigDiagnosticIds.UnsupportedGeometry, "image_size",
                    "image_size " + Invariant(spec.ImageHeight) + "x" + Invariant(spec.ImageWidth) + " gives a " + Invariant(spec.GridHeight) + "x" + Invariant(spec.GridWidth) +
                    " patch grid; ViTMAE's position tables are a square grid (HF uses int(sqrt(num_patches))), so use a square image_size and declare other input resolutions instead");
                return;
            }

            if (!CheckLimits(spec, r))
            {
                return;
            }

            if (!(spec.MaskRatio >= 0 && spec.MaskRatio < 1))
            {
                r.Report(ConfigDiagnosticIds.InvalidMaskRatio, "mask_ratio", "mask_ratio must be in [0, 1), found " + Invariant(spec.MaskRatio));
            }
            else if (spec.LenKeep < 1)
            {
                r.Report(ConfigDiagnosticIds.InvalidMaskRatio, "mask_ratio",
                    "mask_ratio " + Invariant(spec.MaskRatio) + " keeps no patch: int(" + Invariant(spec.NumPatches) + " * (1 - " + Invariant(spec.MaskRatio) + ")) = 0");
            }
        }

        /// <summary>Most elements of one tensor or of one image's activation arena: .NET's largest array (float[]).</summary>
        public const long MaxElements = 0x7FFFFFC7; // Array.MaxLength (not available to netstandard2.0)

        /// <summary>Most parameters of a whole model: 16 G floats (64 GiB), far beyond any ViTMAE checkpoint.</summary>
        public const long MaxParameters = 1L << 34;

        /// <summary>
        /// Every size derived from the config, in 64-bit arithmetic: patches, values per patch, each weight tensor, the
        /// parameter count and an upper bound of one image's activation arena. A config whose sizes would wrap a 32-bit
        /// int, or whose weights or arena could not be held, is rejected here with the size and the limit (the runtime
        /// would otherwise fail deep inside with an overflow or out-of-memory error).
        /// </summary>
        private static bool CheckLimits(ViTMAESpec spec, FieldReader r)
        {
            (string Keys, string Message)? problem = SizeProblem(spec);
            if (problem is null)
            {
                return true;
            }

            r.Report(ConfigDiagnosticIds.ModelTooLarge, r.FirstPresent(problem.Value.Keys), problem.Value.Message);
            return false;
        }

        /// <summary>
        /// The first size of <paramref name="spec"/> over a limit, as (keys that set it, message), or null when all fit.
        /// Also used for each input resolution a project declares (its patches change the position tables and activations).
        /// </summary>
        public static (string Keys, string Message)? SizeProblem(ViTMAESpec spec)
        {
            long d = spec.HiddenSize, dd = spec.DecoderHiddenSize, inter = spec.IntermediateSize, dinter = spec.DecoderIntermediateSize;
            long layers = spec.NumHiddenLayers, dlayers = spec.DecoderNumHiddenLayers;
            long patchDim = (long)spec.PatchSize * spec.PatchSize * spec.NumChannels;
            long l = (long)(spec.ImageHeight / spec.PatchSize) * (spec.ImageWidth / spec.PatchSize);
            long t = 1 + Math.Max(0, (long)(l * (1.0 - spec.MaskRatio))), td = 1 + l;

            // (keys to point at, what, elements): every weight tensor and size of one image. The diagnostic points at the
            // first of the keys that the file sets (else at the first key).
            var sizes = new (string Keys, string What, long Elements)[]
            {
                ("num_channels patch_size", "values per patch (patch_size² × num_channels)", patchDim),
                ("image_size patch_size", "patches per image", l),
                ("hidden_size patch_size num_channels", "the patch projection weight (hidden_size × patch_size² × num_channels)", Mul(d, patchDim)),
                ("image_size hidden_size", "the position table ((patches + 1) × hidden_size)", Mul(td, d)),
                ("hidden_size", "the fused query/key/value weight (3 × hidden_size²)", Mul(3 * d, d)),
                ("intermediate_size hidden_size", "the MLP weight (intermediate_size × hidden_size)", Mul(inter, d)),
                ("image_size decoder_hidden_size", "the decoder position table ((patches + 1) × decoder_hidden_size)", Mul(td, dd)),
                ("decoder_hidden_size", "the decoder's fused query/key/value weight (3 × decoder_hidden_size²)", Mul(3 * dd, dd)),
                ("decoder_hidden_size hidden_size", "decoder_embed (decoder_hidden_size × hidden_size)", Mul(dd, d)),
                ("decoder_intermediate_size decoder_hidden_size", "the decoder MLP weight (decoder_intermediate_size × decoder_hidden_size)", Mul(dinter, dd)),
                ("decoder_hidden_size patch_size num_channels", "decoder_pred (values per patch × decoder_hidden_size)", Mul(patchDim, dd)),
            };
            foreach ((string keys, string what, long elements) in sizes)
            {
                if (elements > MaxElements)
                {
                    return (keys, "the model is too large: " + what + " has " + Invariant(elements) + " elements, over the limit of " + Invariant(MaxElements) + " (the largest .NET array)");
                }
            }

            long encoderLayer = Add(Mul(4 * d, d), Mul(2 * inter, d), 10 * d + inter);
            long decoderLayer = Add(Mul(4 * dd, dd), Mul(2 * dinter, dd), 10 * dd + dinter);
            long parameters = Add(Add(Mul(d, patchDim), Mul(td, d), Mul(layers, encoderLayer)), Add(Mul(dd, d), Mul(td, dd), Mul(dlayers, decoderLayer)), Mul(patchDim, dd));
            if (parameters > MaxParameters)
            {
                string keys = Mul(layers, encoderLayer) >= Mul(dlayers, decoderLayer)
                    ? "num_hidden_layers hidden_size intermediate_size" : "decoder_num_hidden_layers decoder_hidden_size decoder_intermediate_size";
                return (keys, "the model is too large: about " + Invariant(parameters) + " parameters, over the limit of " + Invariant(MaxParameters) + " (64 GiB of float32 weights)");
            }

            // Upper bound of the activation arena of one image: the sum of every buffer of the forward pass.
            long arena = Add(
                Add(Mul(2 * l, patchDim), Mul(l, d + 1), Mul(t, Add(6 * d, inter, dd))),
                Mul(td, Add(6 * dd, dinter, 0)),
                0);
            if (arena > MaxElements)
            {
                return ("image_size patch_size",
                    "the model is too large: the activations of one image need up to " + Invariant(arena) + " floats, over the limit of " + Invariant(MaxElements) + " (the largest .NET array)");
            }

            return null;
        }

        /// <summary>a × b, saturating at long.MaxValue (sizes here are non-negative).</summary>
        private static long Mul(long a, long b) => a != 0 && b > long.MaxValue / a ? long.MaxValue : a * b;

        /// <summary>a + b + c, saturating at long.MaxValue.</summary>
        private static long Add(long a, long b, long c)
        {
            long ab = a > long.MaxValue - b ? long.MaxValue : a + b;
            return ab > long.MaxValue - c ? long.MaxValue : ab + c;
        }

        private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);

        private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

        private static string Invariant(double value) => value.ToString("R", CultureInfo.InvariantCulture);

        /// <summary>Reads typed fields from the root object, reporting wrong types at the value's position.</summary>
        private sealed class FieldReader
        {
            private readonly JsonNode _root;
            private readonly List<ConfigDiagnostic> _diagnostics;

            public FieldReader(JsonNode root, List<ConfigDiagnostic> diagnostics)
            {
                _root = root;
                _diagnostics = diagnostics;
            }

            public int Int(string key, int fallback)
            {
                JsonNode? node = _root[key];
                if (node == null)
                {
                    return fallback;
                }

                if (node.Kind == JsonKind.Number && node.IsInteger)
                {
                    if (int.TryParse(node.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
                    {
                        return value;
                    }

                    _diagnostics.Add(new ConfigDiagnostic(ConfigDiagnosticIds.NonPositiveSize, key + " " + node.Text + " is out of range for a size", node.Span));
                    return fallback;
                }

                WrongType(key, "an integer", node);
                return fallback;
            }

            public double Number(string key, double fallback)
            {
                JsonNode? node = _root[key];
                if (node == null)
                {
                    return fallback;
                }

                if (node.Kind == JsonKind.Number)
                {
                    return node.NumberValue;
                }

                WrongType(key, "a number", node);
                return fallback;
            }

            public string String(string key, string fallback)
            {
                JsonNode? node = _root[key];
                if (node == null)
                {
                    return fallback;
                }

                if (node.Kind == JsonKind.String)
                {
                    return node.Text;
                }

                WrongType(key, "a string", node);
                return fallback;
            }

            public bool Bool(string key, bool fallback)
            {
                JsonNode? node = _root[key];
                if (node == null)
                {
                    return fallback;
                }

                if (node.Kind == JsonKind.True || node.Kind == JsonKind.False)
                {
                    return node.Kind == JsonKind.True;
                }

                WrongType(key, "true or false", node);
                return fallback;
            }

            /// <summary><c>image_size</c>/<c>patch_size</c>: an int, or a <c>[h, w]</c> pair of ints.</summary>
            public (int H, int W) SizePair(string key, int fallback)
            {
                JsonNode? node = _root[key];
                if (node == null)
                {
                    return (fallback, fallback);
                }

                if (node.Kind == JsonKind.Array)
                {
                    if (node.Items.Count != 2)
                    {
                        WrongType(key, "an integer or an [height, width] pair", node);
                        return (fallback, fallback);
                    }

                    int h = PairItem(key, node.Items[0], fallback);
                    int w = PairItem(key, node.Items[1], fallback);
                    return (h, w);
                }

                int v = Int(key, fallback);
                return (v, v);
            }

            private int PairItem(string key, JsonNode item, int fallback)
            {
                if (item.Kind == JsonKind.Number && item.IsInteger &&
                    int.TryParse(item.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
                {
                    return value;
                }

                WrongType(key + " item", "an integer", item);
                return fallback;
            }

            public void WrongType(string key, string expected, JsonNode found)
            {
                string shown = found.Kind switch
                {
                    JsonKind.String => found.KindName + " (\"" + found.Text + "\")",
                    JsonKind.Number => found.KindName + " (" + found.Text + ")",
                    _ => found.KindName,
                };
                _diagnostics.Add(new ConfigDiagnostic(ConfigDiagnosticIds.WrongType, key + " must be " + expected + ", found " + shown, found.Span));
            }

            /// <summary>Reports at the position of the key's value, or at the opening brace when the key is absent (a default value).</summary>
            /// <summary>The first of the space-separated <paramref name="keys"/> that the file sets, else the first one.</summary>
            public string FirstPresent(string keys)
            {
                string[] names = keys.Split(' ');
                foreach (string name in names)
                {
                    if (_root[name] is not null)
                    {
                        return name;
                    }
                }

                return names[0];
            }

            public void Report(string id, string key, string message)
            {
                JsonNode? node = _root[key];
                JsonSpan rootStart = new JsonSpan(_root.Span.Start, 1, _root.Span.StartLine, _root.Span.StartColumn, _root.Span.StartLine, _root.Span.StartColumn + 1);
                _diagnostics.Add(new ConfigDiagnostic(id, message, node?.Span ?? rootStart));
            }
        }
    }
}
