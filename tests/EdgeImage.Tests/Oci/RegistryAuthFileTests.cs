using System.Text;
using EdgeImage.Oci;

namespace EdgeImage.Tests.Oci;

/// <summary>Auth files as podman/skopeo (containers-auth.json) and docker (config.json) write them, and the order they are looked up in.</summary>
public sealed class RegistryAuthFileTests : IDisposable
{
    private const string Digest = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private const string Password = "pa:ss-w0rd-SECRET";
    private const string IdentityToken = "eyJhbGciOi.identity-SECRET";

    private readonly string _dir = Directory.CreateTempSubdirectory("eig-regauth-").FullName;

    [Fact]
    public void Inline_auth_decodes_to_user_and_password_split_at_the_first_colon()
    {
        var file = Parse($$"""{"auths": {"registry.example:5000": {"auth": "{{Base64($"fleet:{Password}")}}"} } }""");

        var login = file.Find(Image("registry.example:5000/team/app"));

        Assert.Equal(new RegistryCredential("fleet", Password), login!.Credential);
        Assert.Equal("registry.example:5000", login.Key);
        Assert.Null(file.Find(Image("registry.example/team/app")));
        Assert.Null(file.Find(Image("registry.example:5001/team/app")));
    }

    [Fact]
    public void Separate_username_and_password_fields_are_accepted()
    {
        var file = Parse($$"""{"auths": {"registry.example": {"username": "fleet", "password": "{{Password}}"} } }""");

        Assert.Equal(new RegistryCredential("fleet", Password), file.Find(Image("registry.example/app"))!.Credential);
    }

    [Fact]
    public void Identity_token_is_read_with_the_placeholder_login_docker_writes_next_to_it()
    {
        var file = Parse($$"""
            {"auths": {"fleet.azurecr.io": {"auth": "{{Base64("00000000-0000-0000-0000-000000000000:")}}", "identitytoken": "{{IdentityToken}}"} } }
            """);

        var credential = file.Find(Image("fleet.azurecr.io/app"))!.Credential!;

        Assert.Equal(new RegistryCredential("00000000-0000-0000-0000-000000000000", "", IdentityToken), credential);
        Assert.True(credential.TokenOnly);
    }

    [Fact]
    public void Identity_token_without_auth_is_a_login_and_with_a_password_is_not_token_only()
    {
        var file = Parse($$"""
            {"auths": {
              "token.example": {"identitytoken": "{{IdentityToken}}"},
              "both.example": {"auth": "{{Base64($"fleet:{Password}")}}", "identitytoken": "{{IdentityToken}}"},
              "empty.example": {"identitytoken": ""}
            } }
            """);

        var tokenOnly = file.Find(Image("token.example/app"))!.Credential!;
        var both = file.Find(Image("both.example/app"))!.Credential!;

        Assert.Equal(new RegistryCredential("", "", IdentityToken), tokenOnly);
        Assert.True(tokenOnly.TokenOnly);
        Assert.Equal(new RegistryCredential("fleet", Password, IdentityToken), both);
        Assert.False(both.TokenOnly);
        Assert.Null(file.Find(Image("empty.example/app")));
    }

    [Theory]
    [InlineData("https://index.docker.io/v1/", "nginx")]
    [InlineData("index.docker.io", "bitnami/nginx")]
    [InlineData("docker.io", "nginx")]
    [InlineData("https://registry.example:5000", "registry.example:5000/app")]
    [InlineData("http://registry.example/v2/", "registry.example/app")]
    public void Keys_may_be_urls_as_docker_writes_them_and_docker_hub_hosts_map_to_docker_io(string key, string image)
    {
        var file = Parse($$"""{"auths": {"{{key}}": {"auth": "{{Base64("fleet:pw")}}"} } }""");

        Assert.Equal("fleet", file.Find(Image(image))?.Credential?.Username);
    }

    [Fact]
    public void Repository_scoped_key_beats_the_bare_host_and_does_not_match_other_repositories()
    {
        var file = Parse($$"""
            {"auths": {
              "registry.example": {"auth": "{{Base64("host-wide:pw")}}"},
              "registry.example/team": {"auth": "{{Base64("team:pw")}}"}
            } }
            """);

        Assert.Equal("team", file.Find(Image("registry.example/team/app"))!.Credential!.Username);
        Assert.Equal("host-wide", file.Find(Image("registry.example/teammate/app"))!.Credential!.Username);
    }

    [Fact]
    public void Credential_helper_named_for_the_registry_is_reported_and_wins_over_an_inline_entry()
    {
        var file = Parse($$"""
            {"auths": {"registry.example": {"auth": "{{Base64("fleet:pw")}}"}, "other.example": {} },
             "credHelpers": {"registry.example": "ecr-login"}, "credsStore": "desktop"}
            """);

        var helper = file.Find(Image("registry.example/app"))!;
        var store = file.Find(Image("other.example/app"))!;

        Assert.Equal((null, "ecr-login", "registry.example"), (helper.Credential, helper.Helper, helper.Key));
        Assert.Equal((null, "desktop"), (store.Credential, store.Helper));
    }

    [Fact]
    public void Credential_text_form_hides_the_password()
    {
        var credential = new RegistryCredential("fleet", Password);

        Assert.DoesNotContain(Password, credential.ToString());
        Assert.Contains("fleet", credential.ToString());
        Assert.Equal(Base64($"fleet:{Password}"), credential.Basic);
    }

    [Fact]
    public void Credential_text_form_hides_the_identity_token()
    {
        var text = new RegistryCredential("00000000-0000-0000-0000-000000000000", "", IdentityToken).ToString();

        Assert.DoesNotContain("SECRET", text);
        Assert.Equal("00000000-0000-0000-0000-000000000000:(password and identity token hidden)", text);
    }

    [Theory]
    [InlineData("{\"auths\": {\"r.example\": {\"auth\": \"" + Password + "\"}", 1, 54)]
    [InlineData("{\n  \"auths\": {\n    \"r.example\": {\"auth\": x" + Password + "}\n  }\n}", 3, 27)]
    public void Malformed_json_is_an_error_naming_the_file_line_and_position_without_the_text(string json, int line, int column)
    {
        var path = Write("config.json", json);

        var error = Assert.Throws<EdgeImageException>(() => RegistryAuthFile.Load(path));

        Assert.StartsWith($"{path}:{line}:{column}: not valid JSON", error.Message);
        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.DoesNotContain("SECRET", error.Message + error.Hint);
    }

    [Theory]
    [InlineData("""{"auths": []}""", "auths is not an object")]
    [InlineData("""{"auths": {"r.example": {"auth": 5}}}""", "auths.\"r.example\".auth is not a string")]
    [InlineData("""{"auths": {"r.example": {"auth": "not base64 SECRET"}}}""", "auths.\"r.example\".auth is not base64 of USER:PASSWORD")]
    [InlineData("""{"auths": {"r.example": {"auth": "U0VDUkVU"}}}""", "auths.\"r.example\".auth does not decode to USER:PASSWORD")]
    [InlineData("""{"credHelpers": {"r.example": true}}""", "credHelpers.\"r.example\" is not a string")]
    [InlineData("""{"auths": {"r.example": {"identitytoken": ["SECRET"]}}}""", "auths.\"r.example\".identitytoken is not a string")]
    [InlineData("""["SECRET"]""", "is not a JSON object")]
    public void Wrong_shapes_are_errors_naming_the_file_and_the_entry_without_its_value(string json, string problem)
    {
        var path = Write("auth.json", json);

        var error = Assert.Throws<EdgeImageException>(() => RegistryAuthFile.Load(path));

        Assert.Equal($"{path}: {problem}", error.Message);
        Assert.DoesNotContain("SECRET", error.Message + error.Hint);
    }

    [Fact]
    public void Named_file_that_does_not_exist_is_an_error_at_once()
    {
        var missing = Path.Combine(_dir, "missing.json");

        var error = Assert.Throws<EdgeImageException>(() => RegistryAuth.Locate(missing, Environment(new())));

        Assert.Contains(missing, error.Message);
        Assert.Equal(ExitCodes.NotFound, error.ExitCode);
    }

    [Fact]
    public void Option_beats_REGISTRY_AUTH_FILE_which_beats_and_replaces_the_default_files()
    {
        var option = Login("option.json", "from-option");
        var env = Login("env.json", "from-env");
        var runtime = Login("run/containers/auth.json", "from-runtime");
        var variables = new Dictionary<string, string> { ["REGISTRY_AUTH_FILE"] = env, ["XDG_RUNTIME_DIR"] = Path.Combine(_dir, "run") };

        Assert.Equal("from-option", User(RegistryAuth.Locate(option, Environment(variables))));
        Assert.Equal("from-env", User(RegistryAuth.Locate(null, Environment(variables))));
        Assert.Equal([env], RegistryAuth.Locate(null, Environment(variables)).Paths);
        variables.Remove("REGISTRY_AUTH_FILE");
        Assert.Equal("from-runtime", User(RegistryAuth.Locate(null, Environment(variables))));
        Assert.Equal([runtime], RegistryAuth.Locate(null, Environment(variables)).Paths);
    }

    [Fact]
    public void Default_files_are_runtime_auth_json_then_docker_config_from_DOCKER_CONFIG_or_home()
    {
        var home = Login("home/.docker/config.json", "from-home");
        var dockerConfig = Login("dockercfg/config.json", "from-docker-config");
        var runtime = Write("run/containers/auth.json", """{"auths": {"elsewhere.example": {"auth": "ZTpl"}}}""");
        var variables = new Dictionary<string, string> { ["HOME"] = Path.Combine(_dir, "home"), ["XDG_RUNTIME_DIR"] = Path.Combine(_dir, "run") };

        var fromHome = RegistryAuth.Locate(null, Environment(variables));
        variables["DOCKER_CONFIG"] = Path.Combine(_dir, "dockercfg");
        var fromDockerConfig = RegistryAuth.Locate(null, Environment(variables));

        Assert.Equal([runtime, home], fromHome.Paths);
        Assert.Equal("from-home", User(fromHome));
        Assert.Equal("from-docker-config", User(fromDockerConfig));
        Assert.Equal(dockerConfig, fromDockerConfig.Paths[^1]);
    }

    [Fact]
    public void Legacy_dockercfg_in_home_is_read_only_when_docker_has_no_config_json()
    {
        var legacy = Write("home/.dockercfg", $$"""
            {"https://registry.example": {"auth": "{{Base64("from-dockercfg:pw")}}", "email": "fleet@example.org"},
             "https://index.docker.io/v1/": {"auth": "{{Base64("hub-user:pw")}}", "email": ""} }
            """);
        var runtime = Write("run/containers/auth.json", """{"auths": {}}""");
        var variables = new Dictionary<string, string> { ["HOME"] = Path.Combine(_dir, "home"), ["XDG_RUNTIME_DIR"] = Path.Combine(_dir, "run") };

        var withoutConfig = RegistryAuth.Locate(null, Environment(variables));
        variables["DOCKER_CONFIG"] = Path.Combine(_dir, "empty-docker-dir");
        var withEmptyDockerConfig = RegistryAuth.Locate(null, Environment(variables));
        var dockerConfig = Login("empty-docker-dir/config.json", "from-docker-config");
        var withDockerConfig = RegistryAuth.Locate(null, Environment(variables));
        variables.Remove("DOCKER_CONFIG");
        var home = Login("home/.docker/config.json", "from-home");
        var withHomeConfig = RegistryAuth.Locate(null, Environment(variables));

        Assert.Equal([runtime, legacy], withoutConfig.Paths);
        Assert.Equal("from-dockercfg", User(withoutConfig));
        Assert.Equal("hub-user", withoutConfig.Find(Image("nginx"))!.Credential!.Username);
        Assert.Equal([runtime, legacy], withEmptyDockerConfig.Paths);
        Assert.Equal([runtime, dockerConfig], withDockerConfig.Paths);
        Assert.Equal([runtime, home], withHomeConfig.Paths);
        Assert.Equal("from-home", User(withHomeConfig));
    }

    [Theory]
    [InlineData("{\n  \"https://index.docker.io/v1/\": {\"auth\": SECRET}\n}", "2:43: not valid JSON")]
    [InlineData("""{"r.example": "SECRET"}""", " \"r.example\" is not an object")]
    public void Malformed_legacy_dockercfg_is_an_error_naming_the_file_and_the_place(string json, string problem)
    {
        var path = Write("home/.dockercfg", json);

        var logins = RegistryAuth.Locate(null, Environment(new() { ["HOME"] = Path.Combine(_dir, "home") }));

        var error = Assert.Throws<EdgeImageException>(() => logins.Find(Image("registry.example/app")));
        Assert.StartsWith($"{path}:{problem}", error.Message);
        Assert.Contains($"skopeo login --authfile {path}", error.Hint);
        Assert.DoesNotContain("SECRET", error.Message + error.Hint);
    }

    [Fact]
    public void Malformed_default_file_is_read_only_when_a_registry_asks_for_a_login()
    {
        Write("home/.docker/config.json", "{ not json");

        var logins = RegistryAuth.Locate(null, Environment(new() { ["HOME"] = Path.Combine(_dir, "home") }));

        var error = Assert.Throws<EdgeImageException>(() => logins.Find(Image("registry.example/app")));
        Assert.Contains(Path.Combine(_dir, "home", ".docker", "config.json") + ":1:3", error.Message);
    }

    [Fact]
    public void Inline_login_in_a_later_file_beats_a_helper_named_by_an_earlier_one()
    {
        Write("run/containers/auth.json", """{"credsStore": "secretservice"}""");
        Login("home/.docker/config.json", "inline");

        var logins = RegistryAuth.Locate(null, Environment(new() { ["HOME"] = Path.Combine(_dir, "home"), ["XDG_RUNTIME_DIR"] = Path.Combine(_dir, "run") }));

        Assert.Equal("inline", User(logins));
        Assert.Equal("secretservice", logins.Find(Image("other.example/app"))!.Helper);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ImageReference Image(string name) => ImageReference.Parse(name + Digest);

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static Func<string, string?> Environment(Dictionary<string, string> variables) => name => variables.GetValueOrDefault(name);

    private static string? User(RegistryAuth auth) => auth.Find(Image("registry.example/app"))?.Credential?.Username;

    private RegistryAuthFile Parse(string json) => RegistryAuthFile.Load(Write("auth.json", json));

    private string Login(string relative, string user) =>
        Write(relative, $$"""{"auths": {"registry.example": {"auth": "{{Base64($"{user}:pw")}}"} } }""");

    private string Write(string relative, string text)
    {
        var path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }
}
