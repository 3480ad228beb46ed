using EdgeImage.Kernel;
using EdgeImage.Profiles;
using EdgeImage.Rootfs;

namespace EdgeImage.K0s;

/// <summary>One kernel option a k0s worker needs; <see cref="Module"/> names the module a tristate builds.</summary>
public sealed record KernelOption(string Name, string Why, string? Module = null, string? Alternative = null, string? AlternativeModule = null);

/// <summary>
/// Checks at build time what `k0s sysinfo` would check on the device, so a kernel or layout that
/// cannot run a worker fails the build, not the device in the field. The required options follow
/// k0s's own worker probes (internal/pkg/sysinfo/host_linux.go: cgroups and the cpu, cpuacct,
/// cpuset, memory, devices, freezer and pids controllers, namespaces, netfilter with conntrack and
/// xtables, ext4, procfs) plus what the image's container runtime and pod network load (overlayfs,
/// the bridge with br_netfilter, iptables). A tristate option may be a module, which must then
/// still be in the image after kernel.exclude_modules.
/// </summary>
public static class K0sRequirements
{
    /// <summary>k0s documents ~1.6 GB as the minimum storage of a worker node (docs/system-requirements.md).</summary>
    public const int WorkerDataMiB = 1526;

    public static readonly IReadOnlyList<KernelOption> Required =
    [
        new("CGROUPS", "control groups, which kubelet and containerd confine every pod with"),
        new("CGROUP_SCHED", "the cgroup cpu controller"),
        new("FAIR_GROUP_SCHED", "CPU shares of the cgroup cpu controller"),
        new("CGROUP_CPUACCT", "the cgroup cpuacct controller"),
        new("CPUSETS", "the cgroup cpuset controller"),
        new("MEMCG", "the cgroup memory controller"),
        new("CGROUP_DEVICE", "the cgroup devices controller"),
        new("CGROUP_FREEZER", "the cgroup freezer controller"),
        new("CGROUP_PIDS", "the cgroup pids controller"),
        new("NAMESPACES", "namespaces, which isolate every container"),
        new("UTS_NS", "UTS namespaces (a hostname per pod)"),
        new("IPC_NS", "IPC namespaces"),
        new("PID_NS", "PID namespaces"),
        new("NET_NS", "network namespaces (a network per pod)"),
        new("NET", "networking"),
        new("INET", "TCP/IP"),
        new("PROC_FS", "/proc"),
        new("NETFILTER", "netfilter, which kube-proxy programs"),
        new("NF_CONNTRACK", "connection tracking; kube-proxy fails without it", "nf_conntrack"),
        new("NF_NAT", "NAT for services and pod egress", "nf_nat"),
        new("NETFILTER_XTABLES", "xtables, the base of iptables rules", "x_tables"),
        new("NETFILTER_XT_TARGET_REDIRECT", "the REDIRECT target", "xt_REDIRECT", "IP_NF_TARGET_REDIRECT", "ipt_REDIRECT"),
        new("NETFILTER_XT_MATCH_COMMENT", "the comment match kube-proxy tags its rules with", "xt_comment"),
        new("NETFILTER_XT_MATCH_CONNTRACK", "the conntrack match", "xt_conntrack"),
        new("NETFILTER_XT_MATCH_ADDRTYPE", "the addrtype match", "xt_addrtype"),
        new("NETFILTER_XT_MATCH_MULTIPORT", "the multiport match", "xt_multiport"),
        new("NETFILTER_XT_MARK", "the mark target and match", "xt_mark"),
        new("NETFILTER_XT_TARGET_MASQUERADE", "the MASQUERADE target for pod egress", "xt_MASQUERADE"),
        new("IP_NF_IPTABLES", "iptables (ip_tables)", "ip_tables"),
        new("IP_NF_FILTER", "the iptables filter table", "iptable_filter"),
        new("IP_NF_NAT", "the iptables nat table", "iptable_nat"),
        new("OVERLAY_FS", "overlayfs, containerd's snapshotter", "overlay"),
        new("BRIDGE", "the Linux bridge pod networks attach to", "bridge"),
        new("BRIDGE_NETFILTER", "br_netfilter, so bridged pod traffic passes iptables", "br_netfilter"),
        new("VETH", "veth pairs that connect pods to the host", "veth"),
        new("EXT4_FS", "ext4, the data partition k0s keeps its state on", "ext4"),
    ];

    /// <summary>Checked but not required: their absence is a warning.</summary>
    public static readonly IReadOnlyList<KernelOption> Recommended =
    [
        new("USER_NS", "user namespaces (pods with hostUsers: false)"),
        new("CFS_BANDWIDTH", "CPU limits (kubelet needs --cpu-cfs-quota=false without it)"),
        new("BLK_CGROUP", "block IO limits"),
    ];

    /// <summary>Module names the checked options may be built as; the module pruning keeps them.</summary>
    public static IEnumerable<string> Modules =>
        Required.SelectMany(o => new[] { o.Module, o.AlternativeModule }).OfType<string>();

    /// <summary>Reads a kernel .config (CONFIG_X=y|m|"value", "# CONFIG_X is not set") into option -> value.</summary>
    public static IReadOnlyDictionary<string, string> ParseConfig(string text)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("CONFIG_", StringComparison.Ordinal) && line.IndexOf('=') is > 7 and var equals)
            {
                options[line[7..equals]] = line[(equals + 1)..].Trim();
            }
        }
        return options;
    }

    /// <summary>
    /// Fails naming every missing option (and module) at once; warns about recommended ones.
    /// <paramref name="extraDataMiB"/> is what the bundled images add to the worker's storage need.
    /// </summary>
    public static void Check(RootfsTree tree, KernelInstall kernel, Profile profile, long extraDataMiB, IBuildLog log)
    {
        var configPath = $"/boot/config-{kernel.Version}";
        var text = tree.ReadText(configPath) ?? throw new EdgeImageException(
            $"k0s requirement check: kernel {kernel.Version} has no {configPath} in the image, so its options cannot be checked",
            $"Use a Debian kernel package (they ship their config) in `kernel.package` of {profile.Locate("kernel")}, and do not exclude /boot/config-*.",
            ExitCodes.InvalidProfile);
        var config = ParseConfig(text);
        var problems = new List<string>();
        foreach (var option in Required)
        {
            if (Problem(option, config, kernel) is not { } problem)
            {
                continue;
            }
            if (option.Alternative is { } alternative
                && Problem(new KernelOption(alternative, option.Why, option.AlternativeModule), config, kernel) is null)
            {
                continue;
            }
            problems.Add(problem);
        }
        foreach (var option in Recommended.Where(o => config.GetValueOrDefault(o.Name) is not ("y" or "m")))
        {
            log.Warn($"kernel {kernel.Version}: CONFIG_{option.Name} is not set; k0s works without it but loses {option.Why}");
        }
        if (problems.Count > 0)
        {
            throw new EdgeImageException(
                $"kernel {kernel.Version} ({profile.Kernel.Package ?? "the profile's kernel"}) cannot run a k0s worker: " + string.Join("; ", problems),
                $"Pick a kernel built with these options in `kernel.package` of {profile.Locate("kernel")} (Debian's linux-image-* have them), "
                + $"keep their modules out of `kernel.exclude_modules`, or build without k0s (--no-k0s) — profile {profile.SourcePath}.",
                ExitCodes.InvalidProfile);
        }

        var needMiB = WorkerDataMiB + extraDataMiB;
        if (profile.Partitions.Data < needMiB)
        {
            throw new EdgeImageException(
                $"the data partition of {profile.Name} ({profile.Partitions.Data} MiB) is smaller than a k0s worker needs ({needMiB} MiB: "
                + $"{WorkerDataMiB} MiB k0s documents as a worker's minimum{(extraDataMiB > 0 ? $" + {extraDataMiB} MiB for the bundled images, unpacked" : "")})",
                $"raise `partitions.data` in {profile.Locate("partitions")} to at least {needMiB}",
                ExitCodes.InvalidProfile);
        }
    }

    private static string? Problem(KernelOption option, IReadOnlyDictionary<string, string> config, KernelInstall kernel)
    {
        var value = config.GetValueOrDefault(option.Name);
        return value switch
        {
            "y" => null,
            "m" when option.Module is null => null,
            "m" when kernel.Modules.ContainsKey(option.Module) || kernel.Builtin.Contains(option.Module) => null,
            "m" => $"CONFIG_{option.Name}=m ({option.Why}) but its module {option.Module} is not in the image",
            _ => $"CONFIG_{option.Name} is {(value is null ? "not set" : $"'{value}'")} ({option.Why})",
        };
    }
}
