using System.Globalization;

namespace EdgeImage.Profiles;

/// <summary>
/// Decodes profile YAML strictly: an unknown key, a wrong type, a bad value or a missing required
/// key is an error at file:line:col, and every error of the files involved is reported at once.
///
/// `extends: NAME` loads NAME.yaml (or a relative path, ".yaml" optional) from the extending
/// file's directory first and lays the extending file over it: scalars and lists set by the
/// extending file replace the base's value whole (a list is never appended to), and the sections
/// kernel, partitions and k0s are merged key by key. name, description and extends are never
/// inherited.
/// </summary>
public static class ProfileLoader
{
    public const string SchemaFile = "profiles/profile.schema.json";

    /// <summary>Loads the profile at <paramref name="path"/> with all of its bases.</summary>
    public static Profile Load(string path)
    {
        var errors = new List<(SourceMark Where, string Message)>();
        var unknownKeyLevels = new SortedSet<string>(StringComparer.Ordinal);
        var layers = new List<Layer>();
        var seen = new List<string>();
        var file = Path.GetFullPath(path);
        SourceMark? extendedFrom = null;

        while (true)
        {
            if (seen.Contains(file, StringComparer.Ordinal))
            {
                var cycle = string.Join(" -> ", seen.Append(file).Select(DisplayPath));
                errors.Add((extendedFrom!, $"extends cycle: {cycle}"));
                break;
            }
            if (!File.Exists(file))
            {
                if (extendedFrom is null)
                {
                    throw new EdgeImageException(
                        $"profile file {DisplayPath(file)} does not exist",
                        "Run `edgeimage profiles list` to see the available profiles.",
                        ExitCodes.NotFound);
                }
                errors.Add((extendedFrom, $"base profile {DisplayPath(file)} does not exist"));
                break;
            }
            seen.Add(file);
            var layer = Decode(file, errors, unknownKeyLevels);
            if (layer is null)
            {
                break;
            }
            layers.Add(layer);
            if (!layer.Settings.TryGetValue("extends", out var extends) || extends.Value is not string baseName)
            {
                break;
            }
            file = ResolveBase(Path.GetDirectoryName(file)!, baseName);
            extendedFrom = extends.Where;
        }

        var leafPath = DisplayPath(Path.GetFullPath(path));
        Dictionary<string, Setting> merged = [];
        if (layers.Count > 0)
        {
            merged = layers.Skip(1).Aggregate(new Dictionary<string, Setting>(), (acc, layer) => Merge(Inheritable(layer.Settings), acc));
            merged = Merge(merged, layers[0].Settings);
            // A key written with a bad value has been reported already; "missing" would only add noise.
            var written = layers.SelectMany(l => l.Written).ToHashSet(StringComparer.Ordinal);
            foreach (var field in ProfileFormat.Fields.Where(f => f.Requirement == Requirement.Effective && !written.Contains(f.Key)))
            {
                var where = layers.Count > 1 ? " (neither here nor in its bases)" : "";
                errors.Add((layers[0].Root, $"missing required key '{field.Key}'{where}"));
            }
            if (merged.TryGetValue("k0s", out var k0s) && k0s.Value is Dictionary<string, Setting> k0sSection
                && !k0sSection.ContainsKey("version") && !layers.Any(l => l.WrittenK0sVersion))
            {
                errors.Add((k0s.Where, "the k0s section has no 'version' (neither here nor in a base); k0s needs a release like v1.34.1+k0s.0"));
            }
        }

        if (errors.Count > 0)
        {
            throw Failure(leafPath, errors, unknownKeyLevels);
        }
        return Build(merged, leafPath, seen.Select(DisplayPath).ToList());
    }

    /// <summary>The file an `extends:` value names, relative to the directory of the file that says it.</summary>
    public static string ResolveBase(string directory, string extends)
    {
        var relative = Path.HasExtension(extends) ? extends : extends + ".yaml";
        return Path.GetFullPath(Path.Combine(directory, relative));
    }

    /// <summary>Paths relative to the working directory when below it, so messages read like profiles/x.yaml:12.</summary>
    public static string DisplayPath(string fullPath)
    {
        var relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), fullPath);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? fullPath : relative;
    }

    /// <param name="Written">Top-level keys the file writes, valid or not.</param>
    /// <param name="WrittenK0sVersion">The file writes k0s.version, valid or not (an invalid one is reported already).</param>
    private sealed record Layer(SourceMark Root, Dictionary<string, Setting> Settings, IReadOnlySet<string> Written, bool WrittenK0sVersion);

    /// <summary>
    /// A decoded value and where it was written. Value is string, bool, int, a list of strings, a
    /// string map, or for a section a Dictionary of its own settings.
    /// </summary>
    private sealed record Setting(object Value, SourceMark Where);

    private static Layer? Decode(string fullPath, List<(SourceMark, string)> errors, SortedSet<string> unknownKeyLevels)
    {
        var file = DisplayPath(fullPath);
        YamlNode? root;
        try
        {
            using var reader = File.OpenText(fullPath);
            root = YamlNodes.Read(file, reader);
        }
        catch (ProfileSyntaxError e)
        {
            errors.Add((e.Where, $"YAML syntax: {e.Message}"));
            return null;
        }
        var start = new SourceMark(file, 1, 1);
        if (root is not YamlMapping mapping)
        {
            errors.Add((root?.Start ?? start, "a profile is a mapping of keys (name:, arch:, ...), " + (root is null ? "but the file is empty" : $"not {Describe(root)}")));
            return null;
        }
        var settings = DecodeMapping(mapping, ProfileFormat.Fields, "", errors, unknownKeyLevels);
        if (!settings.TryGetValue("name", out var name) && !mapping.Entries.Any(e => e.Key is YamlScalar { Value: "name" }))
        {
            errors.Add((mapping.Start, "missing required key 'name'"));
        }
        else if (name?.Value is string text && text != Path.GetFileNameWithoutExtension(fullPath))
        {
            errors.Add((name.Where, $"name '{text}' differs from the file name {Path.GetFileName(fullPath)}; a profile is looked up by its file name, so they must match"));
        }
        var written = mapping.Entries.Select(e => e.Key).OfType<YamlScalar>().Select(k => k.Value).ToHashSet(StringComparer.Ordinal);
        var writesK0sVersion = mapping.Entries.Any(e => e.Key is YamlScalar { Value: "k0s" } && e.Value is YamlMapping k0s
            && k0s.Entries.Any(k => k.Key is YamlScalar { Value: "version" }));
        return new Layer(mapping.Start, settings, written, writesK0sVersion);
    }

    private static Dictionary<string, Setting> DecodeMapping(
        YamlMapping mapping, IReadOnlyList<Field> fields, string prefix, List<(SourceMark, string)> errors, SortedSet<string> unknownKeyLevels)
    {
        var settings = new Dictionary<string, Setting>(StringComparer.Ordinal);
        foreach (var (keyNode, valueNode) in mapping.Entries)
        {
            if (keyNode is not YamlScalar { Value: var key } || key.Length == 0)
            {
                errors.Add((keyNode.Start, $"keys are plain words, not {Describe(keyNode)}"));
                continue;
            }
            var field = fields.FirstOrDefault(f => f.Key == key);
            if (field is null)
            {
                errors.Add((keyNode.Start, $"unknown key '{prefix}{key}'{Suggestion(key, fields, prefix)}"));
                unknownKeyLevels.Add(prefix.TrimEnd('.'));
                continue;
            }
            if (settings.ContainsKey(key))
            {
                errors.Add((keyNode.Start, $"duplicate key '{prefix}{key}'; it is already set above"));
                continue;
            }
            var value = DecodeValue(field, valueNode, prefix + key, errors, unknownKeyLevels);
            if (value is not null)
            {
                settings[key] = new Setting(value, keyNode.Start);
            }
        }
        return settings;
    }

    private static object? DecodeValue(Field field, YamlNode node, string path, List<(SourceMark, string)> errors, SortedSet<string> unknownKeyLevels)
    {
        switch (field.Kind)
        {
            case FieldKind.Text:
                return Text(field, node, path, errors);
            case FieldKind.Flag:
                if (node is YamlScalar { IsPlain: true, Value: "true" or "True" or "TRUE" or "false" or "False" or "FALSE" } flag)
                {
                    return flag.Value.Equals("true", StringComparison.OrdinalIgnoreCase);
                }
                errors.Add((node.Start, $"'{path}' must be true or false, not {Describe(node)}"));
                return null;
            case FieldKind.Mebibytes:
                if (node is YamlScalar { IsPlain: true } number
                    && int.TryParse(number.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var mebibytes)
                    && mebibytes > 0)
                {
                    return mebibytes;
                }
                errors.Add((node.Start, $"'{path}' must be a whole number of MiB greater than 0, not {Describe(node)}"));
                return null;
            case FieldKind.TextList:
                if (node is not YamlSequence sequence)
                {
                    var example = node is YamlScalar { IsNull: false } single ? $" (write [{single.Value}])" : "";
                    errors.Add((node.Start, $"'{path}' must be a list, not {Describe(node)}{example}"));
                    return null;
                }
                var items = sequence.Items.Select(item => Text(field, item, path + " item", errors)).ToList();
                return items.Contains(null) ? null : items.Cast<string>().ToList();
            case FieldKind.Arguments:
                if (node is YamlScalar { IsNull: false } line)
                {
                    var words = line.Value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    var problems = words.Select(w => field.Check?.Invoke(w)).OfType<string>().ToList();
                    problems.ForEach(problem => errors.Add((node.Start, $"'{path}': {problem}")));
                    return problems.Count == 0 ? words.ToList() : null;
                }
                if (node is not YamlSequence arguments)
                {
                    errors.Add((node.Start, $"'{path}' must be a list of arguments or one string of them, not {Describe(node)}"));
                    return null;
                }
                var argumentItems = arguments.Items.Select(item => Text(field, item, path + " item", errors)).ToList();
                return argumentItems.Contains(null) ? null : argumentItems.Cast<string>().ToList();
            case FieldKind.TextMap:
                if (node is not YamlMapping map)
                {
                    errors.Add((node.Start, $"'{path}' must be a mapping of key: value, not {Describe(node)}"));
                    return null;
                }
                var pairs = new SortedDictionary<string, string>(StringComparer.Ordinal);
                foreach (var (key, value) in map.Entries)
                {
                    var k = Text(field, key, path + " key", errors, field.KeyCheck);
                    var v = Text(field, value, $"{path}.{k}", errors);
                    if (k is null || v is null)
                    {
                        continue;
                    }
                    if (!pairs.TryAdd(k, v))
                    {
                        errors.Add((key.Start, $"duplicate key '{path}.{k}'"));
                    }
                }
                return pairs;
            case FieldKind.Section:
                if (node is not YamlMapping section)
                {
                    var keys = string.Join(", ", field.Children.Select(c => c.Key + ":"));
                    errors.Add((node.Start, $"'{path}' must be a mapping with {keys} — not {Describe(node)}"));
                    return null;
                }
                return DecodeMapping(section, field.Children, path + ".", errors, unknownKeyLevels);
            default:
                throw new InvalidOperationException($"unhandled field kind {field.Kind}");
        }
    }

    private static string? Text(Field field, YamlNode node, string path, List<(SourceMark, string)> errors) =>
        Text(field, node, path, errors, field.Check);

    private static string? Text(Field field, YamlNode node, string path, List<(SourceMark, string)> errors, Func<string, string?>? check)
    {
        if (node is not YamlScalar scalar || scalar.IsNull)
        {
            var remedy = node is YamlScalar ? "; give it a value or remove the key" : "";
            errors.Add((node.Start, $"'{path}' must be a string, not {Describe(node)}{remedy}"));
            return null;
        }
        var value = scalar.Value;
        if (field.Allowed is { } allowed && !allowed.Contains(value, StringComparer.Ordinal))
        {
            var meant = field.Aliases.TryGetValue(value, out var alias) ? $" (for {value} write '{alias}')" : Suggestion(value, allowed);
            errors.Add((node.Start, $"'{path}' must be one of {string.Join(", ", allowed)}, not '{value}'{meant}"));
            return null;
        }
        if (check?.Invoke(value) is { } problem)
        {
            errors.Add((node.Start, $"'{path}': {problem}"));
            return null;
        }
        if (field.ResolvesPath && !ProfileFormat.IsUrl(value))
        {
            return Path.GetFullPath(value, Path.GetDirectoryName(Path.GetFullPath(node.Start.File))!);
        }
        return value;
    }

    private static Dictionary<string, Setting> Inheritable(Dictionary<string, Setting> settings) =>
        settings.Where(s => s.Key is not ("name" or "description" or "extends")).ToDictionary(StringComparer.Ordinal);

    /// <summary>Lays <paramref name="over"/> on <paramref name="under"/>: sections merge key by key, everything else is replaced.</summary>
    private static Dictionary<string, Setting> Merge(Dictionary<string, Setting> under, Dictionary<string, Setting> over)
    {
        var result = new Dictionary<string, Setting>(under, StringComparer.Ordinal);
        foreach (var (key, setting) in over)
        {
            result[key] = setting.Value is Dictionary<string, Setting> section
                && result.TryGetValue(key, out var below) && below.Value is Dictionary<string, Setting> belowSection
                ? setting with { Value = Merge(belowSection, section) }
                : setting;
        }
        return result;
    }

    private static Profile Build(Dictionary<string, Setting> settings, string leafPath, IReadOnlyList<string> chain)
    {
        T? Get<T>(Dictionary<string, Setting> from, string key) => from.TryGetValue(key, out var s) ? (T)s.Value : default;
        Dictionary<string, Setting> Section(string key) => Get<Dictionary<string, Setting>>(settings, key) ?? [];

        var kernel = Section("kernel");
        var partitions = Section("partitions");
        var k0s = Section("k0s");
        var defaults = new PartitionSizes();
        return new Profile
        {
            Name = Get<string>(settings, "name")!,
            Description = Get<string>(settings, "description"),
            Arch = Get<string>(settings, "arch")!,
            Suite = Get<string>(settings, "suite") ?? "trixie",
            Components = Get<List<string>>(settings, "components") ?? ["main"],
            Mirror = Get<string>(settings, "mirror"),
            Keyring = Get<string>(settings, "keyring"),
            Packages = Get<List<string>>(settings, "packages") ?? [],
            IncludeRequired = Get<bool>(settings, "include_required"),
            Overlays = Get<List<string>>(settings, "overlays") ?? [],
            Exclude = Get<List<string>>(settings, "exclude") ?? [],
            ExcludeKeep = Get<List<string>>(settings, "exclude_keep") ?? [],
            Kernel = new KernelSpec
            {
                Package = Get<string>(kernel, "package"),
                Modules = Get<List<string>>(kernel, "modules") ?? [],
                CommandLine = Get<string>(kernel, "cmdline"),
                ExcludeModules = Get<List<string>>(kernel, "exclude_modules") ?? [],
                IncludeModules = Get<List<string>>(kernel, "include_modules") ?? [],
            },
            Board = Get<string>(settings, "board")!,
            Partitions = new PartitionSizes
            {
                Boot = partitions.ContainsKey("boot") ? Get<int>(partitions, "boot") : defaults.Boot,
                Root = partitions.ContainsKey("root") ? Get<int>(partitions, "root") : defaults.Root,
                Data = partitions.ContainsKey("data") ? Get<int>(partitions, "data") : defaults.Data,
            },
            K0s = settings.ContainsKey("k0s") ? K0sOf(k0s) : null,
            Debug = Get<bool>(settings, "debug"),
            SourcePath = leafPath,
            SourceChain = chain,
            Locations = settings.ToDictionary(s => s.Key, s => $"{s.Value.Where.File}:{s.Value.Where.Line}", StringComparer.Ordinal),
        };
    }

    private static K0sSpec K0sOf(Dictionary<string, Setting> k0s)
    {
        T? Get<T>(Dictionary<string, Setting> from, string key) => from.TryGetValue(key, out var s) ? (T)s.Value : default;
        var worker = Get<Dictionary<string, Setting>>(k0s, "worker") ?? [];
        return new K0sSpec
        {
            Version = Get<string>(k0s, "version")!,
            Source = Get<string>(k0s, "source"),
            CosignKey = Get<string>(k0s, "cosign_key"),
            AirgapBundle = Get<string>(k0s, "airgap_bundle"),
            AirgapBundleSha256 = Get<string>(k0s, "airgap_bundle_sha256"),
            Images = Get<List<string>>(k0s, "images") ?? [],
            Airgap = !k0s.ContainsKey("airgap") || Get<bool>(k0s, "airgap"),
            Worker = new K0sWorkerSpec
            {
                Labels = Get<SortedDictionary<string, string>>(worker, "labels") ?? new SortedDictionary<string, string>(StringComparer.Ordinal),
                Taints = Get<List<string>>(worker, "taints") ?? [],
                KubeletExtraArgs = Get<List<string>>(worker, "kubelet_extra_args") ?? [],
                Profile = Get<string>(worker, "profile"),
            },
        };
    }

    private static EdgeImageException Failure(string leafPath, List<(SourceMark Where, string Message)> errors, SortedSet<string> unknownKeyLevels)
    {
        var fileOrder = errors.Select(e => e.Where.File).Distinct().ToList();
        var lines = errors
            .OrderBy(e => fileOrder.IndexOf(e.Where.File))
            .ThenBy(e => e.Where.Line)
            .ThenBy(e => e.Where.Column)
            .Select(e => $"{e.Where}: {e.Message}")
            .ToList();
        var message = errors.Count == 1
            ? lines[0]
            : $"{errors.Count} errors in profile {leafPath}:\n" + string.Join("\n", lines);
        var hints = unknownKeyLevels.Select(level =>
        {
            var fields = level.Split('.', StringSplitOptions.RemoveEmptyEntries)
                .Aggregate(ProfileFormat.Fields, (children, key) => children.First(f => f.Key == key).Children);
            return $"valid keys {(level.Length == 0 ? "at the top level" : "under " + level)}: {string.Join(", ", fields.Select(f => f.Key))}";
        }).ToList();
        hints.Add($"The profile format is described in {SchemaFile}.");
        return new EdgeImageException(message, string.Join("\n", hints), ExitCodes.InvalidProfile);
    }

    private static string Describe(YamlNode node) => node switch
    {
        YamlScalar { IsNull: true } => "an empty value",
        YamlScalar scalar => $"'{scalar.Value}'",
        YamlSequence => "a list",
        _ => "a mapping",
    };

    /// <summary>" (did you mean 'packages'?)" for a near miss, or a pointer into the section that has the key.</summary>
    private static string Suggestion(string typed, IReadOnlyList<Field> fields, string prefix)
    {
        var near = Suggestion(typed, fields.Select(f => f.Key).ToList());
        if (near.Length > 0 || prefix.Length > 0)
        {
            return near;
        }
        var owner = ProfileFormat.Fields.FirstOrDefault(f => f.Children.Any(c => c.Key == typed));
        return owner is null ? "" : $" (did you mean '{owner.Key}.{typed}'? it belongs under {owner.Key}:)";
    }

    private static string Suggestion(string typed, IReadOnlyList<string> candidates)
    {
        var best = candidates
            .Select(c => (Candidate: c, Distance: EditDistance(typed.ToLowerInvariant(), c)))
            .Where(c => c.Distance <= Math.Max(1, c.Candidate.Length / 3))
            .OrderBy(c => c.Distance)
            .ThenBy(c => c.Candidate, StringComparer.Ordinal)
            .Select(c => c.Candidate)
            .FirstOrDefault();
        return best is null ? "" : $" (did you mean '{best}'?)";
    }

    /// <summary>Optimal string alignment distance: a swap of two neighbours counts as one typo.</summary>
    private static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];
    }
}
