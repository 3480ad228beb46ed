using EdgeImage.Packages;

namespace EdgeImage.Tests.Fixtures;

/// <summary>The request and build context the package-source tests fetch a test suite with.</summary>
internal static class MirrorTestSetup
{
    public static DebianSuiteRequest Request(string mirror, string keyring, string suite = "trixie") => new()
    {
        Mirror = mirror,
        Suite = suite,
        Architecture = "amd64",
        KeyringPath = keyring,
    };

    /// <summary>Cache and work in one scratch directory, verification at the current time, every message kept.</summary>
    public static BuildContext Context(string cache, IBuildLog log) => new()
    {
        CacheDir = cache,
        WorkDir = cache,
        SourceDateEpoch = 0,
        VerificationTime = DateTimeOffset.UtcNow,
        Log = log,
    };
}
