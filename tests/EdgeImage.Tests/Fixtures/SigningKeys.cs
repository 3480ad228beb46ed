namespace EdgeImage.Tests.Fixtures;

/// <summary>Keys made once per test class: gpg key generation is the slowest part of building a repository.</summary>
public sealed class SigningKeys : IDisposable
{
    public SigningKeys()
    {
        Archive = Gpg.NewKey("rsa2048");
        Stranger = Gpg.NewKey();
        Keyring = Gpg.ExportKeyring(Path.Combine(Gpg.Home, "archive.gpg"), armor: false, Archive);
    }

    public TestGnupg Gpg { get; } = new();

    /// <summary>The archive's key; <see cref="Keyring"/> holds only this one.</summary>
    public TestKey Archive { get; }

    /// <summary>A key the keyring does not know.</summary>
    public TestKey Stranger { get; }

    public string Keyring { get; }

    public void Dispose() => Gpg.Dispose();
}
