using System;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ViTMAE.Cli.Models;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Evaluation;
using ViTMAE.Compiled.Imaging.Datasets;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Threading;
using ViTMAE.Compiled.Training;

namespace ViTMAE.Cli;

/// <summary>
/// <c>vitmae probe --data &lt;Fashion-MNIST folder&gt; [--model …] [--weights …]</c>: how much a pretrained encoder learned.
/// Embeds the 60,000 training and 10,000 test images without masking, then scores (1) a linear probe — multinomial
/// logistic regression on the frozen features, trained on the training images, accuracy on the test images — (2) k-NN
/// (k = 20, cosine), and (3) the same logistic regression on the raw pixels as the baseline. Features are reported
/// twice: the CLS token and the mean of the patch tokens (both after the final LayerNorm); the last line uses the
/// mean-pooled features, chosen before any run: MAE's pretraining never trains the CLS token for anything (the decoder
/// drops it), while every patch token must carry its patch's content.
/// </summary>
internal static class ProbeCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "A folder with the Fashion-MNIST IDX files (train and t10k, images and labels)", Required = true };
        var model = new Option<string?>("--model") { Description = "A compiled model: fashion-mnist (default, bundled weights) or vit-mae-base" };
        var weights = new Option<string?>("--weights") { Description = "A checkpoint (model.safetensors or its folder, e.g. a 'vitmae train' run); default: the bundled model" };
        var threads = new Option<int>("--threads") { Description = "Threads (default: every processor)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var limit = new Option<int>("--limit") { Description = "Use only the first N training and N/6 test images (a quick check; 0: all)", DefaultValueFactory = _ => 0 };
        var command = new Command("probe", "Linear probe and k-NN of frozen features on Fashion-MNIST, against raw pixels") { data, model, weights, threads, limit };
        command.SetAction(r => Run(r.GetValue(data)!, r.GetValue(model), r.GetValue(weights), r.GetValue(threads), r.GetValue(limit)));
        return command;
    }

    private static int Run(string dataFolder, string? modelName, string? weightsPath, int threads, int limit)
    {
        if (threads < 1 || limit < 0)
        {
            throw new CliUsageException("--threads must be at least 1 and --limit at least 0");
        }

        IdxImageDataset train = IdxImageDataset.TryOpen(dataFolder, DatasetSplit.Train) ?? throw new CliUsageException(dataFolder + " holds no train-images-idx3-ubyte[.gz]");
        IdxImageDataset test = IdxImageDataset.TryOpen(dataFolder, DatasetSplit.Test) ?? throw new CliUsageException(dataFolder + " holds no t10k-images-idx3-ubyte[.gz]");
        if (train.Labels is null || test.Labels is null)
        {
            throw new CliUsageException(dataFolder + " lacks the labels files (train-labels-idx1-ubyte, t10k-labels-idx1-ubyte)");
        }

        int trainCount = limit > 0 ? Math.Min(limit, train.Count) : train.Count;
        int testCount = limit > 0 ? Math.Min(Math.Max(1, limit / 6), test.Count) : test.Count;
        using ModelSource source = ModelSource.Select(modelName, weightsPath);
        ViTMAESpec spec = source.Spec;
        string name = source.Name;
        IViTMAEModel model = source.LoadUnmasked();
        (double[] mean, double[] std) = source.Normalisation;
        Console.WriteLine($"model: {source.Description} ({spec.Describe()}), features without masking");
        Console.WriteLine($"data: {train.Description}; {test.Description}; using {trainCount} + {testCount}");

        var timer = Stopwatch.StartNew();
        (float[] trainCls, float[] trainMean) = Embed(model, spec, train, trainCount, mean, std, threads, "train");
        (float[] testCls, float[] testMean) = Embed(model, spec, test, testCount, mean, std, threads, "test");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"embedded {trainCount + testCount} images in {timer.Elapsed.TotalSeconds:F1} s"));

        ReadOnlySpan<byte> trainLabels = train.Labels.AsSpan(0, trainCount), testLabels = test.Labels.AsSpan(0, testCount);
        using var pool = new ComputePool(threads);
        int d = spec.HiddenSize;
        double Linear(float[] a, float[] b, int dim, ReadOnlySpan<byte> la, ReadOnlySpan<byte> lb) => LinearProbe.Train(a, la, dim, 10).Accuracy(b, lb);

        // k-NN on the standardised features (the training set's mean and deviation: what the linear probe sees; without
        // centring, MAE features share a large common direction and cosine similarities crowd near 1), and on the raw ones.
        (double Standardised, double Raw) Knn(float[] a, float[] b, ReadOnlySpan<byte> la, ReadOnlySpan<byte> lb)
        {
            FeatureScaling scaling = FeatureScaling.Fit(a, d);
            return (NearestNeighbours.Accuracy(scaling.Transform(a), la, scaling.Transform(b), lb, d, k: 20, classes: 10, pool),
                    NearestNeighbours.Accuracy(a, la, b, lb, d, k: 20, classes: 10, pool));
        }

        double clsLinear = Linear(trainCls, testCls, d, trainLabels, testLabels);
        (double clsKnn, double clsKnnRaw) = Knn(trainCls, testCls, trainLabels, testLabels);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"features=cls linear_accuracy={clsLinear:F4} knn_accuracy={clsKnn:F4} knn_unstandardised_accuracy={clsKnnRaw:F4}"));
        double meanLinear = Linear(trainMean, testMean, d, trainLabels, testLabels);
        (double meanKnn, double meanKnnRaw) = Knn(trainMean, testMean, trainLabels, testLabels);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"features=mean linear_accuracy={meanLinear:F4} knn_accuracy={meanKnn:F4} knn_unstandardised_accuracy={meanKnnRaw:F4}"));

        // The baseline: the same regression on the raw pixels (0–1, standardised inside the probe).
        int pixels = train.Height * train.Width;
        double raw = Linear(RawPixels(train, trainCount), RawPixels(test, testCount), pixels, trainLabels, testLabels);
        // Reconstruction: the masked model on the test images, each masked as the model's own seed-0 noise would.
        Reconstruction(source.LoadMasked(), spec, train, trainCount, test, testCount, mean, std, threads);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"probe model={name} linear_accuracy={meanLinear:F4} knn_accuracy={meanKnn:F4} raw_pixels_linear_accuracy={raw:F4}"));
        return 0;
    }

    /// <summary>CLS and mean-pooled patch features of the first <paramref name="count"/> images, with a progress bar.</summary>
    private static (float[] Cls, float[] Mean) Embed(IViTMAEModel model, ViTMAESpec spec, IdxImageDataset data, int count, double[] mean, double[] std, int threads, string what)
    {
        const int batch = 64;
        var images = new TrainingBatches(data, spec.NumChannels, spec.ImageHeight, spec.ImageWidth, mean, std, seed: 0, augment: false);
        int d = spec.HiddenSize, tokens = 1 + spec.NumPatches;
        var cls = new float[(long)count * d];
        var pooled = new float[(long)count * d];
        var pixels = new float[batch * images.ImageFloats];
        IViTMAESession session = model.CreateSession(batch, seed: 0, threads);
        try
        {
            var timer = Stopwatch.StartNew();
            bool terminal = !Console.IsErrorRedirected;
            for (int first = 0; first < count; first += batch)
            {
                int n = Math.Min(batch, count - first);
                images.FillInOrder(first, n, pixels);
                ReadOnlySpan<float> hidden = session.Forward(new ViTMAEInputs(pixels.AsSpan(0, n * images.ImageFloats), n)).LastHiddenState.Span;
                for (int i = 0; i < n; i++)
                {
                    ReadOnlySpan<float> image = hidden.Slice(i * tokens * d, tokens * d);
                    image[..d].CopyTo(cls.AsSpan((first + i) * d, d));
                    Span<float> m = pooled.AsSpan((first + i) * d, d);
                    for (int t = 1; t < tokens; t++) System.Numerics.Tensors.TensorPrimitives.Add(m, image.Slice(t * d, d), m);
                    System.Numerics.Tensors.TensorPrimitives.Divide(m, tokens - 1, m);
                }

                int done = first + n;
                if (terminal || done == count || (done / batch) % 100 == 0)
                {
                    int bar = (int)(30L * done / count);
                    string line = string.Create(CultureInfo.InvariantCulture,
                        $"embedding {what}: [{new string('#', bar)}{new string('.', 30 - bar)}] {done}/{count}  {done / Math.Max(timer.Elapsed.TotalSeconds, 1e-9):F0} img/s");
                    if (terminal) Console.Error.Write("\r" + line); else Console.Error.WriteLine(line);
                }
            }

            if (terminal) Console.Error.WriteLine();
        }
        finally
        {
            (session as IDisposable)?.Dispose();
        }

        return (cls, pooled);
    }

    /// <summary>
    /// Masked-patch MSE on the first <paramref name="count"/> images (the pretraining loss: mean over masked patches of
    /// the per-patch mean squared error, in the model's normalised pixel units, against the model's target), beside three
    /// trivial predictors of a masked patch: the mean training image's patch at that place (sees nothing of the image),
    /// the mean of the image's visible pixels, and the patch's own mean (an oracle that knows the patch's mean
    /// brightness: its MSE is the patch's variance).
    /// </summary>
    private static void Reconstruction(IViTMAEModel model, ViTMAESpec spec, IdxImageDataset train, int trainCount, IdxImageDataset data, int count,
        double[] mean, double[] std, int threads)
    {
        const int batch = 64;
        int patches = spec.NumPatches, dim = spec.PatchDim;
        var pixels = new float[batch * spec.NumChannels * spec.ImageHeight * spec.ImageWidth];
        var target = new float[patches * dim];

        // The mean training target, patch by patch.
        var trainImages = new TrainingBatches(train, spec.NumChannels, spec.ImageHeight, spec.ImageWidth, mean, std, seed: 0, augment: false);
        var meanTarget = new double[patches * dim];
        for (int first = 0; first < trainCount; first += batch)
        {
            int n = Math.Min(batch, trainCount - first);
            trainImages.FillInOrder(first, n, pixels);
            for (int b = 0; b < n; b++)
            {
                PatchTarget(spec, pixels.AsSpan(b * trainImages.ImageFloats, trainImages.ImageFloats), target);
                for (int i = 0; i < target.Length; i++) meanTarget[i] += target[i] / (double)trainCount;
            }
        }

        var images = new TrainingBatches(data, spec.NumChannels, spec.ImageHeight, spec.ImageWidth, mean, std, seed: 0, augment: false);
        double modelError = 0, patchMean = 0, visibleMean = 0, meanImage = 0;
        long masked = 0;
        IViTMAESession session = model.CreateSession(batch, seed: 0, threads);
        try
        {
            for (int first = 0; first < count; first += batch)
            {
                int n = Math.Min(batch, count - first);
                images.FillInOrder(first, n, pixels);
                ViTMAEPreTrainingOutput output = session.ForwardPreTraining(new ViTMAEInputs(pixels.AsSpan(0, n * images.ImageFloats), n));
                ReadOnlySpan<float> logits = output.Logits.Span, mask = output.Mask.Span;
                for (int b = 0; b < n; b++)
                {
                    PatchTarget(spec, pixels.AsSpan(b * images.ImageFloats, images.ImageFloats), target);

                    double visibleSum = 0;
                    int visible = 0;
                    for (int l = 0; l < patches; l++)
                    {
                        if (mask[(b * patches) + l] < 0.5f)
                        {
                            foreach (float v in target.AsSpan(l * dim, dim)) visibleSum += v;
                            visible += dim;
                        }
                    }

                    double fill = visible > 0 ? visibleSum / visible : 0;
                    for (int l = 0; l < patches; l++)
                    {
                        if (mask[(b * patches) + l] < 0.5f) continue;
                        ReadOnlySpan<float> t = target.AsSpan(l * dim, dim), p = logits.Slice(((b * patches) + l) * dim, dim);
                        double tMean = 0;
                        foreach (float v in t) tMean += v;
                        tMean /= dim;
                        ReadOnlySpan<double> m = meanTarget.AsSpan(l * dim, dim);
                        double e = 0, eMean = 0, eVisible = 0, eImage = 0;
                        for (int i = 0; i < dim; i++)
                        {
                            e += (p[i] - t[i]) * (double)(p[i] - t[i]);
                            eMean += (t[i] - tMean) * (t[i] - tMean);
                            eVisible += (t[i] - fill) * (t[i] - fill);
                            eImage += (t[i] - m[i]) * (t[i] - m[i]);
                        }

                        modelError += e / dim;
                        patchMean += eMean / dim;
                        visibleMean += eVisible / dim;
                        meanImage += eImage / dim;
                        masked++;
                    }
                }
            }
        }
        finally
        {
            (session as IDisposable)?.Dispose();
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"reconstruction images={count} masked_patches={masked} masked_patch_mse={modelError / masked:F4} mean_image_baseline_mse={meanImage / masked:F4} visible_mean_baseline_mse={visibleMean / masked:F4} patch_mean_baseline_mse={patchMean / masked:F4}"));
    }

    /// <summary>The loss's target for one image: its patches, normalised per patch for norm_pix_loss.</summary>
    private static void PatchTarget(ViTMAESpec spec, ReadOnlySpan<float> image, Span<float> target)
    {
        ViTMAE.Compiled.Runtime.Patches.Patchify(image, target, spec.NumChannels, spec.ImageHeight, spec.ImageWidth, spec.PatchSize);
        if (spec.NormPixLoss)
        {
            NormalisePatches(target, spec.NumPatches, spec.PatchDim);
        }
    }

    /// <summary>norm_pix_loss's target: each patch minus its mean, over sqrt(unbiased variance + 1e-6).</summary>
    private static void NormalisePatches(Span<float> target, int patches, int dim)
    {
        for (int l = 0; l < patches; l++)
        {
            Span<float> t = target.Slice(l * dim, dim);
            double m = 0, ss = 0;
            foreach (float v in t) m += v;
            m /= dim;
            foreach (float v in t) ss += (v - m) * (v - m);
            double scale = Math.Sqrt((ss / (dim - 1)) + 1e-6);
            for (int i = 0; i < dim; i++) t[i] = (float)((t[i] - m) / scale);
        }
    }

    private static float[] RawPixels(IdxImageDataset data, int count)
    {
        int size = data.Height * data.Width;
        var result = new float[(long)count * size];
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> grey = data.Grey(i);
            for (int j = 0; j < size; j++) result[(i * size) + j] = grey[j] / 255f;
        }

        return result;
    }
}
