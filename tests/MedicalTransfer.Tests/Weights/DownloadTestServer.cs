using System;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>What the test server does with one request.</summary>
    internal abstract record ServerReply
    {
        /// <summary>200 with the whole body.</summary>
        public sealed record Body(byte[] Bytes) : ServerReply;

        /// <summary>A status with a short text body.</summary>
        public sealed record Status(int Code, string Reason) : ServerReply;

        /// <summary>200 announcing the full length, then the connection is closed after <paramref name="SentBytes"/> bytes.</summary>
        public sealed record DropAfter(byte[] Bytes, int SentBytes) : ServerReply;

        /// <summary>Reads the request and never answers.</summary>
        public sealed record Silent : ServerReply;

        /// <summary>200 headers and part of the body, then nothing until the client gives up.</summary>
        public sealed record StallAfter(byte[] Bytes, int SentBytes) : ServerReply;

        /// <summary>200 with the whole body, sent in chunks with a pause after each (a slow link, for kill and concurrency tests).</summary>
        public sealed record Throttled(byte[] Bytes, int ChunkBytes, TimeSpan Pause) : ServerReply;
    }

    /// <summary>
    /// A minimal HTTP/1.1 server on 127.0.0.1 and a free port, written on a raw socket so that tests
    /// can cut a response mid-body or stall it. Each request gets its own connection
    /// (<c>Connection: close</c>); replies are chosen by a function of the path and the request number.
    /// </summary>
    internal sealed class DownloadTestServer : IDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly Func<string, int, ServerReply> _reply;
        private int _requests;

        public DownloadTestServer(Func<string, int, ServerReply> reply)
        {
            _reply = reply;
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            BaseAddress = new Uri(string.Format(CultureInfo.InvariantCulture, "http://127.0.0.1:{0}/models/", ((IPEndPoint)_listener.LocalEndpoint).Port));
            _loop = Task.Run(AcceptLoopAsync);
        }

        public Uri BaseAddress { get; }

        /// <summary>Number of requests received so far.</summary>
        public int Requests => Volatile.Read(ref _requests);

        public ConcurrentQueue<string> Paths { get; } = new();

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            try
            {
                _loop.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
            }

            _stop.Dispose();
        }

        private async Task AcceptLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                _ = Task.Run(() => HandleAsync(client));
            }
        }

        private async Task HandleAsync(TcpClient client)
        {
            using (client)
            {
                try
                {
                    var stream = client.GetStream();
                    string path = await ReadRequestPathAsync(stream);
                    int number = Interlocked.Increment(ref _requests);
                    Paths.Enqueue(path);
                    switch (_reply(path, number))
                    {
                        case ServerReply.Body body:
                            await WriteHeadAsync(stream, 200, "OK", body.Bytes.Length);
                            await stream.WriteAsync(body.Bytes, _stop.Token);
                            break;
                        case ServerReply.Status status:
                            byte[] text = Encoding.ASCII.GetBytes(status.Reason);
                            await WriteHeadAsync(stream, status.Code, status.Reason, text.Length);
                            await stream.WriteAsync(text, _stop.Token);
                            break;
                        case ServerReply.DropAfter drop:
                            await WriteHeadAsync(stream, 200, "OK", drop.Bytes.Length);
                            await stream.WriteAsync(drop.Bytes.AsMemory(0, drop.SentBytes), _stop.Token);
                            await stream.FlushAsync(_stop.Token);
                            client.Client.LingerState = new LingerOption(true, 0); // reset, not a graceful close
                            break;
                        case ServerReply.Silent:
                            await Task.Delay(TimeSpan.FromSeconds(30), _stop.Token);
                            break;
                        case ServerReply.StallAfter stall:
                            await WriteHeadAsync(stream, 200, "OK", stall.Bytes.Length);
                            await stream.WriteAsync(stall.Bytes.AsMemory(0, stall.SentBytes), _stop.Token);
                            await stream.FlushAsync(_stop.Token);
                            await Task.Delay(TimeSpan.FromSeconds(30), _stop.Token);
                            break;
                        case ServerReply.Throttled slow:
                            await WriteHeadAsync(stream, 200, "OK", slow.Bytes.Length);
                            for (int offset = 0; offset < slow.Bytes.Length; offset += slow.ChunkBytes)
                            {
                                await stream.WriteAsync(slow.Bytes.AsMemory(offset, Math.Min(slow.ChunkBytes, slow.Bytes.Length - offset)), _stop.Token);
                                await stream.FlushAsync(_stop.Token);
                                await Task.Delay(slow.Pause, _stop.Token);
                            }

                            break;
                        default:
                            throw new InvalidOperationException("Unknown reply.");
                    }

                    await stream.FlushAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
                {
                    // The client went away (as the timeout test intends) or the server is stopping.
                }
            }
        }

        private async Task<string> ReadRequestPathAsync(NetworkStream stream)
        {
            var head = new StringBuilder();
            var buffer = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await stream.ReadAsync(buffer, _stop.Token) == 0 || head.Length > 16384)
                {
                    throw new IOException("Incomplete request.");
                }

                head.Append((char)buffer[0]);
            }

            string requestLine = head.ToString().Split("\r\n")[0];
            return requestLine.Split(' ')[1];
        }

        private async Task WriteHeadAsync(NetworkStream stream, int code, string reason, long length)
        {
            string head = string.Format(CultureInfo.InvariantCulture, "HTTP/1.1 {0} {1}\r\nContent-Type: application/octet-stream\r\nContent-Length: {2}\r\nConnection: close\r\n\r\n", code, reason, length);
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), _stop.Token);
        }
    }
}
