using System.Diagnostics;
using EdgeImage.IntegrationTests.Image;

namespace EdgeImage.IntegrationTests.Join;

/// <summary>
/// The join test image of each board, shared by that board's join tests: the shipped k0s-join
/// service plus, from the `--k0s-binary k0s-standin/k0s`, the k0s STAND-IN at /usr/local/bin/k0s
/// (a shell script, so one stand-in serves every architecture), and from the board's test profile
/// (profiles/&lt;profile&gt;-join.yaml) the join-check unit that powers the guest off once it has
/// joined. Built once per board and test run by the CLI as an unprivileged user, like
/// <see cref="BootCheckImage"/>; tests seed and boot copies.
/// </summary>
public static class JoinImage
{
    private static readonly Dictionary<string, Lazy<Task<BuiltImage>>> Builds = new(StringComparer.Ordinal);

    public static Task<BuiltImage> GetAsync(JoinBoard board)
    {
        lock (Builds)
        {
            if (!Builds.TryGetValue(board.TestProfile, out var build))
            {
                Builds[board.TestProfile] = build = new Lazy<Task<BuiltImage>>(() => HeavyWork.RunAsync(() => BuildAsync(board)));
            }
            return build.Value;
        }
    }

    private static async Task<BuiltImage> BuildAsync(JoinBoard board)
    {
        var cli = UnprivilegedCli.Shared;
        var output = Path.Combine(cli.Output, board.TestProfile);
        var clock = Stopwatch.StartNew();
        var result = await cli.RunAsync(["build", "--profile", cli.TestProfile(board.TestProfile), "--out", output, "--k0s-binary", cli.K0sStandIn], BootCheckImage.BuildTimeout, BootCheckImage.BuildEnvironment);
        clock.Stop();
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"the join test image {board.TestProfile} did not build as uid {cli.Uid}:\n{result}");
        }
        return BuiltImage.Read(output, result, clock.Elapsed, cli.Uid);
    }
}
