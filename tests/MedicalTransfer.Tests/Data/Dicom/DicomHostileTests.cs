using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using MedicalTransfer.Data;
using MedicalTransfer.Data.Dicom;
using Xunit;

namespace MedicalTransfer.Tests.Data.Dicom
{
    /// <summary>
    /// Broken and hostile DICOM files, each made from a valid file in the test: every one must be an
    /// <see cref="ImageDataException"/> that names the file and the problem, never another exception,
    /// a read past the end or a large allocation.
    /// </summary>
    public sealed class DicomHostileTests
    {
        private const string Name = "/data/hostile.dcm";

        public static IEnumerable<object[]> ValidFiles() => new[]
        {
            new object[] { "pydicom", "MR_small.dcm" },
            new object[] { "pydicom", "MR_small_implicit.dcm" },
            new object[] { "pydicom", "MR_small_bigendian.dcm" },
            new object[] { "pydicom", "MR_small_RLE.dcm" },
            new object[] { "pydicom", "SC_rgb_jpeg_dcmtk.dcm" },
            new object[] { "pydicom", "image_dfl.dcm" },
            new object[] { "generated", "modality_lut_voi_lut.dcm" },
            new object[] { "generated", "jpeg_baseline_3frames_bot.dcm" },
            new object[] { "generated", "rle_signed12_2frames.dcm" },
        };

        [Theory]
        [MemberData(nameof(ValidFiles))]
        public void Decode_TruncatedAtEveryLength_ThrowsTypedErrorNamingTheFile(string source, string file)
        {
            byte[] bytes = source == "pydicom" ? DicomTestFiles.Pydicom(file) : DicomTestFiles.Generated(file);
            float[] expected;
            using (FloatImage whole = ImageDecoder.Decode(Name, bytes, ImageLoadOptions.Default))
            {
                expected = whole.Pixels.ToArray(); // the file itself is good
            }

            // Every length from 0 to the last byte. A cut file may still decode when only what lies
            // after the pixel data was lost (trailing elements, the last bytes of a deflate stream),
            // but then it must give exactly the intact file's pixels: nothing is filled in.
            int decoded = 0;
            for (int length = 0; length < bytes.Length; length++)
            {
                try
                {
                    using FloatImage image = ImageDecoder.Decode(Name, bytes[..length], ImageLoadOptions.Default);
                    Assert.True(expected.AsSpan().SequenceEqual(image.Pixels), $"cut to {length} bytes: decoded to other pixels than the intact file");
                    decoded++;
                }
                catch (ImageDataException e)
                {
                    Assert.True(e.Path == Name && e.Message.Contains(Name, StringComparison.Ordinal), $"cut to {length} bytes: the error does not name the file: {e.Message}");
                }
            }

            Assert.True(decoded < 200, $"{decoded} truncations decoded");
        }

        [Fact]
        public void Decode_TruncationsInEachRegion_SayWhereTheFileEnds()
        {
            byte[] file = DicomTestFiles.Pydicom("MR_small.dcm");
            int pixelData = DicomTestFiles.Find(file, DicomTags.PixelData);
            int patientId = DicomTestFiles.Find(file, DicomTags.PatientId);
            Assert.Contains("shorter than a DICOM preamble", Message(file[..100]), StringComparison.Ordinal);
            Assert.Contains("ends inside the file meta information", Message(file[..137]), StringComparison.Ordinal);
            Assert.Contains("ends inside the data set", Message(file[..(patientId + 3)]), StringComparison.Ordinal);
            Assert.Contains("(0010,0020)", Message(file[..(patientId + 10)]), StringComparison.Ordinal); // inside the Patient ID's value
            Assert.Contains("Pixel Data (7FE0,0010)", Message(file[..(pixelData + 500)]), StringComparison.Ordinal);
            Assert.Contains("the file is truncated", Message(file[..(pixelData + 500)]), StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_ElementLengthPastTheEnd_IsRefused()
        {
            byte[] file = DicomTestFiles.Pydicom("MR_small.dcm");
            int patientId = DicomTestFiles.Find(file, DicomTags.PatientId);
            byte[] shortLength = (byte[])file.Clone();
            BinaryPrimitives.WriteUInt16LittleEndian(shortLength.AsSpan(patientId + 6), 0xFFF0); // LO: 2-byte length
            int pixelData = DicomTestFiles.Find(file, DicomTags.PixelData);
            byte[] longLength = (byte[])file.Clone();
            BinaryPrimitives.WriteUInt32LittleEndian(longLength.AsSpan(pixelData + 8), 0x7FFF_FFF0); // OW: 4-byte length

            string a = Message(shortLength);
            string b = Message(longLength);

            // The 16-bit length swallows the following elements until it runs past the end.
            Assert.Contains("runs past the end", a, StringComparison.Ordinal);
            Assert.Contains("declares 2147483632 bytes", b, StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_UndefinedLengthSequenceThatNeverEnds_IsRefused()
        {
            byte[] item = Element(0x0008_1150, "UI", Encoding.ASCII.GetBytes("1.2.3.4\0"));
            byte[] items = Concat(ItemHeader((uint)item.Length), item, ItemHeader((uint)item.Length), item);
            byte[] sequence = Concat(UndefinedSequence(0x0008_1140), items); // no delimiter: the file ends

            byte[] file = Concat(Meta(), sequence);
            string message = Message(file);

            Assert.Contains("(0008,1140) of undefined length", message, StringComparison.Ordinal);
            Assert.Contains("never ends", message, StringComparison.Ordinal);

            // An item of undefined length that never ends.
            byte[] openItem = Concat(Meta(), UndefinedSequence(0x0008_1140), ItemHeader(0xFFFFFFFF), item);
            Assert.Contains("sequence item of undefined length", Message(openItem), StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_SequencesNestedFarTooDeep_AreRefusedWithoutExhaustingTheStack()
        {
            var parts = new List<byte[]> { Meta() };
            for (int depth = 0; depth < 10_000; depth++)
            {
                parts.Add(UndefinedSequence(0x0008_1140));
                parts.Add(ItemHeader(0xFFFFFFFF));
            }

            string message = Message(Concat(parts.ToArray()));

            Assert.Contains("nests sequences more than 32 deep", message, StringComparison.Ordinal);
        }

        [Theory]
        [InlineData(65535, 65535, "1")]
        [InlineData(512, 512, "1000")]
        [InlineData(65535, 65535, "2147483647")]
        public void Decode_PixelsAboveMaxPixels_AreRefusedBeforeAnyPixelMemoryIsAllocated(int rows, int columns, string frames)
        {
            byte[] file = DicomTestFiles.Header(columns, rows, "MONOCHROME2", 16, 16, false)
                .Text(DicomTags.NumberOfFrames, "IS", frames)
                .PixelData(new byte[64], words: true)
                .ToBytes();

            long before = GC.GetAllocatedBytesForCurrentThread();
            string message = Message(file);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

            Assert.Contains("the limit is 64000000 (ImageLoadOptions.MaxPixels)", message, StringComparison.Ordinal);
            Assert.Contains($"{columns}x{rows} pixels x {frames} frames", message, StringComparison.Ordinal);
            Assert.True(allocated < 1_000_000, $"refusing the file allocated {allocated} bytes");
        }

        [Fact]
        public void Decode_PixelsAboveAGivenMaxPixels_AreRefused()
        {
            byte[] file = DicomTestFiles.Gray16(64, 64, (x, y) => x).ToBytes();

            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(Name, file, new ImageLoadOptions { MaxPixels = 4095 }));

            Assert.Contains("64x64 pixels x 1 frames = 4096 pixels; the limit is 4095", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_PixelDataShorterThanDeclared_IsRefused()
        {
            byte[] file = DicomTestFiles.Header(64, 64, "MONOCHROME2", 16, 16, false).PixelData(new byte[4000], words: true).ToBytes();

            string message = Message(file);

            Assert.Contains("has 4000 bytes of Pixel Data, but 64x64 pixels x 1 frames x 1 samples at 16 bits need 8192", message, StringComparison.Ordinal);
            Assert.Contains("shorter than declared", message, StringComparison.Ordinal);
        }

        [Theory]
        [InlineData("1.2.840.10008.5.1.4.1.1.2", "it is the UID of CT Image Storage, a SOP class")]
        [InlineData("1.2.3.4.5.6", "not a DICOM transfer syntax")]
        [InlineData("JPEG", "not a DICOM transfer syntax")]
        public void Decode_TransferSyntaxUidThatIsNotATransferSyntax_IsRefused(string uid, string expected)
        {
            byte[] file = DicomTestFiles.Gray16(4, 4, (x, y) => x, transferSyntax: uid).ToBytes();

            string message = Message(file);

            Assert.Contains("'" + uid + "'", message, StringComparison.Ordinal);
            Assert.Contains(expected, message, StringComparison.Ordinal);
        }

        [Theory]
        [InlineData("1.2.840.10008.1.2.4.70", "JPEG Lossless, Non-Hierarchical, First-Order Prediction", "dcmdjpeg")]
        [InlineData("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless Image Compression", "dcmdjpls")]
        [InlineData("1.2.840.10008.1.2.4.90", "JPEG 2000 Image Compression (Lossless Only)", "gdcmconv --raw")]
        [InlineData("1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000", "gdcmconv --raw")]
        public void Decode_UnsupportedTransferSyntax_NamesItAndHowToConvert(string uid, string name, string tool)
        {
            byte[] file = DicomTestFiles.Header(8, 8, "MONOCHROME2", 8, 8, false, uid).Encapsulated(new[] { new byte[] { 0xFF, 0xD8, 0xFF, 0xD9 } }, offsetTable: false).ToBytes();

            string message = Message(file);

            Assert.Contains(uid, message, StringComparison.Ordinal);
            Assert.Contains(name, message, StringComparison.Ordinal);
            Assert.Contains(tool, message, StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_EncapsulatedFragmentsThatNeverEnd_AreRefused()
        {
            byte[] good = DicomTestFiles.Generated("jpeg_baseline_gray.dcm");
            byte[] noDelimiter = good[..^8];
            byte[] fragmentPastEnd = (byte[])good.Clone();
            int pixelData = DicomTestFiles.Find(good, DicomTags.PixelData);
            int firstFragment = pixelData + 12 + 8 + (int)BinaryPrimitives.ReadUInt32LittleEndian(good.AsSpan(pixelData + 12 + 4)); // after the Basic Offset Table item
            BinaryPrimitives.WriteUInt32LittleEndian(fragmentPastEnd.AsSpan(firstFragment + 4), 0x00FF_FFFF);

            Assert.Contains("fragments never end", Message(noDelimiter), StringComparison.Ordinal);
            Assert.Contains("pixel data fragment", Message(fragmentPastEnd), StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_BrokenRleFrames_AreRefused()
        {
            byte[] good = DicomTestFiles.Pydicom("MR_small_RLE.dcm");
            int pixelData = DicomTestFiles.Find(good, DicomTags.PixelData);
            int offsetTable = (int)BinaryPrimitives.ReadUInt32LittleEndian(good.AsSpan(pixelData + 12 + 4));
            int rleHeader = pixelData + 12 + 8 + offsetTable + 8; // Basic Offset Table item, then the fragment item's header

            byte[] segments = (byte[])good.Clone();
            BinaryPrimitives.WriteUInt32LittleEndian(segments.AsSpan(rleHeader), 3);
            byte[] offsetOutside = (byte[])good.Clone();
            BinaryPrimitives.WriteUInt32LittleEndian(offsetOutside.AsSpan(rleHeader + 8), 0x7FFF_FFFF);

            Assert.Contains("with 3 segments; 1 samples per pixel of 16 bits need 2", Message(segments), StringComparison.Ordinal);
            Assert.Contains("outside its", Message(offsetOutside), StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_JpegFrameWithoutEndOrOfAnotherSize_IsRefused()
        {
            byte[] good = DicomTestFiles.Generated("jpeg_baseline_gray.dcm");
            int pixelData = DicomTestFiles.Find(good, DicomTags.PixelData);
            int fragment = pixelData + 12 + 8 + (int)BinaryPrimitives.ReadUInt32LittleEndian(good.AsSpan(pixelData + 12 + 4));
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(good.AsSpan(fragment + 4));
            byte[] jpeg = good.AsSpan(fragment + 8, length).ToArray();
            int end = Array.LastIndexOf(jpeg, (byte)0xD9);

            byte[] cut = DicomTestFiles.Header(64, 48, "MONOCHROME2", 8, 8, false, DicomTransferSyntax.JpegBaselineUid).Encapsulated(new[] { jpeg[..(end - 100)] }, false).ToBytes();
            byte[] otherSize = DicomTestFiles.Header(10, 10, "MONOCHROME2", 8, 8, false, DicomTransferSyntax.JpegBaselineUid).Encapsulated(new[] { jpeg }, false).ToBytes();
            byte[] notJpeg = DicomTestFiles.Header(64, 48, "MONOCHROME2", 8, 8, false, DicomTransferSyntax.JpegBaselineUid).Encapsulated(new[] { new byte[] { 1, 2, 3, 4, 5, 6 } }, false).ToBytes();

            Assert.Contains("without an end-of-image marker", Message(cut), StringComparison.Ordinal);
            Assert.Contains("declares 10x10 pixels, but its JPEG frame 0 is 64x48", Message(otherSize), StringComparison.Ordinal);
            Assert.Contains("does not start with a JPEG start-of-image marker", Message(notJpeg), StringComparison.Ordinal);
        }

        [Fact]
        public void DecodeFrame_AlteredHeaderCopy_IsNotTrusted()
        {
            // DicomHeader is a public record: a 'with' copy keeps the reader's parse but may lie about the size.
            byte[] file = DicomTestFiles.Pydicom("MR_small.dcm");
            DicomHeader header = DicomReader.Instance.ReadHeader(Name, file, ImageLoadOptions.Default);
            DicomHeader forged = header with { Rows = 128, Columns = 128, BitsAllocated = 32 }; // within MaxPixels, beyond the pixel data

            DicomFrame frame = DicomReader.Instance.DecodeFrame(Name, file, forged, 0, ImageLoadOptions.Default);

            Assert.Equal((64, 64, 16), (frame.Columns, frame.Rows, frame.BitsAllocated)); // read again from the bytes
            Assert.Throws<ImageDataException>(() => DicomReader.Instance.DecodeFrame(Name, file, header, 0, new ImageLoadOptions { MaxPixels = 100 }));
        }

        [Fact]
        public void Decode_JpegWhoseComponentsDisagreeWithTheHeader_IsRefused()
        {
            byte[] gray = DicomTestFiles.Generated("jpeg_baseline_gray.dcm");
            int pixelData = DicomTestFiles.Find(gray, DicomTags.PixelData);
            int fragment = pixelData + 12 + 8 + (int)BinaryPrimitives.ReadUInt32LittleEndian(gray.AsSpan(pixelData + 12 + 4));
            byte[] jpeg = gray.AsSpan(fragment + 8, (int)BinaryPrimitives.ReadUInt32LittleEndian(gray.AsSpan(fragment + 4))).ToArray();
            byte[] labelledRgb = DicomTestFiles.Header(64, 48, "RGB", 8, 8, false, DicomTransferSyntax.JpegBaselineUid, samples: 3).Encapsulated(new[] { jpeg }, false).ToBytes();

            Assert.Contains("declares 3 samples per pixel, but its JPEG frame 0 has 1 components", Message(labelledRgb), StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_DeflateBomb_IsRefusedAtTheLimit()
        {
            byte[] good = DicomTestFiles.Pydicom("image_dfl.dcm");
            int metaLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(good.AsSpan(132 + 8));
            int dataSet = 132 + 12 + metaLength;
            using var compressed = new MemoryStream();
            using (var deflate = new DeflateStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                byte[] zeros = new byte[1 << 20];
                for (int i = 0; i < 64; i++)
                {
                    deflate.Write(zeros); // 64 MiB of zeros: about 64 KiB compressed
                }
            }

            byte[] bomb = Concat(good[..dataSet], compressed.ToArray());
            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(Name, bomb, new ImageLoadOptions { MaxPixels = 1000 }));

            Assert.Contains("decompression bomb", e.Message, StringComparison.Ordinal);
            Assert.Contains("inflates to more than 16785216 bytes", e.Message, StringComparison.Ordinal);

            byte[] corrupt = Concat(good[..dataSet], new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x11 });
            Assert.Contains("deflate stream is corrupt", Message(corrupt), StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_InvalidValueRepresentationAndStrayItem_AreRefused()
        {
            byte[] file = DicomTestFiles.Pydicom("MR_small.dcm");
            int patientId = DicomTestFiles.Find(file, DicomTags.PatientId);
            byte[] badVr = (byte[])file.Clone();
            badVr[patientId + 4] = (byte)'Q';
            badVr[patientId + 5] = (byte)'Q';
            byte[] strayItem = Concat(Meta(), ItemHeader(0));

            Assert.Contains("invalid value representation (bytes 51 51)", Message(badVr), StringComparison.Ordinal);
            Assert.Contains("item tag (FFFE,E000) at offset", Message(strayItem), StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_MissingOrInconsistentPixelModule_IsRefused()
        {
            byte[] noRows = new DicomWriter(DicomTestFiles.SecondaryCapture, "2.25.1").Text(DicomTags.PhotometricInterpretation, "CS", "MONOCHROME2").UShort(DicomTags.Columns, 4).UShort(DicomTags.BitsAllocated, 8).PixelData(new byte[16], false).ToBytes();
            byte[] rgbOneSample = DicomTestFiles.Header(4, 4, "RGB", 8, 8, false).PixelData(new byte[48], false).ToBytes();
            byte[] palette = DicomTestFiles.Header(4, 4, "PALETTE COLOR", 8, 8, false).PixelData(new byte[16], false).ToBytes();
            byte[] bits = DicomTestFiles.Header(4, 4, "MONOCHROME2", 12, 12, false).PixelData(new byte[32], false).ToBytes();
            byte[] stored = DicomTestFiles.Header(4, 4, "MONOCHROME2", 8, 12, false).PixelData(new byte[16], false).ToBytes();

            Assert.Contains("no Rows (0028,0010)", Message(noRows), StringComparison.Ordinal);
            Assert.Contains("has 1 samples per pixel (0028,0002) with Photometric Interpretation RGB, which needs 3", Message(rgbOneSample), StringComparison.Ordinal);
            Assert.Contains("'PALETTE COLOR'", Message(palette), StringComparison.Ordinal);
            Assert.Contains("Bits Allocated (0028,0100) 12", Message(bits), StringComparison.Ordinal);
            Assert.Contains("Bits Allocated 8, Bits Stored 12", Message(stored), StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_RandomlyCorruptedFiles_OnlyEverThrowTheTypedError()
        {
            // A cheap mutation sweep (seeded): issue 18's coverage-guided fuzzing goes much further.
            byte[][] sources = { DicomTestFiles.Pydicom("MR_small.dcm"), DicomTestFiles.Pydicom("SC_rgb_rle_2frame.dcm"), DicomTestFiles.Generated("modality_lut_voi_lut.dcm"), DicomTestFiles.Generated("jpeg_baseline_gray.dcm") };
            var random = new Random(12345);
            int decoded = 0, refused = 0;
            for (int round = 0; round < 1500; round++)
            {
                byte[] source = sources[round % sources.Length];
                byte[] mutated = (byte[])source.Clone();
                int flips = 1 + random.Next(8);
                for (int k = 0; k < flips; k++)
                {
                    // Bias towards the header, where the structure is.
                    int at = random.NextDouble() < 0.8 ? 128 + random.Next(Math.Min(1200, mutated.Length - 128)) : random.Next(mutated.Length);
                    mutated[at] = (byte)random.Next(256);
                }

                try
                {
                    using FloatImage image = ImageDecoder.Decode(Name, mutated, ImageLoadOptions.Default);
                    Assert.True(image.Pixels.ToArray().All(float.IsFinite), "decoded values are finite");
                    decoded++;
                }
                catch (ImageDataException e)
                {
                    Assert.Equal(Name, e.Path);
                    refused++;
                }
            }

            Assert.True(decoded > 0 && refused > 0, $"decoded {decoded}, refused {refused}");
        }

        private static string Message(byte[] bytes)
        {
            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(Name, bytes, ImageLoadOptions.Default));
            Assert.Equal(Name, e.Path);
            Assert.Contains(Name, e.Message, StringComparison.Ordinal);
            return e.Message;
        }

        private static byte[] Meta()
        {
            // A valid file's preamble and meta group, nothing else.
            byte[] file = DicomTestFiles.Gray16(2, 2, (x, y) => 0).ToBytes();
            int metaLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(132 + 8));
            return file[..(132 + 12 + metaLength)];
        }

        private static byte[] Element(uint tag, string vr, byte[] value)
        {
            byte[] e = new byte[8 + value.Length];
            BinaryPrimitives.WriteUInt16LittleEndian(e, (ushort)(tag >> 16));
            BinaryPrimitives.WriteUInt16LittleEndian(e.AsSpan(2), (ushort)tag);
            e[4] = (byte)vr[0];
            e[5] = (byte)vr[1];
            BinaryPrimitives.WriteUInt16LittleEndian(e.AsSpan(6), (ushort)value.Length);
            value.CopyTo(e, 8);
            return e;
        }

        private static byte[] UndefinedSequence(uint tag)
        {
            byte[] e = new byte[12];
            BinaryPrimitives.WriteUInt16LittleEndian(e, (ushort)(tag >> 16));
            BinaryPrimitives.WriteUInt16LittleEndian(e.AsSpan(2), (ushort)tag);
            e[4] = (byte)'S';
            e[5] = (byte)'Q';
            BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(8), 0xFFFFFFFF);
            return e;
        }

        private static byte[] ItemHeader(uint length)
        {
            byte[] e = new byte[8];
            BinaryPrimitives.WriteUInt16LittleEndian(e, 0xFFFE);
            BinaryPrimitives.WriteUInt16LittleEndian(e.AsSpan(2), 0xE000);
            BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(4), length);
            return e;
        }

        private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
    }
}
