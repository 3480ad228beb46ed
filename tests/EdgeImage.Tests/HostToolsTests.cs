using EdgeImage.Tools;

namespace EdgeImage.Tests;

public class HostToolsTests
{
    [Fact]
    public void Missing_tools_are_named_with_the_Debian_package_that_provides_them()
    {
        var tools = new HostTools(searchPath: ["/nonexistent"]);

        var e = Assert.Throws<EdgeImageException>(() => tools.Require("tar2sqfs", "mcopy", "definitely-not-a-tool-xyz"));

        Assert.Equal(ExitCodes.MissingTool, e.ExitCode);
        Assert.Contains("tar2sqfs", e.Message);
        Assert.Contains("squashfs-tools-ng", e.Hint);
        Assert.Contains("mtools", e.Hint);
    }

    [Fact]
    public async Task A_failing_tool_reports_its_exit_code_and_stderr()
    {
        var tools = new HostTools();

        var e = await Assert.ThrowsAsync<EdgeImageException>(() => tools.RunAsync("sh", ["-c", "echo broken input >&2; exit 3"]));

        Assert.Contains("exit code 3", e.Message);
        Assert.Contains("broken input", e.Message);
    }

    [Theory]
    [InlineData("echo only on stdout; exit 1", "exit code 1: only on stdout")]
    [InlineData("exit 1", "exit code 1: it printed no message")]
    public async Task A_tool_that_fails_without_a_word_on_stderr_still_says_something(string script, string expected)
    {
        var e = await Assert.ThrowsAsync<EdgeImageException>(() => new HostTools().RunAsync("sh", ["-c", script]));

        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public async Task A_tool_reads_stdin_and_returns_stdout()
    {
        var tools = new HostTools();
        using var input = new MemoryStream("hello"u8.ToArray());

        Assert.Equal("hello", await tools.RunAsync("cat", [], input));
    }
}
