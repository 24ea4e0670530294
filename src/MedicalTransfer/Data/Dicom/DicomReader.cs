using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>
    /// The SDK's own DICOM reader: Part 10 files and files without preamble; Implicit VR Little
    /// Endian, Explicit VR Little and Big Endian, Deflated Explicit VR Little Endian; encapsulated
    /// RLE Lossless and 8-bit JPEG Baseline (through libjpeg-turbo, JpegCodec); Bits Allocated 1,
    /// 8, 16 and 32; MONOCHROME1/2, RGB, YBR_FULL and YBR_FULL_422; multi-frame. It parses
    /// untrusted bytes: every read is bounds-checked, sizes are checked against
    /// <see cref="ImageLoadOptions.MaxPixels"/> before pixel memory is allocated, and every failure
    /// is an <see cref="ImageDataException"/> naming the file and the problem.
    /// </summary>
    public sealed class DicomReader : IDicomDecoder
    {
        private static readonly HashSet<string> Photometrics = new(StringComparer.Ordinal) { "MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422" };

        private DicomReader() { }

        /// <summary>The reader (it is stateless and thread-safe).</summary>
        public static DicomReader Instance { get; } = new();

        /// <inheritdoc />
        public DicomHeader ReadHeader(string name, ReadOnlyMemory<byte> file, ImageLoadOptions options)
        {
            ArgumentNullException.ThrowIfNull(name);
            ArgumentNullException.ThrowIfNull(options);
            DicomParsedFile parsed = DicomParser.Parse(name, file, options.MaxPixels);
            DicomHeader header = Describe(name, parsed);
            Check(name, header, parsed, options);
            parsed.Header = header;
            return header;
        }

        /// <inheritdoc />
        public DicomFrame DecodeFrame(string name, ReadOnlyMemory<byte> file, DicomHeader header, int frame, ImageLoadOptions options)
        {
            ArgumentNullException.ThrowIfNull(name);
            ArgumentNullException.ThrowIfNull(header);
            ArgumentNullException.ThrowIfNull(options);
            // Only the header this reader produced for these very bytes is trusted (a record copy made
            // with 'with' keeps the parse but may change Rows or Bits Allocated): otherwise parse again.
            if (header.ReaderState is not DicomParsedFile parsed || !parsed.File.Equals(file) || !ReferenceEquals(parsed.Header, header))
            {
                header = ReadHeader(name, file, options);
                parsed = (DicomParsedFile)header.ReaderState!;
            }
            else if ((long)header.Rows * header.Columns * header.NumberOfFrames > options.MaxPixels)
            {
                CheckLayout(name, header, options); // a smaller limit than the header was read with
            }

            if (frame < 0 || frame >= header.NumberOfFrames)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has {0} frame{1}; frame {2} was asked for (DicomLoadOptions.Frame counts from 0).", header.NumberOfFrames, header.NumberOfFrames == 1 ? string.Empty : "s", frame));
            }

            return parsed.Syntax.Encoding switch
            {
                DicomPixelEncoding.Native => DicomPixelDecoder.Native(name, parsed, header, frame),
                DicomPixelEncoding.Rle => DicomPixelDecoder.Rle(name, DicomPixelDecoder.FrameBytes(name, parsed, header, frame), header, frame),
                DicomPixelEncoding.JpegBaseline => DicomPixelDecoder.Jpeg(name, DicomPixelDecoder.FrameBytes(name, parsed, header, frame), header, frame, options),
                _ => throw DicomParser.Fail(name, "uses an unsupported transfer syntax " + parsed.Syntax.Uid + "."),
            };
        }

        private static DicomHeader Describe(string name, DicomParsedFile p)
        {
            if (p.PixelData is not null && p.Syntax.Encoding == DicomPixelEncoding.Unsupported)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "uses the transfer syntax {0} ({1}), which the SDK does not decode (it reads Implicit/Explicit VR Little Endian, Explicit VR Big Endian, Deflated, RLE Lossless and 8-bit JPEG Baseline). {2}", p.Syntax.Name, p.Syntax.Uid, p.Syntax.ConversionAdvice));
            }

            if (p.PixelData is null)
            {
                if (p.Elements.ContainsKey(DicomTags.FloatPixelData) || p.Elements.ContainsKey(DicomTags.DoubleFloatPixelData))
                {
                    throw DicomParser.Fail(name, "holds Float or Double Float Pixel Data (7FE0,0008/0009), which the SDK does not read (it reads integer Pixel Data (7FE0,0010)).");
                }

                string? sop = p.String(DicomTags.SopClassUid) ?? p.MediaStorageSopClassUid;
                string? modality = p.String(DicomTags.Modality);
                string kind = DicomUids.SopClassName(sop) ?? (sop is null ? null : "SOP class " + sop) ?? "a data set without a SOP Class UID";
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "contains no Pixel Data (7FE0,0010): it is {0}{1}, not an image. Remove it from the image folder or table.", kind, modality is null ? string.Empty : " (modality " + modality + ")"));
            }

            int rows = p.RequiredUShort(name, DicomTags.Rows);
            int columns = p.RequiredUShort(name, DicomTags.Columns);
            int bitsAllocated = p.RequiredUShort(name, DicomTags.BitsAllocated);
            string photometric = p.String(DicomTags.PhotometricInterpretation)?.ToUpperInvariant() ?? throw Missing(name, DicomTags.PhotometricInterpretation);
            int samples = p.UShort(name, DicomTags.SamplesPerPixel) ?? (photometric.StartsWith("MONOCHROME", StringComparison.Ordinal) ? 1 : 3);
            int bitsStored = p.UShort(name, DicomTags.BitsStored) ?? bitsAllocated;
            int highBit = p.UShort(name, DicomTags.HighBit) ?? bitsStored - 1;
            int representation = p.UShort(name, DicomTags.PixelRepresentation) ?? 0;
            int planar = p.UShort(name, DicomTags.PlanarConfiguration) ?? 0;
            int frames = p.IntegerString(name, DicomTags.NumberOfFrames) ?? 1;

            double? slope = p.Decimals(name, DicomTags.RescaleSlope)?.FirstOrDefault();
            double? intercept = p.Decimals(name, DicomTags.RescaleIntercept)?.FirstOrDefault();
            bool signedLut = representation == 1;
            DicomLut? modalityLut = p.Luts(name, DicomTags.ModalityLutSequence, signedLut).FirstOrDefault();
            IReadOnlyList<DicomLut> voiLuts = p.Luts(name, DicomTags.VoiLutSequence, signedLut);
            double[] centers = p.Decimals(name, DicomTags.WindowCenter) ?? Array.Empty<double>();
            double[] widths = p.Decimals(name, DicomTags.WindowWidth) ?? Array.Empty<double>();
            string[] explanations = p.Strings(DicomTags.WindowExplanation) ?? Array.Empty<string>();
            var windows = new DicomWindow[Math.Min(centers.Length, widths.Length)];
            for (int i = 0; i < windows.Length; i++)
            {
                windows[i] = new DicomWindow(centers[i], widths[i], i < explanations.Length && explanations[i].Length > 0 ? explanations[i] : null);
            }

            string function = p.String(DicomTags.VoiLutFunction)?.ToUpperInvariant() ?? "LINEAR";
            DicomMetadata metadata = Metadata(p);

            return new DicomHeader
            {
                TransferSyntaxUid = p.Syntax.Uid,
                TransferSyntaxName = p.Syntax.Name,
                Rows = rows,
                Columns = columns,
                SamplesPerPixel = samples,
                BitsAllocated = bitsAllocated,
                BitsStored = bitsStored,
                HighBit = highBit,
                IsSigned = representation == 1,
                PlanarConfiguration = planar,
                NumberOfFrames = frames,
                PhotometricInterpretation = photometric,
                RescaleSlope = slope,
                RescaleIntercept = intercept,
                ModalityLut = modalityLut,
                Windows = windows,
                VoiLuts = voiLuts,
                VoiLutFunction = function,
                Metadata = metadata,
                ReaderState = representation is 0 or 1 ? p : throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has Pixel Representation (0028,0103) {0}; it must be 0 (unsigned) or 1 (signed).", representation)),
            };
        }

        /// <summary>
        /// The descriptive attributes of a DICOM file, read from its start (up to the Pixel Data tag,
        /// never the pixels); <see langword="null"/> when the file is not readable DICOM. Used to
        /// list folders (patient, study, view) without decoding; problems are left to the
        /// pre-flight check and the loader.
        /// </summary>
        internal static DicomMetadata? TryReadMetadata(string path)
        {
            try
            {
                using var stream = new System.IO.FileStream(path, System.IO.FileMode.Open, System.IO.FileAccess.Read, System.IO.FileShare.Read, 1, System.IO.FileOptions.SequentialScan);
                long length = stream.Length;
                int size = (int)Math.Min(length, 64 * 1024);
                while (true)
                {
                    byte[] start = new byte[size];
                    stream.Position = 0;
                    stream.ReadExactly(start, 0, size);
                    try
                    {
                        return Metadata(DicomParser.Parse(path, start, long.MaxValue, headerOnly: true));
                    }
                    catch (ImageDataException) when (size < length)
                    {
                        // The header goes on past what was read (a long sequence before the pixels): read more.
                        size = (int)Math.Min(length, Math.Min(int.MaxValue, (long)size * 8));
                    }
                }
            }
            catch (Exception e) when (e is ImageDataException or System.IO.IOException or UnauthorizedAccessException)
            {
                return null;
            }
        }

        private static DicomMetadata Metadata(DicomParsedFile p)
        {
            double[]? spacing = p.TryDecimals(DicomTags.PixelSpacing) ?? p.TryDecimals(DicomTags.ImagerPixelSpacing);
            return new DicomMetadata
            {
                PatientId = p.String(DicomTags.PatientId),
                StudyInstanceUid = p.String(DicomTags.StudyInstanceUid),
                SeriesInstanceUid = p.String(DicomTags.SeriesInstanceUid),
                Modality = p.String(DicomTags.Modality),
                ViewPosition = p.String(DicomTags.ViewPosition),
                BodyPartExamined = p.String(DicomTags.BodyPartExamined),
                PatientSex = p.String(DicomTags.PatientSex),
                PatientAge = p.String(DicomTags.PatientAge),
                Manufacturer = p.String(DicomTags.Manufacturer),
                PhotometricInterpretation = p.String(DicomTags.PhotometricInterpretation)?.ToUpperInvariant(),
                PixelSpacing = spacing is { Length: >= 2 } ? new DicomPixelSpacing(spacing[0], spacing[1]) : null,
            };
        }

        /// <summary>Checks a header from any decoder: a layout the SDK maps, and the pixel limit (before anything is allocated).</summary>
        internal static void CheckLayout(string name, DicomHeader h, ImageLoadOptions options)
        {
            if (h.Rows <= 0 || h.Columns <= 0)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "declares {0} rows and {1} columns; both must be positive.", h.Rows, h.Columns));
            }

            if (h.NumberOfFrames <= 0)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "declares {0} frames (0028,0008); it must be at least 1.", h.NumberOfFrames));
            }

            long pixels = (long)h.Rows * h.Columns * h.NumberOfFrames;
            if (pixels > options.MaxPixels)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "declares {0}x{1} pixels x {2} frames = {3} pixels; the limit is {4} (ImageLoadOptions.MaxPixels). Downscale the image or raise the limit if it is genuine.", h.Columns, h.Rows, h.NumberOfFrames, pixels, options.MaxPixels));
            }

            if (!Photometrics.Contains(h.PhotometricInterpretation))
            {
                string hint = h.PhotometricInterpretation == "PALETTE COLOR" ? " Render it to RGB first, for example with DCMTK's 'dcm2pnm' or GDCM's 'gdcmconv --raw --apply-lut' (not applied by this SDK)." : string.Empty;
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has Photometric Interpretation '{0}'; the SDK reads MONOCHROME1, MONOCHROME2, RGB, YBR_FULL and YBR_FULL_422.{1}", h.PhotometricInterpretation, hint));
            }

            int expectedSamples = h.IsMonochrome ? 1 : 3;
            if (h.SamplesPerPixel != expectedSamples)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has {0} samples per pixel (0028,0002) with Photometric Interpretation {1}, which needs {2}.", h.SamplesPerPixel, h.PhotometricInterpretation, expectedSamples));
            }

            if (h.BitsAllocated is not (1 or 8 or 16 or 32) || (h.BitsAllocated == 1 && !h.IsMonochrome))
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has Bits Allocated (0028,0100) {0} with {1}; the SDK reads 8, 16 and 32 (and 1 for gray).", h.BitsAllocated, h.PhotometricInterpretation));
            }

            if (h.BitsStored < 1 || h.BitsStored > h.BitsAllocated || h.HighBit < h.BitsStored - 1 || h.HighBit >= h.BitsAllocated)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has Bits Allocated {0}, Bits Stored {1} and High Bit {2}, which do not fit together (Bits Stored 1..Bits Allocated, High Bit from Bits Stored - 1 to Bits Allocated - 1).", h.BitsAllocated, h.BitsStored, h.HighBit));
            }

            if (h.PlanarConfiguration is not (0 or 1))
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has Planar Configuration (0028,0006) {0}; it must be 0 or 1.", h.PlanarConfiguration));
            }

            if (h.VoiLutFunction is not ("LINEAR" or "LINEAR_EXACT" or "SIGMOID"))
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has VOI LUT Function (0028,1056) '{0}'; PS3.3 defines LINEAR, LINEAR_EXACT and SIGMOID.", h.VoiLutFunction));
            }

            foreach (DicomLut lut in h.VoiLuts)
            {
                if (lut.BitsPerEntry is not (8 or >= 10 and <= 16))
                {
                    throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has a VOI LUT with {0} bits per entry; PS3.3 C.8.11.3.1.5 allows 8 or 10 to 16.", lut.BitsPerEntry));
                }
            }
        }

        private static void Check(string name, DicomHeader h, DicomParsedFile p, ImageLoadOptions options)
        {
            CheckLayout(name, h, options);
            DicomElement pixels = p.PixelData!;
            switch (p.Syntax.Encoding)
            {
                case DicomPixelEncoding.Native:
                    if (pixels.Length < 0)
                    {
                        throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has encapsulated (compressed) Pixel Data but declares the uncompressed transfer syntax {0}: the file meta information is wrong.", p.Syntax.Name));
                    }

                    long needed = DicomPixelDecoder.NativeLength(h);
                    if (pixels.Length < needed)
                    {
                        throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has {0} bytes of Pixel Data, but {1}x{2} pixels x {3} frames x {4} samples at {5} bits need {6}: the pixel data is shorter than declared (the file was cut short, or Rows/Columns are wrong).", pixels.Length, h.Columns, h.Rows, h.NumberOfFrames, h.SamplesPerPixel, h.BitsAllocated, needed));
                    }

                    break;
                case DicomPixelEncoding.Rle:
                case DicomPixelEncoding.JpegBaseline:
                    if (pixels.Length >= 0 || p.Fragments is null || p.Fragments.Count == 0)
                    {
                        throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "declares the compressed transfer syntax {0} but its Pixel Data {1}.", p.Syntax.Name, pixels.Length >= 0 ? "is not encapsulated" : "has no fragments"));
                    }

                    if (p.Syntax.Encoding == DicomPixelEncoding.JpegBaseline && h.BitsAllocated != 8)
                    {
                        throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "is JPEG Baseline with Bits Allocated {0}; JPEG Baseline holds 8-bit samples.", h.BitsAllocated));
                    }

                    if (p.Syntax.Encoding == DicomPixelEncoding.Rle && h.BitsAllocated == 1)
                    {
                        throw DicomParser.Fail(name, "is RLE Lossless with Bits Allocated 1, which RLE cannot hold.");
                    }

                    break;
            }
        }

        private static ImageDataException Missing(string name, uint tag) =>
            DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has Pixel Data but no {0} {1}, which the Image Pixel module requires.", DicomTags.Name(tag), DicomTags.Format(tag)));
    }
}
