using EdgeImage.Qemu;

namespace EdgeImage.Tests.Qemu;

public class SerialWatcherTests
{
    [Fact]
    public void An_expected_text_split_across_chunks_is_found()
    {
        var watcher = new SerialWatcher(["edge login:"]);

        watcher.Feed("Debian GNU/Linux 13 edge ttyS0\r\n\r\nedge lo");
        Assert.False(watcher.AllExpectsMatched);
        watcher.Feed("gin: ");

        Assert.True(watcher.AllExpectsMatched);
    }

    [Fact]
    public void Expects_must_appear_in_order()
    {
        var watcher = new SerialWatcher(["first", "second"]);

        watcher.Feed("second\n");
        Assert.Equal(0, watcher.ExpectsMatched);
        watcher.Feed("first\n");
        Assert.Equal(1, watcher.ExpectsMatched);
        watcher.Feed("sec");
        watcher.Feed("ond\n");

        Assert.True(watcher.AllExpectsMatched);
    }

    [Fact]
    public void Two_expects_in_one_chunk_both_count()
    {
        var watcher = new SerialWatcher(["Linux version", "Run /init"]);

        watcher.Feed("[0.0] Linux version 6.12\n[1.2] Run /init as init process\n");

        Assert.True(watcher.AllExpectsMatched);
    }

    [Fact]
    public void A_kernel_panic_is_seen_and_its_report_end_noticed()
    {
        var watcher = new SerialWatcher(["login:"]);

        watcher.Feed("[ 2.1] Kernel panic - not sync");
        Assert.False(watcher.PanicSeen);
        watcher.Feed("ing: Attempted to kill init! exitcode=0x00000100\n[ 2.1] Call Trace:\n");
        Assert.True(watcher.PanicSeen);
        Assert.False(watcher.PanicReportComplete);
        watcher.Feed("[ 2.1] ---[ end Kernel panic - not syncing: Attempted to kill init! ]---\n login:");

        Assert.True(watcher.PanicReportComplete);
        Assert.False(watcher.AllExpectsMatched);
    }

    [Fact]
    public void An_expect_printed_before_a_panic_in_the_same_chunk_still_counts()
    {
        var watcher = new SerialWatcher(["MARKER"]);

        watcher.Feed("MARKER\n[ 3.0] Kernel panic - not syncing: Attempted to kill init!\n");

        Assert.True(watcher.AllExpectsMatched);
        Assert.True(watcher.PanicSeen);
    }

    [Fact]
    public void Last_lines_are_bounded_cleaned_of_escape_sequences_and_include_an_open_prompt()
    {
        var watcher = new SerialWatcher([], keepLines: 3);

        watcher.Feed("one\r\ntwo\r\n\u001b[2J\u001b[01;01Hthree\r\nfour\r\nedge login: ");

        Assert.Equal(["three", "four", "edge login:"], watcher.LastLines);
    }

    [Fact]
    public void An_empty_expect_is_refused()
    {
        Assert.Throws<EdgeImageException>(() => new SerialWatcher(["ok", ""]));
    }
}
