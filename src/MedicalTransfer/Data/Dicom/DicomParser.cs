using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>A data element the reader kept: where its value lies, and its items when it is a sequence.</summary>
    internal sealed class DicomElement
    {
        public DicomElement(uint tag, string vr, int offset, int length)
        {
            Tag = tag;
            Vr = vr;
            Offset = offset;
            Length = length;
        }

        public uint Tag { get; }

        /// <summary>The explicit VR, or "" when the syntax is implicit.</summary>
        public string Vr { get; }

        public int Offset { get; }

        public int Length { get; }

        public List<Dictionary<uint, DicomElement>>? Items { get; set; }
    }

    /// <summary>The structure of a parsed file: kept elements, the pixel data and where it lies.</summary>
    internal sealed class DicomParsedFile
    {
        public DicomParsedFile(ReadOnlyMemory<byte> file, ReadOnlyMemory<byte> data, DicomTransferSyntax syntax, bool explicitVr, bool syntaxGuessed)
        {
            File = file;
            Data = data;
            Syntax = syntax;
            ExplicitVr = explicitVr;
            SyntaxGuessed = syntaxGuessed;
        }

        /// <summary>The bytes the caller passed (to recognise a later call on the same buffer).</summary>
        public ReadOnlyMemory<byte> File { get; }

        /// <summary>The bytes offsets point into: the file, or the inflated data set of a deflated file.</summary>
        public ReadOnlyMemory<byte> Data { get; }

        public DicomTransferSyntax Syntax { get; }

        public bool ExplicitVr { get; }

        public bool BigEndian => Syntax.BigEndian;

        public bool SyntaxGuessed { get; }

        public string? MediaStorageSopClassUid { get; init; }

        /// <summary>The header the reader described this parse with: a frame is only decoded against that one, never a caller's altered copy.</summary>
        public DicomHeader? Header { get; set; }

        public Dictionary<uint, DicomElement> Elements { get; } = new();

        public DicomElement? PixelData { get; set; }

        /// <summary>For encapsulated pixel data: the Basic Offset Table's offsets (may be empty) and each fragment.</summary>
        public List<uint>? BasicOffsets { get; set; }

        public List<(int Offset, int Length)>? Fragments { get; set; }
    }

    /// <summary>
    /// Parses the structure of a DICOM file (PS3.10 file meta, then a PS3.5 data set) from untrusted
    /// bytes: every read is bounds-checked, lengths are checked against what remains before they
    /// are used, nesting is limited, and every failure is an <see cref="ImageDataException"/> that
    /// names the file, the element and the byte offset. Only the elements the pipeline needs are
    /// kept; everything else is walked over. Parsing stops at the top-level Pixel Data.
    /// </summary>
    internal static class DicomParser
    {
        private const int MaxDepth = 32;
        private const int MaxFragments = 1 << 20;

        private static readonly HashSet<string> LongLengthVrs = new(StringComparer.Ordinal) { "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV" };
        private static readonly HashSet<string> ShortLengthVrs = new(StringComparer.Ordinal) { "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US" };

        /// <summary>True when the bytes start like a DICOM file: 'DICM' after a 128-byte preamble, or a data set without preamble.</summary>
        public static bool LooksLikeDicom(ReadOnlySpan<byte> bytes) =>
            (bytes.Length >= 132 && bytes.Slice(128, 4).SequenceEqual("DICM"u8)) || (bytes.Length >= 4 && bytes.StartsWith("DICM"u8)) || StartsWithElement(bytes);

        public static DicomParsedFile Parse(string name, ReadOnlyMemory<byte> file, long maxPixels) => Parse(name, file, maxPixels, headerOnly: false);

        /// <summary>Parses the file; with <paramref name="headerOnly"/>, stops at the Pixel Data tag without looking at the pixels (the bytes may be only the start of the file).</summary>
        public static DicomParsedFile Parse(string name, ReadOnlyMemory<byte> file, long maxPixels, bool headerOnly)
        {
            ReadOnlySpan<byte> span = file.Span;
            if (span.Length == 0)
            {
                throw Fail(name, "is empty (0 bytes); expected a DICOM file. Remove it or replace it with the original file.");
            }

            int position;
            if (span.Length >= 132 && span.Slice(128, 4).SequenceEqual("DICM"u8))
            {
                position = 132;
            }
            else if (span.Length >= 4 && span.StartsWith("DICM"u8))
            {
                position = 4;
            }
            else if (StartsWithElement(span))
            {
                position = 0; // no preamble, as DCMTK and pydicom accept
            }
            else if (span.Length < 132)
            {
                throw Fail(name, string.Format(CultureInfo.InvariantCulture, "is {0} bytes long, shorter than a DICOM preamble and 'DICM' prefix (132 bytes), and does not start with a data element: the file was cut short or is not DICOM. Replace it with a complete copy.", span.Length));
            }
            else
            {
                throw Fail(name, "has no 'DICM' prefix at byte 128 and does not start with a DICOM data element: it is not a DICOM file.");
            }

            // File meta information: group 0002, always explicit VR little endian.
            string? declared = null;
            string? sopClass = null;
            bool metaExplicit = position + 6 <= span.Length && IsVr(span[position + 4], span[position + 5]);
            while (position + 4 <= span.Length && BinaryPrimitives.ReadUInt16LittleEndian(span.Slice(position)) == 0x0002)
            {
                var cursor = new Cursor(name, span, position, span.Length, bigEndian: false, explicitVr: metaExplicit);
                Header h = cursor.ReadHeader("the file meta information");
                if (h.Undefined)
                {
                    throw Fail(name, string.Format(CultureInfo.InvariantCulture, "has a file meta element {0} of undefined length at offset {1}; file meta elements have defined lengths.", DicomTags.Format(h.Tag), position));
                }

                cursor.RequireValue(h, "the file meta information");
                if (h.Tag == DicomTags.TransferSyntaxUid)
                {
                    declared = Text(span.Slice(h.ValueOffset, (int)h.Length));
                }
                else if (h.Tag == DicomTags.MediaStorageSopClassUid)
                {
                    sopClass = Text(span.Slice(h.ValueOffset, (int)h.Length));
                }

                position = h.ValueOffset + (int)h.Length;
            }

            DicomTransferSyntax syntax;
            bool guessed = false;
            if (!string.IsNullOrEmpty(declared))
            {
                syntax = DicomTransferSyntax.Find(declared) ?? throw Fail(name, string.Format(CultureInfo.InvariantCulture, "declares the transfer syntax UID '{0}' (0002,0010), which is not a DICOM transfer syntax{1}. The file meta information is corrupt; re-export the file from its source.", declared, DicomUids.Describe(declared)));
            }
            else
            {
                syntax = Guess(span, position);
                guessed = true;
            }

            // A compressed syntax the SDK does not decode still has an explicit VR little endian data
            // set: it is parsed (for its structure and to tell "no pixel data" apart), and refused
            // when the header is described.
            ReadOnlyMemory<byte> data = file;
            if (syntax.Deflated)
            {
                data = Inflate(name, span.Slice(position), maxPixels);
                position = 0;
            }

            ReadOnlySpan<byte> d = data.Span;
            bool explicitVr = syntax.ExplicitVr;
            if (position + 6 <= d.Length)
            {
                // pydicom and DCMTK read a data set whose encoding contradicts the declared syntax
                // the way it is actually written; so does this reader.
                bool looksExplicit = IsVr(d[position + 4], d[position + 5]);
                if (explicitVr && !looksExplicit)
                {
                    explicitVr = false;
                }
                else if (!explicitVr && looksExplicit && !syntax.BigEndian)
                {
                    explicitVr = true;
                }
            }

            var parsed = new DicomParsedFile(file, data, syntax, explicitVr, guessed) { MediaStorageSopClassUid = sopClass };
            var root = new Cursor(name, d, position, d.Length, syntax.BigEndian, explicitVr);
            ParseDataSet(ref root, parsed, headerOnly);
            return parsed;
        }

        private static void ParseDataSet(ref Cursor cursor, DicomParsedFile parsed, bool headerOnly)
        {
            const string Where = "the data set";
            int end = cursor.Data.Length;
            Dictionary<uint, DicomElement> keep = parsed.Elements;
            while (cursor.Position < end)
            {
                int start = cursor.Position;
                if (end - start < 8 && AllZero(cursor.Data.Slice(start, end - start)))
                {
                    return; // trailing padding
                }

                Header h = cursor.ReadHeader(Where);
                if (h.Tag is DicomTags.ItemDelimitation or DicomTags.SequenceDelimitation)
                {
                    continue; // a stray delimiter at the top level: DCMTK warns and goes on
                }

                if (h.Tag == DicomTags.Item)
                {
                    throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has an item tag (FFFE,E000) at offset {0} outside any sequence: the data set is corrupt.", start));
                }

                if (h.Tag == DicomTags.PixelData)
                {
                    if (headerOnly)
                    {
                        parsed.PixelData = new DicomElement(h.Tag, h.Vr, h.ValueOffset, h.Undefined ? -1 : 0);
                        return;
                    }

                    ReadPixelData(ref cursor, parsed, h);
                    return;
                }

                bool keepIt = DicomTags.IsRetainedAtRoot(h.Tag);
                bool isSequence = h.Vr == "SQ" || (h.Undefined && (h.Vr.Length == 0 || h.Vr == "UN"));
                if (isSequence)
                {
                    var element = new DicomElement(h.Tag, "SQ", h.ValueOffset, h.Undefined ? -1 : (int)h.Length);
                    if (keepIt && h.Tag is DicomTags.ModalityLutSequence or DicomTags.VoiLutSequence)
                    {
                        element.Items = new List<Dictionary<uint, DicomElement>>();
                        keep[h.Tag] = element;
                    }

                    if (!h.Undefined)
                    {
                        cursor.RequireValue(h, Where);
                    }

                    // A UN sequence of undefined length is encoded implicit VR little endian (PS3.5 6.2.2).
                    var inner = h.Vr == "UN" ? new Cursor(cursor.Name, cursor.Data, cursor.Position, end, bigEndian: false, explicitVr: false) : cursor;
                    ParseSequence(ref inner, parsed, h, start, 1, element.Items);
                    cursor.Position = inner.Position;
                    continue;
                }

                if (h.Undefined)
                {
                    throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has element {0} ({1}) with undefined length at offset {2}; only sequences and encapsulated pixel data may have it.", DicomTags.Format(h.Tag), h.Vr.Length == 0 ? "implicit VR" : h.Vr, start));
                }

                cursor.RequireValue(h, Where);
                if (keepIt)
                {
                    keep[h.Tag] = new DicomElement(h.Tag, h.Vr, h.ValueOffset, (int)h.Length);
                }

                cursor.Position = h.ValueOffset + (int)h.Length;
            }
        }

        private static void ParseSequence(ref Cursor cursor, DicomParsedFile parsed, Header sequence, int sequenceStart, int depth, List<Dictionary<uint, DicomElement>>? items)
        {
            if (depth > MaxDepth)
            {
                throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "nests sequences more than {0} deep (at offset {1}): no image file needs that; the data set is corrupt or crafted.", MaxDepth, sequenceStart));
            }

            int end = sequence.Undefined ? cursor.Data.Length : sequence.ValueOffset + (int)sequence.Length;
            while (true)
            {
                if (cursor.Position >= end)
                {
                    if (sequence.Undefined)
                    {
                        throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has a sequence {0} of undefined length at offset {1} that never ends: the file ends at byte {2} without its sequence delimiter (FFFE,E0DD). The file is truncated or corrupt.", DicomTags.Format(sequence.Tag), sequenceStart, cursor.Data.Length));
                    }

                    if (cursor.Position > end)
                    {
                        throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has a sequence {0} at offset {1} whose items run past its declared length of {2} bytes.", DicomTags.Format(sequence.Tag), sequenceStart, sequence.Length));
                    }

                    return;
                }

                int itemStart = cursor.Position;
                cursor.Require(8, "a sequence item");
                uint tag = cursor.ReadTag();
                uint length = cursor.ReadUInt32();
                if (tag == DicomTags.SequenceDelimitation)
                {
                    if (!sequence.Undefined)
                    {
                        throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has a sequence delimiter at offset {0} in a sequence of defined length.", itemStart));
                    }

                    return;
                }

                if (tag != DicomTags.Item)
                {
                    throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has {0} at offset {1} where sequence {2} (offset {3}) needs an item (FFFE,E000): the sequence is corrupt.", DicomTags.Format(tag), itemStart, DicomTags.Format(sequence.Tag), sequenceStart));
                }

                Dictionary<uint, DicomElement>? item = items is null ? null : new Dictionary<uint, DicomElement>();
                int itemEnd;
                if (length == 0xFFFFFFFF)
                {
                    itemEnd = end;
                    ParseDataSetItem(ref cursor, parsed, item, depth, itemEnd, undefined: true, itemStart);
                }
                else
                {
                    if (length > (uint)(end - cursor.Position))
                    {
                        throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has a sequence item at offset {0} that declares {1} bytes but only {2} remain in its sequence: the file is truncated or corrupt.", itemStart, length, end - cursor.Position));
                    }

                    itemEnd = cursor.Position + (int)length;
                    ParseDataSetItem(ref cursor, parsed, item, depth, itemEnd, undefined: false, itemStart);
                    cursor.Position = itemEnd;
                }

                if (item is not null)
                {
                    items!.Add(item);
                }
            }
        }

        private static void ParseDataSetItem(ref Cursor cursor, DicomParsedFile parsed, Dictionary<uint, DicomElement>? item, int depth, int itemEnd, bool undefined, int itemStart)
        {
            while (true)
            {
                if (cursor.Position >= itemEnd)
                {
                    if (undefined)
                    {
                        throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has a sequence item of undefined length at offset {0} that never ends: the file ends at byte {1} without its item delimiter (FFFE,E00D). The file is truncated or corrupt.", itemStart, cursor.Data.Length));
                    }

                    return;
                }

                int start = cursor.Position;
                Header h = cursor.ReadHeader("a sequence item");
                if (h.Tag == DicomTags.ItemDelimitation)
                {
                    return;
                }

                if (h.Tag is DicomTags.Item or DicomTags.SequenceDelimitation)
                {
                    throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has an unexpected {0} at offset {1} inside a sequence item: the sequence is corrupt.", DicomTags.Format(h.Tag), start));
                }

                bool keepIt = item is not null && DicomTags.IsRetainedInLutItem(h.Tag);
                bool isSequence = h.Vr == "SQ" || (h.Undefined && (h.Vr.Length == 0 || h.Vr == "UN"));
                if (isSequence)
                {
                    if (!h.Undefined)
                    {
                        cursor.RequireValue(h, "a sequence item");
                    }

                    bool implicitInside = h.Vr == "UN";
                    var inner = implicitInside ? new Cursor(cursor.Name, cursor.Data, cursor.Position, cursor.Data.Length, bigEndian: false, explicitVr: false) : cursor;
                    ParseSequence(ref inner, parsed, h, start, depth + 1, null);
                    cursor.Position = inner.Position;
                    continue;
                }

                if (h.Undefined)
                {
                    if (h.Tag == DicomTags.PixelData)
                    {
                        // An icon image's encapsulated pixel data: walk over its fragments.
                        var scratch = new DicomParsedFile(parsed.File, parsed.Data, parsed.Syntax, parsed.ExplicitVr, parsed.SyntaxGuessed);
                        ReadPixelData(ref cursor, scratch, h);
                        continue;
                    }

                    throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has element {0} with undefined length at offset {1}; only sequences and encapsulated pixel data may have it.", DicomTags.Format(h.Tag), start));
                }

                cursor.RequireValue(h, "a sequence item");
                if (keepIt)
                {
                    item![h.Tag] = new DicomElement(h.Tag, h.Vr, h.ValueOffset, (int)h.Length);
                }

                cursor.Position = h.ValueOffset + (int)h.Length;
            }
        }

        private static void ReadPixelData(ref Cursor cursor, DicomParsedFile parsed, Header h)
        {
            if (!h.Undefined)
            {
                if (h.Length > (uint)(cursor.Data.Length - h.ValueOffset))
                {
                    throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has Pixel Data (7FE0,0010) at offset {0} that declares {1} bytes, but only {2} remain in the file: the file is truncated. Replace it with a complete copy.", h.Start, h.Length, cursor.Data.Length - h.ValueOffset));
                }

                parsed.PixelData = new DicomElement(h.Tag, h.Vr, h.ValueOffset, (int)h.Length);
                cursor.Position = h.ValueOffset + (int)h.Length;
                return;
            }

            parsed.PixelData = new DicomElement(h.Tag, h.Vr, h.ValueOffset, -1);
            var offsets = new List<uint>();
            var fragments = new List<(int, int)>();
            bool first = true;
            while (true)
            {
                int itemStart = cursor.Position;
                if (cursor.Data.Length - itemStart < 8)
                {
                    throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has encapsulated Pixel Data whose fragments never end: the file ends at byte {0} without the sequence delimiter (FFFE,E0DD). The file is truncated; replace it with a complete copy.", cursor.Data.Length));
                }

                uint tag = cursor.ReadTag();
                uint length = cursor.ReadUInt32();
                if (tag == DicomTags.SequenceDelimitation)
                {
                    break;
                }

                if (tag != DicomTags.Item)
                {
                    throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has {0} at offset {1} inside encapsulated Pixel Data, where a fragment item (FFFE,E000) or the sequence delimiter belongs: the pixel data is corrupt.", DicomTags.Format(tag), itemStart));
                }

                if (length == 0xFFFFFFFF || length > (uint)(cursor.Data.Length - cursor.Position))
                {
                    throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has a pixel data fragment at offset {0} that declares {1} bytes, but only {2} remain in the file: the file is truncated. Replace it with a complete copy.", itemStart, length == 0xFFFFFFFF ? "an undefined number of" : length.ToString(CultureInfo.InvariantCulture), cursor.Data.Length - cursor.Position));
                }

                if (first)
                {
                    // The Basic Offset Table: one 32-bit offset per frame, or empty.
                    if (length % 4 != 0)
                    {
                        throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has a Basic Offset Table of {0} bytes at offset {1}, not a multiple of 4.", length, itemStart));
                    }

                    for (int i = 0; i < length; i += 4)
                    {
                        offsets.Add(cursor.BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(cursor.Data.Slice(cursor.Position + i)) : BinaryPrimitives.ReadUInt32LittleEndian(cursor.Data.Slice(cursor.Position + i)));
                    }

                    first = false;
                }
                else
                {
                    if (fragments.Count >= MaxFragments)
                    {
                        throw Fail(cursor.Name, string.Format(CultureInfo.InvariantCulture, "has more than {0} pixel data fragments: the pixel data is corrupt or crafted.", MaxFragments));
                    }

                    fragments.Add((cursor.Position, (int)length));
                }

                cursor.Position += (int)length;
            }

            parsed.BasicOffsets = offsets;
            parsed.Fragments = fragments;
        }

        private static ReadOnlyMemory<byte> Inflate(string name, ReadOnlySpan<byte> compressed, long maxPixels)
        {
            // A deflate bomb must not exhaust memory: the inflated data set may hold the pixels of
            // MaxPixels at up to 8 bytes each plus 16 MiB of other elements, and not more.
            long limit = Math.Min(int.MaxValue - 64, 16L * 1024 * 1024 + (8 * maxPixels));
            byte[] input = compressed.ToArray();
            try
            {
                using var source = new MemoryStream(input, writable: false);
                using var inflater = new DeflateStream(source, CompressionMode.Decompress);
                using var output = new MemoryStream();
                byte[] chunk = new byte[81920];
                int read;
                while ((read = inflater.Read(chunk, 0, chunk.Length)) > 0)
                {
                    if (output.Length + read > limit)
                    {
                        throw Fail(name, string.Format(CultureInfo.InvariantCulture, "is a deflated DICOM file whose data set inflates to more than {0} bytes, more than an image within ImageLoadOptions.MaxPixels ({1}) can need: refused as a decompression bomb.", limit, maxPixels));
                    }

                    output.Write(chunk, 0, read);
                }

                return output.GetBuffer().AsMemory(0, (int)output.Length);
            }
            catch (InvalidDataException e)
            {
                throw new ImageDataException(name, string.Format(CultureInfo.InvariantCulture, "DICOM file '{0}' declares Deflated Explicit VR Little Endian, but its deflate stream is corrupt ({1}). Replace it with the original file.", name, e.Message), e);
            }
        }

        private static DicomTransferSyntax Guess(ReadOnlySpan<byte> span, int position)
        {
            // No transfer syntax given (no meta group, or one without (0002,0010)): look at the first
            // element, as pydicom and DCMTK do.
            if (position + 8 > span.Length)
            {
                return DicomTransferSyntax.ImplicitVrLittleEndian;
            }

            ushort littleGroup = BinaryPrimitives.ReadUInt16LittleEndian(span.Slice(position));
            ushort bigGroup = BinaryPrimitives.ReadUInt16BigEndian(span.Slice(position));
            bool big = littleGroup > 0x00FF && bigGroup <= 0x00FF && bigGroup != 0;
            bool isExplicit = IsVr(span[position + 4], span[position + 5]);
            if (big)
            {
                return DicomTransferSyntax.ExplicitVrBigEndian;
            }

            return isExplicit ? DicomTransferSyntax.ExplicitVrLittleEndian : DicomTransferSyntax.ImplicitVrLittleEndian;
        }

        private static bool StartsWithElement(ReadOnlySpan<byte> span)
        {
            // A data set without preamble starts with a group 0002 or 0008 element (little or big endian).
            if (span.Length < 8)
            {
                return false;
            }

            ushort le = BinaryPrimitives.ReadUInt16LittleEndian(span);
            ushort be = BinaryPrimitives.ReadUInt16BigEndian(span);
            bool group = le is 0x0002 or 0x0008 || be is 0x0008;
            if (!group)
            {
                return false;
            }

            if (IsVr(span[4], span[5]))
            {
                return true;
            }

            // Implicit VR: a plausible (small) length for an identifying element.
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(span.Slice(4));
            return le is 0x0002 or 0x0008 && length < 1024;
        }

        public static bool IsVr(byte a, byte b) => a is >= (byte)'A' and <= (byte)'Z' && b is >= (byte)'A' and <= (byte)'Z' && IsKnownVr(a, b);

        private static bool IsKnownVr(byte a, byte b)
        {
            Span<char> chars = stackalloc char[] { (char)a, (char)b };
            string vr = new(chars);
            return LongLengthVrs.Contains(vr) || ShortLengthVrs.Contains(vr);
        }

        private static bool AllZero(ReadOnlySpan<byte> bytes) => bytes.IndexOfAnyExcept((byte)0) < 0;

        public static string Text(ReadOnlySpan<byte> bytes) => System.Text.Encoding.Latin1.GetString(bytes).Trim('\0', ' ');

        public static ImageDataException Fail(string name, string problem) => new(name, "DICOM file '" + name + "' " + problem);

        /// <summary>An element header: tag, VR (empty when implicit), value length and where the value starts.</summary>
        internal readonly record struct Header(uint Tag, string Vr, uint Length, int ValueOffset, int Start)
        {
            public bool Undefined => Length == 0xFFFFFFFF;
        }

        /// <summary>A bounds-checked position in the data.</summary>
        internal ref struct Cursor
        {
            public Cursor(string name, ReadOnlySpan<byte> data, int position, int end, bool bigEndian, bool explicitVr)
            {
                Name = name;
                Data = data;
                Position = position;
                End = end;
                BigEndian = bigEndian;
                ExplicitVr = explicitVr;
            }

            public string Name { get; }

            public ReadOnlySpan<byte> Data { get; }

            public int Position { get; set; }

            public int End { get; }

            public bool BigEndian { get; }

            public bool ExplicitVr { get; }

            public void Require(int count, string where)
            {
                if (count > End - Position)
                {
                    throw Fail(Name, string.Format(CultureInfo.InvariantCulture, "ends inside {0}: {1} more bytes were needed at offset {2}, but the file ends at byte {3}. The file is truncated; replace it with a complete copy.", where, count, Position, End));
                }
            }

            public uint ReadTag()
            {
                ushort group = ReadUInt16();
                ushort element = ReadUInt16();
                return ((uint)group << 16) | element;
            }

            public ushort ReadUInt16()
            {
                ushort value = BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(Data.Slice(Position)) : BinaryPrimitives.ReadUInt16LittleEndian(Data.Slice(Position));
                Position += 2;
                return value;
            }

            public uint ReadUInt32()
            {
                uint value = BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(Data.Slice(Position)) : BinaryPrimitives.ReadUInt32LittleEndian(Data.Slice(Position));
                Position += 4;
                return value;
            }

            public Header ReadHeader(string where)
            {
                int start = Position;
                Require(8, where);
                uint tag = ReadTag();
                if ((tag >> 16) == 0xFFFE)
                {
                    // Items and delimiters have no VR, even in explicit syntaxes.
                    uint itemLength = ReadUInt32();
                    return new Header(tag, string.Empty, itemLength, Position, start);
                }

                if (!ExplicitVr)
                {
                    uint implicitLength = ReadUInt32();
                    return new Header(tag, string.Empty, implicitLength, Position, start);
                }

                byte a = Data[Position], b = Data[Position + 1];
                if (!IsVr(a, b))
                {
                    throw Fail(Name, string.Format(CultureInfo.InvariantCulture, "has element {0} at offset {1} with an invalid value representation (bytes {2:X2} {3:X2}) in an explicit VR data set: the data set is corrupt.", DicomTags.Format(tag), start, a, b));
                }

                string vr = string.Create(2, (a, b), static (s, v) => { s[0] = (char)v.a; s[1] = (char)v.b; });
                Position += 2;
                uint length;
                if (LongLengthVrs.Contains(vr))
                {
                    Require(6, where);
                    Position += 2; // reserved
                    length = ReadUInt32();
                }
                else
                {
                    length = ReadUInt16();
                }

                return new Header(tag, vr, length, Position, start);
            }

            public void RequireValue(Header h, string where)
            {
                if (h.Length > (uint)(End - h.ValueOffset))
                {
                    throw Fail(Name, string.Format(CultureInfo.InvariantCulture, "has element {0} at offset {1} in {2} that declares {3} bytes, but only {4} remain in the file: its length runs past the end. The file is truncated or corrupt.", DicomTags.Format(h.Tag), h.Start, where, h.Length, End - h.ValueOffset));
                }
            }
        }
    }
}
