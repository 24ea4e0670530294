using System;
using System.Globalization;
using System.IO;
using System.Numerics;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>
    /// A phantom as a DX DICOM file: 12 bits stored in 16; MONOCHROME2 stores 500 + 3000 v and
    /// MONOCHROME1 3500 - 3000 v (v the rendered value in [0, 1]); Rescale Slope 2 and Intercept
    /// -1000 give modality values 0..6000, and the window (center 3000.5, width 6001, LINEAR)
    /// shows exactly that range, so the file's window reproduces v for both photometric
    /// interpretations. Odd patients are MONOCHROME1; about one study in five is AP, the rest PA.
    /// </summary>
    internal static class SyntheticDicom
    {
        public const string DigitalXRayForPresentation = "1.2.840.10008.5.1.4.1.1.1.1";
        public const double Slope = 2, Intercept = -1000, WindowCenter = 3000.5, WindowWidth = 6001;

        public static string PatientId(int patient) => string.Format(CultureInfo.InvariantCulture, "SYN{0:D5}", patient);

        public static bool IsMonochrome1(int patient) => patient % 2 == 1;

        public static string View(int seed, int patient, int study) => SampleRandom.For(seed, 0x71E3, (patient * 1000L) + study).NextDouble() < 0.2 ? "AP" : "PA";

        public static string Sex(int seed, int patient) => SampleRandom.For(seed, 0x5E7, patient).NextDouble() < 0.5 ? "M" : "F";

        public static int Age(int seed, int patient) => 20 + SampleRandom.For(seed, 0xA6E, patient).NextInt(71);

        /// <summary>A "2.25." UID (PS3.5 B.2) from a seeded 128-bit number: the same inputs give the same UID.</summary>
        public static string Uid(int seed, int kind, int patient, int study)
        {
            SampleRandom random = SampleRandom.For(seed, kind, (patient * 1000L) + study);
            var value = new BigInteger(random.NextUInt64()) << 64 | new BigInteger(random.NextUInt64());
            return "2.25." + value.ToString(CultureInfo.InvariantCulture);
        }

        public static void Write(float[] pixels, int size, string path, int seed, int patient, int study)
        {
            bool mono1 = IsMonochrome1(patient);
            byte[] samples = new byte[size * size * 2];
            for (int i = 0; i < size * size; i++)
            {
                double v = Math.Clamp(pixels[i], 0f, 1f);
                int stored = (int)Math.Round(mono1 ? 3500 - (3000 * v) : 500 + (3000 * v));
                samples[2 * i] = (byte)stored;
                samples[(2 * i) + 1] = (byte)(stored >> 8);
            }

            string studyUid = Uid(seed, 1, patient, study);
            var writer = new DicomWriter(DigitalXRayForPresentation, Uid(seed, 3, patient, study))
                .Text(0x0008_0008, "CS", "ORIGINAL\\PRIMARY")
                .Text(0x0008_0020, "DA", "20240101")
                .Text(0x0008_0050, "SH", string.Format(CultureInfo.InvariantCulture, "A{0:D5}{1:D2}", patient, study))
                .Text(DicomTags.Modality, "CS", "DX")
                .Text(0x0008_0068, "CS", "FOR PRESENTATION")
                .Text(DicomTags.Manufacturer, "LO", "MedicalTransfer synthetic phantom")
                .Text(0x0010_0010, "PN", "Phantom^" + PatientId(patient))
                .Text(DicomTags.PatientId, "LO", PatientId(patient))
                .Text(0x0010_0030, "DA", string.Empty)
                .Text(DicomTags.PatientSex, "CS", Sex(seed, patient))
                .Text(DicomTags.PatientAge, "AS", string.Format(CultureInfo.InvariantCulture, "{0:D3}Y", Age(seed, patient)))
                .Text(DicomTags.BodyPartExamined, "CS", "CHEST")
                .Text(DicomTags.ImagerPixelSpacing, "DS", "0.2\\0.2")
                .Text(DicomTags.ViewPosition, "CS", View(seed, patient, study))
                .Text(DicomTags.StudyInstanceUid, "UI", studyUid)
                .Text(DicomTags.SeriesInstanceUid, "UI", Uid(seed, 2, patient, study))
                .Text(0x0020_0010, "SH", (study + 1).ToString(CultureInfo.InvariantCulture))
                .Text(0x0020_0011, "IS", "1")
                .Text(0x0020_0013, "IS", "1")
                .Text(0x0020_0020, "CS", "L\\F")
                .UShort(DicomTags.SamplesPerPixel, 1)
                .Text(DicomTags.PhotometricInterpretation, "CS", mono1 ? "MONOCHROME1" : "MONOCHROME2")
                .UShort(DicomTags.Rows, size)
                .UShort(DicomTags.Columns, size)
                .Text(DicomTags.PixelSpacing, "DS", "0.2\\0.2")
                .UShort(DicomTags.BitsAllocated, 16)
                .UShort(DicomTags.BitsStored, 12)
                .UShort(DicomTags.HighBit, 11)
                .UShort(DicomTags.PixelRepresentation, 0)
                .Decimal(DicomTags.WindowCenter, WindowCenter)
                .Decimal(DicomTags.WindowWidth, WindowWidth)
                .Decimal(DicomTags.RescaleIntercept, Intercept)
                .Decimal(DicomTags.RescaleSlope, Slope)
                .Text(0x0028_1054, "LO", "US")
                .Text(0x0028_2110, "CS", "00")
                .PixelData(samples, words: true);
            File.WriteAllBytes(path, writer.ToBytes());
        }
    }
}
