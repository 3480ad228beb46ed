using System.Runtime.InteropServices;
using SharpCompress.Compressors.Xz;

namespace EdgeImage.Compression;

/// <summary>
/// xz decompression for .debs, Packages.xz and .ko.xz modules. The system's liblzma (liblzma.so.5,
/// which every Debian and most other Linux systems have because dpkg, systemd and xz-utils link it)
/// decodes about four times as fast as SharpCompress's managed decoder, and the kernel package alone
/// is 100 MiB of xz; where liblzma cannot be loaded the managed decoder takes over with the same result.
/// </summary>
public static class Xz
{
    private const string Library = "liblzma.so.5";

    private static readonly Lazy<bool> NativeAvailable = new(() => NativeLibrary.TryLoad(Library, out _));

    /// <summary>True when decompression runs in the system's liblzma.</summary>
    public static bool IsNative => NativeAvailable.Value;

    /// <summary>A read-only stream of <paramref name="compressed"/>'s decompressed bytes; disposing it disposes the input.</summary>
    public static Stream Decompress(Stream compressed) => Decompress(compressed, preferNative: true);

    /// <param name="preferNative">False forces the managed decoder (tests compare the two).</param>
    public static Stream Decompress(Stream compressed, bool preferNative) =>
        preferNative && IsNative ? new LibLzmaStream(compressed) : new XZStream(compressed);

    /// <summary>One .xz stream decoded by liblzma's lzma_stream_decoder; the input and output buffers stay pinned while it lives.</summary>
    private sealed class LibLzmaStream : Stream
    {
        private const int BufferSize = 1 << 16;
        private const int LzmaRun = 0;
        private const int LzmaFinish = 3;
        private const int LzmaOk = 0;
        private const int LzmaStreamEnd = 1;

        private readonly Stream _input;
        private readonly byte[] _in = GC.AllocateArray<byte>(BufferSize, pinned: true);
        private readonly byte[] _out = GC.AllocateArray<byte>(BufferSize, pinned: true);
        private LzmaStream _state;
        private bool _inputDone;
        private bool _finished;
        private bool _disposed;
        private int _outStart;
        private int _outEnd;

        public LibLzmaStream(Stream input)
        {
            _input = input;
            var ret = lzma_stream_decoder(ref _state, ulong.MaxValue, 0);
            if (ret != LzmaOk)
            {
                throw new InvalidOperationException($"liblzma could not start a decoder (lzma_ret {ret})");
            }
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => (long)_state.TotalOut - (_outEnd - _outStart);
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (buffer.IsEmpty)
            {
                return 0;
            }
            while (_outStart == _outEnd)
            {
                if (_finished)
                {
                    return 0;
                }
                Decode();
            }
            var n = Math.Min(buffer.Length, _outEnd - _outStart);
            _out.AsSpan(_outStart, n).CopyTo(buffer);
            _outStart += n;
            return n;
        }

        private void Decode()
        {
            if (_state.AvailIn == 0 && !_inputDone)
            {
                var read = _input.Read(_in, 0, BufferSize);
                _inputDone = read == 0;
                _state.NextIn = Marshal.UnsafeAddrOfPinnedArrayElement(_in, 0);
                _state.AvailIn = (nuint)read;
            }
            _state.NextOut = Marshal.UnsafeAddrOfPinnedArrayElement(_out, 0);
            _state.AvailOut = BufferSize;
            var ret = lzma_code(ref _state, _inputDone ? LzmaFinish : LzmaRun);
            _outStart = 0;
            _outEnd = BufferSize - (int)_state.AvailOut;
            if (ret == LzmaStreamEnd)
            {
                _finished = true;
            }
            else if (ret != LzmaOk)
            {
                throw new InvalidDataException(ret switch
                {
                    7 => "not xz data (liblzma: LZMA_FORMAT_ERROR)",
                    9 => "xz data is corrupt (liblzma: LZMA_DATA_ERROR)",
                    10 => "xz data ends early (liblzma: LZMA_BUF_ERROR)",
                    _ => $"xz data cannot be decoded (lzma_ret {ret})",
                });
            }
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (!_disposed)
            {
                _disposed = true;
                lzma_end(ref _state);
                if (disposing)
                {
                    _input.Dispose();
                }
            }
            base.Dispose(disposing);
        }

        ~LibLzmaStream() => Dispose(false);

        /// <summary>lzma_stream from lzma/base.h; native-sized fields follow the platform's pointer size.</summary>
        [StructLayout(LayoutKind.Sequential)]
        private struct LzmaStream
        {
            public nint NextIn;
            public nuint AvailIn;
            public ulong TotalIn;
            public nint NextOut;
            public nuint AvailOut;
            public ulong TotalOut;
            public nint Allocator;
            public nint Internal;
            public nint ReservedPtr1;
            public nint ReservedPtr2;
            public nint ReservedPtr3;
            public nint ReservedPtr4;
            public ulong SeekPos;
            public ulong ReservedInt2;
            public nuint ReservedInt3;
            public nuint ReservedInt4;
            public int ReservedEnum1;
            public int ReservedEnum2;
        }

        [DllImport(Library)]
        private static extern int lzma_stream_decoder(ref LzmaStream stream, ulong memlimit, uint flags);

        [DllImport(Library)]
        private static extern int lzma_code(ref LzmaStream stream, int action);

        [DllImport(Library)]
        private static extern void lzma_end(ref LzmaStream stream);
    }
}
