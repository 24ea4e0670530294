using System;
using System.Globalization;
using System.IO;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>
    /// The data pipeline's DICOM path: the configured <see cref="IDicomDecoder"/> reads the header
    /// and one frame, the SDK checks both, and <see cref="DicomValueMapper"/> maps the stored values.
    /// Also the entry point for fuzzing: <see cref="Decode(string, ReadOnlyMemory{byte}, ImageLoadOptions)"/>
    /// takes the bytes of a file and a name and either returns an image or throws
    /// <see cref="ImageDataException"/>.
    /// </summary>
    internal static class DicomImageDecoding
    {
        private static readonly string[] Extensions = { ".dcm", ".dicom", ".dic" };

        /// <summary>Whether the bytes look like DICOM (magic, or a data set without preamble).</summary>
        public static bool LooksLikeDicom(ReadOnlySpan<byte> bytes) => DicomParser.LooksLikeDicom(bytes);

        /// <summary>Whether a file name has a DICOM extension (.dcm, .dicom, .dic).</summary>
        public static bool HasDicomExtension(string path)
        {
            string extension = Path.GetExtension(path);
            foreach (string e in Extensions)
            {
                if (extension.Equals(e, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }

            return false;
        }

        public static FloatImage Decode(string name, ReadOnlyMemory<byte> file, ImageLoadOptions options)
        {
            DicomLoadOptions dicom = options.Dicom;
            DicomHeader header = ReadHeader(name, file, options);
            if (dicom.Frame >= header.NumberOfFrames)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has {0} frame{1}; DicomLoadOptions.Frame {2} asks for another (frames count from 0).", header.NumberOfFrames, header.NumberOfFrames == 1 ? string.Empty : "s", dicom.Frame));
            }

            if (header.IsMonochrome && dicom.Values == DicomValues.FileWindow)
            {
                _ = DicomValueMapper.Voi(name, header, dicom.WindowIndex); // a missing window is reported before decoding
            }

            DicomFrame frame = dicom.Decoder.DecodeFrame(name, file, header, dicom.Frame, options)
                ?? throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "The DICOM decoder {0} returned no frame for '{1}'.", dicom.Decoder.GetType().Name, name));
            if (frame.Columns != header.Columns || frame.Rows != header.Rows || frame.SamplesPerPixel != header.SamplesPerPixel)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "decoded by {0} to a {1}x{2} frame of {3} samples, but its header declares {4}x{5} and {6}.", dicom.Decoder.GetType().Name, frame.Columns, frame.Rows, frame.SamplesPerPixel, header.Columns, header.Rows, header.SamplesPerPixel));
            }

            return DicomValueMapper.ToFloatImage(name, header, frame, dicom);
        }

        /// <summary>Reads and checks the header (pixel limit, supported layout) without decoding pixels: the pre-flight check for DICOM.</summary>
        public static DicomHeader ReadHeader(string name, ReadOnlyMemory<byte> file, ImageLoadOptions options)
        {
            DicomLoadOptions dicom = options.Dicom;
            DicomHeader header = dicom.Decoder.ReadHeader(name, file, options)
                ?? throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "The DICOM decoder {0} returned no header for '{1}'.", dicom.Decoder.GetType().Name, name));
            DicomReader.CheckLayout(name, header, options);
            return header;
        }
    }
}
