using System.Net;
using System.Net.Sockets;

namespace EdgeImage.Tests.Fixtures;

/// <summary>
/// A test double for an HTTP server (a mirror, a registry): an HttpListener on a free loopback port
/// that hands each request to the test's handler, which sets the status and headers and returns the body.
/// </summary>
public sealed class LoopbackHttpServerDouble : IDisposable
{
    private readonly HttpListener _listener;
    private readonly Func<HttpListenerRequest, HttpListenerResponse, byte[]> _respond;
    private readonly Task _serving;

    /// <param name="path">The path prefix served, such as "/debian/"; requests outside it get 404 from HttpListener.</param>
    public LoopbackHttpServerDouble(Func<HttpListenerRequest, HttpListenerResponse, byte[]> respond, string path = "/")
    {
        _respond = respond;
        // HttpListener cannot bind port 0, so a free port is found first and then bound; another
        // process (a parallel test, QEMU's port forwards) can take it in between, so a taken port
        // is given up for another one.
        for (var attempt = 1; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = $"http://127.0.0.1:{Port}{path}";
            _listener = new HttpListener();
            _listener.Prefixes.Add(Url);
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                _listener.Close();
            }
        }
        _serving = Task.Run(Serve);
    }

    public int Port { get; }

    /// <summary>http://127.0.0.1:PORT followed by the path served.</summary>
    public string Url { get; }

    public void Dispose()
    {
        // Close alone: after Stop, the managed HttpListener's Close binds the port once more to
        // unregister it, which fails when another process has taken the port in the meantime.
        _listener.Close();
        try
        {
            _serving.Wait();
        }
        catch (AggregateException)
        {
            // GetContextAsync throws once the listener is closed; that ends the loop.
        }
    }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            var body = _respond(context.Request, context.Response);
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
    }
}
