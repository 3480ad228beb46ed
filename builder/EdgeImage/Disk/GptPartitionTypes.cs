namespace EdgeImage.Disk;

/// <summary>
/// Partition type GUIDs from the UAPI Discoverable Partitions Specification, so systemd-gpt-auto-generator
/// and systemd-repart recognise the partitions without an fstab.
/// </summary>
public static class GptPartitionTypes
{
    public static readonly Guid EfiSystem = new("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");

    public static readonly Guid RootX86_64 = new("4f68bce3-e8cd-4db1-96e7-fbcaf984b709");

    public static readonly Guid RootArm64 = new("b921b045-1df0-41c3-af44-4c6f280d3fae");

    public static readonly Guid RootArm = new("69dad710-2ce4-4e3c-b16c-21a1d49abed3");

    public static readonly Guid Var = new("4d21b016-b534-45c2-a9fb-5c16e091fd2d");

    public static readonly Guid LinuxGeneric = new("0fc63daf-8483-4772-8e79-3d69d8477de4");

    /// <summary>The root partition type for a Debian architecture (amd64, arm64, armhf).</summary>
    public static Guid RootFor(string debianArch) => debianArch switch
    {
        "amd64" => RootX86_64,
        "arm64" => RootArm64,
        "armhf" => RootArm,
        _ => throw new EdgeImageException(
            $"No root partition type is known for architecture '{debianArch}'.",
            "Use one of the supported architectures: amd64, arm64, armhf.",
            ExitCodes.InvalidProfile),
    };
}

/// <summary>GPT partition entry attribute bits: UEFI's low bits and the UAPI specification's high bits.</summary>
[Flags]
public enum GptAttributes : ulong
{
    None = 0,
    RequiredPartition = 1UL << 0,
    NoBlockIoProtocol = 1UL << 1,
    LegacyBiosBootable = 1UL << 2,

    /// <summary>systemd-growfs may grow the file system to the partition size on mount.</summary>
    GrowFileSystem = 1UL << 59,
    ReadOnly = 1UL << 60,

    /// <summary>systemd-gpt-auto-generator leaves the partition alone (the inactive A/B slot).</summary>
    NoAuto = 1UL << 63,
}
