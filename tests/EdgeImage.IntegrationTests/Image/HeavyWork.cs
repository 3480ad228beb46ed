namespace EdgeImage.IntegrationTests.Image;

/// <summary>
/// Image builds and QEMU boots each keep a core busy for minutes. xunit runs the test collections
/// in parallel, so without a limit every build and boot of the suite would start at once, each
/// would crawl, and the boot timeouts would measure the host's load instead of the image. At most
/// two run at a time; a test's own time limits start when its turn comes.
/// </summary>
public static class HeavyWork
{
    private static readonly SemaphoreSlim Slots = new(2);

    public static async Task<T> RunAsync<T>(Func<Task<T>> work)
    {
        await Slots.WaitAsync();
        try
        {
            return await work();
        }
        finally
        {
            Slots.Release();
        }
    }
}
