using System.Text;
using EdgeImage.K0s;
using EdgeImage.Oci;
using EdgeImage.Profiles;
using EdgeImage.Rootfs;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.K0s;

public sealed class K0sInstallTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eig-k0sinst-").FullName;

    [Fact]
    public async Task Binary_bundle_links_and_pull_blocking_drop_in_land_where_k0s_reads_them()
    {
        var bundle = Path.Combine(_dir, "bundle");
        File.WriteAllBytes(bundle, Encoding.ASCII.GetBytes("bundle bytes"));
        var payload = new K0sPayload
        {
            Version = "v1.34.1+k0s.0",
            Binary = new K0sFile("/usr/bin/true", new string('a', 64), new FileInfo("/usr/bin/true").Length, "test"),
            AirgapBundle = new K0sFile(bundle, new string('b', 64), 12, "test"),
            Images = [],
        };
        using var tree = new RootfsTree(Path.Combine(_dir, "staging"));

        var manifest = await K0sInstall.InstallAsync(tree, payload, airgap: true, new K0sWorkerSpec(), Context());

        var binary = tree["/usr/local/bin/k0s"]!;
        Assert.Equal(0b111_101_101, binary.Mode);
        Assert.Equal(File.ReadAllBytes("/usr/bin/true"), tree.ReadAllBytes(binary));
        Assert.Equal("bundle bytes", tree.ReadText("/usr/lib/edgeimage/k0s/images/k0s-airgap-bundle-v1.34.1+k0s.0.tar"));
        var tmpfiles = tree.ReadText("/usr/lib/tmpfiles.d/edgeimage-k0s-images.conf")!;
        Assert.Contains("\nd /var/lib/k0s/images 0755 root root -\n", tmpfiles);
        Assert.Contains("\nL+ /var/lib/k0s/images/k0s-airgap-bundle-v1.34.1+k0s.0.tar - - - - /usr/lib/edgeimage/k0s/images/k0s-airgap-bundle-v1.34.1+k0s.0.tar\n", tmpfiles);
        Assert.Contains("[plugins.\"io.containerd.grpc.v1.cri\".registry]\nconfig_path = \"/etc/k0s/containerd.d/certs.d\"", tree.ReadText("/etc/k0s/containerd.d/edgeimage-airgap.toml"));
        Assert.Contains("server = \"https://pulls-disabled-airgapped-node.invalid\"", tree.ReadText("/etc/k0s/containerd.d/certs.d/_default/hosts.toml"));
        Assert.Equal(("/usr/local/bin/k0s", new string('a', 64), true), (manifest.Path, manifest.Sha256, manifest.Airgap));
        Assert.Equal(new ManifestBundle("/usr/lib/edgeimage/k0s/images/k0s-airgap-bundle-v1.34.1+k0s.0.tar", new string('b', 64), 12), manifest.AirgapBundle);
    }

    [Fact]
    public async Task Profile_that_is_not_airgapped_gets_no_drop_in_and_no_links_without_archives()
    {
        var payload = new K0sPayload
        {
            Version = "v1.34.1+k0s.0",
            Binary = new K0sFile("/usr/bin/true", new string('a', 64), new FileInfo("/usr/bin/true").Length, "test"),
            Images = [],
        };
        using var tree = new RootfsTree(Path.Combine(_dir, "staging"));

        await K0sInstall.InstallAsync(tree, payload, airgap: false, new K0sWorkerSpec(), Context());

        Assert.NotNull(tree["/usr/local/bin/k0s"]);
        Assert.Null(tree["/etc/k0s/containerd.d/edgeimage-airgap.toml"]);
        Assert.Null(tree["/usr/lib/tmpfiles.d/edgeimage-k0s-images.conf"]);
    }

    [Fact]
    public async Task The_profiles_worker_options_are_written_for_the_device_the_same_for_the_same_options()
    {
        var payload = new K0sPayload
        {
            Version = "v1.34.1+k0s.0",
            Binary = new K0sFile("/usr/bin/true", new string('a', 64), new FileInfo("/usr/bin/true").Length, "test"),
            Images = [],
        };
        var worker = new K0sWorkerSpec
        {
            Labels = new Dictionary<string, string> { ["zone"] = "plant-3", ["example.com/tier"] = "edge" },
            Taints = ["dedicated=edge:NoSchedule", "gpu:NoExecute"],
            KubeletExtraArgs = ["--max-pods=50", "--eviction-hard=memory.available<100Mi"],
            Profile = "small",
        };
        using var tree = new RootfsTree(Path.Combine(_dir, "staging"));
        using var empty = new RootfsTree(Path.Combine(_dir, "empty"));

        await K0sInstall.InstallAsync(tree, payload, airgap: false, worker, Context());
        await K0sInstall.InstallAsync(empty, payload, airgap: false, new K0sWorkerSpec(), Context());

        var options = tree["/usr/lib/edgeimage/k0s-worker.env"]!;
        Assert.Equal(0b110_100_100, options.Mode);
        Assert.Equal(
            ["LABELS=example.com/tier=edge,zone=plant-3", "TAINTS=dedicated=edge:NoSchedule,gpu:NoExecute",
             "KUBELET_EXTRA_ARGS=--max-pods=50 --eviction-hard=memory.available<100Mi", "PROFILE=small"],
            tree.ReadText("/usr/lib/edgeimage/k0s-worker.env")!.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')));
        // The labels' order in the profile does not change the bytes.
        Assert.Equal(K0sWorkerOptions.Render(worker), K0sWorkerOptions.Render(worker with { Labels = new Dictionary<string, string> { ["example.com/tier"] = "edge", ["zone"] = "plant-3" } }));
        Assert.Equal(["LABELS=", "TAINTS=", "KUBELET_EXTRA_ARGS=", "PROFILE="],
            empty.ReadText("/usr/lib/edgeimage/k0s-worker.env")!.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')));
    }

    [Theory]
    [InlineData("v1.34.1+k0s.0", "version = 2", "io.containerd.grpc.v1.cri")]
    [InlineData("v1.35.9+k0s.1", "version = 2", "io.containerd.grpc.v1.cri")]
    [InlineData("v1.36.0+k0s.0", "version = 3", "io.containerd.cri.v1.images")]
    public void Drop_in_uses_the_containerd_config_format_of_the_k0s_version(string k0s, string version, string plugin)
    {
        var dropIn = K0sInstall.DropIn(k0s);

        Assert.Contains($"\n{version}\n", dropIn);
        Assert.Contains($"[plugins.\"{plugin}\".registry]", dropIn);
    }

    [Fact]
    public void Archive_names_are_file_system_safe_and_carry_the_digest()
    {
        var reference = ImageReference.Parse("127.0.0.1:5000/team/app:1.0@sha256:" + new string('c', 64));

        Assert.Equal("127.0.0.1_5000_team_app-cccccccccccc.tar", K0sInstall.ArchiveName(reference));
    }

    [Fact]
    public void Local_k0s_binary_for_another_architecture_is_refused()
    {
        var error = Assert.Throws<EdgeImageException>(() => K0sSources.LocalBinary("/usr/bin/true", Profile("arm64"), new RecordingBuildLog()));

        Assert.Contains("is built for amd64, but profile edge is arm64", error.Message);
    }

    [Fact]
    public void Local_script_is_accepted_with_a_loud_warning_and_other_files_are_refused()
    {
        var script = Path.Combine(_dir, "k0s-standin");
        File.WriteAllText(script, "#!/bin/sh\necho stand-in\n");
        var junk = Path.Combine(_dir, "junk");
        File.WriteAllText(junk, "<html>");
        var log = new RecordingBuildLog();

        var accepted = K0sSources.LocalBinary(script, Profile("armhf"), log);
        var error = Assert.Throws<EdgeImageException>(() => K0sSources.LocalBinary(junk, Profile("armhf"), log));

        Assert.Equal(24, accepted.Size);
        Assert.Contains(log.Warnings, w => w.Contains("ITS ARCHITECTURE CANNOT BE CHECKED", StringComparison.Ordinal));
        Assert.Contains("neither an ELF executable nor a script", error.Message);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Profile Profile(string arch) => new() { Name = "edge", Arch = arch, Board = "b", SourcePath = "edge.yaml" };

    private BuildContext Context() => new()
    {
        CacheDir = Path.Combine(_dir, "cache"),
        WorkDir = Path.Combine(_dir, "work"),
        SourceDateEpoch = 1_700_000_000,
        VerificationTime = DateTimeOffset.UnixEpoch,
    };
}
