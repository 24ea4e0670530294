using System;
using System.Buffers;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// A fast path for the commonest X-ray export: non-interlaced 8- or 16-bit grayscale PNG. It
    /// inflates the IDAT stream with the runtime's zlib, undoes the row filters in place and maps
    /// samples straight to floats, about twice as fast as decoding through ImageSharp's pixel
    /// types. Anything else (colour, palette, interlaced, EXIF orientation) goes through ImageSharp.
    /// </summary>
    internal static class GrayPngDecoder
    {
        private static ReadOnlySpan<byte> Signature => new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };

        /// <summary>Reads IHDR; true when the file is a non-interlaced 8- or 16-bit gray PNG.</summary>
        public static bool IsFastGray(ReadOnlySpan<byte> bytes, out int width, out int height, out int bitDepth)
        {
            width = height = bitDepth = 0;
            if (bytes.Length < 33 || !bytes.StartsWith(Signature) || !bytes.Slice(12, 4).SequenceEqual("IHDR"u8))
            {
                return false;
            }

            uint w = BinaryPrimitives.ReadUInt32BigEndian(bytes.Slice(16));
            uint h = BinaryPrimitives.ReadUInt32BigEndian(bytes.Slice(20));
            bitDepth = bytes[24];
            int colorType = bytes[25], interlace = bytes[28];
            if (w == 0 || h == 0 || w > int.MaxValue / 4 || h > int.MaxValue / 4 || colorType != 0 || interlace != 0 || bitDepth is not (8 or 16))
            {
                return false;
            }

            width = (int)w;
            height = (int)h;
            return true;
        }

        /// <summary>Decodes the image, or returns null when a chunk asks for the general path (eXIf).</summary>
        /// <exception cref="InvalidDataException">The compressed data (zlib included) or a row filter is corrupt.</exception>
        public static FloatImage? Decode(byte[] bytes, int fileLength, int width, int height, int bitDepth, float[] scale8, float[] scale16)
        {
            int bytesPerPixel = bitDepth / 8;
            int stride = width * bytesPerPixel;
            var compressed = new IdatStream(bytes);
            int offset = 8;
            while (offset + 8 <= fileLength)
            {
                int length = checked((int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(offset)));
                ReadOnlySpan<byte> type = bytes.AsSpan(offset + 4, 4);
                if (length < 0 || offset + 12 + (long)length > fileLength)
                {
                    throw new InvalidDataException("a chunk runs past the end of the file");
                }

                if (type.SequenceEqual("IDAT"u8))
                {
                    compressed.Add(offset + 8, length);
                }
                else if (type.SequenceEqual("eXIf"u8))
                {
                    return null; // orientation may apply: let ImageSharp handle it
                }
                else if (type.SequenceEqual("IEND"u8))
                {
                    break;
                }

                offset += 12 + length;
            }

            int total = checked(height * (stride + 1));
            byte[] raw = ArrayPool<byte>.Shared.Rent(total);
            try
            {
                using (var inflater = new ZLibStream(compressed, CompressionMode.Decompress))
                {
                    inflater.ReadExactly(raw, 0, total);
                }

                FloatImage image = FloatImage.Rent(1, width, height, bitDepth == 16 ? 65535f : 255f);
                try
                {
                    Unfilter(raw, height, stride, bytesPerPixel);
                    float[] destination = image.Buffer;
                    for (int y = 0; y < height; y++)
                    {
                        ReadOnlySpan<byte> row = raw.AsSpan((y * (stride + 1)) + 1, stride);
                        Span<float> output = destination.AsSpan(y * width, width);
                        if (bitDepth == 16)
                        {
                            ref byte sample = ref MemoryMarshal.GetReference(row);
                            for (int x = 0; x < output.Length; x++)
                            {
                                output[x] = scale16[(Unsafe.Add(ref sample, 2 * x) << 8) | Unsafe.Add(ref sample, (2 * x) + 1)];
                            }
                        }
                        else
                        {
                            for (int x = 0; x < output.Length; x++)
                            {
                                output[x] = scale8[row[x]];
                            }
                        }
                    }

                    return image;
                }
                catch
                {
                    image.Dispose();
                    throw;
                }
            }
            catch (EndOfStreamException e)
            {
                throw new InvalidDataException("the compressed image data ends before the last row", e);
            }
            catch (IOException e)
            {
                // zlib's own failure (ZLibException, an IOException): found by fuzzing, see docs/security.md.
                throw new InvalidDataException("the compressed image data is corrupt (" + e.Message + ")", e);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(raw);
            }
        }

        /// <summary>Undoes PNG's per-row filters in place (each row: a filter byte, then the samples).</summary>
        private static void Unfilter(byte[] raw, int height, int stride, int bpp)
        {
            byte[] zeros = ArrayPool<byte>.Shared.Rent(stride);
            try
            {
                Array.Clear(zeros, 0, stride);
                for (int y = 0; y < height; y++)
                {
                    int start = y * (stride + 1);
                    int filter = raw[start];
                    // The row above the first row reads as zeros.
                    ref byte up = ref y == 0 ? ref zeros[0] : ref raw[start - stride];
                    ref byte row = ref raw[start + 1];
                    switch (filter)
                    {
                        case 0:
                            break;
                        case 1:
                            for (int i = bpp; i < stride; i++)
                            {
                                Unsafe.Add(ref row, i) += Unsafe.Add(ref row, i - bpp);
                            }

                            break;
                        case 2:
                            for (int i = 0; i < stride; i++)
                            {
                                Unsafe.Add(ref row, i) += Unsafe.Add(ref up, i);
                            }

                            break;
                        case 3:
                            for (int i = 0; i < bpp; i++)
                            {
                                Unsafe.Add(ref row, i) += (byte)(Unsafe.Add(ref up, i) >> 1);
                            }

                            for (int i = bpp; i < stride; i++)
                            {
                                Unsafe.Add(ref row, i) += (byte)((Unsafe.Add(ref row, i - bpp) + Unsafe.Add(ref up, i)) >> 1);
                            }

                            break;
                        case 4:
                            PaethRow(ref row, ref up, stride, bpp);
                            break;
                        default:
                            throw new InvalidDataException("row " + y + " has an unknown filter type " + filter);
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(zeros);
            }
        }

        /// <summary>
        /// Paeth-unfilters one row. Each byte depends on the byte <paramref name="bpp"/> to its left,
        /// so the left and upper-left neighbours are carried in registers per interleaved sample
        /// instead of being reloaded from memory just after being stored.
        /// </summary>
        private static void PaethRow(ref byte row, ref byte up, int stride, int bpp)
        {
            if (bpp == 2)
            {
                int a0 = 0, a1 = 0, c0 = 0, c1 = 0;
                for (int i = 0; i + 1 < stride; i += 2)
                {
                    int b0 = Unsafe.Add(ref up, i), b1 = Unsafe.Add(ref up, i + 1);
                    a0 = (byte)(Unsafe.Add(ref row, i) + Paeth(a0, b0, c0));
                    a1 = (byte)(Unsafe.Add(ref row, i + 1) + Paeth(a1, b1, c1));
                    Unsafe.Add(ref row, i) = (byte)a0;
                    Unsafe.Add(ref row, i + 1) = (byte)a1;
                    c0 = b0;
                    c1 = b1;
                }

                return;
            }

            int a = 0, c = 0;
            for (int i = 0; i < stride; i++)
            {
                // bpp is 1 here (8-bit gray).
                int b = Unsafe.Add(ref up, i);
                a = (byte)(Unsafe.Add(ref row, i) + Paeth(a, b, c));
                Unsafe.Add(ref row, i) = (byte)a;
                c = b;
            }
        }

        /// <summary>Paeth's predictor (a on ties, then b, then c) as selects the JIT turns into conditional moves.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int Paeth(int a, int b, int c)
        {
            int pa = Abs(b - c), pb = Abs(a - c), pc = Abs(a + b - c - c);
            int pick = pb < pa ? b : a;
            return pc < Math.Min(pa, pb) ? c : pick;
        }

        /// <summary>Branch-free absolute value (Math.Abs branches to check for int.MinValue).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int Abs(int x)
        {
            int sign = x >> 31;
            return (x ^ sign) - sign;
        }
    }

    /// <summary>The IDAT chunks of a PNG read as one stream, without copying them together.</summary>
    internal sealed class IdatStream : Stream
    {
        private readonly byte[] source;
        private readonly System.Collections.Generic.List<(int Offset, int Length)> segments = new();
        private int segment;
        private int position;

        public IdatStream(byte[] source)
        {
            this.source = source;
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public void Add(int offset, int length) => segments.Add((offset, length));

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (segment < segments.Count)
            {
                (int start, int length) = segments[segment];
                int left = length - position;
                if (left > 0)
                {
                    int n = Math.Min(left, buffer.Length);
                    source.AsSpan(start + position, n).CopyTo(buffer);
                    position += n;
                    return n;
                }

                segment++;
                position = 0;
            }

            return 0;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
