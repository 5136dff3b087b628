using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.InteropServices;
using ViTMAE.Compiled.Onnx.Proto;

namespace ViTMAE.Compiled.Onnx.Graph;

/// <summary>
/// A small, model-agnostic helper that appends standard ai.onnx nodes to a <see cref="GraphProto"/>: one method per
/// operator used, unique value names from a scope, de-duplicated constants. Initializer payloads are kept aside
/// (see <see cref="OnnxModel"/>) so that the caller decides at serialisation time whether they go inline or into an
/// external data file.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly GraphProto _graph = new();
    private readonly List<OnnxModel.Payload> _payloads = new();
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _counter;

    public OnnxGraphBuilder(string graphName)
    {
        if (!BitConverter.IsLittleEndian)
        {
            // Payloads are the in-memory bytes of float/long arrays; ONNX raw_data is little-endian.
            throw new PlatformNotSupportedException("The ONNX graph builder needs a little-endian platform.");
        }

        _graph.Name = graphName;
    }

    /// <summary>Prefix of generated value and node names, e.g. <c>encoder.layer.3</c>.</summary>
    public string Scope { get; set; } = string.Empty;

    /// <summary>Number of nodes added so far.</summary>
    public int NodeCount => _graph.Node.Count;

    /// <summary>
    /// A dimension of <see cref="Input"/> or <see cref="Output"/> that is not fixed: it is written as the symbolic
    /// <c>dim_param</c> <see cref="SymbolicDimensionName"/> instead of a <c>dim_value</c>.
    /// </summary>
    public const long SymbolicDimension = -1;

    /// <summary>The <c>dim_param</c> written for <see cref="SymbolicDimension"/>.</summary>
    public string SymbolicDimensionName { get; set; } = "batch";

    // ---- graph interface -------------------------------------------------------------------------------------------

    /// <summary>Declares a graph input; a dimension equal to <see cref="SymbolicDimension"/> is symbolic.</summary>
    public string Input(string name, TensorProto.Types.DataType type, params long[] dims)
    {
        Reserve(name);
        _graph.Input.Add(ValueInfo(name, type, dims));
        return name;
    }

    /// <summary>
    /// Declares <paramref name="value"/> as a graph output called <paramref name="name"/> (through an Identity); a
    /// dimension equal to <see cref="SymbolicDimension"/> is symbolic.
    /// </summary>
    public void Output(string name, string value, TensorProto.Types.DataType type, params long[] dims)
    {
        Reserve(name);
        AddNode("Identity", [value], [name], []);
        _graph.Output.Add(ValueInfo(name, type, dims));
    }

    public string Initializer(string name, float[] values, params long[] dims)
    {
        Reserve(name);
        CheckCount(values.Length, dims, name);
        return AddInitializer(name, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), dims);
    }

    public string InitializerInt64(string name, long[] values, params long[] dims)
    {
        Reserve(name);
        CheckCount(values.Length, dims, name);
        return AddInitializer(name, TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), dims);
    }

    /// <summary>A 1-D int64 constant (shapes, axes, slice bounds), shared between uses.</summary>
    public string Int64s(params long[] values)
    {
        string key = "i64:" + string.Join(",", values);
        if (!_constants.TryGetValue(key, out string? name))
        {
            name = AddInitializer(Fresh("const_i64"), TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), [values.Length]);
            _constants[key] = name;
        }

        return name;
    }

    /// <summary>A float scalar constant (rank 0), shared between uses.</summary>
    public string Scalar(float value)
    {
        string key = "f32:" + BitConverter.SingleToInt32Bits(value).ToString(CultureInfo.InvariantCulture);
        if (!_constants.TryGetValue(key, out string? name))
        {
            name = AddInitializer(Fresh("const_f32"), TensorProto.Types.DataType.Float, BitConverter.GetBytes(value), []);
            _constants[key] = name;
        }

        return name;
    }

    public OnnxModel ToModel(int opset, IReadOnlyDictionary<string, string> metadata, string docString)
    {
        _graph.DocString = docString;
        var model = new ModelProto
        {
            IrVersion = 8, // IR version 8 is the one that introduced opset 17 (ONNX 1.12).
            ProducerName = "ViTMAE.Compiled.Onnx",
            ProducerVersion = typeof(OnnxGraphBuilder).Assembly.GetName().Version?.ToString() ?? "0",
            Domain = "vitmae.compiled",
            ModelVersion = 1,
            DocString = docString,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = opset });
        foreach (KeyValuePair<string, string> entry in metadata)
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = entry.Key, Value = entry.Value });
        }

        return new OnnxModel(model, _payloads);
    }

    // ---- operators (ai.onnx, opset 17 semantics) ------------------------------------------------------------------

    public string MatMul(string a, string b) => Op("MatMul", a, b);

    public string Add(string a, string b) => Op("Add", a, b);

    public string Sub(string a, string b) => Op("Sub", a, b);

    public string Mul(string a, string b) => Op("Mul", a, b);

    public string Div(string a, string b) => Op("Div", a, b);

    public string Pow(string a, string b) => Op("Pow", a, b);

    public string Sqrt(string x) => Op("Sqrt", x);

    public string Erf(string x) => Op("Erf", x);

    public string Tanh(string x) => Op("Tanh", x);

    public string Relu(string x) => Op("Relu", x);

    public string Sigmoid(string x) => Op("Sigmoid", x);

    public string Selu(string x, float alpha, float gamma) =>
        Single("Selu", [x], FloatAttr("alpha", alpha), FloatAttr("gamma", gamma));

    public string Softmax(string x, long axis) => Single("Softmax", [x], IntAttr("axis", axis));

    public string LayerNormalization(string x, string scale, string bias, float epsilon) =>
        Single("LayerNormalization", [x, scale, bias], IntAttr("axis", -1), FloatAttr("epsilon", epsilon));

    /// <summary>Reshape to a constant target (allowzero = 0: a 0 copies that axis from <paramref name="x"/>, one −1 is inferred).</summary>
    public string Reshape(string x, params long[] shape) => Single("Reshape", [x, Int64s(shape)]);

    public string Transpose(string x, params long[] perm) => Single("Transpose", [x], IntsAttr("perm", perm));

    public string Unsqueeze(string x, params long[] axes) => Single("Unsqueeze", [x, Int64s(axes)]);

    public string Expand(string x, params long[] shape) => Single("Expand", [x, Int64s(shape)]);

    /// <summary>Expand to a shape computed in the graph (a 1-D int64 value).</summary>
    public string ExpandTo(string x, string shape) => Single("Expand", [x, shape]);

    /// <summary>Shape (opset 15+): the 1-D int64 shape of <paramref name="x"/>, axes [<paramref name="start"/>, <paramref name="end"/>).</summary>
    public string Shape(string x, long start, long end) =>
        Single("Shape", [x], IntAttr("start", start), IntAttr("end", end));

    public string Concat(long axis, params string[] inputs) => Single("Concat", inputs, IntAttr("axis", axis));

    public string Slice(string x, long axis, long start, long end) =>
        Single("Slice", [x, Int64s(start), Int64s(end), Int64s(axis)]);

    public string Gather(string data, string indices, long axis) => Single("Gather", [data, indices], IntAttr("axis", axis));

    public string GatherElements(string data, string indices, long axis) =>
        Single("GatherElements", [data, indices], IntAttr("axis", axis));

    public string ScatterElements(string data, string indices, string updates, long axis) =>
        Single("ScatterElements", [data, indices, updates], IntAttr("axis", axis));

    /// <summary>TopK over <paramref name="axis"/> returning (values, indices).</summary>
    public (string Values, string Indices) TopK(string x, long k, long axis, bool largest, bool sorted)
    {
        string values = Fresh("TopK_values");
        string indices = Fresh("TopK_indices");
        AddNode("TopK", [x, Int64s(k)], [values, indices],
            [IntAttr("axis", axis), IntAttr("largest", largest ? 1 : 0), IntAttr("sorted", sorted ? 1 : 0)]);
        return (values, indices);
    }

    /// <summary>ReduceMean (opset 13–17: axes is an attribute).</summary>
    public string ReduceMean(string x, long[] axes, bool keepDims) =>
        Single("ReduceMean", [x], IntsAttr("axes", axes), IntAttr("keepdims", keepDims ? 1 : 0));

    /// <summary>ReduceSum (opset 13+: axes is an input; none means every axis).</summary>
    public string ReduceSum(string x, long[]? axes, bool keepDims) =>
        axes is null
            ? Single("ReduceSum", [x], IntAttr("keepdims", keepDims ? 1 : 0))
            : Single("ReduceSum", [x, Int64s(axes)], IntAttr("keepdims", keepDims ? 1 : 0));

    public string Conv(string x, string weight, string bias, long[] kernel, long[] strides) =>
        Single("Conv", [x, weight, bias], IntsAttr("kernel_shape", kernel), IntsAttr("strides", strides));

    // ---- plumbing ---------------------------------------------------------------------------------------------------

    private string Op(string opType, params string[] inputs) => Single(opType, inputs);

    private string Single(string opType, string[] inputs, params AttributeProto[] attributes)
    {
        string output = Fresh(opType);
        AddNode(opType, inputs, [output], attributes);
        return output;
    }

    private void AddNode(string opType, string[] inputs, string[] outputs, AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = Scoped(opType + "_node_" + _graph.Node.Count.ToString(CultureInfo.InvariantCulture)) };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
    }

    /// <summary>Adds an initializer under an already reserved name (the payload is little-endian, as ONNX requires).</summary>
    private string AddInitializer(string name, TensorProto.Types.DataType type, byte[] data, long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type };
        tensor.Dims.AddRange(dims);
        _graph.Initializer.Add(tensor);
        _payloads.Add(new OnnxModel.Payload(tensor, data));
        return name;
    }

    private string Fresh(string hint)
    {
        string name;
        do
        {
            name = Scoped(hint + "_" + (_counter++).ToString(CultureInfo.InvariantCulture));
        }
        while (_names.Contains(name));

        _names.Add(name);
        return name;
    }

    private string Scoped(string name) => Scope.Length == 0 ? name : Scope + "/" + name;

    private void Reserve(string name)
    {
        if (!_names.Add(name))
        {
            throw new InvalidOperationException("Duplicate ONNX value name: " + name);
        }
    }

    private static void CheckCount(int count, long[] dims, string name)
    {
        long expected = 1;
        foreach (long d in dims)
        {
            expected *= d;
        }

        if (expected != count)
        {
            throw new ArgumentException($"Initializer '{name}': {count} values for shape [{string.Join(", ", dims)}].");
        }
    }

    private ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims)
        {
            if (d == SymbolicDimension)
            {
                shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = SymbolicDimensionName });
            }
            else if (d >= 0)
            {
                shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            }
            else
            {
                throw new ArgumentOutOfRangeException(nameof(dims), $"'{name}': dimension {d} is neither a size nor SymbolicDimension.");
            }
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    private static AttributeProto IntAttr(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto FloatAttr(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private static AttributeProto IntsAttr(string name, long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }
}
