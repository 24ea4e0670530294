namespace MedicalTransfer.Data.Dicom
{
    /// <summary>The data element tags the reader looks at, as (group &lt;&lt; 16) | element.</summary>
    internal static class DicomTags
    {
        public const uint TransferSyntaxUid = 0x0002_0010;
        public const uint MediaStorageSopClassUid = 0x0002_0002;
        public const uint SpecificCharacterSet = 0x0008_0005;
        public const uint SopClassUid = 0x0008_0016;
        public const uint Modality = 0x0008_0060;
        public const uint Manufacturer = 0x0008_0070;
        public const uint PatientId = 0x0010_0020;
        public const uint PatientSex = 0x0010_0040;
        public const uint PatientAge = 0x0010_1010;
        public const uint BodyPartExamined = 0x0018_0015;
        public const uint ImagerPixelSpacing = 0x0018_1164;
        public const uint ViewPosition = 0x0018_5101;
        public const uint StudyInstanceUid = 0x0020_000D;
        public const uint SeriesInstanceUid = 0x0020_000E;
        public const uint SamplesPerPixel = 0x0028_0002;
        public const uint PhotometricInterpretation = 0x0028_0004;
        public const uint PlanarConfiguration = 0x0028_0006;
        public const uint NumberOfFrames = 0x0028_0008;
        public const uint Rows = 0x0028_0010;
        public const uint Columns = 0x0028_0011;
        public const uint PixelSpacing = 0x0028_0030;
        public const uint BitsAllocated = 0x0028_0100;
        public const uint BitsStored = 0x0028_0101;
        public const uint HighBit = 0x0028_0102;
        public const uint PixelRepresentation = 0x0028_0103;
        public const uint WindowCenter = 0x0028_1050;
        public const uint WindowWidth = 0x0028_1051;
        public const uint RescaleIntercept = 0x0028_1052;
        public const uint RescaleSlope = 0x0028_1053;
        public const uint WindowExplanation = 0x0028_1055;
        public const uint VoiLutFunction = 0x0028_1056;
        public const uint LutDescriptor = 0x0028_3002;
        public const uint LutExplanation = 0x0028_3003;
        public const uint LutData = 0x0028_3006;
        public const uint ModalityLutSequence = 0x0028_3000;
        public const uint VoiLutSequence = 0x0028_3010;
        public const uint FloatPixelData = 0x7FE0_0008;
        public const uint DoubleFloatPixelData = 0x7FE0_0009;
        public const uint PixelData = 0x7FE0_0010;
        public const uint Item = 0xFFFE_E000;
        public const uint ItemDelimitation = 0xFFFE_E00D;
        public const uint SequenceDelimitation = 0xFFFE_E0DD;

        public static bool IsRetainedAtRoot(uint tag) => tag switch
        {
            TransferSyntaxUid or MediaStorageSopClassUid or SpecificCharacterSet or SopClassUid or Modality or Manufacturer
                or PatientId or PatientSex or PatientAge or BodyPartExamined or ImagerPixelSpacing or ViewPosition
                or StudyInstanceUid or SeriesInstanceUid or SamplesPerPixel or PhotometricInterpretation or PlanarConfiguration
                or NumberOfFrames or Rows or Columns or PixelSpacing or BitsAllocated or BitsStored or HighBit or PixelRepresentation
                or WindowCenter or WindowWidth or RescaleIntercept or RescaleSlope or WindowExplanation or VoiLutFunction
                or ModalityLutSequence or VoiLutSequence or FloatPixelData or DoubleFloatPixelData => true,
            _ => false,
        };

        public static bool IsRetainedInLutItem(uint tag) => tag is LutDescriptor or LutExplanation or LutData;

        public static string Name(uint tag) => tag switch
        {
            TransferSyntaxUid => "Transfer Syntax UID",
            SamplesPerPixel => "Samples per Pixel",
            PhotometricInterpretation => "Photometric Interpretation",
            PlanarConfiguration => "Planar Configuration",
            NumberOfFrames => "Number of Frames",
            Rows => "Rows",
            Columns => "Columns",
            BitsAllocated => "Bits Allocated",
            BitsStored => "Bits Stored",
            HighBit => "High Bit",
            PixelRepresentation => "Pixel Representation",
            WindowCenter => "Window Center",
            WindowWidth => "Window Width",
            RescaleIntercept => "Rescale Intercept",
            RescaleSlope => "Rescale Slope",
            VoiLutFunction => "VOI LUT Function",
            LutDescriptor => "LUT Descriptor",
            LutData => "LUT Data",
            ModalityLutSequence => "Modality LUT Sequence",
            VoiLutSequence => "VOI LUT Sequence",
            PixelData => "Pixel Data",
            _ => "element",
        };

        public static string Format(uint tag) => string.Format(System.Globalization.CultureInfo.InvariantCulture, "({0:X4},{1:X4})", tag >> 16, tag & 0xFFFF);
    }
}
