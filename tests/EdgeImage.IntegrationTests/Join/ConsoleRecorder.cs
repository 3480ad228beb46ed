using System.Text;

namespace EdgeImage.IntegrationTests.Join;

/// <summary>
/// Receives a guest's serial console as the QEMU runner echoes it, and lets a test wait for a text
/// while the guest runs (to change the fake control plane between the phases of one boot).
/// </summary>
public sealed class ConsoleRecorder : TextWriter
{
    private readonly StringBuilder _text = new();
    private readonly List<(string Text, int Count, TaskCompletionSource Seen)> _waiters = [];

    public override Encoding Encoding => Encoding.UTF8;

    public string Text
    {
        get
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    public override void Write(char value) => Write(value.ToString());

    public override void Write(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }
        lock (_text)
        {
            _text.Append(value);
            var text = _text.ToString();
            foreach (var waiter in _waiters.Where(w => Occurrences(text, w.Text) >= w.Count).ToList())
            {
                waiter.Seen.TrySetResult();
                _waiters.Remove(waiter);
            }
        }
    }

    /// <summary>Completes when <paramref name="text"/> has appeared <paramref name="count"/> times; throws TimeoutException after <paramref name="timeout"/>.</summary>
    public async Task WaitForAsync(string text, TimeSpan timeout, int count = 1)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_text)
        {
            if (Occurrences(_text.ToString(), text) >= count)
            {
                return;
            }
            _waiters.Add((text, count, seen));
        }
        try
        {
            await seen.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"'{text}' did not appear {count} time(s) on the console within {timeout.TotalSeconds:0}s");
        }
    }

    public static int Occurrences(string text, string what)
    {
        var count = 0;
        for (var at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }
}
