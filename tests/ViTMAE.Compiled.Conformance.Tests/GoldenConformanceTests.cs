using System.Linq;
using ViTMAE.Compiled.GoldenCheck;

namespace ViTMAE.Compiled.Conformance.Tests;

/// <summary>Every golden case: the generated model reproduces every Hugging Face tensor within tolerance.</summary>
public sealed class GoldenConformanceTests
{
    public static TheoryData<string> Cases
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (string name in GoldenData.CaseNames)
            {
                data.Add(name);
            }

            if (data.Count == 0)
            {
                data.Add("<no golden cases in " + GoldenData.Root + ">");
            }

            return data;
        }
    }

    [Fact]
    public void Golden_data_is_present()
    {
        Assert.True(System.IO.Directory.Exists(GoldenData.Root), "golden data not found at " + GoldenData.Root);
        Assert.Contains("tiny-default", GoldenData.CaseNames);
        Assert.All(GoldenData.CaseNames, name => Assert.Null(GoldenCase.Validate(GoldenData.Case(name))));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_matches_Hugging_Face(string name)
    {
        Assert.True(GoldenCase.Validate(GoldenData.Case(name)) is null, GoldenCase.Validate(GoldenData.Case(name)));
        GoldenCaseResult result = GoldenCase.Open(GoldenData.Case(name)).Run();
        int failing = result.Failures.Count();
        Assert.True(result.Passed,
            name + ": " + failing + " of " + result.Tensors.Count + " tensors fail" +
            (result.Errors.Count > 0 ? ", " + result.Errors.Count + " stage error(s)" : "") + System.Environment.NewLine + result.DescribeFailures());
    }
}
