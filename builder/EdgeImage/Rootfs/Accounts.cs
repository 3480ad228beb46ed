using System.Globalization;
using System.Text;

namespace EdgeImage.Rootfs;

/// <summary>
/// Writes /etc/passwd, group, shadow and gshadow the way base-passwd's postinst and
/// systemd-sysusers would on first installation: base-passwd's master files first, then every
/// user and group declared in sysusers.d that does not exist yet. Dynamic ids are handed out
/// deterministically: names sorted ordinally, each taking the highest id free in the system range
/// (as systemd-sysusers searches downwards from 999), a user's own group sharing its number when free.
/// </summary>
internal static class Accounts
{
    private const int SystemIdMax = 999;
    private const int SystemIdMin = 100;
    private const string Nologin = "/usr/sbin/nologin";

    private sealed record User(string Name, int Uid, int Gid, string Gecos, string Home, string Shell);

    private sealed class Group(string name, int gid)
    {
        public string Name { get; } = name;
        public int Gid { get; } = gid;
        public List<string> Members { get; } = [];
    }

    public static (int Users, int Groups) Write(RootfsTree tree, long sourceDateEpoch, IBuildLog log)
    {
        var users = new List<User>();
        var groups = new List<Group>();
        foreach (var f in Lines(tree.ReadText("/usr/share/base-passwd/passwd.master")).Select(l => l.Split(':')).Where(f => f.Length >= 7))
        {
            users.Add(new User(f[0], Int(f[2]), Int(f[3]), f[4], f[5], f[6]));
        }
        foreach (var f in Lines(tree.ReadText("/usr/share/base-passwd/group.master")).Select(l => l.Split(':')).Where(f => f.Length >= 3))
        {
            var g = new Group(f[0], Int(f[2]));
            if (f.Length > 3)
            {
                g.Members.AddRange(f[3].Split(',', StringSplitOptions.RemoveEmptyEntries));
            }
            groups.Add(g);
        }
        ApplySysusers(tree, users, groups);
        if (users.Count == 0)
        {
            log.Warn("no base-passwd master files and no sysusers.d entries: /etc/passwd is not written");
            return (0, 0);
        }
        GiveRootAShellTheImageHas(tree, users, log);

        var days = (sourceDateEpoch / 86400).ToString(CultureInfo.InvariantCulture);
        var shadowGid = groups.FirstOrDefault(g => g.Name == "shadow")?.Gid ?? 0;
        tree.WriteFile("/etc/passwd", Join(users.Select(u => $"{u.Name}:x:{u.Uid}:{u.Gid}:{u.Gecos}:{u.Home}:{u.Shell}")), sourceDateEpoch);
        tree.WriteFile("/etc/group", Join(groups.Select(g => $"{g.Name}:x:{g.Gid}:{string.Join(',', g.Members)}")), sourceDateEpoch);
        tree.WriteFile("/etc/shadow", Join(users.Select(u => $"{u.Name}:*:{days}:0:99999:7:::")), sourceDateEpoch, 0x1A0, 0, shadowGid);
        tree.WriteFile("/etc/gshadow", Join(groups.Select(g => $"{g.Name}:*::{string.Join(',', g.Members)}")), sourceDateEpoch, 0x1A0, 0, shadowGid);
        return (users.Count, groups.Count);
    }

    /// <summary>
    /// base-passwd gives root /bin/bash, which an image without bash (the shipped profiles) does not
    /// have: root could not log in on the console, and dropbear refuses a user whose shell is not in
    /// /etc/shells. Root gets /bin/sh then, as systemd-sysusers gives it. Only root: a system
    /// user whose nologin is missing must not end up with a working shell.
    /// </summary>
    private static void GiveRootAShellTheImageHas(RootfsTree tree, List<User> users, IBuildLog log)
    {
        const string fallback = "/bin/sh";
        for (var i = 0; i < users.Count; i++)
        {
            var user = users[i];
            if (user.Uid != 0 || user.Shell == fallback || Exists(tree, user.Shell) || !Exists(tree, fallback))
            {
                continue;
            }
            log.Verbose($"accounts: {user.Name}'s shell {user.Shell} is not in the image; {fallback} instead");
            users[i] = user with { Shell = fallback };
        }
    }

    private static bool Exists(RootfsTree tree, string path)
    {
        if (!path.StartsWith('/'))
        {
            return false;
        }
        try
        {
            return tree.IsFile(path);
        }
        catch (EdgeImageException)
        {
            return false;
        }
    }

    private static void ApplySysusers(RootfsTree tree, List<User> users, List<Group> groups)
    {
        // Same file name in /etc overrides /usr/lib, files are read in name order (sysusers.d(5)).
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var dir in new[] { "/usr/lib/sysusers.d", "/etc/sysusers.d" })
        {
            var resolved = tree.Resolve(dir, followFinal: true, dir);
            foreach (var e in tree.Children(resolved).Where(e => e.Path.EndsWith(".conf", StringComparison.Ordinal)))
            {
                files[e.Path[(e.Path.LastIndexOf('/') + 1)..]] = e.Path;
            }
        }
        var lines = files.Values.SelectMany(path => Lines(tree.ReadText(path)).Select(Tokenize)).Where(t => t.Count >= 2).ToArray();

        var dynamicUsers = new List<string[]>();
        var dynamicGroups = new List<string>();
        foreach (var t in lines.Where(t => t[0] == "g"))
        {
            if (groups.Any(g => g.Name == t[1]))
            {
                continue;
            }
            if (t.Count > 2 && int.TryParse(t[2], NumberStyles.None, CultureInfo.InvariantCulture, out var gid) && groups.All(g => g.Gid != gid))
            {
                groups.Add(new Group(t[1], gid));
            }
            else
            {
                dynamicGroups.Add(t[1]);
            }
        }
        foreach (var t in lines.Where(t => t[0].StartsWith('u')))
        {
            if (users.Any(u => u.Name == t[1]))
            {
                continue;
            }
            var fields = t.Concat(Enumerable.Repeat("-", 6)).ToArray();
            var (uidText, gidText) = fields[2].Split(':') is [var a, var b] ? (a, b) : (fields[2], "");
            if (int.TryParse(uidText, NumberStyles.None, CultureInfo.InvariantCulture, out var uid) && users.All(u => u.Uid != uid))
            {
                var gid = GroupFor(groups, t[1], gidText, uid);
                users.Add(NewUser(fields, uid, gid));
            }
            else
            {
                dynamicUsers.Add(fields);
            }
        }

        // Dynamic allocation in one sorted pass over user and group names so the result does not depend on file order.
        var pending = dynamicUsers.Select(f => (Name: f[1], User: (string[]?)f))
            .Concat(dynamicGroups.Select(g => (Name: g, User: (string[]?)null)))
            .OrderBy(p => p.Name, StringComparer.Ordinal);
        foreach (var (name, fields) in pending)
        {
            if (fields is null)
            {
                if (groups.All(g => g.Name != name))
                {
                    groups.Add(new Group(name, Free(id => groups.All(g => g.Gid != id))));
                }
                continue;
            }
            var gidText = fields[2].Split(':') is [_, var b] ? b : "";
            var ownGroup = gidText.Length == 0 && groups.All(g => g.Name != name);
            var uid = Free(id => users.All(u => u.Uid != id) && (!ownGroup || groups.All(g => g.Gid != id)));
            users.Add(NewUser(fields, uid, GroupFor(groups, name, gidText, uid)));
        }

        foreach (var t in lines.Where(t => t[0] == "m" && t.Count >= 3))
        {
            var group = groups.FirstOrDefault(g => g.Name == t[2]);
            if (group is null)
            {
                group = new Group(t[2], Free(id => groups.All(g => g.Gid != id)));
                groups.Add(group);
            }
            if (!group.Members.Contains(t[1]))
            {
                group.Members.Add(t[1]);
            }
        }
    }

    /// <summary>The gid for a new user: an explicit number or group name, else its own group (created with the uid when free).</summary>
    private static int GroupFor(List<Group> groups, string user, string gidText, int uid)
    {
        if (int.TryParse(gidText, NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
        {
            return gid;
        }
        var name = gidText.Length > 0 ? gidText : user;
        if (groups.FirstOrDefault(g => g.Name == name) is { } existing)
        {
            return existing.Gid;
        }
        var id = groups.All(g => g.Gid != uid) ? uid : Free(i => groups.All(g => g.Gid != i));
        groups.Add(new Group(name, id));
        return id;
    }

    private static User NewUser(string[] f, int uid, int gid) => new(
        f[1], uid, gid,
        f[3] == "-" ? "" : f[3],
        f[4] == "-" ? "/" : f[4],
        f[5] == "-" ? (uid == 0 ? "/bin/sh" : Nologin) : f[5]);

    private static int Free(Func<int, bool> isFree)
    {
        for (var id = SystemIdMax; id >= SystemIdMin; id--)
        {
            if (isFree(id))
            {
                return id;
            }
        }
        throw new EdgeImageException("no free system user or group id left between 100 and 999",
            "The packages declare more system users than the system range holds; drop some packages.");
    }

    private static IEnumerable<string> Lines(string? text) =>
        (text ?? "").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'));

    /// <summary>Splits a sysusers.d line into fields, honouring double and single quotes.</summary>
    private static List<string> Tokenize(string line)
    {
        var tokens = new List<string>();
        var current = new StringBuilder();
        char? quote = null;
        var inToken = false;
        foreach (var c in line)
        {
            if (quote is not null)
            {
                if (c == quote)
                {
                    quote = null;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c is '"' or '\'')
            {
                quote = c;
                inToken = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inToken)
                {
                    tokens.Add(current.ToString());
                    current.Clear();
                    inToken = false;
                }
            }
            else
            {
                current.Append(c);
                inToken = true;
            }
        }
        if (inToken)
        {
            tokens.Add(current.ToString());
        }
        return tokens;
    }

    private static int Int(string s) => int.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture);

    private static string Join(IEnumerable<string> lines) => string.Concat(lines.Select(l => l + "\n"));
}
