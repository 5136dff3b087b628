using System;
using System.Globalization;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Runtime;

namespace ViTMAE.Compiled.Training;

/// <summary>
/// A training run of a compiled <c>ViTMAEForPreTraining</c>: the parameters (Hugging Face layout), their gradients, AdamW's
/// state and the schedule. Each generated model class derives its <c>Trainer</c> from it, which supplies the compiled
/// forward and backward passes; everything else — gradient accumulation, clipping, the optimizer step, saving and
/// resuming — is here. One call at a time (like an inference session); a step allocates nothing.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Step"/> is the whole training step: forward, backward, and every
/// <see cref="TrainingOptions.GradientAccumulationSteps"/> micro-batches the optimizer step. <see cref="ComputeGradients"/>
/// and <see cref="ApplyGradients"/> are its two halves, for callers that inspect gradients (by Hugging Face key, with
/// <see cref="Gradient"/>) before they are applied.
/// </para>
/// <para>
/// Masking noise: the caller's (<see cref="ViTMAEInputs.Noise"/>), or drawn from a counter-based generator seeded at
/// creation, so that a resumed run draws exactly what the uninterrupted run would have.
/// </para>
/// </remarks>
public abstract class TrainingSession : IDisposable
{
    private readonly float[] _gradients;
    private readonly float[] _noise;
    private bool _disposed;

    /// <summary>Starts a run, or resumes one when <paramref name="checkpoint"/> is given (its parameters, options and state are used).</summary>
    /// <param name="parameters">The initial parameters (owned by the session from now on), or null with a checkpoint.</param>
    /// <param name="options">Optimizer and schedule, or null with a checkpoint.</param>
    /// <param name="checkpoint">A saved run to continue.</param>
    /// <param name="noiseSeed">Seed of the masking noise drawn when the caller gives none (a new run).</param>
    /// <param name="maxNoise">Noise values one call may need (max batch × largest patch count).</param>
    protected TrainingSession(ModelParameters? parameters, TrainingOptions? options, TrainingCheckpoint? checkpoint, long noiseSeed, int maxNoise)
    {
        Parameters = checkpoint?.Parameters ?? parameters ?? throw new ArgumentNullException(nameof(parameters));
        Options = checkpoint?.Options ?? options ?? throw new ArgumentNullException(nameof(options));
        Options.Validate();
        Configuration.ViTMAESpec spec = Parameters.Catalog.Spec;
        if ((spec.HiddenDropoutProb > 0 || spec.AttentionProbsDropoutProb > 0) && !Options.IgnoreDropout)
        {
            throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture,
                $"the config asks for dropout (hidden_dropout_prob {spec.HiddenDropoutProb}, attention_probs_dropout_prob {spec.AttentionProbsDropoutProb}); this trainer runs without dropout, as the MAE recipe does. Set TrainingOptions.IgnoreDropout to train without it."));
        }

        Optimizer = checkpoint?.Optimizer ?? new AdamW(Parameters.Catalog);
        _gradients = checkpoint?.PendingGradients ?? ModelParameters.ZerosLike(Parameters.Catalog);
        PendingMicroBatches = checkpoint?.PendingMicroBatches ?? 0;
        NoiseSeed = checkpoint?.NoiseSeed ?? noiseSeed;
        NoiseDrawn = checkpoint?.NoiseDrawn ?? 0;
        _noise = new float[maxNoise];
        GradientViews = new ModelGradients(Parameters.Catalog, _gradients);
    }

    /// <summary>The configuration being trained.</summary>
    public Configuration.ViTMAESpec Spec => Parameters.Catalog.Spec;

    /// <summary>The parameters (Hugging Face layout), updated in place by each optimizer step.</summary>
    public ModelParameters Parameters { get; }

    /// <summary>Optimizer and schedule settings.</summary>
    public TrainingOptions Options { get; }

    /// <summary>AdamW's moments and step count.</summary>
    public AdamW Optimizer { get; }

    /// <summary>Optimizer steps taken.</summary>
    public long OptimizerSteps => Optimizer.Steps;

    /// <summary>Micro-batches whose gradients are accumulated and not yet applied.</summary>
    public int PendingMicroBatches { get; private set; }

    /// <summary>The global gradient norm (trainable tensors, before clipping) of the last optimizer step; NaN before the first.</summary>
    public double LastGradientNorm { get; private set; } = double.NaN;

    /// <summary>The learning rate of the last optimizer step; NaN before the first.</summary>
    public double LastLearningRate { get; private set; } = double.NaN;

    /// <summary>Seed of the masking noise drawn when the caller gives none.</summary>
    public long NoiseSeed { get; }

    /// <summary>Noise values drawn so far (the generator's whole state).</summary>
    public long NoiseDrawn { get; private set; }

    /// <summary>The accumulated gradients of every tensor, in <see cref="WeightCatalog"/> layout (frozen tensors: zero).</summary>
    public ReadOnlySpan<float> Gradients => _gradients;

    /// <summary>Views of the gradient buffer the generated backward pass adds to.</summary>
    protected ModelGradients GradientViews { get; }

    /// <summary>The accumulated gradient of the tensor <paramref name="key"/> (a Hugging Face key, e.g. <c>decoder.mask_token</c>), in its shape.</summary>
    /// <exception cref="System.Collections.Generic.KeyNotFoundException">The model has no such tensor.</exception>
    public ReadOnlySpan<float> Gradient(string key) => ModelParameters.Slice(Parameters.Catalog, _gradients, Parameters.Catalog.IndexOf(key)).Span;

    /// <summary>
    /// One training step on a micro-batch: forward, backward (gradients added, scaled by 1 / accumulation steps), and,
    /// when <see cref="TrainingOptions.GradientAccumulationSteps"/> micro-batches are accumulated, the optimizer step.
    /// </summary>
    /// <returns>The micro-batch's loss (before the update).</returns>
    /// <exception cref="ViTMAEInputException">The inputs do not fit the compiled model or this session (the message says which).</exception>
    /// <exception cref="ViTMAEException">The gradients are not finite (the run diverged); the step was not applied.</exception>
    public float Step(in ViTMAEInputs inputs)
    {
        float loss = ComputeGradients(inputs);
        if (PendingMicroBatches >= Options.GradientAccumulationSteps)
        {
            ApplyGradients();
        }

        return loss;
    }

    /// <summary>
    /// Forward and backward on a micro-batch: adds the gradient of its loss, divided by the accumulation steps, to
    /// <see cref="Gradients"/>. No optimizer step. <paramref name="pixelValuesGradient"/>, when not empty, receives
    /// ∂loss/∂pixel_values [B, C, H, W] (same scale) — through the patch projection and through the loss target, as in
    /// Hugging Face; it costs one more GEMM, so it is only computed when asked for.
    /// </summary>
    /// <returns>The micro-batch's loss.</returns>
    /// <exception cref="ViTMAEInputException">The inputs do not fit, hidden states or attentions are requested (a training step
    /// returns the loss only), or <paramref name="pixelValuesGradient"/> is not the size of the pixel values.</exception>
    public float ComputeGradients(in ViTMAEInputs inputs, Span<float> pixelValuesGradient = default)
    {
        ViTMAEInputs prepared = Prepare(inputs);
        if (!pixelValuesGradient.IsEmpty && pixelValuesGradient.Length != inputs.PixelValues.Length)
        {
            throw new ViTMAEInputException("pixelValuesGradient", string.Create(CultureInfo.InvariantCulture,
                $"holds {pixelValuesGradient.Length} floats; the pixel values hold {inputs.PixelValues.Length}"));
        }

        float loss = ForwardBackward(prepared, pixelValuesGradient, 1f / Options.GradientAccumulationSteps);
        PendingMicroBatches++;
        return loss;
    }

    /// <summary>
    /// The loss of the current parameters on a batch, without gradients (e.g. a validation loss). Noise not given is drawn
    /// from the run's generator, like a step's.
    /// </summary>
    /// <exception cref="ViTMAEInputException">The inputs do not fit.</exception>
    public float Loss(in ViTMAEInputs inputs) => ForwardLoss(Prepare(inputs));

    /// <summary>Checks the inputs and supplies the noise when the caller gave none.</summary>
    private ViTMAEInputs Prepare(in ViTMAEInputs inputs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (inputs.OutputAttentions || inputs.OutputHiddenStates)
        {
            throw new ViTMAEInputException("inputs", "a training session returns the loss only; run a Session's ForwardPreTraining for hidden states or attentions");
        }

        int patches = PatchCount(inputs);
        if (!inputs.Noise.IsEmpty)
        {
            return inputs;
        }

        Span<float> noise = _noise.AsSpan(0, inputs.Batch * patches);
        TrainingNoise.Fill(NoiseSeed, NoiseDrawn, noise);
        NoiseDrawn += noise.Length;
        return inputs with { Noise = noise };
    }

    /// <summary>
    /// The optimizer step on the accumulated gradients: global-norm clipping (<see cref="TrainingOptions.MaxGradientNorm"/>,
    /// as <c>torch.nn.utils.clip_grad_norm_</c>), AdamW with the scheduled learning rate, re-packing of the compiled weights;
    /// then the gradients are cleared.
    /// </summary>
    /// <exception cref="InvalidOperationException">No gradients are pending.</exception>
    /// <exception cref="ViTMAEException">The gradients are not finite; they are cleared and the parameters left unchanged.</exception>
    public void ApplyGradients()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (PendingMicroBatches == 0)
        {
            throw new InvalidOperationException("no gradients to apply: call ComputeGradients (or Step) first");
        }

        double norm = GlobalNorm();
        LastGradientNorm = norm;
        if (!double.IsFinite(norm))
        {
            ZeroGradients();
            throw new ViTMAEException(string.Create(CultureInfo.InvariantCulture,
                $"the gradients are not finite (norm {norm}) at optimizer step {OptimizerSteps}: the run diverged; the step was not applied (lower the learning rate or set MaxGradientNorm)"));
        }

        if (Options.MaxGradientNorm > 0)
        {
            double coefficient = Options.MaxGradientNorm / (norm + 1e-6);
            if (coefficient < 1)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(_gradients, (float)coefficient, _gradients);
            }
        }

        double learningRate = Options.LearningRateAt(Optimizer.Steps);
        LastLearningRate = learningRate;
        Optimizer.Step(Parameters, _gradients, learningRate, Options);
        RefreshWeights();
        ZeroGradients();
    }

    /// <summary>Discards the accumulated gradients.</summary>
    public void ZeroGradients()
    {
        GradientViews.Clear();
        PendingMicroBatches = 0;
    }

    /// <summary>
    /// Saves the run into <paramref name="folder"/>: <c>config.json</c> and <c>model.safetensors</c> in Hugging Face's layout
    /// (<c>ViTMAEForPreTraining.from_pretrained(folder)</c> loads them) and <c>optimizer.safetensors</c> (see
    /// <see cref="TrainingCheckpoint"/>). The generated class's <c>ResumeTraining(folder)</c> continues it bit-identically.
    /// </summary>
    public void Save(string folder)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        TrainingCheckpoint.Write(folder, this);
    }

    /// <summary>Stops the session's worker threads.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Dispose(true);
            GC.SuppressFinalize(this);
        }
    }

    /// <summary>Releases the compiled session's resources.</summary>
    protected abstract void Dispose(bool disposing);

    /// <summary>Checks <paramref name="inputs"/> against the compiled model and returns L, the patches per image at their resolution.</summary>
    protected abstract int PatchCount(in ViTMAEInputs inputs);

    /// <summary>The compiled forward and backward pass: returns the loss, adds <paramref name="scale"/> × the gradients to <see cref="GradientViews"/>.</summary>
    protected abstract float ForwardBackward(in ViTMAEInputs inputs, Span<float> pixelValuesGradient, float scale);

    /// <summary>The compiled forward pass alone: the loss.</summary>
    protected abstract float ForwardLoss(in ViTMAEInputs inputs);

    /// <summary>Re-packs the compiled weights from <see cref="Parameters"/> after an optimizer step.</summary>
    protected abstract void RefreshWeights();

    private double GlobalNorm()
    {
        WeightCatalog catalog = Parameters.Catalog;
        double sum = 0;
        for (int i = 0; i < catalog.Count; i++)
        {
            if (catalog[i].IsTrainable)
            {
                ReadOnlySpan<float> g = ModelParameters.Slice(catalog, _gradients, i).Span;
                double norm = System.Numerics.Tensors.TensorPrimitives.Norm(g);
                sum += norm * norm;
            }
        }

        return Math.Sqrt(sum);
    }
}
