using System;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>
    /// The data pipeline's seam for DICOM: turns the bytes of a DICOM file into its header and,
    /// on request, one uncompressed frame. The SDK's own <see cref="DicomReader"/> is one
    /// implementation; a user who has another DICOM library (one that decodes JPEG 2000, say) puts
    /// an adapter for it in <see cref="DicomLoadOptions.Decoder"/>. The SDK checks the header
    /// (pixel limit, supported layout) before asking for a frame, checks the frame against the
    /// header, and maps stored values to the pipeline's values itself (Modality LUT, VOI LUT,
    /// MONOCHROME1 inversion, YBR to RGB).
    /// </summary>
    /// <remarks>
    /// Implementations must be thread-safe (the loader's workers call them concurrently), must not
    /// keep <c>file</c> beyond the call (the buffer is pooled), and must report bad data as an
    /// <see cref="ImageDataException"/> naming <c>name</c>, so that the bad-image policy applies;
    /// any other exception is treated as a defect and surfaces.
    /// </remarks>
    public interface IDicomDecoder
    {
        /// <summary>Reads the header of a DICOM file without decoding pixels.</summary>
        /// <param name="name">The file's path or name, for messages.</param>
        /// <param name="file">The whole file.</param>
        /// <param name="options">The decoding limits; <see cref="ImageLoadOptions.MaxPixels"/> must be checked before any pixel memory is allocated.</param>
        /// <returns>The header.</returns>
        /// <exception cref="ImageDataException">The file is not a DICOM image this decoder reads.</exception>
        DicomHeader ReadHeader(string name, ReadOnlyMemory<byte> file, ImageLoadOptions options);

        /// <summary>Decodes one frame.</summary>
        /// <param name="name">The file's path or name, for messages.</param>
        /// <param name="file">The whole file.</param>
        /// <param name="header">The header this decoder returned for the file.</param>
        /// <param name="frame">The frame, from 0 to <see cref="DicomHeader.NumberOfFrames"/> - 1.</param>
        /// <param name="options">The decoding limits.</param>
        /// <returns>The frame's stored values.</returns>
        /// <exception cref="ImageDataException">The pixel data is corrupt, truncated or in an unsupported encoding.</exception>
        DicomFrame DecodeFrame(string name, ReadOnlyMemory<byte> file, DicomHeader header, int frame, ImageLoadOptions options);
    }
}
