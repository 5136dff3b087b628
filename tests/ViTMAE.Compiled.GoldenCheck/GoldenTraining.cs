using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Training;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.GoldenCheck;

/// <summary>
/// The training part of a golden case (<c>grads.safetensors</c>, see the golden README's "Training cases"): the generated
/// trainer's gradients of every trainable parameter and of <c>pixel_values</c>, its losses, and its parameters after two
/// AdamW steps, against Hugging Face's. One result per tensor of the file, named as in it.
/// </summary>
/// <remarks>
/// Tolerances (from the README): <c>grad.*</c> max|a−b| ≤ 1e-4 × max|ref| + 1e-7; key biases, whose gradient is
/// analytically zero (the reference holds rounding noise), |a − b| ≤ 1e-6; losses 1e-4 × max(1, |ref|); <c>step2.*</c>
/// 1e-5 × max(1, max|ref|), except elements whose step-0 reference gradient is within its tolerance of zero (AdamW turns
/// rounding noise into updates of up to lr per step: 2 × lr), key biases 2 × lr, and frozen tables exactly.
/// </remarks>
internal static class GoldenTraining
{
    /// <summary>The file's name in a case folder.</summary>
    public const string FileName = "grads.safetensors";

    private const double GradientTolerance = 1e-4, GradientFloor = 1e-7, ZeroGradientTolerance = 1e-6, StepTolerance = 1e-5, LearningRate = 1e-3;

    /// <summary>The optimizer the reference used: AdamW lr 1e-3, betas (0.9, 0.95), eps 1e-8, weight decay 0.05, no clipping, no schedule.</summary>
    public static TrainingOptions Options => new() { LearningRate = LearningRate, Beta1 = 0.9, Beta2 = 0.95, Epsilon = 1e-8, WeightDecay = 0.05 };

    /// <summary>Runs the reference's two training steps with the compiled trainer and compares every tensor of the file.</summary>
    public static void Run(CompiledModel compiled, string caseDirectory, SafeTensorsFile io, Dictionary<string, TensorResult> results, List<string> errors)
    {
        using SafeTensorsFile grads = SafeTensorsFile.Open(Path.Combine(caseDirectory, FileName));
        WeightCatalog catalog = compiled.WeightLayout;
        TensorInfo pixelInfo = io.GetInfo("inputs.pixel_values");
        int batch = checked((int)pixelInfo.Shape[0]);
        float[] pixels = io.ReadFloat32("inputs.pixel_values");
        float[] noise0 = grads.ReadFloat32("train.noise.0"), noise1 = grads.ReadFloat32("train.noise.1");
        var inputs0 = new ViTMAEInputs(pixels, batch) { Height = (int)pixelInfo.Shape[2], Width = (int)pixelInfo.Shape[3], Noise = noise0 };
        var inputs1 = inputs0 with { Noise = noise1 };

        ModelParameters parameters;
        using (WeightSource source = WeightSource.Open(Path.Combine(caseDirectory, GoldenCase.WeightsFileName)))
        {
            parameters = ModelParameters.Load(catalog, source);
        }

        ModelParameters initial = parameters.Clone();
        using TrainingSession trainer = compiled.CreateTrainer(parameters, Options, batch);

        // Step 0: gradients of every parameter and of the pixels.
        var pixelGradient = new float[pixels.Length];
        float loss0 = trainer.ComputeGradients(inputs0, pixelGradient);
        results["train.loss.0"] = CompareScalar("train.loss.0", loss0, grads);
        var zeroGradient = new Dictionary<string, bool[]>(StringComparer.Ordinal);
        for (int i = 0; i < catalog.Count; i++)
        {
            WeightSpec spec = catalog[i];
            string name = "grad." + spec.Key;
            if (!grads.Contains(name))
            {
                if (spec.IsTrainable)
                {
                    errors.Add("grads: " + FileName + " has no " + name + " for trainable " + spec.Key);
                }

                continue;
            }

            ReadOnlySpan<float> reference = grads.ReadFloat32(name);
            ReadOnlySpan<float> ours = trainer.Gradient(spec.Key);
            bool keyBias = IsKeyBias(spec.Key);
            double tolerance = keyBias ? ZeroGradientTolerance : (GradientTolerance * TensorComparer.MaxAbs(reference)) + GradientFloor;
            results[name] = TensorComparer.Compare(name, ours, spec.ShapeArray(), reference, grads.GetInfo(name).Shape.AsSpan(), tolerance, default, 0);
            zeroGradient[spec.Key] = reference.ToArray().Select(g => Math.Abs(g) <= tolerance).ToArray();
        }

        float[] pixelReference = grads.ReadFloat32("grad.pixel_values");
        results["grad.pixel_values"] = TensorComparer.Compare("grad.pixel_values", pixelGradient, pixelInfo.Shape.Select(x => (int)x).ToArray(), pixelReference,
            grads.GetInfo("grad.pixel_values").Shape.AsSpan(), (GradientTolerance * TensorComparer.MaxAbs(pixelReference)) + GradientFloor, default, 0);

        // The two AdamW steps and the losses between them.
        trainer.ApplyGradients();
        float loss1 = trainer.ComputeGradients(inputs1);
        results["train.loss.1"] = CompareScalar("train.loss.1", loss1, grads);
        trainer.ApplyGradients();
        results["train.loss.2"] = CompareScalar("train.loss.2", trainer.Loss(inputs0), grads);

        for (int i = 0; i < catalog.Count; i++)
        {
            WeightSpec spec = catalog[i];
            string name = "step2." + spec.Key;
            if (!grads.Contains(name))
            {
                errors.Add("grads: " + FileName + " has no " + name);
                continue;
            }

            ReadOnlySpan<float> reference = grads.ReadFloat32(name);
            int[] shape = spec.ShapeArray();
            ReadOnlySpan<long> referenceShape = grads.GetInfo(name).Shape.AsSpan();
            if (!spec.IsTrainable)
            {
                results[name] = TensorComparer.Compare(name, parameters[i], shape, reference, referenceShape, exact: true);
                if (!parameters[i].SequenceEqual(initial[i]))
                {
                    results[name] = TensorResult.Failure(name, "a frozen tensor changed during training");
                }

                continue;
            }

            double tolerance = StepTolerance * Math.Max(1, TensorComparer.MaxAbs(reference));
            bool[] loose = IsKeyBias(spec.Key) ? Enumerable.Repeat(true, reference.Length).ToArray() : zeroGradient.GetValueOrDefault(spec.Key) ?? [];
            results[name] = TensorComparer.Compare(name, parameters[i], shape, reference, referenceShape, tolerance, loose, 2 * LearningRate);
        }
    }

    /// <summary>The names this part compares, in report order, for a file (so that a failing run still lists them).</summary>
    public static IEnumerable<string> ExpectedNames(SafeTensorsFile grads) =>
        grads.Tensors.Keys.Where(k => k.StartsWith("grad.", StringComparison.Ordinal) || k.StartsWith("train.loss.", StringComparison.Ordinal) || k.StartsWith("step2.", StringComparison.Ordinal));

    private static bool IsKeyBias(string key) => key.EndsWith(".attention.attention.key.bias", StringComparison.Ordinal);

    private static TensorResult CompareScalar(string name, float ours, SafeTensorsFile grads)
    {
        float reference = grads.ReadFloat32(name)[0];
        return TensorComparer.Compare(name, [ours], [], [reference], grads.GetInfo(name).Shape.AsSpan(), exact: false);
    }
}
