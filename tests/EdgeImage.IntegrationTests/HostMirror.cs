namespace EdgeImage.IntegrationTests;

/// <summary>
/// The Debian mirror the tests use: EDGEIMAGE_MIRROR, or else the first Debian archive URI in the
/// host's apt sources (deb822 *.sources, then one-line sources.list). Security mirrors are skipped:
/// they do not carry the main suite.
/// </summary>
internal static class HostMirror
{
    public static string Url()
    {
        if (Environment.GetEnvironmentVariable("EDGEIMAGE_MIRROR") is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment.TrimEnd('/');
        }
        var uris = new List<string>();
        if (Directory.Exists("/etc/apt/sources.list.d"))
        {
            foreach (var file in Directory.EnumerateFiles("/etc/apt/sources.list.d", "*.sources").Order(StringComparer.Ordinal))
            {
                uris.AddRange(File.ReadLines(file)
                    .Where(l => l.StartsWith("URIs:", StringComparison.OrdinalIgnoreCase))
                    .SelectMany(l => l["URIs:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
            }
        }
        if (File.Exists("/etc/apt/sources.list"))
        {
            foreach (var line in File.ReadLines("/etc/apt/sources.list").Select(l => l.Trim()))
            {
                if (!line.StartsWith("deb ", StringComparison.Ordinal))
                {
                    continue;
                }
                var words = line[4..].Trim();
                if (words.StartsWith('['))
                {
                    words = words[(words.IndexOf(']') + 1)..];
                }
                uris.AddRange(words.Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(1));
            }
        }
        return uris.Select(u => u.TrimEnd('/')).FirstOrDefault(u => u.EndsWith("/debian", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("No Debian mirror: set EDGEIMAGE_MIRROR or add a Debian archive to the host's apt sources.");
    }
}
