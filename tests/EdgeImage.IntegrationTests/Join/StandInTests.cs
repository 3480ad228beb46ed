using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;

namespace EdgeImage.IntegrationTests.Join;

/// <summary>
/// The k0s stand-in's join, run on the host against the fake control plane on 127.0.0.1: the same
/// script and the same TLS and HTTP exchange the QEMU join tests depend on, in seconds.
/// </summary>
public sealed partial class StandInTests : IAsyncLifetime
{
    private static readonly string StandIn = Path.Combine(Cli.RepositoryRoot, "tests", "EdgeImage.IntegrationTests", "k0s-standin", "k0s");

    private readonly FakeControlPlane _fake = new();
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("edgeimage-standin-");

    public Task InitializeAsync() => _fake.StartAsync();

    public async Task DisposeAsync()
    {
        await _fake.DisposeAsync();
        _dir.Delete(recursive: true);
    }

    private async Task<(int ExitCode, string Output)> WorkerAsync(string token, string labels, params string[] flags)
    {
        var tokenFile = Path.Combine(_dir.FullName, "token");
        await File.WriteAllTextAsync(tokenFile, token);
        var start = new ProcessStartInfo("sh", [StandIn, "worker", "--token-file", tokenFile, "--labels", labels, .. flags])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["K0S_STANDIN_DATA"] = Path.Combine(_dir.FullName, "k0s");
        start.Environment["K0S_STANDIN_HOSTNAME"] = "host-test";
        start.Environment["K0S_STANDIN_ONCE"] = "1";
        start.Environment["TMPDIR"] = _dir.FullName;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(limit.Token);
        return (process.ExitCode, stdout + await stderr);
    }

    private Uri Local => new($"https://127.0.0.1:{_fake.Port}");

    [Fact]
    public async Task The_stand_in_joins_the_fake_control_plane_with_the_bootstrap_token_and_writes_kubelet_conf()
    {
        var (exitCode, output) = await WorkerAsync(_fake.JoinTokenFor(Local, _fake.BearerToken), "site=lab",
            "--taints=dedicated=edge:NoSchedule,gpu:NoExecute", "--kubelet-extra-args", "--max-pods=50 --eviction-hard=memory.available<100Mi", "--profile=small");

        Assert.True(exitCode == 0, output);
        Assert.StartsWith("k0s STAND-IN (not the real k0s)\n", output);
        Assert.Equal(
            new JoinRequest("system:node:host-test", "system:nodes", "site=lab", "dedicated=edge:NoSchedule,gpu:NoExecute", "--max-pods=50 --eviction-hard=memory.available<100Mi", "small"),
            Assert.Single(_fake.Requests));
        var kubeconfig = await File.ReadAllTextAsync(Path.Combine(_dir.FullName, "k0s", "kubelet.conf"));
        Assert.Contains($"server: {Local.GetLeftPart(UriPartial.Authority)}", kubeconfig);
        var certificate = CertificateRegex().Match(kubeconfig).Groups[1].Value;
        using var cert = X509Certificate2.CreateFromPem(Encoding.ASCII.GetString(Convert.FromBase64String(certificate)));
        Assert.True(_fake.IsIssuerOf(cert));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.FullName, "k0s-standin.*"));
    }

    [Fact]
    public async Task Install_worker_writes_each_flag_as_one_word_of_the_units_ExecStart()
    {
        var units = Path.Combine(_dir.FullName, "systemd");
        var start = new ProcessStartInfo("sh", [StandIn, "install", "worker", "--token-file", "/var/lib/edgeimage/join-token", "--labels=site=lab",
            "--taints=dedicated=edge:NoSchedule", "--kubelet-extra-args=--max-pods=50 --eviction-hard=memory.available<100Mi", "--profile=small"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["K0S_STANDIN_SYSTEMD"] = units;
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 0, output);
        var unit = await File.ReadAllLinesAsync(Path.Combine(units, "k0sworker.service"));
        // systemd keeps a double-quoted word whole: the kubelet arguments reach `k0s worker` as one.
        Assert.Contains("ExecStart=/usr/local/bin/k0s worker --token-file /var/lib/edgeimage/join-token --labels=site=lab --taints=dedicated=edge:NoSchedule \"--kubelet-extra-args=--max-pods=50 --eviction-hard=memory.available<100Mi\" --profile=small", unit);
    }

    [Fact]
    public async Task A_wrong_bootstrap_token_is_refused_by_the_control_plane_and_nothing_is_written()
    {
        var (exitCode, output) = await WorkerAsync(_fake.JoinTokenFor(Local, "zzzzzz.zzzzzzzzzzzzzzzz"), "site=lab");

        Assert.Equal(1, exitCode);
        Assert.Contains("k0s-standin: ERROR: the API server refused the CSR: HTTP 401", output);
        Assert.Empty(_fake.Requests);
        Assert.Equal(1, _fake.Rejected);
        Assert.False(File.Exists(Path.Combine(_dir.FullName, "k0s", "kubelet.conf")));
    }

    [GeneratedRegex(@"client-certificate-data: (\S+)")]
    private static partial Regex CertificateRegex();
}
