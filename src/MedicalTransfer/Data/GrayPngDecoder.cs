using System;
using System.Buffers;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
            IdatStream? compressed = FindImageData(bytes, fileLength);
            if (compressed is null)
            {
                return null; // orientation may apply: let ImageSharp handle it
            }

            int bytesPerPixel = bitDepth / 8;
            int stride = width * bytesPerPixel;
            int total = checked(height * (stride + 1));
            byte[] raw = ArrayPool<byte>.Shared.Rent(total);
            try
            {
                Inflate(compressed, raw, total);
                Unfilter(raw, height, stride, bytesPerPixel);
                FloatImage image = FloatImage.Rent(1, width, height, bitDepth == 16 ? 65535f : 255f);
                ToFloats(raw, width, height, bitDepth, scale8, scale16, image.Buffer);
                return image;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(raw);
            }
        }

        /// <summary>The IDAT chunks of the file as one stream, or null when an eXIf chunk asks for the general path.</summary>
        /// <exception cref="InvalidDataException">A chunk runs past the end of the file.</exception>
        internal static IdatStream? FindImageData(byte[] bytes, int fileLength)
        {
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
                    return null;
                }
                else if (type.SequenceEqual("IEND"u8))
                {
                    break;
                }

                offset += 12 + length;
            }

            return compressed;
        }

        /// <summary>Inflates the zlib stream into the first <paramref name="total"/> bytes of <paramref name="raw"/> (rows with their filter bytes).</summary>
        /// <exception cref="InvalidDataException">The stream is corrupt or ends before the last row.</exception>
        internal static void Inflate(IdatStream compressed, byte[] raw, int total)
        {
            try
            {
                using var inflater = new ZLibStream(compressed, CompressionMode.Decompress);
                inflater.ReadExactly(raw, 0, total);
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
        }

        /// <summary>Maps the unfiltered samples (each row after its filter byte, 16-bit big-endian) to floats in [0, 1], the exact values of the tables.</summary>
        internal static void ToFloats(byte[] raw, int width, int height, int bitDepth, float[] scale8, float[] scale16, float[] destination)
        {
            int stride = width * (bitDepth / 8);
            for (int y = 0; y < height; y++)
            {
                ReadOnlySpan<byte> row = raw.AsSpan((y * (stride + 1)) + 1, stride);
                Span<float> output = destination.AsSpan(y * width, width);
                if (bitDepth == 16)
                {
                    Samples16(row, output, scale16);
                }
                else
                {
                    Samples8(row, output, scale8);
                }
            }
        }

        /// <summary>
        /// 16-bit big-endian samples to v / 65535. The vector loop divides in float32: v and 65535 are exact floats and
        /// IEEE division rounds correctly, so it gives the nearest float to v / 65535, which is the table's value (the
        /// table rounds v / 65535.0 to float; v / 65535 is never within a double's rounding error of a halfway point
        /// between two floats). The tests check all 65536 samples. The vector loop reads 16 samples with no table
        /// lookups (the table is 256 KB, most of the cache); the last few samples of a row go through the table.
        /// </summary>
        private static void Samples16(ReadOnlySpan<byte> row, Span<float> output, float[] table)
        {
            int x = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                ref byte sample = ref MemoryMarshal.GetReference(row);
                ref float target = ref MemoryMarshal.GetReference(output);
                Vector256<float> full = Vector256.Create(65535f);
                for (; x + 16 <= output.Length; x += 16)
                {
                    Vector256<ushort> bigEndian = Vector256.LoadUnsafe(ref sample, (nuint)(2 * x)).AsUInt16();
                    Vector256<ushort> v = Vector256.ShiftLeft(bigEndian, 8) | Vector256.ShiftRightLogical(bigEndian, 8);
                    (Vector256<uint> lower, Vector256<uint> upper) = Vector256.Widen(v);
                    (Vector256.ConvertToSingle(lower.AsInt32()) / full).StoreUnsafe(ref target, (nuint)x);
                    (Vector256.ConvertToSingle(upper.AsInt32()) / full).StoreUnsafe(ref target, (nuint)(x + 8));
                }
            }

            for (; x < output.Length; x++)
            {
                output[x] = table[(row[2 * x] << 8) | row[(2 * x) + 1]];
            }
        }

        /// <summary>8-bit samples to v / 255, as <see cref="Samples16"/> does (the nearest float, the table's value).</summary>
        private static void Samples8(ReadOnlySpan<byte> row, Span<float> output, float[] table)
        {
            int x = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                ref byte sample = ref MemoryMarshal.GetReference(row);
                ref float target = ref MemoryMarshal.GetReference(output);
                Vector256<float> full = Vector256.Create(255f);
                for (; x + 32 <= output.Length; x += 32)
                {
                    (Vector256<ushort> low, Vector256<ushort> high) = Vector256.Widen(Vector256.LoadUnsafe(ref sample, (nuint)x));
                    (Vector256<uint> a, Vector256<uint> b) = Vector256.Widen(low);
                    (Vector256<uint> c, Vector256<uint> d) = Vector256.Widen(high);
                    (Vector256.ConvertToSingle(a.AsInt32()) / full).StoreUnsafe(ref target, (nuint)x);
                    (Vector256.ConvertToSingle(b.AsInt32()) / full).StoreUnsafe(ref target, (nuint)(x + 8));
                    (Vector256.ConvertToSingle(c.AsInt32()) / full).StoreUnsafe(ref target, (nuint)(x + 16));
                    (Vector256.ConvertToSingle(d.AsInt32()) / full).StoreUnsafe(ref target, (nuint)(x + 24));
                }
            }

            for (; x < output.Length; x++)
            {
                output[x] = table[row[x]];
            }
        }

        /// <summary>Undoes PNG's per-row filters in place (each row: a filter byte, then the samples).</summary>
        internal static void Unfilter(byte[] raw, int height, int stride, int bpp)
        {
            byte[] zeros = ArrayPool<byte>.Shared.Rent(stride);
            try
            {
                Array.Clear(zeros, 0, stride);
                for (int y = 0; y < height; y++)
                {
                    int start = y * (stride + 1);
                    if (bpp == 2 && Avx2.IsSupported && stride >= 16 && y + 8 <= height && AllPaeth(raw, y, stride))
                    {
                        PaethEightRows(raw, y, stride);
                        y += 7;
                        continue;
                    }

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
                            UpRow(ref row, ref up, stride);
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

        private static bool AllPaeth(byte[] raw, int y, int stride)
        {
            for (int j = 0; j < 8; j++)
            {
                if (raw[(y + j) * (stride + 1)] != 4)
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>
        /// Paeth-unfilters eight consecutive rows of 16-bit samples at once (AVX2), as a wavefront: at step t, row j
        /// of the eight works on pixel t - j, so its left neighbour is its own result of step t - 1, the pixel above is
        /// row j - 1's result of step t - 1 and the one above-left row j - 1's result of step t - 2. The sixteen bytes
        /// of a step (eight rows, two bytes each) are independent, so one row's long dependency chain through Paeth's
        /// predictor becomes sixteen chains in one vector: the same predictor, byte for byte, as <see cref="Paeth"/>.
        /// Rows left of their first pixel read as 0, as PNG defines; the row above the group is final already.
        /// </summary>
        private static void PaethEightRows(byte[] raw, int y0, int stride)
        {
            int width = stride / 2;
            int rowLength = stride + 1;
            ref byte origin = ref MemoryMarshal.GetArrayDataReference(raw);
            int above = y0 == 0 ? -1 : ((y0 - 1) * rowLength) + 1;
            Span<int> starts = stackalloc int[8];
            for (int j = 0; j < 8; j++)
            {
                starts[j] = ((y0 + j) * rowLength) + 1;
            }

            Vector256<int> rowBelow = Vector256.Create(0, 0, 1, 2, 3, 4, 5, 6);
            Vector256<int> rowIndex = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
            Vector256<short> lowByte = Vector256.Create((short)0xFF);
            Vector256<short> previous = Vector256<short>.Zero, up = Vector256<short>.Zero;
            for (int t = 0; t < width + 7; t++)
            {
                Vector128<ushort> packed = Vector128.Create(
                    Sample(ref origin, starts[0], t, width),
                    Sample(ref origin, starts[1], t - 1, width),
                    Sample(ref origin, starts[2], t - 2, width),
                    Sample(ref origin, starts[3], t - 3, width),
                    Sample(ref origin, starts[4], t - 4, width),
                    Sample(ref origin, starts[5], t - 5, width),
                    Sample(ref origin, starts[6], t - 6, width),
                    Sample(ref origin, starts[7], t - 7, width));
                Vector256<short> filtered = Avx2.ConvertToVector256Int16(packed.AsByte());
                int aboveSample = above < 0 || t >= width ? 0 : Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref origin, above + (2 * t)));
                Vector256<short> c = up;
                Vector256<short> b = Avx2.Blend(Avx2.PermuteVar8x32(previous.AsInt32(), rowBelow), Vector256.CreateScalar((aboveSample & 0xFF) | ((aboveSample & 0xFF00) << 8)), 0b1).AsInt16();
                Vector256<short> a = previous;
                Vector256<short> pa = Avx2.Abs(Avx2.Subtract(b, c)).AsInt16();
                Vector256<short> pb = Avx2.Abs(Avx2.Subtract(a, c)).AsInt16();
                Vector256<short> pc = Avx2.Abs(Avx2.Subtract(Avx2.Add(a, b), Avx2.Add(c, c))).AsInt16();
                Vector256<short> pick = Avx2.BlendVariable(a, b, Avx2.CompareGreaterThan(pa, pb));
                Vector256<short> value = Avx2.And(Avx2.Add(filtered, Avx2.BlendVariable(pick, c, Avx2.CompareGreaterThan(Avx2.Min(pa, pb), pc))), lowByte);
                if (t < 7)
                {
                    // Rows that have not reached their first pixel stay 0 (the left neighbour of their first pixel).
                    value = Avx2.And(value, Avx2.CompareGreaterThan(Vector256.Create(t + 1), rowIndex).AsInt16());
                }

                previous = value;
                up = b;
                Vector256<ushort> bytes = Avx2.PackUnsignedSaturate(value, value).AsUInt16();
                for (int j = 0; j < 8; j++)
                {
                    int x = t - j;
                    if ((uint)x < (uint)width)
                    {
                        // After the pack, rows 0-3 are elements 0-3 and rows 4-7 elements 8-11.
                        Unsafe.WriteUnaligned(ref Unsafe.Add(ref origin, starts[j] + (2 * x)), bytes.GetElement(j < 4 ? j : j + 4));
                    }
                }
            }
        }

        /// <summary>The two bytes of pixel <paramref name="x"/> (clamped into the row) of the row whose samples start at <paramref name="start"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static ushort Sample(ref byte origin, int start, int x, int width) =>
            Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref origin, start + (2 * Math.Clamp(x, 0, width - 1))));

        /// <summary>Undoes the Up filter (each byte plus the byte above, modulo 256), 32 bytes at a time.</summary>
        private static void UpRow(ref byte row, ref byte up, int stride)
        {
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                for (; i + 32 <= stride; i += 32)
                {
                    (Vector256.LoadUnsafe(ref row, (nuint)i) + Vector256.LoadUnsafe(ref up, (nuint)i)).StoreUnsafe(ref row, (nuint)i);
                }
            }

            for (; i < stride; i++)
            {
                Unsafe.Add(ref row, i) += Unsafe.Add(ref up, i);
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

        /// <summary>
        /// Paeth's predictor (a on ties, then b, then c) with sign masks instead of comparisons: the JIT keeps
        /// comparisons inside a loop as branches, and on a noisy X-ray they mispredict about every other byte (the
        /// compare-and-select form cost 3.8 CPU-ms for the 512 KB of a 512x512 16-bit image, this one about a third).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int Paeth(int a, int b, int c)
        {
            int pa = Abs(b - c), pb = Abs(a - c), pc = Abs(a + b - c - c);
            int notA = (pb - pa) >> 31; // all ones when pb < pa: b is nearer than a
            int pick = a ^ ((a ^ b) & notA);
            int nearest = pa ^ ((pa ^ pb) & notA); // min(pa, pb)
            int toC = (pc - nearest) >> 31; // all ones when pc < min(pa, pb): c is nearest
            return pick ^ ((pick ^ c) & toC);
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
