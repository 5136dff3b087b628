using System;
using System.Linq;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Tests.Weights;

/// <summary><see cref="SafeTensorsFile.FromMemory"/>: the same reader and the same checks as a file, over bytes in memory.</summary>
public sealed class SafeTensorsMemoryTests
{
    [Fact]
    public void Bytes_in_memory_read_like_the_same_file()
    {
        float[] w = Enumerable.Range(0, 12).Select(i => (i * 0.25f) - 1).ToArray();
        byte[] bytes = new SafeTensorsWriter().AddFloat32("a.weight", w, 3, 4).AddInt64("ids", [7, -1], 2).AddMetadata("format", "pt").ToArray();

        using var source = WeightSource.FromFile(SafeTensorsFile.FromMemory(bytes, "embedded:test"));
        Assert.Equal(["a.weight", "ids"], source.Names);
        Assert.Equal(w, source.Require("a.weight", 3, 4));
        Assert.Equal([7L, -1L], source.ReadInt64("ids"));
        Assert.Equal("pt", source.Metadata["format"]);
        Assert.True(source.Files[0].TryGetFloat32Span("a.weight", out ReadOnlySpan<float> view));
        Assert.Equal(w, view.ToArray());
    }

    [Fact]
    public void Malformed_bytes_are_refused_with_the_given_name()
    {
        byte[] good = new SafeTensorsWriter().AddFloat32("x", [1f, 2f], 2).ToArray();
        var short_ = Assert.Throws<WeightsFormatException>(() => SafeTensorsFile.FromMemory(good.AsMemory(0, 5), "embedded:short"));
        Assert.Contains("embedded:short", short_.Message);
        Assert.Contains("5 bytes", short_.Message);

        var truncated = Assert.Throws<WeightsFormatException>(() => SafeTensorsFile.FromMemory(good.AsMemory(0, good.Length - 4), "embedded:cut"));
        Assert.Contains("embedded:cut", truncated.Message);

        byte[] huge = (byte[])good.Clone();
        BitConverter.TryWriteBytes(huge.AsSpan(0, 8), long.MaxValue);
        Assert.Throws<WeightsFormatException>(() => SafeTensorsFile.FromMemory(huge, "embedded:huge"));
    }

    [Fact]
    public void Dispose_unpins_and_later_reads_are_refused()
    {
        byte[] bytes = new SafeTensorsWriter().AddFloat32("x", [1f, 2f], 2).ToArray();
        var file = SafeTensorsFile.FromMemory(bytes, "embedded:x");
        Assert.Equal([1f, 2f], file.ReadFloat32("x"));
        file.Dispose();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.ReadFloat32("x"));
    }
}
