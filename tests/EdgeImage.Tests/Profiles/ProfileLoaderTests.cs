using EdgeImage.Profiles;

namespace EdgeImage.Tests.Profiles;

public sealed class ProfileLoaderTests : IDisposable
{
    private readonly ProfileFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static EdgeImageException LoadFails(string path)
    {
        var e = Assert.Throws<EdgeImageException>(() => ProfileLoader.Load(path));
        Assert.Equal(ExitCodes.InvalidProfile, e.ExitCode);
        return e;
    }

    /// <summary>Writes edge.yaml, which must fail to load as an invalid profile; returns its path and the error.</summary>
    private (string Path, EdgeImageException Error) EdgeFails(string yaml)
    {
        var path = _files.Write("edge", yaml);
        return (path, LoadFails(path));
    }

    [Fact]
    public void Unknown_key_is_reported_at_its_line_and_column_with_a_suggestion()
    {
        var (path, e) = EdgeFails("""
            name: edge
            arch: amd64
            board: generic-efi
            pakages: [systemd]
            """);

        Assert.Equal($"{path}:4:1: unknown key 'pakages' (did you mean 'packages'?)", e.Message);
        Assert.Contains("valid keys at the top level: name, description, extends, arch", e.Hint);
        Assert.Contains("profiles/profile.schema.json", e.Hint);
    }

    [Fact]
    public void Unknown_key_inside_a_section_names_the_section_and_its_keys()
    {
        var (path, e) = EdgeFails("""
            name: edge
            arch: amd64
            board: generic-efi
            kernel:
              package: linux-image-amd64
              comdline: quiet
            """);

        Assert.Equal($"{path}:6:3: unknown key 'kernel.comdline' (did you mean 'cmdline'?)", e.Message);
        Assert.Contains("valid keys under kernel: package, modules, cmdline", e.Hint);
    }

    [Fact]
    public void A_section_key_written_at_the_top_level_points_to_its_section()
    {
        var (_, e) = EdgeFails("name: edge\narch: amd64\nboard: generic-efi\ncmdline: quiet\n");

        Assert.Contains(":4:1: unknown key 'cmdline' (did you mean 'kernel.cmdline'?", e.Message);
    }

    [Fact]
    public void Wrong_types_are_reported_where_the_value_is()
    {
        var (path, e) = EdgeFails("""
            name: edge
            arch: amd64
            board: generic-efi
            packages: systemd
            include_required: yes
            partitions:
              root: 1.5G
            kernel: linux-image-amd64
            """);

        Assert.Contains($"{path}:4:11: 'packages' must be a list, not 'systemd' (write [systemd])", e.Message);
        Assert.Contains($"{path}:5:19: 'include_required' must be true or false, not 'yes'", e.Message);
        Assert.Contains($"{path}:7:9: 'partitions.root' must be a whole number of MiB greater than 0, not '1.5G'", e.Message);
        Assert.Contains($"{path}:8:9: 'kernel' must be a mapping with package:, modules:, cmdline:", e.Message);
    }

    [Fact]
    public void Arch_outside_amd64_arm64_armhf_is_rejected_and_a_common_alias_is_translated()
    {
        var (path, e) = EdgeFails("name: edge\narch: aarch64\nboard: generic-efi\n");

        Assert.Equal($"{path}:2:7: 'arch' must be one of amd64, arm64, armhf, not 'aarch64' (for aarch64 write 'arm64')", e.Message);
    }

    [Fact]
    public void A_mirror_that_is_not_an_http_url_is_quoted_without_its_password()
    {
        var (path, e) = EdgeFails("name: edge\narch: amd64\nboard: generic-efi\nmirror: ftp://edge:s3cret@host.example.invalid/debian\n");

        Assert.Equal($"{path}:4:9: 'mirror': 'ftp://edge:***@host.example.invalid/debian' is not an absolute http://, https:// or file:// URL", e.Message);
        Assert.DoesNotContain("s3cret", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Misspelled_arch_gets_a_did_you_mean()
    {
        var (_, e) = EdgeFails("name: edge\narch: amd46\nboard: generic-efi\n");

        Assert.EndsWith("not 'amd46' (did you mean 'amd64'?)", e.Message);
    }

    [Fact]
    public void Missing_arch_and_board_are_both_reported_at_the_start_of_the_file()
    {
        var (path, e) = EdgeFails("name: edge\ndescription: nothing else\n");

        Assert.Contains($"{path}:1:1: missing required key 'arch'", e.Message);
        Assert.Contains($"{path}:1:1: missing required key 'board'", e.Message);
    }

    [Fact]
    public void Missing_name_is_reported()
    {
        var (path, e) = EdgeFails("arch: amd64\nboard: generic-efi\n");

        Assert.Equal($"{path}:1:1: missing required key 'name'", e.Message);
    }

    [Fact]
    public void Name_that_differs_from_the_file_name_is_rejected()
    {
        var (_, e) = EdgeFails("name: other\narch: amd64\nboard: generic-efi\n");

        Assert.Contains("name 'other' differs from the file name edge.yaml", e.Message);
    }

    [Fact]
    public void All_errors_of_a_file_are_reported_at_once_in_file_order()
    {
        var (path, e) = EdgeFails("""
            name: edge
            arch: i386
            board: generic-efi
            suite: trixie
            suite: forky
            packages: [systemd, "Not A Package"]
            debug: 1
            k0s:
              version: 1.34
            """);

        var lines = e.Message.Split('\n');
        Assert.Equal($"5 errors in profile {path}:", lines[0]);
        Assert.Equal(
            [$"{path}:2:7", $"{path}:5:1", $"{path}:6:21", $"{path}:7:8", $"{path}:9:12"],
            lines.Skip(1).Select(l => string.Join(':', l.Split(':').Take(3))).ToArray());
        Assert.Contains("duplicate key 'suite'", lines[2]);
        Assert.Contains("'Not A Package' is not a Debian package name", lines[3]);
        Assert.Contains("'1.34' is not a k0s release version", lines[5]);
    }

    [Fact]
    public void Yaml_syntax_error_names_file_line_and_column()
    {
        var (path, e) = EdgeFails("name: edge\narch: amd64\n  board: x\n");

        Assert.StartsWith($"{path}:3:", e.Message);
    }

    [Fact]
    public void Empty_file_is_an_error_not_an_empty_profile()
    {
        var (_, e) = EdgeFails("# nothing yet\n");

        Assert.Contains("but the file is empty", e.Message);
    }

    [Fact]
    public void Extends_lays_the_leaf_over_its_base_replacing_lists_and_merging_sections()
    {
        _files.Write("base/common", """
            name: common
            description: shared bits
            suite: trixie
            components: [main]
            packages: [systemd, udev]
            include_required: true
            kernel:
              package: linux-image-amd64
              cmdline: console=ttyS0
            partitions:
              boot: 100
              root: 200
            """);
        var leaf = _files.Write("edge", """
            name: edge
            extends: base/common
            arch: amd64
            board: generic-efi
            packages: [busybox]
            kernel:
              cmdline: quiet
            partitions:
              root: 300
            """);

        var profile = ProfileLoader.Load(leaf);

        Assert.Equal("edge", profile.Name);
        Assert.Null(profile.Description);
        Assert.Equal(["busybox"], profile.Packages);
        Assert.True(profile.IncludeRequired);
        Assert.Equal("linux-image-amd64", profile.Kernel.Package);
        Assert.Equal("quiet", profile.Kernel.CommandLine);
        Assert.Equal(new PartitionSizes { Boot = 100, Root = 300, Data = 256 }, profile.Partitions);
        Assert.Equal($"{leaf}:5", profile.Locations["packages"]);
        Assert.Equal($"{Path.Combine(_files.Directory, "base", "common.yaml")}:3", profile.Locations["suite"]);
        Assert.Equal([leaf, Path.Combine(_files.Directory, "base", "common.yaml")], profile.SourceChain);
        Assert.Equal(profile.Locations["packages"], profile.Locate("packages"));
    }

    [Fact]
    public void Extends_chains_through_several_bases_nearest_wins()
    {
        _files.Write("a", "name: a\nsuite: bookworm\narch: armhf\nboard: one\n");
        _files.Write("b", "name: b\nextends: a\nsuite: trixie\n");
        var leaf = _files.Write("c", "name: c\nextends: b.yaml\nboard: two\n");

        var profile = ProfileLoader.Load(leaf);

        Assert.Equal(("trixie", "armhf", "two"), (profile.Suite, profile.Arch, profile.Board));
        Assert.Equal(3, profile.SourceChain.Count);
    }

    [Fact]
    public void Extends_cycle_is_reported_at_the_extends_that_closes_it()
    {
        var a = _files.Write("a", "name: a\nextends: b\narch: amd64\nboard: x\n");
        var b = _files.Write("b", "name: b\ndescription: loops\nextends: a\n");

        var e = LoadFails(a);

        Assert.Equal($"{b}:3:1: extends cycle: {a} -> {b} -> {a}", e.Message);
    }

    [Fact]
    public void Missing_base_is_reported_at_the_extends_line()
    {
        var leaf = _files.Write("edge", "name: edge\narch: amd64\nboard: x\nextends: base/nope\n");

        var e = LoadFails(leaf);

        Assert.Equal($"{leaf}:4:1: base profile {Path.Combine(_files.Directory, "base", "nope.yaml")} does not exist", e.Message);
    }

    [Fact]
    public void Errors_in_a_base_point_into_the_base_and_come_with_the_leafs_errors()
    {
        var @base = _files.Write("base", "name: base\npackages: [ok, Bad]\n");
        var leaf = _files.Write("edge", "name: edge\nextends: base\narch: sparc\nboard: x\n");

        var e = LoadFails(leaf);

        Assert.Contains($"{leaf}:3:7: 'arch' must be one of", e.Message);
        Assert.Contains($"{@base}:2:16: 'packages item': 'Bad' is not a Debian package name", e.Message);
    }

    [Fact]
    public void Missing_profile_file_is_not_found_rather_than_invalid()
    {
        var e = Assert.Throws<EdgeImageException>(() => ProfileLoader.Load(Path.Combine(_files.Directory, "absent.yaml")));

        Assert.Equal(ExitCodes.NotFound, e.ExitCode);
    }

    [Fact]
    public void Exclude_lists_and_kernel_module_exclusions_are_read_and_a_relative_exclude_glob_is_an_error()
    {
        var good = _files.Write("edge", """
            name: edge
            arch: amd64
            board: generic-efi
            exclude: [/usr/share/doc/*, /usr/share/man/*]
            exclude_keep:
              - /usr/share/doc/*/copyright
            kernel:
              exclude_modules: [sound, drivers/gpu]
              include_modules: [net, drivers/net/virtio_net.ko*]
            """);

        var profile = ProfileLoader.Load(good);

        Assert.Equal(["/usr/share/doc/*", "/usr/share/man/*"], profile.Exclude);
        Assert.Equal(["/usr/share/doc/*/copyright"], profile.ExcludeKeep);
        Assert.Equal(["sound", "drivers/gpu"], profile.Kernel.ExcludeModules);
        Assert.Equal(["net", "drivers/net/virtio_net.ko*"], profile.Kernel.IncludeModules);

        var bad = _files.Write("bad", """
            name: bad
            arch: amd64
            board: generic-efi
            exclude: [usr/share/doc/*]
            kernel:
              exclude_modules: [/lib/modules]
              include_modules: [/usr/lib/modules]
            """);
        var e = LoadFails(bad);
        Assert.Contains($"{bad}:4:11: 'exclude item': 'usr/share/doc/*' must be an absolute path glob inside the image, like /usr/share/doc/*", e.Message);
        Assert.Contains("'kernel.exclude_modules item': '/lib/modules' must be a path below the kernel's module directory", e.Message);
        Assert.Contains("'kernel.include_modules item': '/usr/lib/modules' must be a path below the kernel's module directory", e.Message);
    }

    private const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Fact]
    public void K0s_section_is_read_with_worker_options_and_paths_relative_to_the_file_that_wrote_them()
    {
        _files.Write("base/k0s", """
            name: k0s
            k0s:
              version: v1.34.1+k0s.0
              source: ../releases
              cosign_key: keys/cosign.pub
              worker:
                labels: {role: edge}
                profile: small
            """);
        var leaf = _files.Write("edge", $"""
            name: edge
            extends: base/k0s
            arch: arm64
            board: generic-efi
            k0s:
              airgap_bundle: https://mirror.example/k0s/bundle
              airgap_bundle_sha256: {new string('a', 64)}
              images: [registry.example:5000/team/app:1.0@{Digest}]
              airgap: false
              worker:
                taints: [dedicated=edge:NoSchedule, gpu:NoExecute]
                kubelet_extra_args: --max-pods=50  --eviction-hard=memory.available<100Mi
            """);

        var k0s = ProfileLoader.Load(leaf).K0s!;

        Assert.Equal("v1.34.1+k0s.0", k0s.Version);
        Assert.Equal(Path.Combine(_files.Directory, "releases"), k0s.Source);
        Assert.Equal(Path.Combine(_files.Directory, "base", "keys", "cosign.pub"), k0s.CosignKey);
        Assert.Equal("https://mirror.example/k0s/bundle", k0s.AirgapBundle);
        Assert.Equal(new string('a', 64), k0s.AirgapBundleSha256);
        Assert.Equal([$"registry.example:5000/team/app:1.0@{Digest}"], k0s.Images);
        Assert.False(k0s.Airgap);
        Assert.Equal("edge", k0s.Worker.Labels["role"]);
        Assert.Equal("small", k0s.Worker.Profile);
        Assert.Equal(["dedicated=edge:NoSchedule", "gpu:NoExecute"], k0s.Worker.Taints);
        Assert.Equal(["--max-pods=50", "--eviction-hard=memory.available<100Mi"], k0s.Worker.KubeletExtraArgs);
    }

    [Fact]
    public void K0s_airgap_defaults_to_true_and_kubelet_args_may_be_a_list()
    {
        var path = _files.Write("edge", """
            name: edge
            arch: amd64
            board: generic-efi
            k0s:
              version: v1.34.1+k0s.0
              worker:
                kubelet_extra_args: [--max-pods=50]
            """);

        var k0s = ProfileLoader.Load(path).K0s!;

        Assert.True(k0s.Airgap);
        Assert.Null(k0s.Source);
        Assert.Equal(["--max-pods=50"], k0s.Worker.KubeletExtraArgs);
    }

    [Fact]
    public void Image_not_pinned_by_digest_is_rejected_with_how_to_pin_it()
    {
        var (path, e) = EdgeFails($"""
            name: edge
            arch: amd64
            board: generic-efi
            k0s:
              version: v1.34.1+k0s.0
              images:
                - docker.io/library/nginx:1.27
                - quay.io/app@sha256:ABC
                - quay.io/ok@{Digest}
            """);

        Assert.Contains($"{path}:7:7: 'k0s.images item': image 'docker.io/library/nginx:1.27' is not pinned by digest; write it as docker.io/library/nginx@sha256:", e.Message);
        Assert.Contains($"{path}:8:7: 'k0s.images item': image 'quay.io/app@sha256:ABC' is not a reference pinned by sha256 digest", e.Message);
        Assert.DoesNotContain("quay.io/ok", e.Message);
    }

    [Fact]
    public void Bad_worker_options_and_unknown_worker_keys_are_reported_with_the_worker_keys()
    {
        var (path, e) = EdgeFails("""
            name: edge
            arch: amd64
            board: generic-efi
            k0s:
              version: v1.34.1+k0s.0
              worker:
                taints: [dedicated=edge]
                kubelet_extra_args: max-pods=50
                lables: {a: b}
            """);

        Assert.Contains($"{path}:7:14: 'k0s.worker.taints item': 'dedicated=edge' is not a taint", e.Message);
        Assert.Contains($"{path}:8:25: 'k0s.worker.kubelet_extra_args': 'max-pods=50' is not a kubelet flag", e.Message);
        Assert.Contains($"{path}:9:5: unknown key 'k0s.worker.lables' (did you mean 'labels'?)", e.Message);
        Assert.True(e.Hint!.Contains("valid keys under k0s.worker: labels, taints, kubelet_extra_args, profile"), e.Hint);
    }

    [Fact]
    public void Worker_labels_and_kubelet_flags_that_could_not_reach_the_node_as_written_are_refused_where_they_stand()
    {
        var (path, e) = EdgeFails("""
            name: edge
            arch: amd64
            board: generic-efi
            k0s:
              version: v1.34.1+k0s.0
              worker:
                labels: {-zone: a, site: "has space", ok: fine, node-role.kubernetes.io/edge: "", Example.com/x: y}
                kubelet_extra_args: [--root-dir=$HOME, "--eviction-hard=nodefs.available<10%", --max-pods=50]
            """);

        Assert.Contains($"{path}:7:14: 'k0s.worker.labels key': '-zone' is not a Kubernetes label key", e.Message);
        Assert.Contains($"{path}:7:30: 'k0s.worker.labels.site': 'has space' is not a Kubernetes label value", e.Message);
        Assert.Contains($"{path}:8:26: 'k0s.worker.kubelet_extra_args item': '--root-dir=$HOME': k0s writes kubelet flags into a systemd unit, where \" ' \\ $ % ` change their meaning", e.Message);
        Assert.Contains($"{path}:8:44: 'k0s.worker.kubelet_extra_args item': '--eviction-hard=nodefs.available<10%': k0s writes", e.Message);
        Assert.Contains($"{path}:7:53: 'k0s.worker.labels key': kubelet refuses 'node-role.kubernetes.io/edge' in --node-labels", e.Message);
        Assert.Contains($"{path}:7:87: 'k0s.worker.labels key': label prefix 'Example.com' is not a lower-case DNS subdomain", e.Message);
        Assert.StartsWith("6 errors in profile", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("max-pods", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void K0s_section_without_a_version_anywhere_is_an_error()
    {
        var (path, e) = EdgeFails("name: edge\narch: amd64\nboard: generic-efi\nk0s:\n  airgap: false\n");

        Assert.Contains($"{path}:4:1: the k0s section has no 'version'", e.Message);
    }
}
