namespace EdgeImage.IntegrationTests.Join;

/// <summary>
/// A board the join tests boot: the shipped profile whose join test profile
/// (profiles/&lt;profile&gt;-join.yaml: the k0s-join service plus the join-check unit) is built, the
/// QEMU machine of qemu/ it boots on, and how long one boot to the join may take there.
/// </summary>
public sealed record JoinBoard(string Profile, string QemuBoard, TimeSpan BootTimeout)
{
    /// <summary>q35 + OVMF. A boot to the join under TCG on a loaded two-core host takes 2-4 minutes; with KVM well under one.</summary>
    public static readonly JoinBoard GenericX86_64 = new("generic-x86_64", "generic-efi-x86_64", TimeSpan.FromMinutes(10));

    /// <summary>
    /// QEMU virt (Cortex-A57) + AAVMF, always TCG on an x86 host: some 55 s to a login prompt when
    /// the host is quiet, several times that while other boots and builds share its two cores.
    /// Two vCPUs, so QEMU's multi-threaded TCG can use both host cores when they are free.
    /// </summary>
    public static readonly JoinBoard GenericAarch64 = new("generic-aarch64", "generic-efi-aarch64", TimeSpan.FromMinutes(15)) { Smp = 2 };

    /// <summary>Virtual CPUs; null for the QEMU board's own count.</summary>
    public int? Smp { get; init; }

    public string TestProfile => Profile + "-join";
}
