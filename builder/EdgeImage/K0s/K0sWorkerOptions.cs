using System.Text;
using EdgeImage.Profiles;

namespace EdgeImage.K0s;

/// <summary>
/// The profile's `k0s.worker` options as the device reads them: /usr/lib/edgeimage/k0s-worker.env
/// in the root slot, one KEY=VALUE per line. overlays/k0s-join's k0s-join reads it line by line
/// (never sourcing it, as it reads the seed), checks every value again, and passes each as one
/// argument of `k0s install worker`: --labels (merged with the seed's labels; the seed's value wins
/// for a key both set), --taints, --kubelet-extra-args, --profile. The values were checked when
/// the profile was loaded (ProfileFormat), so none holds a line break or a character the shell or
/// k0s's systemd unit would change.
/// </summary>
public static class K0sWorkerOptions
{
    public const string Path = "/usr/lib/edgeimage/k0s-worker.env";

    /// <summary>The file's text: the same options give the same bytes (labels sorted by key).</summary>
    public static string Render(K0sWorkerSpec worker)
    {
        var text = new StringBuilder();
        text.Append("# Written by `edgeimage build` from the profile's k0s.worker: options of `k0s install worker`\n");
        text.Append("# for every device of this image. Read by /usr/lib/edgeimage/k0s-join, never sourced.\n");
        text.Append("LABELS=").AppendJoin(',', worker.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")).Append('\n');
        text.Append("TAINTS=").AppendJoin(',', worker.Taints).Append('\n');
        text.Append("KUBELET_EXTRA_ARGS=").AppendJoin(' ', worker.KubeletExtraArgs).Append('\n');
        text.Append("PROFILE=").Append(worker.Profile).Append('\n');
        return text.ToString();
    }
}
