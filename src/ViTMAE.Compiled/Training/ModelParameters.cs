using System;
using System.Collections.Generic;
using System.Globalization;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Modeling;
using ViTMAE.Compiled.Runtime;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Training;

/// <summary>
/// Every tensor of a model in one contiguous float buffer, in <see cref="WeightCatalog"/> order and Hugging Face layout
/// (Linear weights [out, in], the patch projection [D, C, p, p]): the master copy that training updates, and the shape of
/// the gradient and optimizer-state buffers, which use the same offsets. Looked up by Hugging Face key.
/// </summary>
public sealed class ModelParameters
{
    private ModelParameters(WeightCatalog catalog, float[] values)
    {
        Catalog = catalog;
        Values = values;
    }

    /// <summary>The model's tensors and their offsets in <see cref="Values"/>.</summary>
    public WeightCatalog Catalog { get; }

    /// <summary>All tensors, one after the other in catalog order.</summary>
    public float[] Values { get; }

    /// <summary>A buffer of zeros with the same layout (gradients, optimizer moments).</summary>
    public static float[] ZerosLike(WeightCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new float[Length(catalog)];
    }

    /// <summary>Tensor <paramref name="index"/> of a buffer laid out like <paramref name="catalog"/>.</summary>
    public static Memory<float> Slice(WeightCatalog catalog, float[] buffer, int index)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return buffer.AsMemory((int)catalog.Offset(index), (int)catalog[index].ElementCount);
    }

    /// <summary>The tensor <paramref name="key"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor in this model.</exception>
    public Span<float> this[string key] => Slice(Catalog, Values, Catalog.IndexOf(key)).Span;

    /// <summary>Tensor <paramref name="index"/> of the catalog.</summary>
    public Span<float> this[int index] => Slice(Catalog, Values, index).Span;

    /// <summary>Reads a <c>ViTMAEForPreTraining</c> checkpoint (shapes checked, dtypes converted).</summary>
    /// <exception cref="ViTMAEException">A tensor is missing (a ViTMAEModel checkpoint has no decoder: training needs it) or malformed.</exception>
    public static ModelParameters Load(WeightCatalog catalog, WeightSource source)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(source);
        var checkpoint = new Checkpoint(source);
        if (!checkpoint.HasDecoder)
        {
            throw new ViTMAEInputException("weights", "the checkpoint has no decoder (a ViTMAEModel checkpoint); training needs a ViTMAEForPreTraining checkpoint");
        }

        var parameters = new ModelParameters(catalog, new float[Length(catalog)]);
        for (int i = 0; i < catalog.Count; i++)
        {
            checkpoint.Require(catalog[i]).CopyTo(parameters[i]);
        }

        return parameters;
    }

    /// <summary>Hugging Face's initialisation (<see cref="RandomInit"/>), seeded.</summary>
    public static ModelParameters Random(WeightCatalog catalog, int seed)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var random = new Random(seed);
        var parameters = new ModelParameters(catalog, new float[Length(catalog)]);
        for (int i = 0; i < catalog.Count; i++)
        {
            RandomInit.Initial(catalog.Spec, catalog[i], random).CopyTo(parameters[i]);
        }

        return parameters;
    }

    /// <summary>A copy with the same values.</summary>
    public ModelParameters Clone() => new(Catalog, (float[])Values.Clone());

    /// <summary>The tensors as a safetensors file with Hugging Face's keys (what <c>from_pretrained</c> reads).</summary>
    public SafeTensorsWriter ToWriter(IReadOnlyDictionary<string, string>? metadata = null)
    {
        var writer = new SafeTensorsWriter();
        writer.AddMetadata("format", "pt");
        foreach (KeyValuePair<string, string> item in metadata ?? new Dictionary<string, string>())
        {
            writer.AddMetadata(item.Key, item.Value);
        }

        for (int i = 0; i < Catalog.Count; i++)
        {
            writer.AddFloat32(Catalog[i].Key, this[i], Catalog[i].ShapeArray());
        }

        return writer;
    }

    /// <summary>A copy of the tensor of <paramref name="spec"/> (the reader packed weights are built with).</summary>
    internal float[] Read(WeightSpec spec) => this[spec.Key].ToArray();

    private static int Length(WeightCatalog catalog)
    {
        if (catalog.TotalElements > Array.MaxLength)
        {
            throw new ViTMAEException(string.Create(CultureInfo.InvariantCulture,
                $"the model has {catalog.TotalElements} parameters, more than one array can hold ({Array.MaxLength}); training keeps them in one buffer"));
        }

        return (int)catalog.TotalElements;
    }
}
