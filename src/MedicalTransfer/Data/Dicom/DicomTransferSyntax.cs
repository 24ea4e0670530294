using System;
using System.Collections.Generic;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>How the pixel data of a transfer syntax is stored.</summary>
    internal enum DicomPixelEncoding
    {
        /// <summary>Uncompressed (native) pixel data.</summary>
        Native,

        /// <summary>RLE Lossless (PS3.5 Annex G).</summary>
        Rle,

        /// <summary>JPEG Baseline (Process 1), 8-bit.</summary>
        JpegBaseline,

        /// <summary>A compressed syntax the SDK does not decode.</summary>
        Unsupported,
    }

    /// <summary>The transfer syntaxes of PS3.5 Section 10 and PS3.6 Table A-1 the reader knows by UID.</summary>
    internal sealed class DicomTransferSyntax
    {
        public const string ImplicitVrLittleEndianUid = "1.2.840.10008.1.2";
        public const string ExplicitVrLittleEndianUid = "1.2.840.10008.1.2.1";
        public const string DeflatedExplicitVrLittleEndianUid = "1.2.840.10008.1.2.1.99";
        public const string ExplicitVrBigEndianUid = "1.2.840.10008.1.2.2";
        public const string RleLosslessUid = "1.2.840.10008.1.2.5";
        public const string JpegBaselineUid = "1.2.840.10008.1.2.4.50";

        private static readonly Dictionary<string, DicomTransferSyntax> Known = Build();

        private DicomTransferSyntax(string uid, string name, bool explicitVr, bool bigEndian, bool deflated, DicomPixelEncoding encoding)
        {
            Uid = uid;
            Name = name;
            ExplicitVr = explicitVr;
            BigEndian = bigEndian;
            Deflated = deflated;
            Encoding = encoding;
        }

        public static DicomTransferSyntax ImplicitVrLittleEndian => Known[ImplicitVrLittleEndianUid];

        public static DicomTransferSyntax ExplicitVrLittleEndian => Known[ExplicitVrLittleEndianUid];

        public static DicomTransferSyntax ExplicitVrBigEndian => Known[ExplicitVrBigEndianUid];

        public string Uid { get; }

        public string Name { get; }

        public bool ExplicitVr { get; }

        public bool BigEndian { get; }

        public bool Deflated { get; }

        public DicomPixelEncoding Encoding { get; }

        public bool IsEncapsulated => Encoding != DicomPixelEncoding.Native;

        /// <summary>The transfer syntax with this UID, or null when the UID is not a transfer syntax.</summary>
        public static DicomTransferSyntax? Find(string uid) => Known.TryGetValue(uid, out DicomTransferSyntax? syntax) ? syntax : null;

        /// <summary>What to run to turn a file of an unsupported syntax into one the SDK reads.</summary>
        public string ConversionAdvice => Uid switch
        {
            _ when Uid.StartsWith("1.2.840.10008.1.2.4.5", StringComparison.Ordinal) || Uid.StartsWith("1.2.840.10008.1.2.4.6", StringComparison.Ordinal) || Uid.StartsWith("1.2.840.10008.1.2.4.7", StringComparison.Ordinal)
                => "Convert it to an uncompressed transfer syntax first, for example with DCMTK's 'dcmdjpeg in.dcm out.dcm' or GDCM's 'gdcmconv --raw in.dcm out.dcm'.",
            _ when Uid.StartsWith("1.2.840.10008.1.2.4.8", StringComparison.Ordinal)
                => "Convert it to an uncompressed transfer syntax first, for example with DCMTK's 'dcmdjpls in.dcm out.dcm' or GDCM's 'gdcmconv --raw in.dcm out.dcm'.",
            _ => "Convert it to an uncompressed transfer syntax first, for example with GDCM's 'gdcmconv --raw in.dcm out.dcm' (or DCMTK's dcmdjpeg/dcmdjpls/dcmdrle for JPEG, JPEG-LS and RLE).",
        };

        private static Dictionary<string, DicomTransferSyntax> Build()
        {
            var list = new List<DicomTransferSyntax>
            {
                new(ImplicitVrLittleEndianUid, "Implicit VR Little Endian", false, false, false, DicomPixelEncoding.Native),
                new(ExplicitVrLittleEndianUid, "Explicit VR Little Endian", true, false, false, DicomPixelEncoding.Native),
                new(DeflatedExplicitVrLittleEndianUid, "Deflated Explicit VR Little Endian", true, false, true, DicomPixelEncoding.Native),
                new(ExplicitVrBigEndianUid, "Explicit VR Big Endian", true, true, false, DicomPixelEncoding.Native),
                new("1.2.840.10008.1.2.1.98", "Encapsulated Uncompressed Explicit VR Little Endian", true, false, false, DicomPixelEncoding.Unsupported),
                new(RleLosslessUid, "RLE Lossless", true, false, false, DicomPixelEncoding.Rle),
                new(JpegBaselineUid, "JPEG Baseline (Process 1)", true, false, false, DicomPixelEncoding.JpegBaseline),
            };

            // Compressed syntaxes the SDK recognises and refuses with advice (PS3.6 Table A-1).
            (string Uid, string Name)[] unsupported =
            {
                ("1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 and 4)"),
                ("1.2.840.10008.1.2.4.52", "JPEG Extended (Process 3 and 5)"),
                ("1.2.840.10008.1.2.4.53", "JPEG Spectral Selection, Non-Hierarchical (Process 6 and 8)"),
                ("1.2.840.10008.1.2.4.54", "JPEG Spectral Selection, Non-Hierarchical (Process 7 and 9)"),
                ("1.2.840.10008.1.2.4.55", "JPEG Full Progression, Non-Hierarchical (Process 10 and 12)"),
                ("1.2.840.10008.1.2.4.56", "JPEG Full Progression, Non-Hierarchical (Process 11 and 13)"),
                ("1.2.840.10008.1.2.4.57", "JPEG Lossless, Non-Hierarchical (Process 14)"),
                ("1.2.840.10008.1.2.4.58", "JPEG Lossless, Non-Hierarchical (Process 15)"),
                ("1.2.840.10008.1.2.4.59", "JPEG Extended, Hierarchical (Process 16 and 18)"),
                ("1.2.840.10008.1.2.4.60", "JPEG Extended, Hierarchical (Process 17 and 19)"),
                ("1.2.840.10008.1.2.4.61", "JPEG Spectral Selection, Hierarchical (Process 20 and 22)"),
                ("1.2.840.10008.1.2.4.62", "JPEG Spectral Selection, Hierarchical (Process 21 and 23)"),
                ("1.2.840.10008.1.2.4.63", "JPEG Full Progression, Hierarchical (Process 24 and 26)"),
                ("1.2.840.10008.1.2.4.64", "JPEG Full Progression, Hierarchical (Process 25 and 27)"),
                ("1.2.840.10008.1.2.4.65", "JPEG Lossless, Hierarchical (Process 28)"),
                ("1.2.840.10008.1.2.4.66", "JPEG Lossless, Hierarchical (Process 29)"),
                ("1.2.840.10008.1.2.4.70", "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])"),
                ("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless Image Compression"),
                ("1.2.840.10008.1.2.4.81", "JPEG-LS Lossy (Near-Lossless) Image Compression"),
                ("1.2.840.10008.1.2.4.90", "JPEG 2000 Image Compression (Lossless Only)"),
                ("1.2.840.10008.1.2.4.91", "JPEG 2000 Image Compression"),
                ("1.2.840.10008.1.2.4.92", "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)"),
                ("1.2.840.10008.1.2.4.93", "JPEG 2000 Part 2 Multi-component Image Compression"),
                ("1.2.840.10008.1.2.4.94", "JPIP Referenced"),
                ("1.2.840.10008.1.2.4.95", "JPIP Referenced Deflate"),
                ("1.2.840.10008.1.2.4.100", "MPEG2 Main Profile / Main Level"),
                ("1.2.840.10008.1.2.4.101", "MPEG2 Main Profile / High Level"),
                ("1.2.840.10008.1.2.4.102", "MPEG-4 AVC/H.264 High Profile / Level 4.1"),
                ("1.2.840.10008.1.2.4.103", "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1"),
                ("1.2.840.10008.1.2.4.104", "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video"),
                ("1.2.840.10008.1.2.4.105", "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video"),
                ("1.2.840.10008.1.2.4.106", "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2"),
                ("1.2.840.10008.1.2.4.107", "HEVC/H.265 Main Profile / Level 5.1"),
                ("1.2.840.10008.1.2.4.108", "HEVC/H.265 Main 10 Profile / Level 5.1"),
                ("1.2.840.10008.1.2.4.110", "JPEG XL Lossless"),
                ("1.2.840.10008.1.2.4.111", "JPEG XL JPEG Recompression"),
                ("1.2.840.10008.1.2.4.112", "JPEG XL"),
                ("1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Image Compression (Lossless Only)"),
                ("1.2.840.10008.1.2.4.202", "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)"),
                ("1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000 Image Compression"),
                ("1.2.840.10008.1.2.6.1", "RFC 2557 MIME encapsulation"),
                ("1.2.840.10008.1.2.6.2", "XML Encoding"),
            };
            foreach ((string uid, string name) in unsupported)
            {
                list.Add(new DicomTransferSyntax(uid, name, true, false, false, DicomPixelEncoding.Unsupported));
            }

            var map = new Dictionary<string, DicomTransferSyntax>(StringComparer.Ordinal);
            foreach (DicomTransferSyntax syntax in list)
            {
                map[syntax.Uid] = syntax;
            }

            return map;
        }
    }
}
