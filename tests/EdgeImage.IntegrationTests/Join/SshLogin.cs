using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EdgeImage.IntegrationTests.Join;

/// <summary>An ed25519 key pair made with the host's ssh-keygen for one test run (the seed carries its public half).</summary>
public sealed record SshKey(string PrivateKeyPath, string PublicKey)
{
    public static SshKey Create(string directory)
    {
        var path = Path.Combine(directory, "id_ed25519");
        Run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "edgeimage-join-test", "-f", path], TimeSpan.FromSeconds(30));
        return new SshKey(path, File.ReadAllText(path + ".pub").Trim());
    }

    internal static (int ExitCode, string Stdout, string Stderr) Run(string tool, IEnumerable<string> args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{tool} is not installed on the test host (Debian package openssh-client): {e.Message}", e);
        }
        using (process)
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return (-1, stdout.Result, $"{stderr.Result}\n(killed after {timeout.TotalSeconds:0} s)");
            }
            return (process.ExitCode, stdout.Result, stderr.Result);
        }
    }
}

/// <summary>
/// One SSH login from the host into a guest through QEMU's hostfwd (127.0.0.1:<see cref="Port"/> to
/// the guest's port 22) with the host's OpenSSH client, running `cat /etc/hostname`.
/// </summary>
public sealed record SshLogin(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>When the guest's join-check is ready for the login (see overlays/join-check).</summary>
    public const string ReadyLine = "EDGEIMAGE-JOIN-CHECK ssh-ready";

    /// <summary>
    /// The QEMU hostfwd rule from a free loopback port (taken by QEMU a moment later; a clash fails
    /// that boot loudly) to port 22 of the guest's address: QEMU forwards to its first DHCP address
    /// unless told another, so a guest with a static address must be named.
    /// </summary>
    public static (int Port, string Forward) FreeForward(string? guestAddress)
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        return (port, $"tcp:127.0.0.1:{port}-{guestAddress}:22");
    }

    /// <summary>
    /// Waits for the guest's <see cref="ReadyLine"/> and logs in; null when the boot ended without
    /// offering a login.
    /// </summary>
    public static async Task<SshLogin?> WhenReadyAsync(ConsoleRecorder console, Task boot, SshKey key, int port, TimeSpan limit)
    {
        var ready = console.WaitForAsync(ReadyLine, limit);
        if (await Task.WhenAny(ready, boot) != ready || !ready.IsCompletedSuccessfully)
        {
            return null;
        }
        // BatchMode: a key that is refused fails instead of asking for a password (there is none).
        var (exit, stdout, stderr) = await Task.Run(() => SshKey.Run("ssh",
            ["-i", key.PrivateKeyPath, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "ConnectTimeout=60", "-o", "LogLevel=ERROR",
             "root@127.0.0.1", "cat /etc/hostname"], TimeSpan.FromMinutes(2)));
        return new SshLogin(exit, stdout, stderr);
    }

    public override string ToString() => $"ssh exit {ExitCode}; stdout: '{Stdout.Trim()}'; stderr: {Stderr.Trim()}";
}
