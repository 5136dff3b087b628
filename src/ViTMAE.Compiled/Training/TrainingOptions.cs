using System;
using System.Globalization;

namespace ViTMAE.Compiled.Training;

/// <summary>
/// The optimizer and schedule of a training run: AdamW as PyTorch computes it, with the MAE recipe's defaults
/// (facebookresearch/mae <c>main_pretrain.py</c>, Hugging Face <c>run_mae.py</c>): betas (0.9, 0.95), weight decay 0.05 on
/// Linear and patch-projection weights only, learning rate = base learning rate × batch / 256, linear warm-up then cosine decay.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>The learning rate at the end of warm-up. Set it directly, or use <see cref="FromBaseLearningRate"/>.</summary>
    public double LearningRate { get; init; } = 1.5e-4;

    /// <summary>Lowest learning rate of the cosine decay (MAE: 0).</summary>
    public double MinLearningRate { get; init; }

    /// <summary>Steps of linear warm-up from 0 to <see cref="LearningRate"/> (0: none).</summary>
    public int WarmupSteps { get; init; }

    /// <summary>Total optimizer steps for the cosine decay (0: constant learning rate after warm-up).</summary>
    public int TotalSteps { get; init; }

    /// <summary>AdamW β1.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>AdamW β2 (MAE: 0.95).</summary>
    public double Beta2 { get; init; } = 0.95;

    /// <summary>AdamW ε.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Decoupled weight decay of the decayed group (Linear and patch-projection weights).</summary>
    public double WeightDecay { get; init; } = 0.05;

    /// <summary>Micro-batches whose gradients are averaged before each optimizer step (1: none).</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Clip the global gradient norm to this value before each step (0: no clipping), as <c>clip_grad_norm_</c>.</summary>
    public double MaxGradientNorm { get; init; }

    /// <summary>
    /// The trainer runs without dropout (as the MAE recipe does: every dropout probability 0). A config that asks for
    /// dropout is refused unless this is set, so that nobody trains without the regularisation they configured unknowingly.
    /// </summary>
    public bool IgnoreDropout { get; init; }

    /// <summary>MAE's rule: learning rate = <paramref name="baseLearningRate"/> × effective batch / 256.</summary>
    public static TrainingOptions FromBaseLearningRate(double baseLearningRate, int effectiveBatch) =>
        new() { LearningRate = baseLearningRate * effectiveBatch / 256.0 };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        static void Check(bool ok, string name, double value, string rule)
        {
            if (!ok)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{name} is {value}; it must be {rule}"), name);
            }
        }

        Check(LearningRate >= 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "a finite number ≥ 0");
        Check(MinLearningRate >= 0 && MinLearningRate <= LearningRate, nameof(MinLearningRate), MinLearningRate, "between 0 and LearningRate");
        Check(WarmupSteps >= 0, nameof(WarmupSteps), WarmupSteps, "≥ 0");
        Check(TotalSteps >= 0, nameof(TotalSteps), TotalSteps, "≥ 0");
        Check(Beta1 >= 0 && Beta1 < 1, nameof(Beta1), Beta1, "in [0, 1)");
        Check(Beta2 >= 0 && Beta2 < 1, nameof(Beta2), Beta2, "in [0, 1)");
        Check(Epsilon > 0, nameof(Epsilon), Epsilon, "> 0");
        Check(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "≥ 0");
        Check(GradientAccumulationSteps >= 1, nameof(GradientAccumulationSteps), GradientAccumulationSteps, "≥ 1");
        Check(MaxGradientNorm >= 0, nameof(MaxGradientNorm), MaxGradientNorm, "≥ 0 (0: no clipping)");
    }

    /// <summary>
    /// The learning rate of optimizer step <paramref name="step"/> (0-based): linear warm-up to <see cref="LearningRate"/> over
    /// <see cref="WarmupSteps"/>, then a half cosine down to <see cref="MinLearningRate"/> at <see cref="TotalSteps"/> (MAE's
    /// <c>adjust_learning_rate</c>, per step instead of per fractional epoch).
    /// </summary>
    public double LearningRateAt(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps)
        {
            return LearningRate * step / WarmupSteps;
        }

        if (TotalSteps <= WarmupSteps)
        {
            return LearningRate;
        }

        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps));
        return MinLearningRate + ((LearningRate - MinLearningRate) * 0.5 * (1.0 + Math.Cos(Math.PI * progress)));
    }
}
