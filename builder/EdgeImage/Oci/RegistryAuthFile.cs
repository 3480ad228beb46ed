using System.Text;
using System.Text.Json;

namespace EdgeImage.Oci;

/// <summary>
/// A user name and password for one registry, and docker's identity token (an OAuth2 refresh token
/// `docker login` stores for registries such as Azure's, next to a placeholder user and an empty
/// password). Its text form never shows the password or the token.
/// </summary>
public sealed record RegistryCredential(string Username, string Password, string? IdentityToken = null)
{
    /// <summary>The `Authorization: Basic` parameter, base64(user:password).</summary>
    public string Basic => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}"));

    /// <summary>An identity token without a password: nothing but the token service's OAuth2 endpoint accepts it.</summary>
    public bool TokenOnly => IdentityToken is not null && Password.Length == 0;

    public override string ToString() => IdentityToken is null ? $"{Username}:(password hidden)" : $"{Username}:(password and identity token hidden)";
}

/// <summary>
/// What an auth file says about one registry: a credential, or only the name of a credential
/// helper (docker's credsStore/credHelpers), which this builder does not run.
/// </summary>
public sealed record RegistryLogin(string File, string Key, RegistryCredential? Credential, string? Helper);

/// <summary>
/// One containers-auth.json / docker config.json file: `{"auths": {KEY: {"auth": base64(user:password)}}}`
/// (or "username" and "password", and docker's "identitytoken"), plus docker's "credsStore" and
/// "credHelpers"; or docker's legacy ~/.dockercfg, the same KEY map without the "auths" wrapper
/// (told apart by its file name, as docker tells it by its place). A KEY is a host,
/// host:port, host/namespace (containers-auth.json scopes a login to a repository prefix) or a URL
/// as docker writes it for Docker Hub (https://index.docker.io/v1/).
/// </summary>
public sealed class RegistryAuthFile
{
    private readonly Dictionary<string, (string Key, RegistryCredential? Credential)> _auths;
    private readonly Dictionary<string, (string Key, string Helper)> _helpers;
    private readonly string? _credsStore;

    private RegistryAuthFile(string path, Dictionary<string, (string, RegistryCredential?)> auths, Dictionary<string, (string, string)> helpers, string? credsStore)
    {
        Path = path;
        _auths = auths;
        _helpers = helpers;
        _credsStore = credsStore;
    }

    public string Path { get; }

    public static RegistryAuthFile Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EdgeImageException($"registry auth file {path}: cannot be read ({e.Message})",
                "Check the path given by --registry-auth or $REGISTRY_AUTH_FILE.", e is FileNotFoundException or DirectoryNotFoundException ? ExitCodes.NotFound : ExitCodes.Usage);
        }
        return Parse(path, bytes);
    }

    /// <summary>The name of docker's pre-1.7 auth file in the home directory.</summary>
    public const string LegacyDockerFileName = ".dockercfg";

    public static RegistryAuthFile Parse(string path, byte[] json)
    {
        var legacy = System.IO.Path.GetFileName(path) == LegacyDockerFileName;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            // The position only: the exception's own message quotes the character it stopped at,
            // which may be part of a password.
            throw Malformed(path, $"{path}:{e.LineNumber + 1}:{e.BytePositionInLine + 1}: not valid JSON");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Malformed(path, $"{path}: is not a JSON object");
            }
            var auths = new Dictionary<string, (string, RegistryCredential?)>(StringComparer.Ordinal);
            // The legacy file is the "auths" map itself, with no helpers.
            JsonElement? map = legacy ? root : root.TryGetProperty("auths", out var entries) ? entries : null;
            if (map is { } keys)
            {
                foreach (var entry in Members(keys, path, "auths"))
                {
                    auths[Normalize(entry.Name)] = (entry.Name, Credential(entry, path, legacy ? $"\"{entry.Name}\"" : $"auths.\"{entry.Name}\""));
                }
            }
            var helpers = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
            if (!legacy && root.TryGetProperty("credHelpers", out var named))
            {
                foreach (var entry in Members(named, path, "credHelpers"))
                {
                    helpers[Normalize(entry.Name)] = (entry.Name, Text(entry.Value, path, $"credHelpers.\"{entry.Name}\""));
                }
            }
            var store = !legacy && root.TryGetProperty("credsStore", out var s) ? Text(s, path, "credsStore") : null;
            return new RegistryAuthFile(path, auths, helpers, store is { Length: > 0 } ? store : null);
        }
    }

    /// <summary>
    /// The login this file holds for an image's registry, the longest matching key first (a
    /// repository-scoped key beats the bare host); a helper named for the registry wins over an
    /// inline entry, as it does for docker. Null when the file says nothing about the registry.
    /// </summary>
    public RegistryLogin? Find(ImageReference image)
    {
        var name = $"{image.Registry}/{image.Repository}";
        static bool Matches(string key, string name) => name == key || name.StartsWith(key + "/", StringComparison.Ordinal);
        var helper = _helpers.Where(h => Matches(h.Key, name)).OrderByDescending(h => h.Key.Length).Select(h => h.Value).FirstOrDefault();
        if (helper.Helper is not null)
        {
            return new RegistryLogin(Path, helper.Key, null, helper.Helper);
        }
        var auth = _auths.Where(a => Matches(a.Key, name) && a.Value.Credential is not null)
            .OrderByDescending(a => a.Key.Length).Select(a => a.Value).FirstOrDefault();
        if (auth.Credential is not null)
        {
            return new RegistryLogin(Path, auth.Key, auth.Credential, null);
        }
        return _credsStore is null ? null : new RegistryLogin(Path, "credsStore", null, _credsStore);
    }

    /// <summary>
    /// A key as the registry part of image references spells it: a URL loses its scheme and path
    /// (docker writes https://index.docker.io/v1/), and Docker Hub's hosts become docker.io.
    /// </summary>
    internal static string Normalize(string key)
    {
        var text = key.Trim();
        foreach (var scheme in (string[])["https://", "http://"])
        {
            if (text.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            {
                text = text[scheme.Length..].Split('/')[0];
            }
        }
        text = text.TrimEnd('/');
        var slash = text.IndexOf('/');
        var host = (slash < 0 ? text : text[..slash]).ToLowerInvariant();
        if (host is "index.docker.io" or "registry-1.docker.io" or "registry.hub.docker.com")
        {
            host = ImageReference.DockerHub;
        }
        return slash < 0 ? host : host + text[slash..];
    }

    private static RegistryCredential? Credential(JsonProperty entry, string path, string where)
    {
        if (entry.Value.ValueKind != JsonValueKind.Object)
        {
            throw Malformed(path, $"{path}: {where} is not an object");
        }
        string? Field(string name) => entry.Value.TryGetProperty(name, out var value) ? Text(value, path, $"{where}.{name}") : null;
        var (auth, username, password) = (Field("auth"), Field("username"), Field("password"));
        var identityToken = Field("identitytoken") is { Length: > 0 } token ? token : null;
        if (auth is { Length: > 0 })
        {
            string decoded;
            try
            {
                decoded = new UTF8Encoding(false, true).GetString(Convert.FromBase64String(auth));
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                throw Malformed(path, $"{path}: {where}.auth is not base64 of USER:PASSWORD");
            }
            var colon = decoded.IndexOf(':');
            if (colon <= 0)
            {
                throw Malformed(path, $"{path}: {where}.auth does not decode to USER:PASSWORD");
            }
            return new RegistryCredential(decoded[..colon], decoded[(colon + 1)..], identityToken);
        }
        // An empty entry is what docker writes next to a credsStore: the login lives in the helper.
        return username is { Length: > 0 } || identityToken is not null ? new RegistryCredential(username ?? "", password ?? "", identityToken) : null;
    }

    private static IEnumerable<JsonProperty> Members(JsonElement element, string path, string where) =>
        element.ValueKind == JsonValueKind.Object ? element.EnumerateObject().ToList() : throw Malformed(path, $"{path}: {where} is not an object");

    private static string Text(JsonElement element, string path, string where) =>
        element.ValueKind == JsonValueKind.String ? element.GetString()! : throw Malformed(path, $"{path}: {where} is not a string");

    private static EdgeImageException Malformed(string path, string message) =>
        new(message, $"Fix {path}, or log in again to rewrite it: `skopeo login --authfile {path} REGISTRY`.", ExitCodes.Usage);
}
