using System.Text.Json;
using EdgeImage.Profiles;

namespace EdgeImage.Tests.Profiles;

/// <summary>Keeps profiles/profile.schema.json and the loader's key table from drifting apart.</summary>
public class ProfileSchemaTests
{
    private static readonly JsonElement Schema = JsonDocument.Parse(File.ReadAllText(Path.Combine(Checkout.Profiles, "profile.schema.json"))).RootElement;

    [Fact]
    public void Schema_is_draft_2020_12_and_closed_at_every_level()
    {
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", Schema.GetProperty("$schema").GetString());
        foreach (var (path, node) in Objects(Schema, ""))
        {
            Assert.True(node.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind == JsonValueKind.False, $"{path} must set additionalProperties: false");
        }
    }

    [Fact]
    public void Every_key_the_loader_accepts_is_in_the_schema_and_vice_versa()
    {
        var schemaKeys = Properties(Schema, "").Select(p => p.Path).ToList();

        Assert.Equal(ProfileFormat.KeyPaths().Order(StringComparer.Ordinal), schemaKeys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Schema_types_enums_and_required_keys_match_the_loader()
    {
        var byPath = Properties(Schema, "").ToDictionary(p => p.Path, p => p.Node);
        foreach (var (path, field) in Fields(ProfileFormat.Fields, ""))
        {
            var node = byPath[path];
            var expected = field.Kind switch
            {
                FieldKind.Text => "string",
                FieldKind.Flag => "boolean",
                FieldKind.Mebibytes => "integer",
                FieldKind.TextList => "array",
                FieldKind.TextMap or FieldKind.Section => "object",
                FieldKind.Arguments => "array|string",
                _ => throw new InvalidOperationException(),
            };
            var type = node.GetProperty("type");
            var actual = type.ValueKind == JsonValueKind.Array ? string.Join("|", type.EnumerateArray().Select(t => t.GetString())) : type.GetString();
            Assert.True(expected == actual, $"{path}: schema type {actual}, loader {expected}");
            Assert.True(node.TryGetProperty("description", out _), $"{path} has no description in the schema");
            if (field.Allowed is { } allowed)
            {
                Assert.Equal(allowed, node.GetProperty("enum").EnumerateArray().Select(v => v.GetString()!));
            }
        }
        var required = Schema.GetProperty("required").EnumerateArray().Select(v => v.GetString()!);
        Assert.Equal(ProfileFormat.Fields.Where(f => f.Requirement == Requirement.EveryFile).Select(f => f.Key), required);
    }

    private static IEnumerable<(string Path, Field Field)> Fields(IReadOnlyList<Field> fields, string prefix) =>
        fields.SelectMany(f => Fields(f.Children, prefix + f.Key + ".").Prepend((prefix + f.Key, f)));

    private static IEnumerable<(string Path, JsonElement Node)> Properties(JsonElement node, string prefix)
    {
        if (!node.TryGetProperty("properties", out var properties))
        {
            yield break;
        }
        foreach (var property in properties.EnumerateObject())
        {
            yield return (prefix + property.Name, property.Value);
            foreach (var child in Properties(property.Value, prefix + property.Name + "."))
            {
                yield return child;
            }
        }
    }

    private static IEnumerable<(string Path, JsonElement Node)> Objects(JsonElement node, string path) =>
        node.TryGetProperty("properties", out _)
            ? Properties(node, path == "" ? "" : path + ".").SelectMany(p => Objects(p.Node, p.Path)).Prepend((path == "" ? "(root)" : path, node))
            : [];
}
