using EdgeImage.Packages;

namespace EdgeImage.IntegrationTests;

/// <summary>
/// The Debian mirror the tests use, found exactly as the builder finds it (EDGEIMAGE_MIRROR, then
/// the host's apt sources), so no mirror is ever written into the repository.
/// </summary>
internal static class HostMirror
{
    public static string Url() => new MirrorDiscovery().Find(explicitMirror: null, profileMirror: null).Url;
}
