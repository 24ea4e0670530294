using System;
using System.Globalization;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>
    /// One decoded (uncompressed) frame: the stored sample values of every pixel, as a decoder
    /// hands them to the SDK. Samples are little-endian, <see cref="BitsAllocated"/> wide, exactly
    /// as they would sit in an uncompressed Explicit VR Little Endian file: pixel by pixel
    /// (R1 G1 B1 R2 ...) or, when <see cref="Planar"/>, plane by plane. The SDK then applies the
    /// header's Modality LUT, VOI LUT and photometric interpretation itself, so every decoder's
    /// output is mapped to the pipeline's values the same way.
    /// </summary>
    public sealed class DicomFrame
    {
        /// <summary>Creates a frame and checks that <paramref name="samples"/> holds every sample.</summary>
        /// <param name="columns">Width in pixels.</param>
        /// <param name="rows">Height in pixels.</param>
        /// <param name="samplesPerPixel">1 or 3.</param>
        /// <param name="bitsAllocated">8, 16 or 32 bits per sample.</param>
        /// <param name="planar">Whether the samples are plane by plane (Planar Configuration 1).</param>
        /// <param name="photometricInterpretation">The colour space of these samples: MONOCHROME1, MONOCHROME2, RGB or YBR_FULL (a decoder that upsamples YBR_FULL_422 reports YBR_FULL).</param>
        /// <param name="samples">The samples, at least columns x rows x samplesPerPixel x bitsAllocated / 8 bytes.</param>
        /// <exception cref="ArgumentException">A value is out of range or <paramref name="samples"/> is too short.</exception>
        public DicomFrame(int columns, int rows, int samplesPerPixel, int bitsAllocated, bool planar, string photometricInterpretation, ReadOnlyMemory<byte> samples)
        {
            ArgumentNullException.ThrowIfNull(photometricInterpretation);
            if (columns <= 0 || rows <= 0 || samplesPerPixel is not (1 or 3) || bitsAllocated is not (8 or 16 or 32))
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "A DICOM frame needs positive columns and rows, 1 or 3 samples per pixel and 8, 16 or 32 bits; found {0}x{1}, {2} samples, {3} bits.", columns, rows, samplesPerPixel, bitsAllocated), nameof(samples));
            }

            long needed = (long)columns * rows * samplesPerPixel * (bitsAllocated / 8);
            if (samples.Length < needed)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "A {0}x{1} frame of {2} samples of {3} bits needs {4} bytes; {5} were given.", columns, rows, samplesPerPixel, bitsAllocated, needed, samples.Length), nameof(samples));
            }

            Columns = columns;
            Rows = rows;
            SamplesPerPixel = samplesPerPixel;
            BitsAllocated = bitsAllocated;
            Planar = planar && samplesPerPixel > 1;
            PhotometricInterpretation = photometricInterpretation;
            Samples = samples.Slice(0, (int)needed);
        }

        /// <summary>Width in pixels.</summary>
        public int Columns { get; }

        /// <summary>Height in pixels.</summary>
        public int Rows { get; }

        /// <summary>Samples per pixel: 1 or 3.</summary>
        public int SamplesPerPixel { get; }

        /// <summary>Bits per sample: 8, 16 or 32 (1-bit data is unpacked to 8).</summary>
        public int BitsAllocated { get; }

        /// <summary>Whether samples are plane by plane rather than pixel by pixel.</summary>
        public bool Planar { get; }

        /// <summary>The colour space of the samples: MONOCHROME1, MONOCHROME2, RGB or YBR_FULL.</summary>
        public string PhotometricInterpretation { get; }

        /// <summary>The little-endian samples, exactly columns x rows x samples x bits / 8 bytes.</summary>
        public ReadOnlyMemory<byte> Samples { get; }

        /// <summary>The stored container value of sample <paramref name="sample"/> of pixel (<paramref name="x"/>, <paramref name="y"/>), before Bits Stored masking.</summary>
        /// <param name="x">Column.</param>
        /// <param name="y">Row.</param>
        /// <param name="sample">Sample (0 for gray).</param>
        /// <returns>The value, zero-extended.</returns>
        public long RawValue(int x, int y, int sample)
        {
            int pixel = (y * Columns) + x;
            int index = Planar ? (sample * Rows * Columns) + pixel : (pixel * SamplesPerPixel) + sample;
            ReadOnlySpan<byte> s = Samples.Span;
            return BitsAllocated switch
            {
                8 => s[index],
                16 => System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(s.Slice(index * 2)),
                _ => System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(s.Slice(index * 4)),
            };
        }
    }
}
