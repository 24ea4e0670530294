using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using SkiaSharp;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>Turns a frame's pixel data (native, RLE Lossless, JPEG Baseline) into little-endian samples.</summary>
    internal static class DicomPixelDecoder
    {
        /// <summary>Bytes the native pixel data of all frames needs.</summary>
        public static long NativeLength(DicomHeader h)
        {
            long pixels = (long)h.Rows * h.Columns;
            if (h.BitsAllocated == 1)
            {
                return ((pixels * h.NumberOfFrames) + 7) / 8;
            }

            return FrameSamples(h) * (h.BitsAllocated / 8) * h.NumberOfFrames;
        }

        public static DicomFrame Native(string name, DicomParsedFile p, DicomHeader h, int frame)
        {
            ReadOnlyMemory<byte> all = p.Data.Slice(p.PixelData!.Offset, p.PixelData.Length);
            int pixels = h.Rows * h.Columns;
            string photometric = h.PhotometricInterpretation;
            if (h.BitsAllocated == 1)
            {
                // Bit-packed, least significant bit first, frames back to back (PS3.5 8.1.1).
                var unpacked = new byte[pixels];
                long firstBit = (long)frame * pixels;
                ReadOnlySpan<byte> packed = all.Span;
                for (int i = 0; i < pixels; i++)
                {
                    long bit = firstBit + i;
                    unpacked[i] = (byte)((packed[(int)(bit >> 3)] >> (int)(bit & 7)) & 1);
                }

                return new DicomFrame(h.Columns, h.Rows, 1, 8, false, photometric, unpacked);
            }

            int bytes = h.BitsAllocated / 8;
            int frameLength = checked((int)(FrameSamples(h) * bytes));
            ReadOnlyMemory<byte> samples = all.Slice(frame * frameLength, frameLength);
            if (p.BigEndian && bytes > 1)
            {
                byte[] swapped = samples.ToArray();
                Swap(swapped, bytes);
                samples = swapped;
            }

            if (photometric == "YBR_FULL_422")
            {
                // Y1 Y2 Cb Cr per two pixels (PS3.3 C.7.6.3.1.2): each pair shares its chroma.
                byte[] full = new byte[pixels * 3 * bytes];
                ReadOnlySpan<byte> s = samples.Span;
                int pairs = pixels / 2;
                for (int k = 0; k < pairs; k++)
                {
                    for (int b = 0; b < bytes; b++)
                    {
                        byte y1 = s[(((4 * k) + 0) * bytes) + b], y2 = s[(((4 * k) + 1) * bytes) + b];
                        byte cb = s[(((4 * k) + 2) * bytes) + b], cr = s[(((4 * k) + 3) * bytes) + b];
                        int o = 6 * k * bytes;
                        full[o + b] = y1;
                        full[o + bytes + b] = cb;
                        full[o + (2 * bytes) + b] = cr;
                        full[o + (3 * bytes) + b] = y2;
                        full[o + (4 * bytes) + b] = cb;
                        full[o + (5 * bytes) + b] = cr;
                    }
                }

                return new DicomFrame(h.Columns, h.Rows, 3, h.BitsAllocated, false, "YBR_FULL", full);
            }

            return new DicomFrame(h.Columns, h.Rows, h.SamplesPerPixel, h.BitsAllocated, h.PlanarConfiguration == 1, photometric, samples);
        }

        /// <summary>
        /// The encapsulated bytes of one frame: all fragments for a single frame; otherwise the
        /// Basic Offset Table, one fragment per frame, or (JPEG) fragments that start with a
        /// start-of-image marker.
        /// </summary>
        public static ReadOnlyMemory<byte> FrameBytes(string name, DicomParsedFile p, DicomHeader h, int frame)
        {
            List<(int Offset, int Length)> fragments = p.Fragments!;
            int first, count;
            if (h.NumberOfFrames == 1)
            {
                first = 0;
                count = fragments.Count;
            }
            else if (p.BasicOffsets is { Count: > 0 } offsets && offsets.Count == h.NumberOfFrames)
            {
                // Offsets count from the first byte of the first fragment's item tag.
                var starts = new List<long>(fragments.Count);
                long position = 0;
                foreach ((int _, int length) in fragments)
                {
                    starts.Add(position);
                    position += 8 + length;
                }

                first = starts.IndexOf(offsets[frame]);
                int next = frame + 1 < offsets.Count ? starts.IndexOf(offsets[frame + 1]) : fragments.Count;
                if (first < 0 || next <= first)
                {
                    throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has a Basic Offset Table whose offset {0} for frame {1} does not point at a fragment: the pixel data is corrupt.", offsets[frame], frame));
                }

                count = next - first;
            }
            else if (fragments.Count == h.NumberOfFrames)
            {
                first = frame;
                count = 1;
            }
            else if (p.Syntax.Encoding == DicomPixelEncoding.JpegBaseline)
            {
                var frameStarts = new List<int>();
                ReadOnlySpan<byte> data = p.Data.Span;
                for (int i = 0; i < fragments.Count; i++)
                {
                    if (fragments[i].Length >= 2 && data[fragments[i].Offset] == 0xFF && data[fragments[i].Offset + 1] == 0xD8)
                    {
                        frameStarts.Add(i);
                    }
                }

                if (frameStarts.Count != h.NumberOfFrames)
                {
                    throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "declares {0} frames but its {1} JPEG fragments start {2} images and there is no Basic Offset Table: the frames cannot be told apart.", h.NumberOfFrames, fragments.Count, frameStarts.Count));
                }

                first = frameStarts[frame];
                count = (frame + 1 < frameStarts.Count ? frameStarts[frame + 1] : fragments.Count) - first;
            }
            else
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "declares {0} frames in {1} pixel data fragments without a Basic Offset Table: the frames cannot be told apart.", h.NumberOfFrames, fragments.Count));
            }

            if (count == 1)
            {
                return p.Data.Slice(fragments[first].Offset, fragments[first].Length);
            }

            long total = 0;
            for (int i = first; i < first + count; i++)
            {
                total += fragments[i].Length;
            }

            byte[] joined = new byte[total];
            int at = 0;
            for (int i = first; i < first + count; i++)
            {
                p.Data.Span.Slice(fragments[i].Offset, fragments[i].Length).CopyTo(joined.AsSpan(at));
                at += fragments[i].Length;
            }

            return joined;
        }

        /// <summary>RLE Lossless (PS3.5 Annex G): a 64-byte header of segment offsets, one PackBits segment per byte of each sample, most significant byte first.</summary>
        public static DicomFrame Rle(string name, ReadOnlyMemory<byte> frameBytes, DicomHeader h, int frame)
        {
            ReadOnlySpan<byte> data = frameBytes.Span;
            if (data.Length < 64)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has an RLE frame {0} of {1} bytes, shorter than its 64-byte RLE header: the pixel data is truncated.", frame, data.Length));
            }

            int bytes = h.BitsAllocated / 8;
            uint segments = BinaryPrimitives.ReadUInt32LittleEndian(data);
            int expected = h.SamplesPerPixel * bytes;
            if (segments != expected)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has an RLE frame {0} with {1} segments; {2} samples per pixel of {3} bits need {4}.", frame, segments, h.SamplesPerPixel, h.BitsAllocated, expected));
            }

            var offsets = new int[expected + 1];
            for (int i = 0; i < expected; i++)
            {
                uint offset = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(4 + (4 * i)));
                if (offset < 64 || offset > data.Length || (i > 0 && offset < offsets[i - 1]))
                {
                    throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has an RLE frame {0} whose segment {1} starts at offset {2}, outside its {3} bytes (or before the previous segment): the RLE header is corrupt.", frame, i, offset, data.Length));
                }

                offsets[i] = (int)offset;
            }

            offsets[expected] = data.Length;
            int pixels = h.Rows * h.Columns;
            byte[] output = new byte[pixels * expected];
            byte[] segment = new byte[pixels];
            for (int sample = 0; sample < h.SamplesPerPixel; sample++)
            {
                for (int k = 0; k < bytes; k++)
                {
                    int index = (sample * bytes) + k;
                    int decoded = PackBits(data.Slice(offsets[index], offsets[index + 1] - offsets[index]), segment);
                    if (decoded < pixels)
                    {
                        throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has an RLE frame {0} whose segment {1} decodes to {2} bytes; {3}x{4} pixels need {5}: the pixel data is truncated or corrupt.", frame, index, decoded, h.Columns, h.Rows, pixels));
                    }

                    // Segment k holds byte (bytes - 1 - k) of each little-endian sample, plane by plane.
                    int start = (sample * pixels * bytes) + (bytes - 1 - k);
                    for (int i = 0; i < pixels; i++)
                    {
                        output[start + (i * bytes)] = segment[i];
                    }
                }
            }

            return new DicomFrame(h.Columns, h.Rows, h.SamplesPerPixel, h.BitsAllocated, planar: true, h.PhotometricInterpretation == "YBR_FULL_422" ? "YBR_FULL" : h.PhotometricInterpretation, output);
        }

        /// <summary>Decodes one PackBits segment into <paramref name="output"/>, stopping when it is full or the input ends.</summary>
        internal static int PackBits(ReadOnlySpan<byte> input, Span<byte> output)
        {
            int i = 0, o = 0;
            while (i < input.Length && o < output.Length)
            {
                int n = (sbyte)input[i++];
                if (n >= 0)
                {
                    int count = Math.Min(Math.Min(n + 1, input.Length - i), output.Length - o);
                    input.Slice(i, count).CopyTo(output.Slice(o));
                    i += n + 1;
                    o += count;
                }
                else if (n != -128)
                {
                    if (i >= input.Length)
                    {
                        break;
                    }

                    int count = Math.Min(1 - n, output.Length - o);
                    output.Slice(o, count).Fill(input[i++]);
                    o += count;
                }
            }

            return o;
        }

        /// <summary>
        /// JPEG Baseline through libjpeg-turbo (<see cref="JpegCodec"/>, the decoder pydicom's Pillow
        /// handler uses, so the samples equal pydicom's). The components come back as they were coded, as
        /// pydicom returns them: YBR files stay YCbCr (the SDK converts them), and an RGB file's
        /// JPEG is read without a colour transform unless it carries an Adobe marker that asks for one.
        /// </summary>
        public static DicomFrame Jpeg(string name, ReadOnlyMemory<byte> frameBytes, DicomHeader h, int frame, ImageLoadOptions options)
        {
            ReadOnlySpan<byte> jpeg = frameBytes.Span;
            if (jpeg.Length < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has a JPEG Baseline frame {0} that does not start with a JPEG start-of-image marker (FF D8): the pixel data is corrupt.", frame));
            }

            if (jpeg.LastIndexOf(stackalloc byte[] { 0xFF, 0xD9 }) < jpeg.LastIndexOf(stackalloc byte[] { 0xFF, 0xDA }))
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has a JPEG Baseline frame {0} without an end-of-image marker after its last scan: the pixel data is truncated.", frame));
            }

            (int adobe, int frameMarker, int components) = ScanMarkers(jpeg);
            if (frameMarker != 0xC0)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "declares JPEG Baseline, but its frame {0} is coded with JPEG marker {1}; Baseline is SOF0 (FF C0). Convert it with 'dcmdjpeg' or 'gdcmconv --raw'.", frame, frameMarker < 0 ? "(none found)" : "FF " + frameMarker.ToString("X2", CultureInfo.InvariantCulture)));
            }

            if (components != h.SamplesPerPixel)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "declares {0} samples per pixel, but its JPEG frame {1} has {2} components: the file is inconsistent.", h.SamplesPerPixel, frame, components));
            }

            bool raw = h.SamplesPerPixel == 3 && (h.PhotometricInterpretation != "RGB" || adobe < 0);
            byte[] bytes = raw ? WithoutColourTransform(jpeg, adobe) : jpeg.ToArray();

            using JpegCodec? codec = JpegCodec.Open(bytes);
            if (codec is null)
            {
                throw new ImageDataException(name, string.Format(CultureInfo.InvariantCulture, "DICOM file '{0}' has a JPEG Baseline frame {1} with a corrupt JPEG header: libjpeg-turbo cannot read it.", name, frame));
            }

            if (codec.Width != h.Columns || codec.Height != h.Rows)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "declares {0}x{1} pixels, but its JPEG frame {2} is {3}: the file is inconsistent.", h.Columns, h.Rows, frame, codec.Width + "x" + codec.Height));
            }

            if ((long)codec.Width * codec.Height > options.MaxPixels)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has a {0}x{1} JPEG frame, above ImageLoadOptions.MaxPixels ({2}).", codec.Width, codec.Height, options.MaxPixels));
            }

            if (codec.Gray != (h.SamplesPerPixel == 1))
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "declares {0} samples per pixel, but libjpeg-turbo decodes its JPEG frame {1} as {2}: the file is inconsistent.", h.SamplesPerPixel, frame, codec.Gray ? "gray" : "colour"));
            }

            int pixels = h.Rows * h.Columns;
            byte[] decoded = codec.DecodeRented(out SKCodecResult result);
            try
            {
                if (result != SKCodecResult.Success)
                {
                    throw new ImageDataException(name, string.Format(CultureInfo.InvariantCulture, "DICOM file '{0}' has a JPEG Baseline frame {1} that cannot be decoded: {2}.", name, frame, JpegCodec.Describe(result)));
                }

                if (h.SamplesPerPixel == 1)
                {
                    return new DicomFrame(h.Columns, h.Rows, 1, 8, false, h.PhotometricInterpretation, decoded.AsSpan(0, pixels).ToArray());
                }

                // R, G, B, 255 from Skia; the frame holds the three components as coded.
                var interleaved = new byte[pixels * 3];
                for (int i = 0, o = 0; o < interleaved.Length; i += 4, o += 3)
                {
                    interleaved[o] = decoded[i];
                    interleaved[o + 1] = decoded[i + 1];
                    interleaved[o + 2] = decoded[i + 2];
                }

                return new DicomFrame(h.Columns, h.Rows, 3, 8, false, h.PhotometricInterpretation == "RGB" ? "RGB" : "YBR_FULL", interleaved);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(decoded);
            }
        }

        /// <summary>Finds the Adobe APP14 segment (its offset, or -1), the frame marker (C0 for baseline, or -1) and its component count before the first scan.</summary>
        internal static (int Adobe, int FrameMarker, int Components) ScanMarkers(ReadOnlySpan<byte> jpeg)
        {
            int adobe = -1, frameMarker = -1, components = 0;
            int i = 2;
            while (i + 4 <= jpeg.Length)
            {
                if (jpeg[i] != 0xFF)
                {
                    break;
                }

                byte marker = jpeg[i + 1];
                if (marker == 0xFF)
                {
                    i++; // fill byte
                    continue;
                }

                if (marker is 0xD8 or 0x01 || (marker >= 0xD0 && marker <= 0xD7))
                {
                    i += 2;
                    continue;
                }

                if (marker is 0xDA or 0xD9)
                {
                    break;
                }

                int length = (jpeg[i + 2] << 8) | jpeg[i + 3];
                if (length < 2 || i + 2 + length > jpeg.Length)
                {
                    break;
                }

                if (marker == 0xEE && length >= 14 && jpeg.Slice(i + 4, 5).SequenceEqual("Adobe"u8))
                {
                    adobe = i;
                }
                else if (marker is >= 0xC0 and <= 0xCF && marker is not (0xC4 or 0xC8 or 0xCC) && frameMarker < 0)
                {
                    frameMarker = marker;
                    components = length >= 8 ? jpeg[i + 9] : 0; // SOF: length, precision, height, width, component count
                }

                i += 2 + length;
            }

            return (adobe, frameMarker, components);
        }

        /// <summary>
        /// A copy of the JPEG whose Adobe marker says "no colour transform", so the decoder returns the
        /// components as coded. libjpeg lets a JFIF marker (which implies YCbCr) win over an Adobe
        /// marker, so a JFIF APP0 segment's identifier is renamed ("JFIF" to "JFIX") in the copy too.
        /// </summary>
        private static byte[] WithoutColourTransform(ReadOnlySpan<byte> jpeg, int adobe)
        {
            byte[] result;
            if (adobe >= 0)
            {
                result = jpeg.ToArray();
                result[adobe + 2 + 2 + 11] = 0; // APP14: length, "Adobe", version(2), flags0(2), flags1(2), transform
            }
            else
            {
                ReadOnlySpan<byte> segment = stackalloc byte[] { 0xFF, 0xEE, 0x00, 0x0E, (byte)'A', (byte)'d', (byte)'o', (byte)'b', (byte)'e', 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00 };
                result = new byte[jpeg.Length + segment.Length];
                jpeg.Slice(0, 2).CopyTo(result);
                segment.CopyTo(result.AsSpan(2));
                jpeg.Slice(2).CopyTo(result.AsSpan(2 + segment.Length));
            }

            HideJfif(result);
            return result;
        }

        /// <summary>Renames every JFIF APP0 segment's identifier before the first scan.</summary>
        private static void HideJfif(byte[] jpeg)
        {
            int i = 2;
            while (i + 4 <= jpeg.Length && jpeg[i] == 0xFF)
            {
                byte marker = jpeg[i + 1];
                if (marker == 0xFF)
                {
                    i++;
                    continue;
                }

                if (marker is 0xDA or 0xD9)
                {
                    return;
                }

                int length = (jpeg[i + 2] << 8) | jpeg[i + 3];
                if (length < 2 || i + 2 + length > jpeg.Length)
                {
                    return;
                }

                if (marker == 0xE0 && length >= 7 && jpeg.AsSpan(i + 4, 5).SequenceEqual("JFIF\0"u8))
                {
                    jpeg[i + 7] = (byte)'X';
                }

                i += 2 + length;
            }
        }

        private static long FrameSamples(DicomHeader h)
        {
            long pixels = (long)h.Rows * h.Columns;
            // YBR_FULL_422 native data holds two samples per pixel (Y Y Cb Cr per two pixels).
            return h.PhotometricInterpretation == "YBR_FULL_422" ? pixels * 2 : pixels * h.SamplesPerPixel;
        }

        private static void Swap(byte[] data, int bytes)
        {
            if (bytes == 2)
            {
                for (int i = 0; i + 1 < data.Length; i += 2)
                {
                    (data[i], data[i + 1]) = (data[i + 1], data[i]);
                }
            }
            else
            {
                for (int i = 0; i + 3 < data.Length; i += 4)
                {
                    (data[i], data[i + 3]) = (data[i + 3], data[i]);
                    (data[i + 1], data[i + 2]) = (data[i + 2], data[i + 1]);
                }
            }
        }
    }
}
