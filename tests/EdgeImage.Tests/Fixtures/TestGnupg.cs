namespace EdgeImage.Tests.Fixtures;

/// <summary>An OpenPGP key made by GnuPG for tests; <see cref="SigningSubkey"/> is set when a subkey signs.</summary>
public sealed record TestKey(string Fingerprint, string UserId, string? SigningSubkey = null)
{
    /// <summary>What to pass to gpg -u: the subkey when there is one ('!' forces exactly that key).</summary>
    public string SignWith => SigningSubkey is null ? Fingerprint + "!" : SigningSubkey + "!";
}

/// <summary>
/// A throw-away GnuPG home. Signatures come from gpg itself rather than from the library under test,
/// so a test that verifies them proves interoperability with the signer Debian uses.
/// </summary>
public sealed class TestGnupg : IDisposable
{
    private int _keys;

    public TestGnupg()
    {
        // Short path: gpg-agent's socket lives in the home and Unix socket paths are limited to 108 bytes.
        Home = Directory.CreateTempSubdirectory("eig-gpg-").FullName;
    }

    public string Home { get; }

    /// <param name="algorithm">gpg --quick-gen-key algorithm: ed25519, rsa2048, ...</param>
    /// <param name="expires">"never" or a gpg expiry such as "1d".</param>
    /// <param name="withSigningSubkey">Make the primary key certify-only and sign with a subkey, as some archives do.</param>
    public TestKey NewKey(string algorithm = "ed25519", string expires = "never", bool withSigningSubkey = false)
    {
        var uid = $"EdgeImage test key {Interlocked.Increment(ref _keys)} <key{_keys}@edgeimage.invalid>";
        Gpg("--quick-gen-key", uid, algorithm, withSigningSubkey ? "cert" : "sign", expires);
        var fingerprints = Fingerprints(uid);
        if (!withSigningSubkey)
        {
            return new TestKey(fingerprints[0], uid);
        }
        Gpg("--quick-add-key", fingerprints[0], algorithm, "sign", expires);
        return new TestKey(fingerprints[0], uid, Fingerprints(uid)[^1]);
    }

    /// <summary>Writes the public keys as a binary keyring (like debian-archive-keyring.gpg) or armored (.asc).</summary>
    public string ExportKeyring(string path, bool armor, params TestKey[] keys)
    {
        Gpg([.. armor ? new[] { "--armor" } : [], "--output", path, "--export", .. keys.Select(k => k.Fingerprint)]);
        return path;
    }

    public void ClearSign(string input, string output, params TestKey[] signers) =>
        Gpg([.. Signers(signers), "--digest-algo", "SHA512", "--output", output, "--clearsign", input]);

    public void DetachSign(string input, string output, params TestKey[] signers) =>
        Gpg([.. Signers(signers), "--digest-algo", "SHA512", "--armor", "--output", output, "--detach-sign", input]);

    public void Dispose()
    {
        Run("gpgconf", ["--kill", "all"], allowFailure: true);
        Directory.Delete(Home, recursive: true);
    }

    private static IEnumerable<string> Signers(TestKey[] signers) => signers.SelectMany(k => new[] { "--local-user", k.SignWith });

    private List<string> Fingerprints(string uid) =>
        Gpg("--with-colons", "--list-keys", uid)
            .Split('\n')
            .Where(l => l.StartsWith("fpr:", StringComparison.Ordinal))
            .Select(l => l.Split(':')[9])
            .ToList();

    private string Gpg(params string[] args) =>
        TestTool.Run("gpg", ["--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", "", .. args],
            new Dictionary<string, string> { ["GNUPGHOME"] = Home });

    private void Run(string tool, IEnumerable<string> args, bool allowFailure = false) =>
        TestTool.Run(tool, args, new Dictionary<string, string> { ["GNUPGHOME"] = Home }, allowFailure);
}
