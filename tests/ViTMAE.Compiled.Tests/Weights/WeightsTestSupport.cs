using System;
using System.Buffers.Binary;
using System.IO;
using System.Text;

namespace ViTMAE.Compiled.Tests.Weights;

/// <summary>A fresh temporary directory, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vitmae-weights-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, byte[] bytes)
    {
        string path = File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A mapping still open on some platform; the OS temp cleaner will get it.
        }
    }
}

internal static class WeightsTestSupport
{
    /// <summary><c>../shared</c> beside the repository root.</summary>
    public static string SharedDirectory => ViTMAE.Compiled.TestSupport.RepoPaths.SharedRoot;

    public static string Golden(string relative)
    {
        string path = Path.Combine(SharedDirectory, "golden", relative);
        Assert.True(System.IO.File.Exists(path), $"Golden file {path} is missing.");
        return path;
    }

    /// <summary>A hand-made file: the given header length, header bytes and data.</summary>
    public static byte[] Raw(ulong headerLength, byte[] header, byte[] data)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    /// <summary>A hand-made file with a correct header length.</summary>
    public static byte[] Raw(string headerJson, byte[] data)
    {
        byte[] header = Encoding.UTF8.GetBytes(headerJson);
        return Raw((ulong)header.Length, header, data);
    }

    public static byte[] Raw(string headerJson, int dataLength) => Raw(headerJson, new byte[dataLength]);
}
