using System.Diagnostics;
using EdgeImage.IntegrationTests.Image;

namespace EdgeImage.IntegrationTests.Join;

/// <summary>
/// The one generic-x86_64 image the join tests share: the shipped k0s-join service plus, from the
/// `--k0s-binary k0s-standin/k0s`, the k0s STAND-IN at /usr/local/bin/k0s, and from the test
/// profile profiles/generic-x86_64-join.yaml the join-check unit that powers the guest off once it has joined. Built once per test run by the
/// CLI as an unprivileged user, like <see cref="BootCheckImage"/>; tests seed and boot copies.
/// </summary>
public static class JoinImage
{
    private static readonly Lazy<Task<BuiltImage>> Shared = new(() => HeavyWork.RunAsync(BuildAsync));

    public static Task<BuiltImage> GetAsync() => Shared.Value;

    private static async Task<BuiltImage> BuildAsync()
    {
        var cli = UnprivilegedCli.Shared;
        var output = Path.Combine(cli.Output, "generic-x86_64-join");
        var clock = Stopwatch.StartNew();
        var result = await cli.RunAsync(["build", "--profile", cli.JoinProfile, "--out", output, "--k0s-binary", cli.K0sStandIn], BootCheckImage.BuildTimeout, BootCheckImage.BuildEnvironment);
        clock.Stop();
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"the join test image did not build as uid {cli.Uid}:\n{result}");
        }
        return BuiltImage.Read(output, result, clock.Elapsed, cli.Uid);
    }
}
