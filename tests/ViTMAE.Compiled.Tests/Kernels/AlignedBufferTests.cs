using System;
using System.Globalization;
using System.IO;
using System.Linq;
using ViTMAE.Compiled.Kernels;

namespace ViTMAE.Compiled.Tests.Kernels;

public unsafe class AlignedBufferTests
{
    [Theory]
    [InlineData(1L)]
    [InlineData(1000L)]
    [InlineData((3L << 20) / sizeof(float))]        // 3 MB: one huge page advised, a 1 MB tail left alone
    [InlineData((4L << 20) / sizeof(float) + 17)]   // just past two huge pages
    public void Buffers_are_zeroed_aligned_and_writable_end_to_end(long floats)
    {
        using var buffer = new AlignedBuffer(floats);
        Assert.Equal(floats, buffer.Length);
        long address = (long)buffer.Pointer;
        Assert.Equal(0, address % 64);
        if (OperatingSystem.IsLinux() && floats * sizeof(float) >= 2 << 20) Assert.Equal(0, address % (2 << 20));

        var span = new Span<float>(buffer.Pointer, checked((int)floats));
        Assert.True(span.IndexOfAnyExcept(0f) < 0, "fresh buffer must be all zeros");
        for (int i = 0; i < span.Length; i += 997) span[i] = i;
        span[^1] = -1f;
        for (int i = 0; i < span.Length - 1; i += 997) Assert.Equal(i, span[i]);
        Assert.Equal(-1f, span[^1]);
    }

    [Fact]
    public void Invalid_sizes_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AlignedBuffer(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AlignedBuffer(-5));
    }

    [Fact]
    public void Large_weights_are_advised_into_huge_pages_where_the_kernel_allows_them()
    {
        // Observable on Linux with transparent huge pages in "always" or "madvise" mode (the CI machines); elsewhere the
        // advice is best effort by design and there is nothing to observe.
        const string thp = "/sys/kernel/mm/transparent_hugepage/enabled";
        if (!OperatingSystem.IsLinux() || !File.Exists(thp) || File.ReadAllText(thp).Contains("[never]", StringComparison.Ordinal))
        {
            return;
        }

        using var buffer = new AlignedBuffer((16L << 20) / sizeof(float)); // 16 MB, touched (zeroed) by the constructor
        long address = (long)buffer.Pointer;
        string[] smaps = File.ReadAllLines("/proc/self/smaps");
        int header = Array.FindIndex(smaps, l => TryParseRange(l, out long from, out long to) && address >= from && address < to);
        Assert.True(header >= 0, "the buffer's mapping is not in /proc/self/smaps");
        string? anonHuge = smaps.Skip(header + 1).TakeWhile(l => !TryParseRange(l, out _, out _))
            .FirstOrDefault(l => l.StartsWith("AnonHugePages:", StringComparison.Ordinal));
        Assert.NotNull(anonHuge);
        long kb = long.Parse(anonHuge!.Split(':')[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        // Not all 16 MB: the kernel may be short of free huge pages at the moment; but none at all means no advice.
        Assert.True(kb >= 2048, $"expected huge pages behind the buffer; smaps says \"{anonHuge}\"");
    }

    /// <summary>A mapping header of /proc/self/smaps: "from-to perms offset dev inode path", addresses in hex.</summary>
    private static bool TryParseRange(string line, out long from, out long to)
    {
        from = to = 0;
        int dash = line.IndexOf('-');
        int space = line.IndexOf(' ');
        return dash > 0 && space > dash
            && long.TryParse(line.AsSpan(0, dash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out from)
            && long.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out to);
    }
}
