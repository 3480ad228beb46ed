using EdgeImage.Packages;
using EdgeImage.Tests.Fixtures;

namespace EdgeImage.Tests.Packages;

public sealed class MirrorDiscoveryTests : IDisposable
{
    private readonly string _etc = Directory.CreateTempSubdirectory("eig-apt-").FullName;
    private readonly Dictionary<string, string> _environment = [];

    private MirrorDiscovery Discovery => new()
    {
        SourcesList = Path.Combine(_etc, "sources.list"),
        SourcesDirectory = Path.Combine(_etc, "sources.list.d"),
        GetEnvironmentVariable = name => _environment.GetValueOrDefault(name),
    };

    private const string HostSources = """
        Types: deb
        URIs: https://apt.example.invalid/node_22.x
        Suites: nodistro
        Components: main

        Types: deb
        # a comment inside the stanza
        URIs: http://mirror.example.invalid/debian-security
        Suites: bookworm-security
        Components: main

        Types: deb-src
        URIs: http://src.example.invalid/debian
        Suites: bookworm
        Components: main

        Types: deb
        URIs: http://mirror.example.invalid/debian/
        Suites: bookworm bookworm-updates
        Components: main
        Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
        """;

    [Fact]
    public void Explicit_mirror_wins_over_everything_else()
    {
        _environment[MirrorDiscovery.EnvironmentVariable] = "http://env.example.invalid/debian";
        WriteSources("debian.sources", HostSources);

        var source = Discovery.Find("http://cli.example.invalid/debian/", "http://profile.example.invalid/debian");

        Assert.Equal(new MirrorSource("http://cli.example.invalid/debian", "--mirror"), source);
    }

    [Fact]
    public void Environment_wins_over_profile_and_host()
    {
        _environment[MirrorDiscovery.EnvironmentVariable] = "http://env.example.invalid/debian";

        var source = Discovery.Find(null, "http://profile.example.invalid/debian");

        Assert.Equal(new MirrorSource("http://env.example.invalid/debian", "EDGEIMAGE_MIRROR"), source);
    }

    [Fact]
    public void Profile_wins_over_host_sources_and_is_reported_with_its_location()
    {
        WriteSources("debian.sources", HostSources);

        var source = Discovery.Find(null, "http://profile.example.invalid/debian", "profiles/x.yaml:4");

        Assert.Equal(new MirrorSource("http://profile.example.invalid/debian", "profile profiles/x.yaml:4"), source);
    }

    [Fact]
    public void Host_deb822_sources_yield_the_Debian_archive_and_skip_security_source_and_third_party_repos()
    {
        var file = WriteSources("debian.sources", HostSources);

        var source = Discovery.Find(null, null);

        Assert.Equal(new MirrorSource("http://mirror.example.invalid/debian", file), source);
    }

    [Fact]
    public void Host_one_line_sources_list_with_options_is_read_and_a_lookalike_without_main_is_skipped()
    {
        File.WriteAllText(Path.Combine(_etc, "sources.list"), """
            # deb http://commented.example.invalid/debian bookworm main
            deb-src http://src.example.invalid/debian bookworm main
            deb [arch=amd64] https://download.example.invalid/linux/debian bookworm stable
            deb http://cloud.example.invalid/apt cloud-sdk main
            deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://one.example.invalid/debian bookworm main
            """);

        var source = Discovery.Find(null, null);

        // Docker's repository also ends in /debian and names a Debian suite, but has no 'main' component.
        Assert.Equal("http://one.example.invalid/debian", source.Url);
    }

    [Fact]
    public void Sources_list_is_read_before_the_directory()
    {
        File.WriteAllText(Path.Combine(_etc, "sources.list"), "deb http://first.example.invalid/debian trixie main\n");
        WriteSources("debian.sources", HostSources);

        Assert.Equal("http://first.example.invalid/debian", Discovery.Find(null, null).Url);
    }

    [Fact]
    public void Disabled_stanzas_and_non_Debian_suites_are_skipped()
    {
        WriteSources("a.sources", """
            Types: deb
            URIs: http://disabled.example.invalid/debian
            Suites: trixie
            Components: main
            Enabled: no

            Types: deb
            URIs: http://ppa.example.invalid/debian
            Suites: jammy
            Components: main
            """);
        WriteSources("b.list", "deb http://second.example.invalid/debian trixie main\n");

        Assert.Equal("http://second.example.invalid/debian", Discovery.Find(null, null).Url);
    }

    [Theory]
    [InlineData("no")]
    [InlineData("false")]
    [InlineData("FALSE")]
    [InlineData("off")]
    [InlineData("Off")]
    [InlineData("0")]
    [InlineData("without")]
    [InlineData("disable")]
    public void Enabled_is_read_as_apt_reads_a_boolean_so_every_false_spelling_disables(string value)
    {
        WriteSources("a.sources", $"""
            Types: deb
            URIs: http://disabled.example.invalid/debian
            Suites: trixie
            Components: main
            Enabled: {value}
            """);
        WriteSources("b.list", "deb http://second.example.invalid/debian trixie main\n");

        Assert.Equal("http://second.example.invalid/debian", Discovery.Find(null, null).Url);
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("True")]
    [InlineData("on")]
    [InlineData("1")]
    [InlineData("with")]
    [InlineData("enable")]
    public void Enabled_with_a_true_spelling_keeps_the_stanza(string value)
    {
        WriteSources("a.sources", $"""
            Types: deb
            URIs: http://enabled.example.invalid/debian
            Suites: trixie
            Components: main
            Enabled: {value}
            """);
        WriteSources("b.list", "deb http://second.example.invalid/debian trixie main\n");

        Assert.Equal("http://enabled.example.invalid/debian", Discovery.Find(null, null).Url);
    }

    [Fact]
    public void No_mirror_anywhere_is_an_error_that_says_how_to_give_one()
    {
        WriteSources("nodesource.sources", HostSources.Split("\n\n")[0]);

        var e = Assert.Throws<EdgeImageException>(() => Discovery.Find(null, null));

        Assert.Contains("no Debian mirror found", e.Message);
        Assert.Contains("--mirror", e.Hint);
        Assert.Contains("EDGEIMAGE_MIRROR", e.Hint);
        Assert.Equal(ExitCodes.Usage, e.ExitCode);
    }

    [Fact]
    public void Resolve_logs_the_choice_and_where_it_came_from()
    {
        _environment[MirrorDiscovery.EnvironmentVariable] = "http://env.example.invalid/debian";
        var log = new RecordingBuildLog();

        Discovery.Resolve(null, null, null, log);

        Assert.Equal(["mirror: http://env.example.invalid/debian (from EDGEIMAGE_MIRROR)"], log.Infos);
    }

    [Fact]
    public void Resolve_logs_a_mirror_with_a_login_without_its_password()
    {
        WriteSources("private.list", "deb http://edge:s3cret@private.example.invalid/debian trixie main\n");
        var log = new RecordingBuildLog();

        var fromSources = Discovery.Resolve(null, null, null, log);
        Discovery.Resolve("https://edge:s3cret@cli.example.invalid/debian/", null, null, log);

        // The request needs the credentials; only what is shown loses them.
        Assert.Equal("http://edge:s3cret@private.example.invalid/debian", fromSources.Url);
        Assert.Equal([$"mirror: http://edge:***@private.example.invalid/debian (from {Path.Combine(_etc, "sources.list.d", "private.list")})",
                      "mirror: https://edge:***@cli.example.invalid/debian (from --mirror)"], log.Infos);
    }

    [Theory]
    [InlineData("http://user:pass@host/debian", "http://user:***@host/debian")]
    [InlineData("https://user:p%40ss@host:8080/debian/dists/trixie/InRelease", "https://user:***@host:8080/debian/dists/trixie/InRelease")]
    [InlineData("http://token@host/debian", "http://***@host/debian")]
    [InlineData("http://user:p@ss@host/debian", "http://user:***@host/debian")]
    [InlineData("failed: http://a:b@one/x and http://c:d@two/y", "failed: http://a:***@one/x and http://c:***@two/y")]
    [InlineData("http://host/debian/pool/a@b.deb", "http://host/debian/pool/a@b.deb")]
    [InlineData("mail me at someone@example.invalid", "mail me at someone@example.invalid")]
    [InlineData("/srv/mirror/debian", "/srv/mirror/debian")]
    public void Redacts_the_password_of_every_url_in_a_text_and_nothing_else(string text, string shown)
    {
        Assert.Equal(shown, UrlCredentials.Redact(text));
    }

    [Fact]
    public void Credentials_go_as_Basic_auth_percent_decoded()
    {
        Assert.Equal("Basic " + Convert.ToBase64String("user:p@ss"u8.ToArray()),
            UrlCredentials.BasicAuthorization(new Uri("http://user:p%40ss@host/debian/"))!.ToString());
        Assert.Null(UrlCredentials.BasicAuthorization(new Uri("http://host/debian/")));
    }

    public void Dispose() => Directory.Delete(_etc, recursive: true);

    private string WriteSources(string name, string text)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_etc, "sources.list.d")).FullName;
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, text + "\n");
        return path;
    }
}
