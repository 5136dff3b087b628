using System;
using System.Linq;
using Samples.Models;

// VitMaeBase was generated at build time from samples/configs/vit-mae-base.json.
Console.WriteLine("ViTMAE.Compiled: facebook/vit-mae-base, compiled at build time");
Console.WriteLine();
Console.WriteLine(VitMaeBase.PlanSummary);
Console.WriteLine();
long parameters = VitMaeBase.WeightLayout.Sum(w => w.ElementCount);
long encoderParameters = VitMaeBase.WeightLayout.Where(w => !w.IsDecoder).Sum(w => w.ElementCount);
Console.WriteLine($"Weights: {VitMaeBase.WeightLayout.Count} tensors, {parameters:N0} parameters ({encoderParameters:N0} in the encoder), {parameters * 4 / (1024.0 * 1024.0):F1} MiB as float32.");
Console.WriteLine($"First tensors: {string.Join(", ", VitMaeBase.WeightLayout.Take(3))}");
