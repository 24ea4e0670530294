using System;
using System.Collections.Generic;
using System.Globalization;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>Row and column spacing of a DICOM image in millimetres (Pixel Spacing, or Imager Pixel Spacing when that is all the file has).</summary>
    /// <param name="Row">Distance between the centres of adjacent rows.</param>
    /// <param name="Column">Distance between the centres of adjacent columns.</param>
    public readonly record struct DicomPixelSpacing(double Row, double Column);

    /// <summary>
    /// The descriptive attributes of a DICOM image that the SDK keeps on each sample. They stay in
    /// the process: nothing is logged beyond what the caller logs, and nothing is sent anywhere.
    /// Each is <see langword="null"/> when the file does not have it.
    /// </summary>
    public sealed record DicomMetadata
    {
        /// <summary>Metadata with every attribute missing.</summary>
        public static DicomMetadata Empty { get; } = new();

        /// <summary>Patient ID (0010,0020): drives patient-grouped splits when no other grouping is given.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? PatientId { get; init; }

        /// <summary>Study Instance UID (0020,000D).</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? StudyInstanceUid { get; init; }

        /// <summary>Series Instance UID (0020,000E).</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? SeriesInstanceUid { get; init; }

        /// <summary>Modality (0008,0060), for example CR, DX, CT.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? Modality { get; init; }

        /// <summary>View Position (0018,5101), for example PA, AP, LL.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? ViewPosition { get; init; }

        /// <summary>Body Part Examined (0018,0015), for example CHEST.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? BodyPartExamined { get; init; }

        /// <summary>Patient's Sex (0010,0040): M, F or O.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? PatientSex { get; init; }

        /// <summary>Patient's Age (0010,1010) as written, for example 045Y.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? PatientAge { get; init; }

        /// <summary>Manufacturer (0008,0070).</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? Manufacturer { get; init; }

        /// <summary>Photometric Interpretation (0028,0004) as stored, for example MONOCHROME1.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? PhotometricInterpretation { get; init; }

        /// <summary>Pixel Spacing (0028,0030), or Imager Pixel Spacing (0018,1164) when the file has only that.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public DicomPixelSpacing? PixelSpacing { get; init; }

        /// <summary>The patient's age in years when <see cref="PatientAge"/> is in the DICOM form nnnY, nnnM, nnnW or nnnD.</summary>
        /// <returns>The age in (fractional) years, or <see langword="null"/> when missing or not in that form.</returns>
        public double? AgeInYears()
        {
            string? age = PatientAge?.Trim();
            if (age is null || age.Length < 2 || !int.TryParse(age.AsSpan(0, age.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            {
                return null;
            }

            return char.ToUpperInvariant(age[^1]) switch
            {
                'Y' => n,
                'M' => n / 12.0,
                'W' => n * 7 / 365.25,
                'D' => n / 365.25,
                _ => null,
            };
        }
    }

    /// <summary>A lookup table of a Modality LUT Sequence or VOI LUT Sequence item (PS3.3 C.11.1, C.11.2).</summary>
    public sealed record DicomLut
    {
        /// <summary>Creates a lookup table.</summary>
        /// <param name="firstMappedValue">The input value mapped to the first entry (the LUT Descriptor's second value).</param>
        /// <param name="bitsPerEntry">Bits of each entry, 8 to 16 (the LUT Descriptor's third value).</param>
        /// <param name="entries">The table; inputs below <paramref name="firstMappedValue"/> map to the first entry, inputs past the end to the last.</param>
        /// <param name="explanation">The LUT Explanation, if any.</param>
        /// <exception cref="ArgumentException">The table is empty or longer than 65536 entries, or the bits are out of range.</exception>
        public DicomLut(int firstMappedValue, int bitsPerEntry, IReadOnlyList<int> entries, string? explanation = null)
        {
            ArgumentNullException.ThrowIfNull(entries);
            if (entries.Count is 0 or > 65536)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "A DICOM LUT has 1 to 65536 entries; found {0}.", entries.Count), nameof(entries));
            }

            if (bitsPerEntry is < 1 or > 16)
            {
                throw new ArgumentOutOfRangeException(nameof(bitsPerEntry), bitsPerEntry, "A DICOM LUT entry has 1 to 16 bits.");
            }

            FirstMappedValue = firstMappedValue;
            BitsPerEntry = bitsPerEntry;
            var copy = new int[entries.Count];
            for (int i = 0; i < copy.Length; i++)
            {
                copy[i] = entries[i];
            }

            Entries = Array.AsReadOnly(copy);
            Explanation = explanation;
        }

        /// <summary>The input value mapped to the first entry.</summary>
        public int FirstMappedValue { get; }

        /// <summary>Bits of each entry; outputs range from 0 to 2^bits - 1.</summary>
        public int BitsPerEntry { get; }

        /// <summary>The entries.</summary>
        public IReadOnlyList<int> Entries { get; }

        /// <summary>The LUT Explanation, if any.</summary>
        public string? Explanation { get; }

        /// <summary>Maps one input value: inputs below the first mapped value take the first entry, inputs past the end the last (pydicom's rule: the index is truncated toward zero).</summary>
        /// <param name="input">The input value.</param>
        /// <returns>The entry.</returns>
        public int Map(double input)
        {
            double index = input - FirstMappedValue;
            int i = index <= 0 ? 0 : index >= Entries.Count - 1 ? Entries.Count - 1 : (int)index;
            return Entries[i];
        }
    }

    /// <summary>A window of Window Center (0028,1050) and Window Width (0028,1051).</summary>
    /// <param name="Center">The window center, in modality units.</param>
    /// <param name="Width">The window width, in modality units.</param>
    /// <param name="Explanation">Window Center and Width Explanation (0028,1055), for example LUNG; <see langword="null"/> when absent.</param>
    public readonly record struct DicomWindow(double Center, double Width, string? Explanation);

    /// <summary>
    /// What a DICOM decoder reads from a file before decoding any pixel: its transfer syntax, the
    /// Image Pixel module, the Modality LUT and VOI LUT modules, and the descriptive metadata. The
    /// SDK checks it (supported layout, <see cref="ImageLoadOptions.MaxPixels"/>) before it asks
    /// the decoder for a frame.
    /// </summary>
    public sealed record DicomHeader
    {
        /// <summary>Transfer Syntax UID (0002,0010), or the syntax found by inspection when a file has none.</summary>
        /// <value>The default is Explicit VR Little Endian, 1.2.840.10008.1.2.1.</value>
        public string TransferSyntaxUid { get; init; } = DicomTransferSyntax.ExplicitVrLittleEndianUid;

        /// <summary>The transfer syntax's name.</summary>
        /// <value>The default is "Explicit VR Little Endian".</value>
        public string TransferSyntaxName { get; init; } = "Explicit VR Little Endian";

        /// <summary>Rows (0028,0010).</summary>
        /// <value>The default is 0.</value>
        public int Rows { get; init; }

        /// <summary>Columns (0028,0011).</summary>
        /// <value>The default is 0.</value>
        public int Columns { get; init; }

        /// <summary>Samples per Pixel (0028,0002): 1 (gray) or 3 (colour).</summary>
        /// <value>The default is 1.</value>
        public int SamplesPerPixel { get; init; } = 1;

        /// <summary>Bits Allocated (0028,0100): 1, 8, 16 or 32.</summary>
        /// <value>The default is 16.</value>
        public int BitsAllocated { get; init; } = 16;

        /// <summary>Bits Stored (0028,0101).</summary>
        /// <value>The default is 16.</value>
        public int BitsStored { get; init; } = 16;

        /// <summary>High Bit (0028,0102).</summary>
        /// <value>The default is 15.</value>
        public int HighBit { get; init; } = 15;

        /// <summary>Whether samples are signed (Pixel Representation (0028,0103) = 1).</summary>
        /// <value>The default is <see langword="false"/>.</value>
        public bool IsSigned { get; init; }

        /// <summary>Planar Configuration (0028,0006): 0 for R1G1B1R2..., 1 for all R, then all G, then all B.</summary>
        /// <value>The default is 0.</value>
        public int PlanarConfiguration { get; init; }

        /// <summary>Number of Frames (0028,0008).</summary>
        /// <value>The default is 1.</value>
        public int NumberOfFrames { get; init; } = 1;

        /// <summary>Photometric Interpretation (0028,0004): MONOCHROME1, MONOCHROME2, RGB, YBR_FULL or YBR_FULL_422 are decoded.</summary>
        /// <value>The default is MONOCHROME2.</value>
        public string PhotometricInterpretation { get; init; } = "MONOCHROME2";

        /// <summary>Rescale Slope (0028,1053); <see langword="null"/> when absent (a slope of 1).</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public double? RescaleSlope { get; init; }

        /// <summary>Rescale Intercept (0028,1052); <see langword="null"/> when absent (an intercept of 0).</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public double? RescaleIntercept { get; init; }

        /// <summary>The first item of the Modality LUT Sequence (0028,3000); when present it replaces the rescale.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public DicomLut? ModalityLut { get; init; }

        /// <summary>The windows of Window Center and Width, in file order.</summary>
        /// <value>The default is empty.</value>
        public IReadOnlyList<DicomWindow> Windows { get; init; } = Array.Empty<DicomWindow>();

        /// <summary>The items of the VOI LUT Sequence (0028,3010), in file order; preferred over <see cref="Windows"/> when both are present (pydicom's default).</summary>
        /// <value>The default is empty.</value>
        public IReadOnlyList<DicomLut> VoiLuts { get; init; } = Array.Empty<DicomLut>();

        /// <summary>VOI LUT Function (0028,1056): LINEAR, LINEAR_EXACT or SIGMOID.</summary>
        /// <value>The default is LINEAR.</value>
        public string VoiLutFunction { get; init; } = "LINEAR";

        /// <summary>The descriptive attributes.</summary>
        /// <value>The default is <see cref="DicomMetadata.Empty"/>.</value>
        public DicomMetadata Metadata { get; init; } = DicomMetadata.Empty;

        /// <summary>Whether the image is gray (MONOCHROME1 or MONOCHROME2).</summary>
        public bool IsMonochrome => PhotometricInterpretation is "MONOCHROME1" or "MONOCHROME2";

        /// <summary>The built-in reader's parse of the file, so that decoding a frame does not parse it again.</summary>
        internal object? ReaderState { get; init; }

        /// <inheritdoc />
        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0}x{1}{2}, {3}, {4} bits ({5} stored{6}), {7}", Columns, Rows, NumberOfFrames > 1 ? string.Format(CultureInfo.InvariantCulture, "x{0} frames", NumberOfFrames) : string.Empty, PhotometricInterpretation, BitsAllocated, BitsStored, IsSigned ? ", signed" : string.Empty, TransferSyntaxName);
    }
}
