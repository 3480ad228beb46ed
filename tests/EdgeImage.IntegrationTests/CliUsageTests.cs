namespace EdgeImage.IntegrationTests;

/// <summary>
/// Mistakes on the command line: each is told as "error: ..." with a hint naming the command's
/// --help, exits 2 (README: exit codes) and does nothing else. These runs start no build.
/// </summary>
public sealed class CliUsageTests
{
    [Theory]
    [InlineData("error: Option '--profile' is required.", "build")]
    [InlineData("error: Unrecognized command or argument '--bogus'.", "build", "--profile", "generic-x86_64", "--bogus")]
    [InlineData("error: Cannot parse argument 'abc' for option '--jobs'", "build", "--profile", "generic-x86_64", "--jobs", "abc")]
    [InlineData("error: --jobs must be a positive number, not 0", "build", "--profile", "generic-x86_64", "--jobs", "0")]
    [InlineData("error: --timeout must be a positive number, not -3", "qemu", "missing.img", "--timeout", "-3")]
    [InlineData("error: --smp must be a positive number, not 0", "qemu", "missing.img", "--smp", "0")]
    [InlineData("error: Unrecognized command or argument 'bogus'.", "bogus")]
    public async Task A_command_line_mistake_is_a_usage_error_with_a_pointer_to_help(string message, params string[] arguments)
    {
        var run = await Cli.RunAsync(arguments);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(message, run.Stderr);
        Assert.Contains("--help` lists", run.Stderr);
        // Nothing but the error: no help text dumped on stdout, no build started.
        Assert.Equal(string.Empty, run.Stdout);
    }

    [Fact]
    public async Task A_further_disk_without_an_image_is_a_usage_error_and_starts_no_QEMU()
    {
        var run = await Cli.RunAsync("qemu", "--board", "generic-efi-x86_64", "--kernel", "Makefile", "--disk", "README.md");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal("error: further disks were given without an image to boot\nhint: pass the image too\n", run.Stderr);
    }

    [Fact]
    public async Task Help_is_not_an_error()
    {
        var run = await Cli.RunAsync("build", "--help");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("--profile", run.Stdout);
        Assert.Equal(string.Empty, run.Stderr);
    }
}
