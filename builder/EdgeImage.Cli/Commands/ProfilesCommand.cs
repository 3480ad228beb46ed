using System.CommandLine;
using EdgeImage.Profiles;
using Spectre.Console;

namespace EdgeImage.Cli.Commands;

internal static class ProfilesCommand
{
    public static Command Create()
    {
        var list = new Command("list", "List the profiles (name, arch, board, description). Exits 3 if one of them does not load.");
        list.SetAction(parse => List(Catalog(parse)));

        var name = new Argument<string>("profile") { Description = "Profile name, or a path to a .yaml file." };
        var show = new Command("show", "Print the effective profile after `extends:` as YAML, each key commented with the file that set it.");
        show.Arguments.Add(name);
        show.SetAction(parse =>
        {
            Console.Out.Write(ProfileWriter.ToYaml(Catalog(parse).Load(parse.GetValue(name)!)));
            return ExitCodes.Success;
        });

        var profiles = new Command("profiles", "List profiles and show the effective profile after `extends:`.");
        profiles.Subcommands.Add(list);
        profiles.Subcommands.Add(show);
        return profiles;
    }

    /// <summary>The profiles directory for this invocation; every command that takes a profile name uses it.</summary>
    public static ProfileCatalog Catalog(ParseResult parse) => ProfileCatalog.Locate(
        parse.GetValue(GlobalOptions.ProfilesDir),
        Environment.GetEnvironmentVariable(ProfileCatalog.EnvironmentVariable),
        Environment.CurrentDirectory,
        AppContext.BaseDirectory);

    private static int List(ProfileCatalog catalog)
    {
        var listings = catalog.List();
        var rows = listings
            .Select(l => l.Profile is { } p
                ? new[] { l.Name, p.Arch, p.Board, p.Description ?? "" }
                : [l.Name, "?", "?", "invalid: run `edgeimage profiles show " + l.Name + "`"])
            .ToList();
        string[] header = ["NAME", "ARCH", "BOARD", "DESCRIPTION"];
        if (ConsoleBuildLog.StdoutIsTerminal)
        {
            var table = new Table().Border(TableBorder.Rounded).Caption($"[grey]{Markup.Escape(ProfileLoader.DisplayPath(catalog.Directory))} (from {Markup.Escape(catalog.Origin)})[/]");
            foreach (var column in header)
            {
                table.AddColumn(column);
            }
            foreach (var row in rows)
            {
                table.AddRow(row.Select(Markup.Escape).ToArray());
            }
            AnsiConsole.Write(table);
        }
        else
        {
            var widths = Enumerable.Range(0, 3).Select(i => rows.Prepend(header).Max(r => r[i].Length)).ToArray();
            foreach (var row in rows.Prepend(header))
            {
                Console.Out.WriteLine($"{row[0].PadRight(widths[0])}  {row[1].PadRight(widths[1])}  {row[2].PadRight(widths[2])}  {row[3]}".TrimEnd());
            }
        }

        var broken = listings.Where(l => l.Error is not null).ToList();
        foreach (var listing in broken)
        {
            Console.Error.WriteLine($"error: {listing.Error!.Message}");
        }
        if (broken.Count > 0)
        {
            Console.Error.WriteLine($"hint: {broken.Count} of {listings.Count} profiles do not load; fix them or move them out of {ProfileLoader.DisplayPath(catalog.Directory)}.");
            return ExitCodes.InvalidProfile;
        }
        return ExitCodes.Success;
    }
}
