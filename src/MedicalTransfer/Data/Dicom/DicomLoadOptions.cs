using System;
using System.Globalization;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>Which values of a gray DICOM image the pipeline receives (colour images are always their stored RGB values).</summary>
    public enum DicomValues
    {
        /// <summary>
        /// What a radiologist's viewer shows: stored values through the Modality LUT (or rescale),
        /// then the file's own VOI LUT or window (PS3.3 C.11.2.1.2), mapped to [0, 1]. A file
        /// without a window gets the full modality range. MONOCHROME1 is inverted, so bright means dense.
        /// </summary>
        FileWindow,

        /// <summary>
        /// Modality values (for CT, Hounsfield units) mapped linearly from their nominal range to
        /// [0, 1]; <see cref="Transforms.Window"/> then takes its center and width in modality units
        /// (a lung window is Window(-600, 1500)). MONOCHROME1 is inverted.
        /// </summary>
        ModalityValues,

        /// <summary>
        /// Raw stored values mapped linearly from the range Bits Stored allows to [0, 1], as a
        /// 16-bit PNG would be; <see cref="Transforms.Window"/> takes stored units. MONOCHROME1 is inverted.
        /// </summary>
        StoredValues,
    }

    /// <summary>How DICOM files are decoded and mapped to pixel values.</summary>
    public sealed record DicomLoadOptions
    {
        /// <summary>The options used when none are given.</summary>
        public static DicomLoadOptions Default { get; } = new();

        /// <summary>Which values the pipeline receives.</summary>
        /// <value>The default is <see cref="DicomValues.FileWindow"/>.</value>
        public DicomValues Values { get; init; } = DicomValues.FileWindow;

        /// <summary>
        /// Which of the file's windows (or VOI LUTs) <see cref="DicomValues.FileWindow"/> uses, from
        /// 0; a file with fewer is an <see cref="ImageDataException"/>. Files often carry several,
        /// for example a soft-tissue and a lung window.
        /// </summary>
        /// <value>The default is 0, the first.</value>
        public int WindowIndex { get; init; }

        /// <summary>Which frame of a multi-frame file is read, from 0; a file with fewer is an <see cref="ImageDataException"/>.</summary>
        /// <value>The default is 0, the first.</value>
        public int Frame { get; init; }

        /// <summary>The decoder that reads DICOM files.</summary>
        /// <value>The default is <see cref="DicomReader.Instance"/>, the SDK's own reader.</value>
        public IDicomDecoder Decoder { get; init; } = DicomReader.Instance;

        internal DicomLoadOptions Validate()
        {
            if (!Enum.IsDefined(Values))
            {
                throw new ArgumentOutOfRangeException(nameof(Values), Values, "DicomLoadOptions.Values must be FileWindow, ModalityValues or StoredValues.");
            }

            if (WindowIndex < 0 || Frame < 0)
            {
                throw new ArgumentOutOfRangeException(WindowIndex < 0 ? nameof(WindowIndex) : nameof(Frame), string.Format(CultureInfo.InvariantCulture, "DicomLoadOptions.WindowIndex and Frame count from 0; found {0} and {1}.", WindowIndex, Frame));
            }

            if (Decoder is null)
            {
                throw new ArgumentNullException(nameof(Decoder), "DicomLoadOptions.Decoder must not be null; use DicomReader.Instance for the SDK's reader.");
            }

            return this;
        }
    }
}
