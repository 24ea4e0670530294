using System;
using System.IO;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>A write-only stream that writes through until a byte count, then fails as a full disk would.</summary>
    internal sealed class FailingStream : Stream
    {
        private readonly Stream inner;
        private readonly long failAfter;
        private long written;

        public FailingStream(Stream inner, long failAfter)
        {
            this.inner = inner;
            this.failAfter = failAfter;
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => written; set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (written + buffer.Length > failAfter)
            {
                int part = (int)(failAfter - written);
                inner.Write(buffer[..part]);
                written = failAfter;
                throw new IOException("disk full (simulated)");
            }

            inner.Write(buffer);
            written += buffer.Length;
        }
    }
}
