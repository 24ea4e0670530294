using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>
    /// Writes small Part 10 files in Explicit VR Little Endian (or with encapsulated pixel data in
    /// RLE or JPEG Baseline): the synthetic chest phantoms and the tests' crafted files. Elements
    /// are written in tag order, text values padded to even length as PS3.5 requires.
    /// </summary>
    internal sealed class DicomWriter
    {
        private const string ImplementationClassUid = "2.25.329800735698586629295641978511506172918";
        private readonly SortedDictionary<uint, byte[]> elements = new();
        private readonly string transferSyntax;
        private readonly string sopClassUid;
        private readonly string sopInstanceUid;

        public DicomWriter(string sopClassUid, string sopInstanceUid, string transferSyntax = DicomTransferSyntax.ExplicitVrLittleEndianUid)
        {
            this.sopClassUid = sopClassUid;
            this.sopInstanceUid = sopInstanceUid;
            this.transferSyntax = transferSyntax;
            Text(DicomTags.SopClassUid, "UI", sopClassUid);
            Text(0x0008_0018, "UI", sopInstanceUid);
        }

        /// <summary>An item writer for sequences (no file meta, no SOP attributes).</summary>
        private DicomWriter()
        {
            transferSyntax = sopClassUid = sopInstanceUid = string.Empty;
        }

        public static DicomWriter Item() => new();

        public DicomWriter Text(uint tag, string vr, string value)
        {
            byte[] bytes = Encoding.ASCII.GetBytes(value);
            if (bytes.Length % 2 == 1)
            {
                Array.Resize(ref bytes, bytes.Length + 1);
                bytes[^1] = vr == "UI" ? (byte)0 : (byte)' ';
            }

            return Raw(tag, vr, bytes);
        }

        public DicomWriter Decimal(uint tag, params double[] values) =>
            Text(tag, "DS", string.Join('\\', Array.ConvertAll(values, v => v.ToString("0.######", CultureInfo.InvariantCulture))));

        public DicomWriter UShort(uint tag, params int[] values)
        {
            byte[] bytes = new byte[2 * values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), checked((ushort)values[i]));
            }

            return Raw(tag, "US", bytes);
        }

        public DicomWriter Sequence(uint tag, params DicomWriter[] items)
        {
            using var value = new MemoryStream();
            foreach (DicomWriter item in items)
            {
                byte[] body = item.DataSet();
                WriteTag(value, DicomTags.Item);
                WriteUInt32(value, (uint)body.Length);
                value.Write(body);
            }

            return Raw(tag, "SQ", value.ToArray());
        }

        /// <summary>Uncompressed pixel data (OW for 16-bit samples, OB for 8-bit).</summary>
        public DicomWriter PixelData(byte[] samples, bool words) => Raw(DicomTags.PixelData, words ? "OW" : "OB", PadEven(samples));

        /// <summary>Encapsulated pixel data: a Basic Offset Table (empty, or one offset per frame) and one fragment per frame.</summary>
        public DicomWriter Encapsulated(IReadOnlyList<byte[]> frames, bool offsetTable)
        {
            using var value = new MemoryStream();
            WriteTag(value, DicomTags.Item);
            WriteUInt32(value, offsetTable ? (uint)(4 * frames.Count) : 0);
            if (offsetTable)
            {
                uint offset = 0;
                foreach (byte[] frame in frames)
                {
                    WriteUInt32(value, offset);
                    offset += 8 + (uint)PadEven(frame).Length;
                }
            }

            foreach (byte[] frame in frames)
            {
                byte[] padded = PadEven(frame);
                WriteTag(value, DicomTags.Item);
                WriteUInt32(value, (uint)padded.Length);
                value.Write(padded);
            }

            WriteTag(value, DicomTags.SequenceDelimitation);
            WriteUInt32(value, 0);
            elements[DicomTags.PixelData] = Element(DicomTags.PixelData, "OB", value.ToArray(), undefinedLength: true);
            return this;
        }

        public DicomWriter Raw(uint tag, string vr, byte[] value)
        {
            elements[tag] = Element(tag, vr, value, undefinedLength: false);
            return this;
        }

        /// <summary>The whole file: 128-byte preamble, "DICM", the file meta group, the data set.</summary>
        public byte[] ToBytes()
        {
            using var meta = new MemoryStream();
            meta.Write(Element(0x0002_0001, "OB", new byte[] { 0, 1 }, false));
            meta.Write(Element(0x0002_0002, "UI", PadUid(sopClassUid), false));
            meta.Write(Element(0x0002_0003, "UI", PadUid(sopInstanceUid), false));
            meta.Write(Element(DicomTags.TransferSyntaxUid, "UI", PadUid(transferSyntax), false));
            meta.Write(Element(0x0002_0012, "UI", PadUid(ImplementationClassUid), false));
            byte[] metaBytes = meta.ToArray();

            using var file = new MemoryStream();
            file.Write(new byte[128]);
            file.Write("DICM"u8);
            byte[] length = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)metaBytes.Length);
            file.Write(Element(0x0002_0000, "UL", length, false));
            file.Write(metaBytes);
            file.Write(DataSet());
            return file.ToArray();
        }

        private byte[] DataSet()
        {
            using var data = new MemoryStream();
            foreach (byte[] element in elements.Values)
            {
                data.Write(element);
            }

            return data.ToArray();
        }

        private static byte[] Element(uint tag, string vr, byte[] value, bool undefinedLength)
        {
            bool longLength = vr is "OB" or "OW" or "SQ" or "UN" or "UT" or "OF" or "OD" or "OL" or "UC" or "UR";
            using var output = new MemoryStream();
            WriteTag(output, tag);
            output.WriteByte((byte)vr[0]);
            output.WriteByte((byte)vr[1]);
            if (longLength)
            {
                output.WriteByte(0);
                output.WriteByte(0);
                WriteUInt32(output, undefinedLength ? 0xFFFFFFFF : (uint)value.Length);
            }
            else
            {
                byte[] length = new byte[2];
                BinaryPrimitives.WriteUInt16LittleEndian(length, checked((ushort)value.Length));
                output.Write(length);
            }

            output.Write(value);
            return output.ToArray();
        }

        private static void WriteTag(Stream output, uint tag)
        {
            byte[] bytes = new byte[4];
            BinaryPrimitives.WriteUInt16LittleEndian(bytes, (ushort)(tag >> 16));
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2), (ushort)tag);
            output.Write(bytes);
        }

        private static void WriteUInt32(Stream output, uint value)
        {
            byte[] bytes = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
            output.Write(bytes);
        }

        private static byte[] PadUid(string uid)
        {
            byte[] bytes = Encoding.ASCII.GetBytes(uid);
            if (bytes.Length % 2 == 1)
            {
                Array.Resize(ref bytes, bytes.Length + 1);
            }

            return bytes;
        }

        private static byte[] PadEven(byte[] bytes)
        {
            if (bytes.Length % 2 == 0)
            {
                return bytes;
            }

            byte[] padded = new byte[bytes.Length + 1];
            bytes.CopyTo(padded, 0);
            return padded;
        }
    }
}
