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
        var model = new Option<string>("--model") { Description = "fashion-mnist or vit-mae-base", DefaultValueFactory = _ => "fashion-mnist" };
        var weights = new Option<string?>("--weights") { Description = "A checkpoint (model.safetensors or its folder, e.g. a 'vitmae train' run); default: random weights" };
        var threads = new Option<int>("--threads") { Description = "Threads (default: every processor)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var limit = new Option<int>("--limit") { Description = "Use only the first N training and N/6 test images (a quick check; 0: all)", DefaultValueFactory = _ => 0 };
        var command = new Command("probe", "Linear probe and k-NN of frozen features on Fashion-MNIST, against raw pixels") { data, model, weights, threads, limit };
        command.SetAction(r => Run(r.GetValue(data)!, r.GetValue(model)!, r.GetValue(weights), r.GetValue(threads), r.GetValue(limit)));
        return command;
    }

    private static int Run(string dataFolder, string modelName, string? weightsPath, int threads, int limit)
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
        (IViTMAEModel model, ViTMAESpec spec, string name) = Open(modelName, weightsPath);
        Console.WriteLine($"model: {name} ({spec.Describe()}), features without masking");
        Console.WriteLine($"data: {train.Description}; {test.Description}; using {trainCount} + {testCount}");

        var timer = Stopwatch.StartNew();
        (float[] trainCls, float[] trainMean) = Embed(model, spec, train, trainCount, threads, "train");
        (float[] testCls, float[] testMean) = Embed(model, spec, test, testCount, threads, "test");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"embedded {trainCount + testCount} images in {timer.Elapsed.TotalSeconds:F1} s"));

        ReadOnlySpan<byte> trainLabels = train.Labels.AsSpan(0, trainCount), testLabels = test.Labels.AsSpan(0, testCount);
        using var pool = new ComputePool(threads);
        int d = spec.HiddenSize;
        double Linear(float[] a, float[] b, int dim, ReadOnlySpan<byte> la, ReadOnlySpan<byte> lb) => LinearProbe.Train(a, la, dim, 10).Accuracy(b, lb);
        double clsLinear = Linear(trainCls, testCls, d, trainLabels, testLabels);
        double clsKnn = NearestNeighbours.Accuracy(trainCls, trainLabels, testCls, testLabels, d, k: 20, classes: 10, pool);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"features=cls linear_accuracy={clsLinear:F4} knn_accuracy={clsKnn:F4}"));
        double meanLinear = Linear(trainMean, testMean, d, trainLabels, testLabels);
        double meanKnn = NearestNeighbours.Accuracy(trainMean, trainLabels, testMean, testLabels, d, k: 20, classes: 10, pool);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"features=mean linear_accuracy={meanLinear:F4} knn_accuracy={meanKnn:F4}"));

        // The baseline: the same regression on the raw pixels (0–1, standardised inside the probe).
        int pixels = train.Height * train.Width;
        double raw = Linear(RawPixels(train, trainCount), RawPixels(test, testCount), pixels, trainLabels, testLabels);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"probe model={name} linear_accuracy={meanLinear:F4} knn_accuracy={meanKnn:F4} raw_pixels_linear_accuracy={raw:F4}"));
        return 0;
    }

    private static (IViTMAEModel Model, ViTMAESpec Spec, string Name) Open(string modelName, string? weightsPath)
    {
        switch (modelName)
        {
            case "fashion-mnist":
                if (weightsPath is null)
                {
                    Console.Error.WriteLine("weights: none given; using a deterministic RANDOM initialisation (seed 0): the accuracies are a random encoder's");
                    return (FashionMnistUnmasked.FromParameters(ModelParameters.Random(FashionMnistUnmasked.WeightLayout, 0)), FashionMnistUnmasked.CompiledSpec, "fashion-mnist (random)");
                }

                return (FashionMnistUnmasked.Load(weightsPath), FashionMnistUnmasked.CompiledSpec, "fashion-mnist");
            case "vit-mae-base":
                return (VitMaeBaseUnmasked.Load(ModelSource.Resolve(weightsPath)), VitMaeBaseUnmasked.CompiledSpec, weightsPath is null ? "vit-mae-base (random)" : "vit-mae-base");
            default:
                throw new CliUsageException("--model: '" + modelName + "' is not compiled in; use fashion-mnist or vit-mae-base");
        }
    }

    /// <summary>CLS and mean-pooled patch features of the first <paramref name="count"/> images, with a progress bar.</summary>
    private static (float[] Cls, float[] Mean) Embed(IViTMAEModel model, ViTMAESpec spec, IdxImageDataset data, int count, int threads, string what)
    {
        const int batch = 64;
        (double[] mean, double[] std) = CompiledModels.Normalisation(spec.NumChannels);
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
