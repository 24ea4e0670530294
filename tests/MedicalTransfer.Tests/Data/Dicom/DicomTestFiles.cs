using System;
using System.Buffers.Binary;
using System.IO;
using MedicalTransfer.Data.Dicom;

namespace MedicalTransfer.Tests.Data.Dicom
{
    /// <summary>Small DICOM files built in the tests (with the SDK's writer) and byte surgery on them.</summary>
    internal static class DicomTestFiles
    {
        public const string SecondaryCapture = "1.2.840.10008.5.1.4.1.1.7";

        /// <summary>A gray 16-bit file whose stored value at (x, y) is value(x, y).</summary>
        public static DicomWriter Gray16(int columns, int rows, Func<int, int, int> value, string photometric = "MONOCHROME2", int bitsStored = 16, bool signed = false, string transferSyntax = DicomTransferSyntax.ExplicitVrLittleEndianUid)
        {
            byte[] samples = new byte[columns * rows * 2];
            for (int y = 0; y < rows; y++)
            {
                for (int x = 0; x < columns; x++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(samples.AsSpan(2 * ((y * columns) + x)), unchecked((ushort)value(x, y)));
                }
            }

            return Header(columns, rows, photometric, 16, bitsStored, signed, transferSyntax).PixelData(samples, words: true);
        }

        public static DicomWriter Header(int columns, int rows, string photometric, int bitsAllocated, int bitsStored, bool signed, string transferSyntax = DicomTransferSyntax.ExplicitVrLittleEndianUid, int samples = 1) =>
            new DicomWriter(SecondaryCapture, "2.25.1234567890", transferSyntax)
                .Text(DicomTags.Modality, "CS", "OT")
                .Text(DicomTags.PatientId, "LO", "PAT01")
                .UShort(DicomTags.SamplesPerPixel, samples)
                .Text(DicomTags.PhotometricInterpretation, "CS", photometric)
                .UShort(DicomTags.Rows, rows)
                .UShort(DicomTags.Columns, columns)
                .UShort(DicomTags.BitsAllocated, bitsAllocated)
                .UShort(DicomTags.BitsStored, bitsStored)
                .UShort(DicomTags.HighBit, bitsStored - 1)
                .UShort(DicomTags.PixelRepresentation, signed ? 1 : 0);

        /// <summary>The offset of the first occurrence of a tag (little endian) after the preamble.</summary>
        public static int Find(byte[] file, uint tag)
        {
            Span<byte> pattern = stackalloc byte[4];
            BinaryPrimitives.WriteUInt16LittleEndian(pattern, (ushort)(tag >> 16));
            BinaryPrimitives.WriteUInt16LittleEndian(pattern.Slice(2), (ushort)tag);
            int at = file.AsSpan(132).IndexOf(pattern);
            if (at < 0)
            {
                throw new InvalidOperationException("Tag not found: " + DicomTags.Format(tag));
            }

            return at + 132;
        }

        public static byte[] Pydicom(string name) => File.ReadAllBytes(Path.Combine(PydicomReference.PydicomFolder, name));

        public static byte[] Generated(string name) => File.ReadAllBytes(TestSupport.FixturePath("Dicom", "generated", name));
    }
}
