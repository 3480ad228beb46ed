using Xunit.Sdk;

namespace EdgeImage.Tests;

public class HostToolTests
{
    [Fact]
    public void A_missing_tool_fails_the_test_naming_the_debian_package_to_install()
    {
        var e = Assert.Throws<XunitException>(() => HostTool.Locate("edgeimage-no-such-tool", "no-such-package"));

        Assert.Contains("'edgeimage-no-such-tool'", e.Message);
        Assert.Contains("apt-get install -y no-such-package", e.Message);
    }
}
