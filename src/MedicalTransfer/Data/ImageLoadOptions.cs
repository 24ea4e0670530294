using System;
using System.Globalization;
using MedicalTransfer.Data.Dicom;

namespace MedicalTransfer.Data
{
    /// <summary>What a data pipeline does with an image file it cannot decode.</summary>
    public enum BadImagePolicy
    {
        /// <summary>Stop with an <see cref="ImageDataException"/> naming the file and the reason.</summary>
        Throw,

        /// <summary>Leave the file out, log a warning and count it in the loader's <see cref="DataQualityReport"/>.</summary>
        Skip,
    }

    /// <summary>How image files are decoded.</summary>
    public sealed class ImageLoadOptions
    {
        /// <summary>The options used when none are given.</summary>
        public static ImageLoadOptions Default { get; } = new();

        /// <summary>
        /// Largest image, in pixels (width times height), that is decoded. Dimensions are read from
        /// the file header first, so an oversized (or maliciously declared) image is refused before
        /// any pixel memory is allocated.
        /// </summary>
        /// <value>The default is 64,000,000 (64 megapixels).</value>
        public long MaxPixels { get; init; } = 64_000_000;

        /// <summary>What to do with a file that cannot be decoded.</summary>
        /// <value>The default is <see cref="BadImagePolicy.Throw"/>.</value>
        public BadImagePolicy BadImages { get; init; } = BadImagePolicy.Throw;

        /// <summary>How DICOM files are decoded: which values (stored, modality, the file's window), which frame, which decoder.</summary>
        /// <value>The default is <see cref="DicomLoadOptions.Default"/>: the file's own window, the first frame, the SDK's reader.</value>
        public DicomLoadOptions Dicom { get; init; } = DicomLoadOptions.Default;

        internal ImageLoadOptions Validate()
        {
            if (MaxPixels <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxPixels), MaxPixels, string.Format(CultureInfo.InvariantCulture, "ImageLoadOptions.MaxPixels must be positive; found {0}.", MaxPixels));
            }

            if (!Enum.IsDefined(BadImages))
            {
                throw new ArgumentOutOfRangeException(nameof(BadImages), BadImages, "ImageLoadOptions.BadImages must be Throw or Skip.");
            }

            (Dicom ?? throw new ArgumentNullException(nameof(Dicom))).Validate();

            return this;
        }
    }
}
