using System.Diagnostics;
using System.Text;
using EdgeImage.FirstBoot;
using EdgeImage.K0s;
using EdgeImage.Profiles;
using EdgeImage.Tests.Profiles;

namespace EdgeImage.Tests.FirstBoot;

/// <summary>
/// The shipped first-boot script (overlays/k0s-join/usr/lib/edgeimage/k0s-join) run by dash on the
/// host against a directory tree standing in for the device's / (EDGEIMAGE_JOIN_ROOT), with a seed
/// on its "boot partition" and stand-ins on PATH for what needs a real device: mountpoint (the
/// partition counts as mounted), systemctl, systemd-notify, sleep (logged), timeout (the TLS check
/// of the API server passes) and a k0s at /usr/local/bin/k0s that records every argument it gets.
/// </summary>
public sealed class K0sJoinScriptTests : IDisposable
{
    private static readonly string Script = Path.Combine(Checkout.Root, "overlays", "k0s-join", "usr", "lib", "edgeimage", "k0s-join");

    private readonly string _dir = Directory.CreateTempSubdirectory("edgeimage-joinscript-").FullName;

    public K0sJoinScriptTests()
    {
        Directory.CreateDirectory(Root("proc/sys/kernel"));
        File.WriteAllText(Root("proc/sys/kernel/hostname"), "localhost\n");
        Directory.CreateDirectory(Root("etc"));
        Stub("mountpoint", "exit 0");
        Stub("umount", "exit 0");
        Stub("systemctl", "[ \"$1\" != is-active ] || echo inactive");
        Stub("systemd-notify", "echo \"systemd-notify $*\" >> \"$EVENTS\"");
        // The script's only use of timeout is the TLS check of the API server (openssl s_client): it passes.
        Stub("timeout", "echo \"timeout $*\" >> \"$EVENTS\"");
        // A script that keeps retrying is stopped at its third wait.
        Stub("sleep", "echo \"sleep $*\" >> \"$EVENTS\"; [ \"$(grep -c '^sleep' \"$EVENTS\")\" -lt 3 ] || kill -KILL $PPID");
        Executable(Root("usr/local/bin/k0s"), """
            #!/bin/sh
            # k0s recorder for K0sJoinScriptTests: each call's arguments, NUL-terminated, in k0s-calls/N.
            calls=$EDGEIMAGE_JOIN_ROOT/k0s-calls
            mkdir -p "$calls"
            n=$(ls "$calls" | wc -l)
            for arg in "$@"; do printf '%s\0' "$arg"; done > "$calls/$n"
            case "$1" in
                install) mkdir -p "$EDGEIMAGE_JOIN_ROOT/etc/systemd/system" && : > "$EDGEIMAGE_JOIN_ROOT/etc/systemd/system/k0sworker.service" ;;
                start) mkdir -p "$EDGEIMAGE_JOIN_ROOT/var/lib/k0s" && echo joined > "$EDGEIMAGE_JOIN_ROOT/var/lib/k0s/kubelet.conf" ;;
            esac

            """);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Root(string path) => Path.Combine(_dir, "root", path);

    private string Events => Path.Combine(_dir, "events");

    private string TokenCopy => Root("var/lib/edgeimage/join-token");

    private void Stub(string name, string body) => Executable(Path.Combine(_dir, "bin", name), $"#!/bin/sh\n{body}\n");

    private static void Executable(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Puts seed.yaml and seed.env, as `edgeimage seed` renders them, on the stand-in boot partition.</summary>
    private void Seed(string yaml)
    {
        var seed = SeedLoader.Parse(new StringReader(yaml), "seed.yaml", _dir);
        var folder = Root("run/edgeimage/boot/edgeimage");
        Directory.CreateDirectory(folder);
        var rendered = SeedFiles.RenderYaml(seed);
        File.WriteAllText(Path.Combine(folder, SeedFiles.YamlName), rendered);
        File.WriteAllText(Path.Combine(folder, SeedFiles.EnvName), SeedFiles.RenderEnv(seed, rendered));
    }

    /// <summary>The worker options file as `edgeimage build` writes it for a profile with this k0s.worker section.</summary>
    private void WorkerOptions(string workerSection)
    {
        using var files = new ProfileFiles();
        var profile = ProfileLoader.Load(files.Write("edge", $"name: edge\narch: amd64\nboard: generic-efi\nk0s:\n  version: v1.34.1+k0s.0\n  worker:\n{workerSection}"));
        Directory.CreateDirectory(Root("usr/lib/edgeimage"));
        File.WriteAllText(Root(K0sWorkerOptions.Path.TrimStart('/')), K0sWorkerOptions.Render(profile.K0s!.Worker));
    }

    private (int ExitCode, string Output) Run()
    {
        var start = new ProcessStartInfo("dash", [Script])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // A glob in a kubelet argument would match this file if the script let the shell expand it.
            WorkingDirectory = Directory.CreateDirectory(Path.Combine(_dir, "cwd")).FullName,
        };
        File.WriteAllText(Path.Combine(_dir, "cwd", "--allowed-unsafe-sysctls=net.core.somaxconn"), "");
        start.Environment["EDGEIMAGE_JOIN_ROOT"] = Root("").TrimEnd('/');
        start.Environment["EVENTS"] = Events;
        start.Environment["PATH"] = Path.Combine(_dir, "bin") + ":" + Environment.GetEnvironmentVariable("PATH");
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"k0s-join did not finish within 60 s:\n{stdout}{stderr.Result}");
        }
        return (process.ExitCode, stdout + stderr.Result);
    }

    /// <summary>The arguments of each k0s call, in order.</summary>
    private List<string[]> K0sCalls()
    {
        var folder = Root("k0s-calls");
        return !Directory.Exists(folder) ? [] : Enumerable.Range(0, Directory.GetFiles(folder).Length)
            .Select(n => File.ReadAllText(Path.Combine(folder, n.ToString(System.Globalization.CultureInfo.InvariantCulture)), Encoding.UTF8).Split('\0')[..^1])
            .ToList();
    }

    private static string SeedYaml(string labels = "") => $"hostname: node-17\ntoken: {SeedTests.Token()}\n{labels}";

    [Fact]
    public void The_profiles_worker_options_reach_k0s_install_worker_each_as_one_argument_with_the_seeds_labels_winning()
    {
        WorkerOptions("""
                labels: {zone: plant-3, site: image-default, example.com/tier: edge}
                taints: [dedicated=edge:NoSchedule, gpu:NoExecute]
                kubelet_extra_args: --max-pods=50  --eviction-hard=memory.available<100Mi --allowed-unsafe-sysctls=net.*
                profile: small

            """);
        Seed(SeedYaml("labels: {site: berlin, example.com/role: sensor}\n"));

        var (exitCode, output) = Run();

        Assert.True(exitCode == 0, output);
        var calls = K0sCalls();
        Assert.Equal(2, calls.Count);
        Assert.Equal(
            [
                "install", "worker", "--token-file", TokenCopy,
                // The image's labels, less the key the seed sets too, then the seed's.
                "--labels=example.com/tier=edge,zone=plant-3,example.com/role=sensor,site=berlin",
                "--taints=dedicated=edge:NoSchedule,gpu:NoExecute",
                "--kubelet-extra-args=--max-pods=50 --eviction-hard=memory.available<100Mi --allowed-unsafe-sysctls=net.*",
                "--profile=small",
            ],
            calls[0]);
        Assert.Equal(["start"], calls[1]);
        Assert.Contains("edgeimage-join: k0s install worker --token-file " + TokenCopy + " --labels=example.com/tier=edge,zone=plant-3,example.com/role=sensor,site=berlin --taints=dedicated=edge:NoSchedule,gpu:NoExecute --kubelet-extra-args=--max-pods=50 --eviction-hard=memory.available<100Mi --allowed-unsafe-sysctls=net.* --profile=small\n", output);
        Assert.Contains("edgeimage-join: join recorded in ", output);
    }

    [Fact]
    public void Without_worker_options_k0s_gets_the_token_and_only_the_seeds_labels()
    {
        Seed(SeedYaml("labels: {site: berlin}\n"));

        var (exitCode, output) = Run();

        Assert.True(exitCode == 0, output);
        Assert.Equal(["install", "worker", "--token-file", TokenCopy, "--labels=site=berlin"], K0sCalls()[0]);
    }

    [Fact]
    public void Empty_worker_options_and_a_seed_without_labels_give_k0s_no_empty_flags()
    {
        WorkerOptions("    labels: {}\n");
        Seed(SeedYaml());

        var (exitCode, output) = Run();

        Assert.True(exitCode == 0, output);
        Assert.Equal(["install", "worker", "--token-file", TokenCopy], K0sCalls()[0]);
    }

    [Fact]
    public void Profile_labels_alone_are_passed_when_the_seed_has_none()
    {
        WorkerOptions("    labels: {zone: plant-3}\n");
        Seed(SeedYaml());

        var (exitCode, output) = Run();

        Assert.True(exitCode == 0, output);
        Assert.Equal(["install", "worker", "--token-file", TokenCopy, "--labels=zone=plant-3"], K0sCalls()[0]);
    }

    [Theory]
    [InlineData("ADDRESS=192.168.117/24", "seed: NETWORK=static needs ADDRESS as address/prefix (e.g. 192.168.1.17/24), not '192.168.117/24'")]
    [InlineData("ADDRESS=10.0.0.2/33", "seed: NETWORK=static needs ADDRESS as address/prefix (e.g. 192.168.1.17/24), not '10.0.0.2/33'")]
    [InlineData("ADDRESS=fe80::2%eth0/64", "seed: NETWORK=static needs ADDRESS as address/prefix (e.g. 192.168.1.17/24), not 'fe80::2%eth0/64'")]
    [InlineData("GATEWAY=192.168.1", "seed: GATEWAY '192.168.1' is not an IP address")]
    [InlineData("DNS=10.1", "seed: DNS server '10.1' is not an IP address")]
    public void The_device_refuses_an_address_in_seed_env_that_edgeimage_seed_would_not_write(string line, string error)
    {
        Seed(SeedYaml("network: {mode: static, address: 10.0.0.2/24, gateway: 10.0.0.1, dns: [10.0.0.1]}\n"));
        // With networkd in the image, a seed that passed would get its .network file.
        Executable(Root("usr/lib/systemd/systemd-networkd"), "#!/bin/sh\n");
        var env = Root("run/edgeimage/boot/edgeimage/seed.env");
        var key = line[..(line.IndexOf('=') + 1)];
        File.WriteAllLines(env, File.ReadAllLines(env).Select(l => l.StartsWith(key, StringComparison.Ordinal) ? line : l));

        var (_, output) = Run();

        Assert.Contains("edgeimage-join: ERROR: " + error + "\n", output);
        Assert.Empty(K0sCalls());
        Assert.False(File.Exists(Root("etc/systemd/network/10-edgeimage.network")));
    }

    [Theory]
    [InlineData("LABELS=site=lab,node-role.kubernetes.io/worker=", "seed: label 'node-role.kubernetes.io/worker' is in a namespace kubelet refuses in --node-labels; use a prefix of your own")]
    [InlineData("LABELS=Example.com/role=x", "seed: label 'Example.com/role=x' is not KEY=VALUE in Kubernetes label syntax")]
    public void The_device_refuses_seed_labels_kubelet_would_refuse(string line, string error)
    {
        Seed(SeedYaml("labels: {site: lab}\n"));
        var env = Root("run/edgeimage/boot/edgeimage/seed.env");
        File.WriteAllLines(env, File.ReadAllLines(env).Select(l => l.StartsWith("LABELS=", StringComparison.Ordinal) ? line : l));

        var (_, output) = Run();

        Assert.Contains("edgeimage-join: ERROR: " + error + "\n", output);
        Assert.Empty(K0sCalls());
    }

    [Fact]
    public void The_device_refuses_image_labels_kubelet_would_refuse()
    {
        Directory.CreateDirectory(Root("usr/lib/edgeimage"));
        File.WriteAllText(Root("usr/lib/edgeimage/k0s-worker.env"), "LABELS=kubernetes.io/role=edge,node.kubernetes.io/pool=a\n");
        Seed(SeedYaml());

        var (_, output) = Run();

        Assert.Contains("label 'kubernetes.io/role' is in a namespace kubelet refuses in --node-labels\n", output);
        Assert.DoesNotContain("node.kubernetes.io/pool' is in", output);
        Assert.Empty(K0sCalls());
    }

    [Fact]
    public void A_boot_partition_that_does_not_mount_does_not_hold_the_network_back()
    {
        // blkid finds the partition at once, and mount fails on it every time.
        Directory.CreateDirectory(Root("usr/lib/edgeimage"));
        File.WriteAllText(Root("usr/lib/edgeimage/boot-label"), "ESP\n");
        Directory.CreateDirectory(Root("dev"));
        File.WriteAllText(Root("dev/vda1"), "");
        Stub("mountpoint", "exit 1");
        Stub("blkid", "echo \"$EDGEIMAGE_JOIN_ROOT/dev/vda1\"");
        Stub("mount", "echo 'mount: wrong fs type, bad option, bad superblock (test double)' >&2; exit 32");

        var (_, output) = Run();

        Assert.Contains($"edgeimage-join: ERROR: cannot mount the boot partition {Root("dev/vda1")} at {Root("run/edgeimage/boot")}; retrying in 30s", output);
        var events = File.ReadAllLines(Events);
        // Ready before the first wait, not only when the script ends (it never does here).
        Assert.Equal(["systemd-notify --ready", "sleep 30", "sleep 30", "sleep 30"], events);
    }

    [Fact]
    public void A_worker_options_file_with_a_value_k0s_would_mangle_stops_the_join_before_k0s_runs()
    {
        Directory.CreateDirectory(Root("usr/lib/edgeimage"));
        File.WriteAllText(Root("usr/lib/edgeimage/k0s-worker.env"), "LABELS=\nKUBELET_EXTRA_ARGS=--root-dir=$HOME\nEXTRA=1\n");
        Seed(SeedYaml());

        var (_, output) = Run();

        Assert.Empty(K0sCalls());
        Assert.Contains("k0s-worker.env:3: unknown line 'EXTRA=1'", output);
        Assert.Contains("kubelet argument '--root-dir=$HOME' is not a --flag=value k0s can pass on", output);
        Assert.Contains("edgeimage-join: ERROR: the image's k0s worker options are broken; rebuild the image", output);
    }

    /// <summary>A join token (base64 of gzip) holding exactly this kubeconfig text.</summary>
    private static string TokenOf(string kubeconfig)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(kubeconfig));
        }
        return Convert.ToBase64String(buffer.ToArray());
    }

    private static string Kubeconfig(string server = "server: https://10.0.2.100:6443", string? ca = null, string token = "token: abcdef.0123456789abcdef") =>
        $"apiVersion: v1\nclusters:\n- cluster:\n    {ca ?? "certificate-authority-data: " + Convert.ToBase64String(Encoding.ASCII.GetBytes(SeedTests.CaPem()))}\n"
        + $"    {server}\n  name: k0s\ncontexts:\n- context:\n    cluster: k0s\n    user: kubelet-bootstrap\n  name: k0s\n"
        + $"current-context: k0s\nkind: Config\nusers:\n- name: kubelet-bootstrap\n  user:\n    {token}\n";

    /// <summary>A valid seed whose seed.env then carries <paramref name="token"/> instead: the device checks the token again.</summary>
    private void SeedWithToken(string token)
    {
        Seed(SeedYaml());
        var env = Root("run/edgeimage/boot/edgeimage/seed.env");
        File.WriteAllLines(env, File.ReadAllLines(env).Select(l => l.StartsWith("TOKEN=", StringComparison.Ordinal) ? "TOKEN=" + token : l));
    }

    [Fact]
    public void Kubeconfig_values_in_quotes_or_with_trailing_blanks_are_read_as_their_value()
    {
        var ca = Convert.ToBase64String(Encoding.ASCII.GetBytes(SeedTests.CaPem()));
        SeedWithToken(TokenOf(Kubeconfig(server: "server: \"https://10.0.2.100:6443\"  ", ca: $"certificate-authority-data: '{ca}'", token: "token:   abcdef.0123456789abcdef\t")));

        var (exitCode, output) = Run();

        Assert.True(exitCode == 0, output);
        Assert.Contains("edgeimage-join: API server https://10.0.2.100:6443 answers with a certificate of the token's CA\n", output);
        Assert.Contains($"timeout 30 openssl s_client -connect 10.0.2.100:6443 -CAfile {Root("run/edgeimage/join/ca.pem")} -verify_return_error -verify_ip 10.0.2.100", File.ReadAllLines(Events));
        Assert.Equal("install", K0sCalls()[0][0]);
    }

    [Theory]
    [InlineData("server: http://10.0.2.100:6443", "", "join token: the kubeconfig has no https server URL (found 'http://10.0.2.100:6443')")]
    [InlineData("insecure-skip-tls-verify: true", "", "join token: the kubeconfig has no https server URL (found '')")]
    [InlineData("server: https://10.0.2.100:6443", "certificate-authority-data: bm90IGEgY2VydGlmaWNhdGU=", "join token: the kubeconfig has no usable certificate-authority-data")]
    [InlineData("server: https://10.0.2.100:6443", "certificate-authority-data: %%%", "join token: the kubeconfig has no usable certificate-authority-data")]
    [InlineData("server: https://10.0.2.100:6443", "certificate-authority: /etc/ca.pem", "join token: the kubeconfig has no usable certificate-authority-data")]
    public void A_token_the_device_cannot_use_is_refused_before_any_connection_and_retried(string server, string ca, string error)
    {
        SeedWithToken(TokenOf(Kubeconfig(server, ca.Length == 0 ? null : ca)));

        var (_, output) = Run();

        Assert.Contains("edgeimage-join: ERROR: " + error + "\n", output);
        Assert.Contains("edgeimage-join: retrying in 5s\n", output);
        Assert.DoesNotContain(File.ReadAllLines(Events), e => e.StartsWith("timeout", StringComparison.Ordinal));
        Assert.Empty(K0sCalls());
    }

    [Fact]
    public void A_token_without_a_bootstrap_token_is_refused()
    {
        SeedWithToken(TokenOf(Kubeconfig(token: "client-certificate-data: AAAA")));

        var (_, output) = Run();

        Assert.Contains("edgeimage-join: ERROR: join token: the kubeconfig has no bootstrap token (user.token)\n", output);
        Assert.Empty(K0sCalls());
    }

    [Theory]
    [InlineData("https://k0s-api.example:6443", true)]
    [InlineData("https://10.0.2.100:6443", false)]
    public void Name_servers_are_written_before_the_TLS_check_only_for_a_server_given_by_name(string server, bool resolvFirst)
    {
        // An image with systemd-networkd: wait-online returns at once, and the resolv.conf writer records its run.
        Executable(Root("usr/lib/systemd/systemd-networkd"), "#!/bin/sh\n");
        Executable(Root("usr/lib/systemd/systemd-networkd-wait-online"), "#!/bin/sh\necho \"wait-online $*\" >> \"$EVENTS\"\n");
        Executable(Root("usr/lib/edgeimage/resolv-from-networkd"), "#!/bin/sh\necho resolv >> \"$EVENTS\"\necho 'edgeimage-resolv: DNS servers 10.0.2.3'\n");
        SeedWithToken(TokenOf(Kubeconfig(server: "server: " + server)));

        var (exitCode, output) = Run();

        Assert.True(exitCode == 0, output);
        var events = File.ReadAllLines(Events).Select(e => e.Split(' ')[0]).Where(e => e != "systemd-notify").ToList();
        Assert.Equal(resolvFirst ? ["wait-online", "resolv", "timeout"] : ["wait-online", "timeout"], events);
        Assert.Equal(resolvFirst, output.Contains("edgeimage-join: DNS servers 10.0.2.3\n", StringComparison.Ordinal));
    }

    [Fact]
    public void A_seed_yaml_changed_after_edgeimage_seed_is_refused()
    {
        Seed(SeedYaml());
        File.AppendAllText(Root("run/edgeimage/boot/edgeimage/seed.yaml"), "# edited on the card\n");

        var (_, output) = Run();

        Assert.Contains("seed.yaml was changed after `edgeimage seed` rendered seed.env from it", output);
        Assert.Empty(K0sCalls());
    }

    [Fact]
    public void A_clock_earlier_than_the_image_s_build_time_holds_the_join_before_any_TLS()
    {
        Directory.CreateDirectory(Root("usr/lib/edgeimage"));
        // 2100-01-01: later than any clock the test runs under; without the trailing newline the builder writes, which read must not need.
        File.WriteAllText(Root("usr/lib/edgeimage/build-epoch"), "4102444800");
        Seed(SeedYaml());

        var (_, output) = Run();

        Assert.Contains("is earlier than the image's build time (2100-01-01 00:00:00); waiting for NTP or a real-time clock before any TLS", output);
        var events = File.ReadAllLines(Events).Where(e => e != "systemd-notify --ready").ToList();
        Assert.Equal(["sleep 5", "sleep 5", "sleep 5"], events);
        Assert.Empty(K0sCalls());
    }
}
