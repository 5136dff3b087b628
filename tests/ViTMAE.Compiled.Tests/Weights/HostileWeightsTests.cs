using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using ViTMAE.Compiled.Weights;

namespace ViTMAE.Compiled.Tests.Weights;

/// <summary>
/// The holes a hostile-input probe found in the weights loader: each input must give a typed
/// <see cref="WeightsFormatException"/> that says what is wrong, quickly, without blocking or running out of memory.
/// </summary>
public sealed class HostileWeightsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_file_of_another_kind_is_not_a_safetensors_file()
    {
        string path = _dir.Write("photo.safetensors", Encoding.ASCII.GetBytes("\x89PNG\r\n\x1a\n and then image data of some length"));
        var e = Assert.Throws<WeightsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("not a safetensors file", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("PyTorch", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { (byte)'P', (byte)'K', 3, 4, 0, 0, 8, 0, 0, 0, 0, 0 })] // a zip: torch.save's format since 1.6
    [InlineData(new byte[] { 0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8 })] // a legacy pickle
    public void A_pytorch_checkpoint_is_named_with_how_to_convert_it(byte[] head)
    {
        byte[] bytes = new byte[4096];
        head.CopyTo(bytes, 0);
        string path = _dir.Write("model.safetensors", bytes);
        var e = Assert.Throws<WeightsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("not a safetensors file", e.Message, StringComparison.Ordinal);
        Assert.Contains("PyTorch checkpoint", e.Message, StringComparison.Ordinal);
        Assert.Contains("safe_serialization=True", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_with_only_pytorch_model_bin_says_bin_is_not_read_and_how_to_convert()
    {
        _dir.Write("pytorch_model.bin", [(byte)'P', (byte)'K', 3, 4]);
        var e = Assert.Throws<WeightsFormatException>(() => WeightSource.Open(_dir.Path));
        Assert.Contains("pytorch_model.bin", e.Message, StringComparison.Ordinal);
        Assert.Contains(".bin (pickle) checkpoints are not read", e.Message, StringComparison.Ordinal);
        Assert.Contains("save_pretrained", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fifo_is_refused_without_blocking()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return; // no FIFOs in the file system elsewhere
        }

        string fifo = _dir.File("model.safetensors");
        using (Process mkfifo = Process.Start("mkfifo", fifo))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        // Opening a FIFO for reading blocks until a writer appears: the loader must refuse it from its size.
        var e = Assert.IsType<WeightsFormatException>(await WithinSeconds(() => SafeTensorsFile.Open(fifo), "opening a FIFO"));
        Assert.Contains("FIFO", e.Message, StringComparison.Ordinal);

        // The same FIFO as a shard of an index, and as the index itself.
        new SafeTensorsWriter().AddFloat32("a", [1f], 1).WriteTo(_dir.File("model-00001-of-00002.safetensors"));
        File.Move(fifo, _dir.File("model-00002-of-00002.safetensors"));
        string index = _dir.Write("model.safetensors.index.json", Encoding.UTF8.GetBytes(
            """{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"""));
        Assert.IsType<WeightsFormatException>(await WithinSeconds(() => WeightSource.Open(index), "opening a FIFO shard"));

        File.Delete(index);
        File.Move(_dir.File("model-00002-of-00002.safetensors"), index);
        Assert.IsType<WeightsFormatException>(await WithinSeconds(() => WeightSource.Open(index), "reading a FIFO index"));
    }

    /// <summary>Runs <paramref name="action"/> on another thread and returns what it threw; fails if it takes 10 s (it blocked).</summary>
    private static async Task<Exception?> WithinSeconds(Action action, string what)
    {
        Task<Exception?> task = Task.Run(() => (Exception?)Record.Exception(action));
        try
        {
            return await task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            Assert.Fail(what + " blocked for 10 s");
            throw;
        }
    }

    // Fuzzing finding S3: a NUL in a shard name reached Path.GetFullPath (ArgumentException). Control characters are
    // refused while the index is read, before any Path method sees the name, and the message shows them escaped.
    [Theory]
    [InlineData("model\0.safetensors", "model\\u0000.safetensors", "U+0000 (NUL) at character 5")]
    [InlineData("\0", "\\u0000", "U+0000 (NUL) at character 0")]
    [InlineData("model-00001\n.safetensors", "model-00001\\u000a.safetensors", "U+000A (a control character) at character 11")]
    [InlineData("a\u001fb", "a\\u001fb", "U+001F (a control character) at character 1")]
    [InlineData("a\u0085", "a\\u0085", "U+0085 (a control character) at character 1")]
    public void A_control_character_in_a_shard_name_is_a_format_error(string shardName, string shown, string found)
    {
        string json = "{\"weight_map\": {\"t\": \"" + string.Concat(shardName.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString())) + "\"}}";
        string index = _dir.Write("model.safetensors.index.json", Encoding.UTF8.GetBytes(json));
        var e = Assert.Throws<WeightsFormatException>(() => WeightSource.Open(index));
        Assert.Null(e.InnerException);
        Assert.Equal("t", e.TensorName);
        Assert.Equal(
            $"model.safetensors.index.json: shard name \"{shown}\" for tensor 't' contains characters no file name can have: expected a file name relative to the index, found {found}",
            e.Message);
    }

    [Fact]
    public void An_empty_shard_name_is_a_format_error()
    {
        string index = _dir.Write("model.safetensors.index.json", Encoding.UTF8.GetBytes("""{"weight_map": {"t": ""}}"""));
        var e = Assert.Throws<WeightsFormatException>(() => WeightSource.Open(index));
        Assert.Contains("weight_map entry 't': expected a shard file name relative to the index (such as \"model-00001-of-00002.safetensors\"), found an empty string", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_nul_in_the_path_given_is_a_format_error()
    {
        var e = Assert.Throws<WeightsFormatException>(() => SafeTensorsFile.Open(_dir.File("a\0b.safetensors")));
        Assert.Contains("not a valid file name", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_with_a_million_entries_is_refused_before_it_is_parsed()
    {
        // 1,000,000 zero-size entries fit the 100 MB header limit; parsing them all took ~600 MB.
        var header = new StringBuilder("{");
        for (int i = 0; i < 1_000_000; i++)
        {
            header.Append(i == 0 ? "" : ",").Append("\"t").Append(i).Append("\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
        }

        header.Append('}');
        string path = _dir.Write("many.safetensors", WeightsTestSupport.Raw(header.ToString(), 0));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<WeightsFormatException>(() => SafeTensorsFile.Open(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("more than 100000 entries", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 16 << 20, $"refusing the header allocated {allocated} bytes");
    }

    [Fact]
    public void A_directory_given_as_a_file_is_a_format_error()
    {
        Directory.CreateDirectory(_dir.File("sub.safetensors"));
        var e = Assert.Throws<WeightsFormatException>(() => SafeTensorsFile.Open(_dir.File("sub.safetensors")));
        Assert.Contains("is a directory", e.Message, StringComparison.Ordinal);
    }
}
