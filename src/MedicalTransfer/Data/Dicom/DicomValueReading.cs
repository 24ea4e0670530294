using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>Reads the values of kept elements (US, IS, DS, text, LUTs), checking each length.</summary>
    internal static class DicomValueReading
    {
        public static string? String(this DicomParsedFile p, uint tag)
        {
            if (!p.Elements.TryGetValue(tag, out DicomElement? e) || e.Length <= 0)
            {
                return null;
            }

            string text = DicomParser.Text(p.Data.Span.Slice(e.Offset, e.Length));
            return text.Length == 0 ? null : text;
        }

        public static string[]? Strings(this DicomParsedFile p, uint tag)
        {
            string? text = p.String(tag);
            return text?.Split('\\').Select(s => s.Trim()).ToArray();
        }

        public static int? UShort(this DicomParsedFile p, string name, uint tag)
        {
            if (!p.Elements.TryGetValue(tag, out DicomElement? e) || e.Length == 0)
            {
                return null;
            }

            if (e.Length < 2 || e.Vr is not ("" or "US" or "SS" or "OW" or "UN"))
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has {0} {1} of {2} bytes{3}; expected a 2-byte unsigned short (US).", DicomTags.Name(tag), DicomTags.Format(tag), e.Length, e.Vr.Length == 0 ? string.Empty : " with VR " + e.Vr));
            }

            ReadOnlySpan<byte> v = p.Data.Span.Slice(e.Offset, 2);
            return p.BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(v) : BinaryPrimitives.ReadUInt16LittleEndian(v);
        }

        public static int RequiredUShort(this DicomParsedFile p, string name, uint tag) =>
            p.UShort(name, tag) ?? throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has Pixel Data but no {0} {1}, which the Image Pixel module requires.", DicomTags.Name(tag), DicomTags.Format(tag)));

        public static int? IntegerString(this DicomParsedFile p, string name, uint tag)
        {
            string? text = p.String(tag);
            if (text is null)
            {
                return null;
            }

            if (!int.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out int value))
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has {0} {1} = '{2}', not an integer string (IS).", DicomTags.Name(tag), DicomTags.Format(tag), Shorten(text)));
            }

            return value;
        }

        /// <summary>A decimal string (DS) with one or more values; a value that is not a number is an error, because it changes pixel values.</summary>
        public static double[]? Decimals(this DicomParsedFile p, string name, uint tag)
        {
            string[]? parts = p.Strings(tag);
            if (parts is null)
            {
                return null;
            }

            var values = new double[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i]))
                {
                    throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has {0} {1} = '{2}', not a decimal string (DS); the value is needed to map pixel values.", DicomTags.Name(tag), DicomTags.Format(tag), Shorten(p.String(tag)!)));
                }
            }

            return values;
        }

        /// <summary>A decimal string that only describes the image (spacing): unreadable values are left out rather than refusing the image.</summary>
        public static double[]? TryDecimals(this DicomParsedFile p, uint tag)
        {
            string[]? parts = p.Strings(tag);
            if (parts is null)
            {
                return null;
            }

            var values = new double[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
                {
                    return null;
                }
            }

            return values;
        }

        /// <summary>The items of a Modality or VOI LUT Sequence with their LUT Descriptor and LUT Data.</summary>
        public static IReadOnlyList<DicomLut> Luts(this DicomParsedFile p, string name, uint sequenceTag, bool pixelsSigned)
        {
            if (!p.Elements.TryGetValue(sequenceTag, out DicomElement? sequence) || sequence.Items is null || sequence.Items.Count == 0)
            {
                return Array.Empty<DicomLut>();
            }

            var luts = new List<DicomLut>();
            ReadOnlySpan<byte> data = p.Data.Span;
            foreach (Dictionary<uint, DicomElement> item in sequence.Items)
            {
                if (!item.TryGetValue(DicomTags.LutDescriptor, out DicomElement? descriptor) || !item.TryGetValue(DicomTags.LutData, out DicomElement? lutData))
                {
                    throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has a {0} item without LUT Descriptor (0028,3002) or LUT Data (0028,3006).", DicomTags.Name(sequenceTag)));
                }

                if (descriptor.Length != 6)
                {
                    throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has a LUT Descriptor of {0} bytes in its {1}; it must hold three 16-bit values (6 bytes).", descriptor.Length, DicomTags.Name(sequenceTag)));
                }

                ReadOnlySpan<byte> d = data.Slice(descriptor.Offset, 6);
                int count = Read16(d, 0, p.BigEndian);
                bool signedFirst = descriptor.Vr == "SS" || (descriptor.Vr.Length == 0 && pixelsSigned);
                int first = signedFirst ? (short)Read16(d, 2, p.BigEndian) : Read16(d, 2, p.BigEndian);
                int bits = Read16(d, 4, p.BigEndian);
                int entries = count == 0 ? 65536 : count;
                if (bits is < 1 or > 16)
                {
                    throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has a LUT Descriptor in its {0} with {1} bits per entry; expected 1 to 16.", DicomTags.Name(sequenceTag), bits));
                }

                if (lutData.Length < entries * 2L)
                {
                    throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has a {0} whose LUT Data holds {1} bytes, but its descriptor declares {2} entries of 16 bits ({3} bytes).", DicomTags.Name(sequenceTag), lutData.Length, entries, entries * 2L));
                }

                var table = new int[entries];
                ReadOnlySpan<byte> values = data.Slice(lutData.Offset, entries * 2);
                for (int i = 0; i < entries; i++)
                {
                    table[i] = Read16(values, 2 * i, p.BigEndian);
                }

                string? explanation = item.TryGetValue(DicomTags.LutExplanation, out DicomElement? text) && text.Length > 0 ? DicomParser.Text(data.Slice(text.Offset, text.Length)) : null;
                luts.Add(new DicomLut(first, bits, table, explanation));
            }

            return luts;
        }

        private static int Read16(ReadOnlySpan<byte> bytes, int offset, bool bigEndian) =>
            bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(bytes.Slice(offset)) : BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(offset));

        private static string Shorten(string text) => text.Length <= 40 ? text : text.Substring(0, 40) + "...";
    }
}
