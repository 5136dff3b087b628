using System;
using System.Diagnostics;
using System.Threading.Tasks;
using ViTMAE.Compiled.Configuration;
using ViTMAE.Compiled.Imaging;
using ViTMAE.Compiled.Tests.Weights;

namespace ViTMAE.Compiled.Tests;

/// <summary>
/// The file-path loaders other than the weights' (ImageDecoder.Load, ImageProcessorSettings.FromFile, ViTMAESpec.Load)
/// given a FIFO: each read the file with File.ReadAllBytes/ReadAllText, whose open blocks until a writer appears, so a
/// FIFO in place of an image or a config hung the caller. They now refuse a file that reports 0 bytes (a FIFO, a device,
/// an empty file) from its size, before opening it, as the weights loader does (HostileWeightsTests).
/// </summary>
public sealed class HostileFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string MakeFifo(string name)
    {
        string fifo = _dir.File(name);
        using Process mkfifo = Process.Start("mkfifo", fifo);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return fifo;
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

    [Fact]
    public async Task A_fifo_as_an_image_or_a_config_is_refused_without_blocking()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return; // no FIFOs in the file system elsewhere
        }

        string image = MakeFifo("photo.png");
        var e1 = Assert.IsType<UnsupportedImageFormatException>(await WithinSeconds(() => ImageDecoder.Load(image), "ImageDecoder.Load of a FIFO"));
        Assert.Contains("an empty file (a FIFO or a device reports 0 bytes too, and is not opened)", e1.Message, StringComparison.Ordinal);

        string preprocessor = MakeFifo("preprocessor_config.json");
        var e2 = Assert.IsType<PreprocessorConfigException>(await WithinSeconds(() => ImageProcessorSettings.FromFile(preprocessor), "ImageProcessorSettings.FromFile of a FIFO"));
        Assert.Contains("found an empty file", e2.Message, StringComparison.Ordinal);

        string config = MakeFifo("config.json");
        var e3 = Assert.IsType<ViTMAEConfigException>(await WithinSeconds(() => ViTMAESpec.Load(config), "ViTMAESpec.Load of a FIFO"));
        Assert.Equal("VMAE001", Assert.Single(e3.Diagnostics).Id);

        // A model folder whose config.json is a FIFO, too.
        Assert.IsType<ViTMAEConfigException>(await WithinSeconds(() => ViTMAESpec.Load(_dir.Path), "ViTMAESpec.Load of a folder with a FIFO config.json"));
    }

    [Fact]
    public void Empty_files_get_the_same_typed_errors()
    {
        Assert.Throws<UnsupportedImageFormatException>(() => ImageDecoder.Load(_dir.Write("empty.jpg", [])));
        Assert.Throws<PreprocessorConfigException>(() => ImageProcessorSettings.FromFile(_dir.Write("empty.json", [])));
        var e = Assert.Throws<ViTMAEConfigException>(() => ViTMAESpec.Load(_dir.Write("config.json", [])));
        Assert.Equal("VMAE001", Assert.Single(e.Diagnostics).Id);

        // Missing files keep their errors.
        Assert.Throws<ImageFileNotFoundException>(() => ImageDecoder.Load(_dir.File("missing.png")));
        Assert.Throws<PreprocessorConfigException>(() => ImageProcessorSettings.FromFile(_dir.File("missing.json")));
        Assert.Throws<System.IO.FileNotFoundException>(() => ViTMAESpec.Load(_dir.File("missing.json")));
    }
}
