using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Numerics.Tensors;
using System.Security.Cryptography;
using System.Text;
using ViTMAE.Compiled;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Cli;

/// <summary>
/// <c>vitmae embed &lt;files|folders|list.txt…&gt; --out part.safetensors [--shard i/n] [--resume] [--model …] [--weights …]</c>:
/// per image the CLS token and the mean of the patch tokens of <c>last_hidden_state</c>, every patch visible (the
/// class compiled with mask_ratio 0; <c>--mask</c> encodes the masked input instead, with noise keyed by the seed and
/// the image's place in the sorted input list). Made to run under a batch engine (docs/SCALE.md): <c>--shard i/n</c>
/// takes the i-th of n contiguous ranges of the sorted inputs; an image that cannot be read or decoded is skipped with a
/// one-line reason (on standard error and in the file) and the exit code is 2; the output is written every so often
/// as a resumable partial file and <c>--resume</c> continues it; <c>vitmae merge</c> joins the parts.
/// </summary>
internal static class EmbedCommand
{
    /// <summary>Exit code of a run that finished but skipped inputs.</summary>
    public const int SkippedExitCode = 2;

    /// <summary>Exit code of a run stopped by <c>--max-images</c>: the file is partial (resume it with <c>--resume</c>).</summary>
    public const int PartialExitCode = 3;

    public static Command Create()
    {
        var images = new Argument<string[]>("inputs") { Description = "Image files, folders (recursive) or list files (.txt/.lst, one path per line)", Arity = ArgumentArity.OneOrMore };
        var model = new Option<string?>("--model") { Description = "A compiled model: fashion-mnist (default, bundled weights) or vit-mae-base" };
        var weights = new Option<string?>("--weights") { Description = "A Hugging Face checkpoint (ViTMAEModel or ViTMAEForPreTraining; default: the bundled model)" };
        var output = new Option<string>("--out") { Description = "The .safetensors file to write (tensors cls and mean, [N, hidden], and the run in its metadata)", Required = true };
        var shard = new Option<string>("--shard") { Description = "i/n: embed the i-th (0-based) of n contiguous ranges of the sorted inputs", DefaultValueFactory = _ => "0/1" };
        var resume = new Option<bool>("--resume") { Description = "Continue the partial file at --out (same inputs and settings) instead of starting over" };
        var mask = new Option<bool>("--mask") { Description = "Encode the masked input (the config's mask_ratio) instead of every patch" };
        var noMask = new Option<bool>("--no-mask") { Description = "Every patch (the default; kept for old scripts)", Hidden = true };
        var batch = new Option<int>("--batch") { Description = "Images per forward call (every shard of a run must use the same)", DefaultValueFactory = _ => 8 };
        var threads = new Option<int>("--threads") { Description = "Threads per forward call (0: every processor)", DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { Description = "Seed of the masking noise (with --mask)", DefaultValueFactory = _ => 0 };
        var preprocessor = new Option<string?>("--preprocessor") { Description = "preprocessor_config.json (default: the checkpoint's own, else the model's)" };
        var maxImages = new Option<int>("--max-images") { Description = "Stop after this many inputs of the shard and leave a partial, resumable file (exit code 3; 0: no limit)", DefaultValueFactory = _ => 0 };
        var command = new Command("embed", "CLS and mean-pooled encoder features for images, shardable and resumable")
        {
            images, model, weights, output, shard, resume, mask, noMask, batch, threads, seed, preprocessor, maxImages,
        };
        command.SetAction(r => Run(new Request(
            r.GetValue(images)!, r.GetValue(model), r.GetValue(weights), r.GetValue(output)!, r.GetValue(shard)!, r.GetValue(resume),
            r.GetValue(mask) && !r.GetValue(noMask), r.GetValue(batch), r.GetValue(threads), r.GetValue(seed), r.GetValue(preprocessor), r.GetValue(maxImages))));
        return command;
    }

    private sealed record Request(
        string[] Inputs, string? Model, string? Weights, string Out, string Shard, bool Resume, bool Mask, int Batch, int Threads, int Seed, string? Preprocessor, int MaxImages);

    private static int Run(Request request)
    {
        if (request.Batch < 1 || request.Threads < 0 || request.MaxImages < 0)
        {
            throw new CliUsageException("--batch must be at least 1, --threads and --max-images at least 0");
        }

        (int shardIndex, int shardCount) = ParseShard(request.Shard);
        OutputPath.CheckWritable(request.Out);
        List<string> all = ImageInputs.Expand(request.Inputs);
        // Shards are contiguous runs of whole batches of the sorted list, and every batch is the same group of inputs
        // whichever shard runs it (an input that fails to decode keeps its slot, zero-filled): each image then meets the
        // same batch in a sharded and an unsharded run, and the outputs agree to the bit.
        int batchSize = request.Batch;
        long groups = ((long)all.Count + batchSize - 1) / batchSize;
        int first = (int)Math.Min(all.Count, groups * shardIndex / shardCount * batchSize);
        int end = (int)Math.Min(all.Count, groups * (shardIndex + 1) / shardCount * batchSize);

        using ModelSource source = ModelSource.Select(request.Model, request.Weights);
        ImageProcessor processor = source.Processor(request.Preprocessor);
        var spec = source.Spec;
        var settings = new EmbeddingSettings(
            source.Name, spec.Describe(), WeightsFingerprint(source), PreprocessorText(processor),
            request.Mask ? string.Create(CultureInfo.InvariantCulture, $"mask_ratio {spec.MaskRatio}, seed {request.Seed}") : "none",
            spec.HiddenSize, all.Count, EmbeddingSettings.HashInputs(all), batchSize);

        int hidden = spec.HiddenSize, count = end - first;
        CheckShardSize(settings, shardIndex, shardCount, all, first, end);
        var paths = new List<string>();
        var skipped = new List<SkippedInput>();
        var cls = new float[(long)count * hidden];
        var mean = new float[(long)count * hidden];
        int next = first;
        if (request.Resume && File.Exists(request.Out))
        {
            next = Restore(request.Out, settings, shardIndex, shardCount, all, first, end, paths, skipped, cls, mean);
            Console.Error.WriteLine($"resuming {request.Out}: {paths.Count} embedded and {skipped.Count} skipped of {count}");
        }

        Console.Error.WriteLine("model: " + source.Description);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"shard {shardIndex}/{shardCount}: inputs {first}–{end - 1} of {all.Count} (sorted paths), {(request.Mask ? "masked input" : "every patch")}, batch {request.Batch}"));
        IViTMAEModel model = request.Mask ? source.LoadMasked() : source.LoadUnmasked();
        using IViTMAESession session = model.CreateSession(batchSize, request.Seed, request.Threads);
        int imageFloats = spec.NumChannels * spec.ImageHeight * spec.ImageWidth;
        var pixels = new float[batchSize * imageFloats];
        var noise = new float[batchSize * spec.NumPatches];
        var timer = Stopwatch.StartNew();
        var sinceSave = Stopwatch.StartNew();
        TimeSpan saveEvery = TimeSpan.FromSeconds(60);
        int done = 0;

        EmbeddingFile Snapshot(bool complete) => new()
        {
            Settings = settings, Shard = shardIndex, ShardCount = shardCount, Paths = paths, Skipped = skipped, Cls = cls, Mean = mean, Complete = complete,
        };

        // --max-images stops at a whole batch, so that the resumed run meets the same batches.
        int stop = request.MaxImages > 0 ? (int)Math.Min(end, next + (((long)request.MaxImages + batchSize - 1) / batchSize * batchSize)) : end;
        var decoded = new bool[batchSize];
        while (next < stop)
        {
            // One batch: inputs [next, next + n) of the sorted list; one that does not decode is skipped (one line) and
            // its slot zero-filled.
            int n = Math.Min(batchSize, end - next);
            for (int b = 0; b < n; b++)
            {
                string path = all[next + b];
                Span<float> slot = pixels.AsSpan(b * imageFloats, imageFloats);
                try
                {
                    processor.PreprocessFiles([path], slot);
                    decoded[b] = true;
                }
                catch (ViTMAEException ex)
                {
                    string reason = ex.Message.ReplaceLineEndings(" ");
                    skipped.Add(new SkippedInput(path, reason));
                    Console.Error.WriteLine("\nskipped " + path + ": " + reason);
                    slot.Clear();
                    decoded[b] = false;
                }

                // The noise is a function of the image alone: with --mask keyed by (seed, place in the sorted list); without,
                // increasing, so every patch stays in its place (mask_ratio 0 still shuffles the tokens by the noise, and a
                // random order would change the sums' rounding from one batch slot to the next).
                Span<float> imageNoise = noise.AsSpan(b * spec.NumPatches, spec.NumPatches);
                if (request.Mask)
                {
                    KeyedNoise(request.Seed, next + b, imageNoise);
                }
                else
                {
                    for (int l = 0; l < imageNoise.Length; l++)
                    {
                        imageNoise[l] = (float)l / imageNoise.Length;
                    }
                }
            }

            var inputs = new ViTMAEInputs(pixels.AsSpan(0, n * imageFloats), n) { Noise = noise.AsSpan(0, n * spec.NumPatches) };
            TensorView last = session.Forward(inputs).LastHiddenState;
            for (int b = 0; b < n; b++)
            {
                if (!decoded[b])
                {
                    continue;
                }

                int row = paths.Count;
                TensorView tokens = last[b]; // [T, hidden]
                tokens[0].Span.CopyTo(cls.AsSpan(row * hidden, hidden));
                Span<float> pooled = mean.AsSpan(row * hidden, hidden);
                for (int t = 1; t < tokens.Shape[0]; t++)
                {
                    TensorPrimitives.Add(pooled, tokens[t].Span, pooled);
                }

                TensorPrimitives.Multiply(pooled, 1f / (tokens.Shape[0] - 1), pooled);
                paths.Add(all[next + b]);
            }

            next += n;
            done += n;

            Progress(done, next - first, count, timer.Elapsed);
            if (sinceSave.Elapsed > saveEvery && next < end)
            {
                // A resumable partial file; saved at most every minute and never more than ~10 % of the time.
                var save = Stopwatch.StartNew();
                Snapshot(complete: false).Write(request.Out);
                saveEvery = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(60).Ticks, save.Elapsed.Ticks * 10));
                sinceSave.Restart();
            }
        }

        Console.Error.WriteLine();
        bool complete = next == end;
        Snapshot(complete).Write(request.Out);
        double seconds = timer.Elapsed.TotalSeconds;
        if (!complete)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"stopped after {done} images (--max-images): {request.Out} is partial, {paths.Count + skipped.Count} of {count} inputs; continue with --resume"));
            return PartialExitCode;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {request.Out}: cls and mean [{paths.Count}, {hidden}] by {source.Name} ({(request.Mask ? "masked input" : "every patch")}), shard {shardIndex}/{shardCount}, {skipped.Count} skipped; {done} images in {seconds:F1} s ({done / Math.Max(seconds, 1e-9):F1} images/s)"));
        return skipped.Count > 0 ? SkippedExitCode : 0;
    }

    /// <summary>
    /// Refuses, before any image is read, a shard whose file could not be written: over 2 GiB per tensor (what one
    /// array holds, and what a reader maps as one span), or a header (the paths) over the 100 MB safetensors readers
    /// accept, with 10 % to spare for skipped inputs' reasons. Both say how many shards would do.
    /// </summary>
    private static void CheckShardSize(EmbeddingSettings settings, int shard, int shardCount, List<string> all, int first, int end)
    {
        int count = end - first, maxRows = EmbeddingFile.MaxShardRows(settings.Hidden);
        string ShardsNeeded(long perShard) => string.Create(CultureInfo.InvariantCulture,
            $"split the {all.Count} inputs into at least {(all.Count + perShard - 1) / perShard} shards (--shard i/n)");
        if (count > maxRows)
        {
            // Shards are whole batches, so a batch of a file's size or more leaves no split that fits.
            string remedy = settings.Batch >= maxRows
                ? string.Create(CultureInfo.InvariantCulture, $"use a --batch below {maxRows} (it is {settings.Batch})")
                : ShardsNeeded(maxRows - settings.Batch);
            throw new CliUsageException(string.Create(CultureInfo.InvariantCulture,
                $"shard {shard}/{shardCount} holds {count} inputs: at hidden size {settings.Hidden} its features would be {(double)count * settings.Hidden * sizeof(float) / (1 << 30):F1} GiB per tensor, over the 2 GiB of a shard file ({maxRows} inputs); {remedy}"));
        }

        long header = new EmbeddingFile { Settings = settings, Shard = shard, ShardCount = shardCount, Paths = all.GetRange(first, count), Skipped = [], Complete = false }.HeaderLength;
        long limit = SafeTensorsFile.MaxHeaderLength / 10 * 9;
        if (header > limit)
        {
            long perShard = Math.Max(1, (long)(count * ((double)limit / header)) - settings.Batch);
            throw new CliUsageException(string.Create(CultureInfo.InvariantCulture,
                $"shard {shard}/{shardCount} lists {count} paths, a {header / 1e6:F0} MB header, over the {limit / 1e6:F0} MB kept for a file that safetensors readers accept ({SafeTensorsFile.MaxHeaderLength / 1e6:F0} MB); {ShardsNeeded(perShard)}"));
        }
    }

    /// <summary>Reads the partial file back and returns the next input to embed.</summary>
    private static int Restore(string path, EmbeddingSettings settings, int shard, int shardCount, List<string> all, int first, int end,
        List<string> paths, List<SkippedInput> skipped, float[] cls, float[] mean)
    {
        EmbeddingFile previous = EmbeddingFile.Read(path);
        if (previous.Settings != settings || previous.Shard != shard || previous.ShardCount != shardCount)
        {
            throw new CliUsageException(path + ": made with other settings, inputs or shard; --resume continues only the same run (remove the file to start over)");
        }

        // What the file holds must be exactly the first inputs of this shard, embedded or skipped, in order.
        int next = first, row = 0, skip = 0;
        while (row < previous.Paths.Count || skip < previous.Skipped.Count)
        {
            if (next >= end)
            {
                throw new CliUsageException(path + ": holds inputs that are not in this shard");
            }

            if (row < previous.Paths.Count && previous.Paths[row] == all[next])
            {
                row++;
            }
            else if (skip < previous.Skipped.Count && previous.Skipped[skip].Path == all[next])
            {
                skip++;
            }
            else
            {
                throw new CliUsageException(path + ": its rows are not this shard's first inputs (the input list changed?); remove the file to start over");
            }

            next++;
        }

        if ((next - first) % settings.Batch != 0 && next != end)
        {
            throw new CliUsageException(path + ": ends inside a batch; remove the file to start over");
        }

        int hidden = settings.Hidden;
        paths.AddRange(previous.Paths);
        skipped.AddRange(previous.Skipped);
        previous.Cls.AsSpan(0, row * hidden).CopyTo(cls);
        previous.Mean.AsSpan(0, row * hidden).CopyTo(mean);
        return next;
    }

    private static (int Index, int Count) ParseShard(string text)
    {
        string[] parts = text.Split('/');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count)
            && count >= 1 && index < count)
        {
            return (index, count);
        }

        throw new CliUsageException("--shard " + text + ": expected i/n with 0 <= i < n (e.g. 3/16; Kubernetes: $JOB_COMPLETION_INDEX/n, Slurm: $SLURM_ARRAY_TASK_ID/n)");
    }

    /// <summary>
    /// Uniform [0, 1) noise for image <paramref name="index"/> of the sorted inputs, a function of (seed, index, patch)
    /// only (SplitMix64's mixer over a counter), so an image is masked the same whichever shard or batch it lands in.
    /// </summary>
    private static void KeyedNoise(int seed, int index, Span<float> destination)
    {
        for (int l = 0; l < destination.Length; l++)
        {
            ulong z = ((ulong)(uint)seed << 32 | (uint)index) * 0x9E3779B97F4A7C15UL + ((ulong)l + 1) * 0xD1B54A32D192ED03UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            destination[l] = (z >> 40) * (1f / (1 << 24));
        }
    }

    /// <summary>SHA-256 over every tensor's name, dtype, shape and bytes in name order: equal weights, equal text, whatever the file layout.</summary>
    private static string WeightsFingerprint(ModelSource source)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        source.HashWeights(hash);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static string PreprocessorText(ImageProcessor processor)
    {
        ImageProcessorSettings s = processor.Settings;
        return string.Create(CultureInfo.InvariantCulture,
            $"{processor.Channels} channel(s), resize {s.DoResize} {s.Height}x{s.Width} resample {(int)s.Resample}, rescale {s.DoRescale} {s.RescaleFactor:R}, normalize {s.DoNormalize} mean [{string.Join(", ", s.ImageMean)}] std [{string.Join(", ", s.ImageStd)}]");
    }

    /// <summary>A one-line progress bar with the rate and the estimated time left, on standard error.</summary>
    private static void Progress(int doneThisRun, int doneInShard, int total, TimeSpan elapsed)
    {
        const int width = 30;
        int filled = (int)((long)width * doneInShard / Math.Max(total, 1));
        double rate = doneThisRun / Math.Max(elapsed.TotalSeconds, 1e-9);
        TimeSpan left = TimeSpan.FromSeconds((total - doneInShard) / Math.Max(rate, 1e-9));
        Console.Error.Write(string.Create(CultureInfo.InvariantCulture,
            $"\r[{new string('#', filled)}{new string('.', width - filled)}] {doneInShard}/{total} images, {rate:F1}/s, ETA {left:hh\\:mm\\:ss}  "));
    }
}
