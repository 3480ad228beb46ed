using System.Text;
using System.Text.RegularExpressions;

namespace EdgeImage.Qemu;

/// <summary>
/// Reads a serial console as it arrives in arbitrary chunks: finds the expected texts in order
/// (also across chunk borders and before a newline, since prompts end without one), notices a
/// kernel panic, and keeps the last lines for the report.
/// </summary>
public sealed partial class SerialWatcher
{
    public const string PanicMarker = "Kernel panic - not syncing";

    /// <summary>Linux ends the panic report with this line; the call trace sits between the two.</summary>
    public const string PanicEndMarker = "---[ end Kernel panic";

    private readonly IReadOnlyList<string> _expects;
    private readonly int _keepLines;
    private readonly int _longestNeedle;
    private readonly Queue<string> _lines = new();
    private readonly StringBuilder _partialLine = new();
    private string _window = "";

    public SerialWatcher(IReadOnlyList<string> expects, int keepLines = 30)
    {
        if (expects.Any(string.IsNullOrEmpty))
        {
            throw new EdgeImageException("an expected text is empty", "give the text the console must show, e.g. --expect 'login:'", ExitCodes.Usage);
        }
        _expects = expects;
        _keepLines = keepLines;
        _longestNeedle = expects.Select(e => e.Length).Append(PanicMarker.Length).Append(PanicEndMarker.Length).Max();
    }

    /// <summary>How many expects have appeared so far.</summary>
    public int ExpectsMatched { get; private set; }

    public bool AllExpectsMatched => _expects.Count > 0 && ExpectsMatched == _expects.Count;

    public bool PanicSeen { get; private set; }

    public bool PanicReportComplete { get; private set; }

    public void Feed(string chunk)
    {
        CollectLines(chunk);
        _window += chunk;
        while (true)
        {
            if (!PanicSeen)
            {
                var panicAt = _window.IndexOf(PanicMarker, StringComparison.Ordinal);
                var expectAt = ExpectsMatched < _expects.Count ? _window.IndexOf(_expects[ExpectsMatched], StringComparison.Ordinal) : -1;
                if (expectAt >= 0 && (panicAt < 0 || expectAt < panicAt))
                {
                    _window = _window[(expectAt + _expects[ExpectsMatched].Length)..];
                    ExpectsMatched++;
                    continue;
                }
                if (panicAt >= 0)
                {
                    PanicSeen = true;
                    _window = _window[(panicAt + PanicMarker.Length)..];
                    continue;
                }
            }
            else if (!PanicReportComplete && _window.Contains(PanicEndMarker, StringComparison.Ordinal))
            {
                PanicReportComplete = true;
            }
            break;
        }
        // Only a needle's length minus one can still start a match that the next chunk completes.
        if (_window.Length >= _longestNeedle)
        {
            _window = _window[^(_longestNeedle - 1)..];
        }
    }

    /// <summary>The last lines, including an unfinished one (a prompt), without terminal escape sequences.</summary>
    public IReadOnlyList<string> LastLines
    {
        get
        {
            var lines = _lines.ToList();
            if (_partialLine.Length > 0)
            {
                lines.Add(Clean(_partialLine.ToString()));
            }
            return lines.TakeLast(_keepLines).ToList();
        }
    }

    private void CollectLines(string chunk)
    {
        foreach (var c in chunk)
        {
            if (c == '\n')
            {
                _lines.Enqueue(Clean(_partialLine.ToString()));
                _partialLine.Clear();
                if (_lines.Count > _keepLines)
                {
                    _lines.Dequeue();
                }
            }
            else
            {
                _partialLine.Append(c);
            }
        }
    }

    private static string Clean(string line) => ControlSequence().Replace(line, "").TrimEnd();

    // CSI sequences (colours, cursor moves from firmware menus), other escapes and control characters.
    [GeneratedRegex(@"\x1B\[[0-9;?]*[ -/]*[@-~]|\x1B[@-Z\\-_]|[\x00-\x08\x0B-\x1F\x7F]")]
    private static partial Regex ControlSequence();
}
