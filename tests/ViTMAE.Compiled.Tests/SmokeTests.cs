namespace ViTMAE.Compiled.Tests;

public class SmokeTests
{
    [Fact]
    public void Runtime_assembly_loads() => Assert.Equal("ViTMAE.Compiled", typeof(ViTMAE.Compiled.ViTMAEException).Assembly.GetName().Name);
}
