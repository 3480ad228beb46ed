using System.CommandLine;
using EdgeImage;
using EdgeImage.Cli;
using EdgeImage.Cli.Commands;

var root = new RootCommand("""
    EdgeImage builds immutable Linux disk images for edge and IoT fleets from Debian packages,
    without root. Start with `edgeimage profiles list`, then `edgeimage build --profile NAME`
    and `edgeimage qemu out/NAME/edge.img`.
    """);
root.Options.Add(GlobalOptions.Verbose);
root.Options.Add(GlobalOptions.ProfilesDir);
root.Subcommands.Add(ProfilesCommand.Create());
root.Subcommands.Add(RootfsCommand.Create());
root.Subcommands.Add(BuildCommand.Create());
root.Subcommands.Add(QemuCommand.Create());
root.Subcommands.Add(SeedCommand.Create());

var parsed = root.Parse(args);
var verbose = parsed.GetValue(GlobalOptions.Verbose);
// A mistake on the command line is a usage error (exit 2), told like every other error, with the
// command whose --help lists what it takes; nothing has run yet.
if (parsed.Errors.Count > 0)
{
    foreach (var error in parsed.Errors)
    {
        Console.Error.WriteLine($"error: {error.Message}");
    }
    var path = new List<string>();
    for (var result = parsed.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
    {
        path.Insert(0, result.Command.Name);
    }
    Console.Error.WriteLine($"hint: `{string.Join(' ', path)} --help` lists the commands and options");
    return ExitCodes.Usage;
}
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
try
{
    return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, cancel.Token);
}
catch (EdgeImageException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    if (e.Hint is not null)
    {
        Console.Error.WriteLine($"hint: {e.Hint}");
    }
    if (verbose && e.InnerException is not null)
    {
        Console.Error.WriteLine(e.InnerException);
    }
    return e.ExitCode;
}
catch (Exception e) when (HostIoError.Handles(e))
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine($"hint: {HostIoError.Hint(e)}");
    if (verbose)
    {
        Console.Error.WriteLine(e);
    }
    return ExitCodes.Failure;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("error: cancelled");
    return ExitCodes.Cancelled;
}
