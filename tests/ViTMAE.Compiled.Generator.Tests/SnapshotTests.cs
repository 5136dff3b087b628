extern alias Gen;

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;

namespace ViTMAE.Compiled.Generator.Tests;

/// <summary>Pins the whole generated file for representative configs.</summary>
public class SnapshotTests
{
    /// <summary>Snapshot cases: hint → (config path in the consumer, config text). The orphan test reads this list too.</summary>
    public static IEnumerable<object[]> Cases() => CaseTable().Select(c => new object[] { c.Key });

    private static Dictionary<string, Func<ConfigItem>> CaseTable() => new(StringComparer.Ordinal)
    {
        ["Tiny"] = () => new ConfigItem("models/tiny.json", GeneratorHarness.ReadGoldenConfig("tiny-default")),
        ["SmallOdd"] = () => new ConfigItem("models/small-odd.json", GeneratorHarness.ReadGoldenConfig("small-odd-default")),
        ["VitMaeBase"] = () => new ConfigItem("models/vit-mae-base.json", GeneratorHarness.ReadBaseConfig(), ClassName: "VitMaeBase", Namespace: "Consumer.Models"),
        // Two resolutions: one more shape struct per resolution, one forward for both (no copy of the forward pass).
        ["TinyTwoResolutions"] = () => new ConfigItem("models/tiny.json", GeneratorHarness.ReadGoldenConfig("tiny-default"), ClassName: "TinyWide", Resolutions: "32x48"),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Generated_source(string hint)
    {
        ConfigItem item = CaseTable()[hint]();
        (_, GeneratorRunResult result) = GeneratorHarness.RunAndCompile(item);
        GeneratedSourceResult source = Assert.Single(result.GeneratedSources);
        Snapshot.Verify(source.SourceText.ToString(), nameof(SnapshotTests), hint);
    }

    [Fact]
    public void Generated_source_is_identical_under_a_culture_with_a_non_ascii_minus_sign()
    {
        ConfigItem item = CaseTable()["SmallOdd"]();
        string invariant = Generate(item, CultureInfo.InvariantCulture);

        // A culture whose negative sign is U+2212 and whose decimal separator is a comma: a culture-sensitive
        // ToString() of 1e-06 would print "1E\u221206" or "0,6" and change the generated code.
        var hostile = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        hostile.NumberFormat.NegativeSign = "\u2212";
        hostile.NumberFormat.NumberDecimalSeparator = ",";
        hostile.NumberFormat.NumberGroupSeparator = "\u00A0";
        Assert.Equal("1E\u221206", 1e-06.ToString(hostile)); // proves the culture really is hostile
        string underHostile = Generate(item, hostile);

        Assert.Equal(invariant, underHostile);
        Assert.Contains("LayerNormEps = 1E-06;", invariant, StringComparison.Ordinal);
        Assert.Contains("MaskRatio = 0.6;", invariant, StringComparison.Ordinal);
    }

    [Fact]
    public void No_orphaned_snapshots()
    {
        var expected = CaseTable().Keys.Select(h => Snapshot.FileStem(nameof(SnapshotTests), nameof(Generated_source), h) + ".verified.cs").ToHashSet(StringComparer.Ordinal);
        string dir = Snapshot.Directory;
        var present = Directory.Exists(dir) ? Directory.GetFiles(dir, "*.verified.cs").Select(Path.GetFileName).ToList() : new List<string?>();
        var orphans = present.Where(p => !expected.Contains(p!)).ToList();
        Assert.True(orphans.Count == 0, "orphaned snapshots (no test produces them; delete them): " + string.Join(", ", orphans));
    }

    private static string Generate(ConfigItem item, CultureInfo culture)
    {
        CultureInfo saved = CultureInfo.CurrentCulture, savedUi = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentCulture = culture;
            CultureInfo.CurrentUICulture = culture;
            return GeneratorHarness.Run(item).GeneratedSources.Single().SourceText.ToString();
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
            CultureInfo.CurrentUICulture = savedUi;
        }
    }
}
