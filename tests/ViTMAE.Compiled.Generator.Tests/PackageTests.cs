using System;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using Xunit.Abstractions;

namespace ViTMAE.Compiled.Generator.Tests;

/// <summary>
/// The package as users consume it: `dotnet pack` the runtime (which carries the generator and its props), restore it
/// from a local folder feed into a fresh project outside this repository, and build that project with the real SDK.
/// </summary>
public sealed class PackageTests(ITestOutputHelper output, PackageTests.PackedFeed feed) : IClassFixture<PackageTests.PackedFeed>
{
    /// <summary>Packs once per test run, with a unique version so the NuGet cache never serves a stale package.</summary>
    public sealed class PackedFeed : IDisposable
    {
        public PackedFeed()
        {
            Root = Path.Combine(Path.GetTempPath(), "vitmae-package-" + Guid.NewGuid().ToString("N")[..8]);
            Feed = Path.Combine(Root, "feed");
            Version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
            // The README's two pack commands: the runtime (with the generator) and the imaging library.
            var log = new StringBuilder();
            foreach (string name in new[] { "ViTMAE.Compiled", "ViTMAE.Compiled.Imaging" })
            {
                string project = Path.Combine(GeneratorHarness.RepoRoot, "src", name, name + ".csproj");
                (int code, string packLog) = Dotnet(GeneratorHarness.RepoRoot, "pack", project, "-c", "Release", "-o", Feed, "-p:Version=" + Version, "-nologo");
                log.AppendLine(packLog);
                PackExitCode = code != 0 ? code : PackExitCode;
            }

            PackLog = log.ToString();
        }

        public string Root { get; }
        public string Feed { get; }
        public string Version { get; }
        public string PackLog { get; }
        public int PackExitCode { get; }

        public void Dispose()
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private readonly PackedFeed _feed = feed;

    [Fact]
    public void Package_holds_runtime_generator_and_props()
    {
        Assert.True(_feed.PackExitCode == 0, "dotnet pack failed:\n" + _feed.PackLog);
        string nupkg = Path.Combine(_feed.Feed, "ViTMAE.Compiled." + _feed.Version + ".nupkg");
        using ZipArchive zip = ZipFile.OpenRead(nupkg);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("lib/net10.0/ViTMAE.Compiled.dll", entries);
        Assert.Contains("analyzers/dotnet/cs/ViTMAE.Compiled.Generator.dll", entries);
        Assert.Contains("build/ViTMAE.Compiled.props", entries);
        Assert.Contains("buildTransitive/ViTMAE.Compiled.props", entries);
        Assert.DoesNotContain(entries, e => e.Contains("Microsoft.CodeAnalysis", StringComparison.Ordinal));
    }

    [Fact]
    public void Fresh_consumer_builds_without_warnings_and_runs_the_generated_class()
    {
        Assert.True(_feed.PackExitCode == 0, "dotnet pack failed:\n" + _feed.PackLog);
        string dir = CreateConsumer("good", GeneratorHarness.ReadBaseConfig());
        (int code, string log) = Dotnet(dir, "run", "-c", "Release", "-nologo", "-p:TreatWarningsAsErrors=true");
        output.WriteLine(log);
        Assert.True(code == 0, "consumer failed:\n" + log);
        Assert.Contains("0 Warning(s)", Dotnet(dir, "build", "-c", "Release", "-nologo", "--no-incremental").Log, StringComparison.Ordinal);
        Assert.Contains("LenKeep=49 Arena=", log, StringComparison.Ordinal);
        Assert.Contains("tensors=334", log, StringComparison.Ordinal);
    }

    [Fact]
    public void Fresh_consumer_with_a_malformed_config_fails_at_the_json_line()
    {
        Assert.True(_feed.PackExitCode == 0, "dotnet pack failed:\n" + _feed.PackLog);
        string bad = GeneratorHarness.ReadBaseConfig().Replace("\"hidden_size\": 768,", "\"hidden_size\": 768", StringComparison.Ordinal);
        string dir = CreateConsumer("bad", bad);
        (int code, string log) = Dotnet(dir, "build", "-c", "Release", "-nologo");
        output.WriteLine(log);
        Assert.NotEqual(0, code);
        int line = bad.Split('\n').ToList().FindIndex(l => l.Contains("\"image_size\"", StringComparison.Ordinal)) + 1;
        Assert.Contains($"vit-mae-base.json({line},3): error VMAE001: invalid JSON: expected ',' or '}}' after a property value", log, StringComparison.Ordinal);
    }

    [Fact]
    public void Readme_snippets_build_and_run_against_the_packed_package()
    {
        // The README's "Use it in your project" section, followed literally: its nuget.config and Program.cs unchanged, its
        // project file with this run's package version (a unique one, so that no cached 0.1.0 is served), vit-mae-base's config.
        Assert.True(_feed.PackExitCode == 0, "dotnet pack failed:\n" + _feed.PackLog);
        string readme = File.ReadAllText(Path.Combine(GeneratorHarness.RepoRoot, "README.md"));
        string dir = Path.Combine(_feed.Root, "readme");
        Directory.CreateDirectory(dir);
        // The packages in the project's nuget-local folder, as the README's pack commands leave them.
        Directory.CreateDirectory(Path.Combine(dir, "nuget-local"));
        foreach (string package in Directory.GetFiles(_feed.Feed))
        {
            File.Copy(package, Path.Combine(dir, "nuget-local", Path.GetFileName(package)));
        }

        File.WriteAllText(Path.Combine(dir, "nuget.config"), ReadmeSnippet(readme, "nuget.config"));
        string project = ReadmeSnippet(readme, "Consumer.csproj");
        Assert.Contains("Version=\"0.1.0\"", project, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(dir, "Consumer.csproj"), project.Replace("Version=\"0.1.0\"", $"Version=\"{_feed.Version}\"", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(dir, "Program.cs"), ReadmeSnippet(readme, "Program.cs"));
        File.WriteAllText(Path.Combine(dir, "vit-mae-base.json"), GeneratorHarness.ReadBaseConfig());

        string weights = Path.Combine(_feed.Root, "random-vit-mae-base.safetensors");
        string image = Path.Combine(GeneratorHarness.RepoRoot, "samples", "images", "house.png");
        (int buildCode, string buildLog) = Dotnet(dir, "build", "-c", "Release", "-nologo", "-p:TreatWarningsAsErrors=true");
        Assert.True(buildCode == 0, "the README's project does not build:\n" + buildLog);
        (int code, string log) = Dotnet(dir, "run", "--no-build", "-c", "Release", "--", weights, image, image);
        output.WriteLine(log);
        Assert.True(code == 0, "the README's program failed:\n" + log);
        Assert.True(File.Exists(weights), "RandomInit wrote no checkpoint");
        Assert.Equal(2, log.Split('\n').Count(l => l.StartsWith(image + ": loss ", StringComparison.Ordinal) && l.Contains("196 patches", StringComparison.Ordinal)));
        Assert.Contains("FLOPs", log, StringComparison.Ordinal);
    }

    [Fact]
    public void Package_metadata_names_licence_readme_release_notes_and_ships_symbols()
    {
        Assert.True(_feed.PackExitCode == 0, "dotnet pack failed:\n" + _feed.PackLog);
        foreach (string id in new[] { "ViTMAE.Compiled", "ViTMAE.Compiled.Imaging" })
        {
            Assert.True(File.Exists(Path.Combine(_feed.Feed, id + "." + _feed.Version + ".snupkg")), "no symbols package for " + id);
            using ZipArchive zip = ZipFile.OpenRead(Path.Combine(_feed.Feed, id + "." + _feed.Version + ".nupkg"));
            using var reader = new StreamReader(zip.GetEntry(id + ".nuspec")!.Open());
            string nuspec = reader.ReadToEnd();
            Assert.Contains("<license type=\"expression\">MIT</license>", nuspec, StringComparison.Ordinal);
            Assert.Contains("<readme>README.md</readme>", nuspec, StringComparison.Ordinal);
            Assert.Contains("<releaseNotes>", nuspec, StringComparison.Ordinal);
            Assert.Contains("<version>" + _feed.Version + "</version>", nuspec, StringComparison.Ordinal);
            Assert.NotNull(zip.GetEntry("README.md"));
        }
    }

    /// <summary>The fenced block that follows <c>&lt;!-- readme-snippet: name --&gt;</c> in the README.</summary>
    private static string ReadmeSnippet(string readme, string name)
    {
        string marker = "<!-- readme-snippet: " + name + " -->";
        int at = readme.IndexOf(marker, StringComparison.Ordinal);
        Assert.True(at >= 0, "README has no snippet " + name);
        int open = readme.IndexOf("```", at, StringComparison.Ordinal);
        int start = readme.IndexOf('\n', open) + 1;
        int end = readme.IndexOf("```", start, StringComparison.Ordinal);
        return readme[start..end];
    }

    private string CreateConsumer(string name, string config)
    {
        string dir = Path.Combine(_feed.Root, name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "vit-mae-base.json"), config);
        File.WriteAllText(Path.Combine(dir, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local-feed" value="{_feed.Feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(dir, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <RootNamespace>Consumer</RootNamespace>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="ViTMAE.Compiled" Version="{_feed.Version}" />
                <AdditionalFiles Include="vit-mae-base.json" ViTMAEClass="VitMaeBase" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(dir, "Program.cs"), """
            System.Console.WriteLine($"LenKeep={Consumer.VitMaeBase.LenKeep} Arena={Consumer.VitMaeBase.ArenaFloatsPerImage} tensors={Consumer.VitMaeBase.WeightLayout.Count}");
            """);
        return dir;
    }

    internal static (int Code, string Log) Dotnet(string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        using var process = Process.Start(psi)!;
        var log = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data != null) { lock (log) { log.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) { lock (log) { log.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, log + "\n(timed out after 5 minutes)");
        }

        process.WaitForExit();
        return (process.ExitCode, log.ToString());
    }
}
