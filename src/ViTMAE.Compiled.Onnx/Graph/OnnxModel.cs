using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using Google.Protobuf;
using ViTMAE.Compiled.Onnx.Proto;

namespace ViTMAE.Compiled.Onnx.Graph;

/// <summary>
/// A built <see cref="ModelProto"/> whose initializers carry no data yet, plus their payloads. Serialising attaches
/// the payloads either inline (<c>raw_data</c>) or, for large models, in an external data file next to the model
/// (<c>data_location = EXTERNAL</c> with <c>location</c>/<c>offset</c>/<c>length</c> entries, ONNX's convention),
/// because a protobuf message cannot exceed 2 GiB.
/// </summary>
internal sealed class OnnxModel
{
    /// <summary>An initializer and its little-endian bytes.</summary>
    internal sealed record Payload(TensorProto Tensor, byte[] Data);

    /// <summary>Protobuf's hard limit on one serialised message (2 GiB − 1).</summary>
    public const long ProtobufLimit = int.MaxValue;

    /// <summary>Initializers smaller than this stay inline even in external-data mode (onnx's own default is 1 KiB).</summary>
    public const int MinExternalBytes = 1024;

    /// <summary>Alignment of each tensor in the external data file, so ONNX Runtime can memory-map it.</summary>
    public const int ExternalAlignment = 4096;

    private readonly List<Payload> _payloads;

    public OnnxModel(ModelProto proto, List<Payload> payloads)
    {
        Proto = proto;
        _payloads = payloads;
        foreach (Payload payload in payloads)
        {
            PayloadBytes += payload.Data.Length;
        }
    }

    public ModelProto Proto { get; }

    /// <summary>Total bytes of all initializers.</summary>
    public long PayloadBytes { get; }

    /// <summary>Serialises the whole model, initializers inline.</summary>
    /// <exception cref="InvalidOperationException">The model would exceed protobuf's 2 GiB limit.</exception>
    public byte[] ToBytes()
    {
        try
        {
            foreach (Payload payload in _payloads)
            {
                payload.Tensor.RawData = UnsafeByteOperations.UnsafeWrap(payload.Data);
            }

            long size = Proto.CalculateSize();
            if (size >= ProtobufLimit || size < 0)
            {
                throw new InvalidOperationException(
                    $"The ONNX model needs {PayloadBytes:N0} bytes of weights, more than one protobuf message can hold (2 GiB); "
                    + "use OnnxExport.Write, which stores the weights as external data.");
            }

            return Proto.ToByteArray();
        }
        finally
        {
            Detach();
        }
    }

    /// <summary>
    /// Writes the model to <paramref name="path"/>. When the initializers exceed <paramref name="externalThreshold"/>
    /// bytes, every initializer of at least <see cref="MinExternalBytes"/> goes to <c>&lt;file name&gt;.data</c>
    /// beside it; returns that file's path, or <see langword="null"/> when everything is inline.
    /// </summary>
    public string? WriteTo(string path, long externalThreshold)
    {
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? ".";
        Directory.CreateDirectory(directory);
        bool external = PayloadBytes > externalThreshold;
        string dataName = Path.GetFileName(fullPath) + ".data";
        string dataPath = Path.Combine(directory, dataName);
        try
        {
            if (external)
            {
                using var data = new FileStream(dataPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
                foreach (Payload payload in _payloads)
                {
                    if (payload.Data.Length < MinExternalBytes)
                    {
                        payload.Tensor.RawData = UnsafeByteOperations.UnsafeWrap(payload.Data);
                        continue;
                    }

                    long pad = (ExternalAlignment - (data.Position % ExternalAlignment)) % ExternalAlignment;
                    for (long i = 0; i < pad; i++)
                    {
                        data.WriteByte(0);
                    }

                    long offset = data.Position;
                    data.Write(payload.Data);
                    payload.Tensor.DataLocation = TensorProto.Types.DataLocation.External;
                    payload.Tensor.ExternalData.Add(Entry("location", dataName));
                    payload.Tensor.ExternalData.Add(Entry("offset", offset.ToString(CultureInfo.InvariantCulture)));
                    payload.Tensor.ExternalData.Add(Entry("length", payload.Data.Length.ToString(CultureInfo.InvariantCulture)));
                }
            }
            else
            {
                if (File.Exists(dataPath))
                {
                    File.Delete(dataPath); // a stale data file from an earlier, larger export would be misleading
                }

                foreach (Payload payload in _payloads)
                {
                    payload.Tensor.RawData = UnsafeByteOperations.UnsafeWrap(payload.Data);
                }
            }

            long size = Proto.CalculateSize();
            if (size >= ProtobufLimit || size < 0)
            {
                throw new InvalidOperationException(
                    $"The ONNX model file would be {size:N0} bytes, over protobuf's 2 GiB limit; lower the external-data threshold.");
            }

            using var model = new FileStream(fullPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            Proto.WriteTo(model);
            return external ? dataPath : null;
        }
        finally
        {
            Detach();
        }
    }

    private void Detach()
    {
        foreach (Payload payload in _payloads)
        {
            payload.Tensor.ClearRawData();
            payload.Tensor.ClearDataLocation();
            payload.Tensor.ExternalData.Clear();
        }
    }

    private static StringStringEntryProto Entry(string key, string value) => new() { Key = key, Value = value };
}
