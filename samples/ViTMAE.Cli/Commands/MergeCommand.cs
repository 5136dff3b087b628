using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.Linq;

namespace ViTMAE.Cli;

/// <summary>
/// <c>vitmae merge &lt;parts…&gt; --out all.safetensors</c>: joins the outputs of <c>vitmae embed --shard i/n</c> for
/// i = 0…n−1 (given in any order) into one file, byte-identical to an unsharded run over the same inputs. Refuses
/// parts made by other models, weights, preprocessing or masking, over another input list, incomplete parts, and a
/// missing or repeated shard.
/// </summary>
internal static class MergeCommand
{
    public static Command Create()
    {
        var parts = new Argument<string[]>("parts") { Description = "The shards' .safetensors files (all n of them)", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "The merged .safetensors file to write", Required = true };
        var command = new Command("merge", "Join the shards written by 'embed --shard i/n' into one file") { parts, output };
        command.SetAction(r => Run(r.GetValue(parts)!, r.GetValue(output)!));
        return command;
    }

    private static int Run(string[] partPaths, string outPath)
    {
        OutputPath.CheckWritable(outPath);
        // Metadata only: the features are copied part by part while the merged file is written.
        var parts = partPaths.Select(p => (Path: p, File: EmbeddingFile.Read(p, features: false))).OrderBy(p => p.File.Shard).ToList();
        (string firstPath, EmbeddingFile first) = parts[0];
        foreach ((string path, EmbeddingFile part) in parts)
        {
            if (!part.Complete)
            {
                throw new CliUsageException(path + ": shard " + part.Shard + " is incomplete (its run was interrupted); finish it with 'vitmae embed … --resume'");
            }

            if (part.Settings != first.Settings || part.ShardCount != first.ShardCount)
            {
                throw new CliUsageException(path + " was made with other settings than " + firstPath + ": " + Difference(first, part));
            }
        }

        int[] shards = parts.Select(p => p.File.Shard).ToArray();
        if (!shards.SequenceEqual(Enumerable.Range(0, first.ShardCount)))
        {
            var missing = Enumerable.Range(0, first.ShardCount).Except(shards).ToList();
            var repeated = shards.GroupBy(s => s).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            throw new CliUsageException(string.Create(CultureInfo.InvariantCulture,
                $"the parts are not shards 0–{first.ShardCount - 1} once each: missing [{string.Join(", ", missing)}], repeated [{string.Join(", ", repeated)}]"));
        }

        int hidden = first.Settings.Hidden;
        int rows = parts.Sum(p => p.File.Paths.Count); // ≤ the input list's length, an int
        var paths = new List<string>(rows);
        var skipped = new List<SkippedInput>();
        foreach ((_, EmbeddingFile part) in parts)
        {
            paths.AddRange(part.Paths);
            skipped.AddRange(part.Skipped);
        }

        new EmbeddingFile { Settings = first.Settings, Shard = 0, ShardCount = 1, Paths = paths, Skipped = skipped, Complete = true }
            .WriteMerged(outPath, parts.Select(p => p.Path).ToList());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {outPath}: cls and mean [{rows}, {hidden}] from {parts.Count} shard(s), {skipped.Count} skipped input(s) listed"));
        return 0;
    }

    private static string Difference(EmbeddingFile a, EmbeddingFile b) => string.Join("; ", a.ShardCount == b.ShardCount
        ? a.Settings.Differences(b.Settings)
        : a.Settings.Differences(b.Settings).Append($"shard count '{a.ShardCount}' vs '{b.ShardCount}'"));
}
