using System;
using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;

namespace MedicalTransfer.Data.Dicom
{
    /// <summary>
    /// Maps a frame's stored values to the pipeline's [0, 1] values: Bits Stored and High Bit
    /// (masking, sign extension), the Modality LUT (PS3.3 C.11.1: LUT, or rescale slope and
    /// intercept), the VOI LUT (C.11.2: LUT, or window center and width through the LINEAR,
    /// LINEAR_EXACT or SIGMOID function), MONOCHROME1 inversion, and YBR_FULL to RGB. The functions
    /// in pydicom's units (<see cref="Modality"/>, <see cref="VoiInPydicomUnits"/>) are what the
    /// conformance tests compare with pydicom's apply_modality_lut and apply_voi_lut.
    /// </summary>
    internal static class DicomValueMapper
    {
        public static FloatImage ToFloatImage(string name, DicomHeader h, DicomFrame frame, DicomLoadOptions options)
        {
            return frame.SamplesPerPixel == 1 ? Gray(name, h, frame, options) : Colour(h, frame);
        }

        /// <summary>The stored value of a container value: High Bit and Bits Stored select the bits, Pixel Representation the sign.</summary>
        public static long Stored(DicomHeader h, long raw)
        {
            int shift = h.HighBit - h.BitsStored + 1;
            long mask = (1L << h.BitsStored) - 1;
            long v = (raw >> shift) & mask;
            if (h.IsSigned && h.BitsStored > 1 && (v & (1L << (h.BitsStored - 1))) != 0)
            {
                v -= 1L << h.BitsStored;
            }

            return v;
        }

        /// <summary>The range Bits Stored and Pixel Representation allow.</summary>
        public static (long Min, long Max) StoredRange(DicomHeader h) => h.IsSigned && h.BitsStored > 1
            ? (-(1L << (h.BitsStored - 1)), (1L << (h.BitsStored - 1)) - 1)
            : (0, (1L << h.BitsStored) - 1);

        /// <summary>The modality value of a stored value (pydicom's apply_modality_lut).</summary>
        public static double Modality(DicomHeader h, long stored)
        {
            if (h.ModalityLut is { } lut)
            {
                return lut.Map(stored);
            }

            if (h.RescaleSlope is double slope && h.RescaleIntercept is double intercept)
            {
                return (stored * slope) + intercept;
            }

            return stored;
        }

        /// <summary>The nominal range of modality values, as pydicom's apply_windowing computes it (not sorted: a negative slope gives Min above Max).</summary>
        public static (double Min, double Max) ModalityRange(DicomHeader h)
        {
            if (h.ModalityLut is { } lut)
            {
                return (0, Math.Pow(2, lut.BitsPerEntry) - 1);
            }

            (long min, long max) = StoredRange(h);
            if (h.RescaleSlope is double slope && h.RescaleIntercept is double intercept)
            {
                return ((min * slope) + intercept, (max * slope) + intercept);
            }

            return (min, max);
        }

        /// <summary>Which VOI transform applies, for a window index: a VOI LUT, a window, or none.</summary>
        public static (DicomLut? Lut, DicomWindow? Window) Voi(string name, DicomHeader h, int index)
        {
            if (h.VoiLuts.Count > 0)
            {
                if (index >= h.VoiLuts.Count)
                {
                    throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has {0} VOI LUT{1}; DicomLoadOptions.WindowIndex {2} asks for another.", h.VoiLuts.Count, h.VoiLuts.Count == 1 ? string.Empty : "s", index));
                }

                return (h.VoiLuts[index], null);
            }

            if (h.Windows.Count > 0)
            {
                if (index >= h.Windows.Count)
                {
                    throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has {0} window{1} (Window Center/Width); DicomLoadOptions.WindowIndex {2} asks for another.", h.Windows.Count, h.Windows.Count == 1 ? string.Empty : "s", index));
                }

                DicomWindow window = h.Windows[index];
                bool linear = h.VoiLutFunction == "LINEAR";
                if ((linear && window.Width < 1) || (!linear && window.Width <= 0))
                {
                    throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has Window Width {0} with VOI LUT Function {1}; PS3.3 C.11.2.1.2 needs a width of at least 1 (LINEAR) or above 0 (LINEAR_EXACT, SIGMOID).", window.Width, h.VoiLutFunction));
                }

                return (null, window);
            }

            if (index > 0)
            {
                throw DicomParser.Fail(name, string.Format(CultureInfo.InvariantCulture, "has no window or VOI LUT; DicomLoadOptions.WindowIndex {0} asks for one.", index));
            }

            return (null, null);
        }

        /// <summary>The window's output as a fraction of the output range, 0 to 1 (PS3.3 C.11.2.1.2 and C.11.2.1.3).</summary>
        public static double WindowFraction(string function, DicomWindow window, double x)
        {
            double c = window.Center, w = window.Width;
            switch (function)
            {
                case "SIGMOID":
                    return 1 / (1 + Math.Exp(-4 * (x - c) / w));
                case "LINEAR_EXACT":
                    break;
                default:
                    c -= 0.5;
                    w -= 1;
                    break;
            }

            if (x <= c - (w / 2))
            {
                return 0;
            }

            if (x > c + (w / 2))
            {
                return 1;
            }

            return ((x - c) / w) + 0.5;
        }

        /// <summary>pydicom's apply_voi_lut value for a modality value (the LUT entry, or the window's output in the modality range).</summary>
        public static double VoiInPydicomUnits(DicomHeader h, DicomLut? lut, DicomWindow? window, double modality)
        {
            if (lut is not null)
            {
                return lut.Map(modality);
            }

            if (window is { } win)
            {
                (double min, double max) = ModalityRange(h);
                string function = h.VoiLutFunction;
                if (function == "SIGMOID")
                {
                    return ((max - min) / (1 + Math.Exp(-4 * (modality - win.Center) / win.Width))) + min;
                }

                double fraction = WindowFraction(function, win, modality);
                return fraction switch
                {
                    0 => min,
                    1 => max,
                    _ => (fraction * (max - min)) + min,
                };
            }

            return modality;
        }

        /// <summary>The pipeline value (before MONOCHROME1 inversion) of a stored value, in [0, 1].</summary>
        public static double Display(DicomHeader h, DicomValues values, DicomLut? lut, DicomWindow? window, long stored)
        {
            switch (values)
            {
                case DicomValues.StoredValues:
                    {
                        (long min, long max) = StoredRange(h);
                        return max == min ? 0 : (stored - min) / (double)(max - min);
                    }

                case DicomValues.ModalityValues:
                    return Normalise(h, Modality(h, stored));
                default:
                    double m = Modality(h, stored);
                    if (lut is not null)
                    {
                        return Math.Clamp(lut.Map(m) / (Math.Pow(2, lut.BitsPerEntry) - 1), 0, 1);
                    }

                    if (window is { } win)
                    {
                        return WindowFraction(h.VoiLutFunction, win, m);
                    }

                    return Normalise(h, m);
            }
        }

        private static double Normalise(DicomHeader h, double modality)
        {
            (double a, double b) = ModalityRange(h);
            double min = Math.Min(a, b), max = Math.Max(a, b);
            return max == min ? 0 : Math.Clamp((modality - min) / (max - min), 0, 1);
        }

        private static FloatImage Gray(string name, DicomHeader h, DicomFrame frame, DicomLoadOptions options)
        {
            (DicomLut? lut, DicomWindow? window) = options.Values == DicomValues.FileWindow ? Voi(name, h, options.WindowIndex) : (null, null);
            bool invert = h.PhotometricInterpretation == "MONOCHROME1";
            float fullScale;
            double offset;
            switch (options.Values)
            {
                case DicomValues.StoredValues:
                    (long smin, long smax) = StoredRange(h);
                    fullScale = (float)Math.Max(1, smax - smin);
                    offset = smin;
                    break;
                case DicomValues.ModalityValues:
                    (double a, double b) = ModalityRange(h);
                    fullScale = (float)Math.Max(Math.Abs(b - a), double.Epsilon);
                    offset = Math.Min(a, b);
                    break;
                default:
                    fullScale = 1f;
                    offset = 0;
                    break;
            }

            FloatImage image = FloatImage.Rent(1, frame.Columns, frame.Rows, fullScale);
            try
            {
                Span<float> output = image.Pixels;
                ReadOnlySpan<byte> samples = frame.Samples.Span;
                if (frame.BitsAllocated == 16 && h.BitsStored <= 16 && Linear(h, options.Values, lut, window, invert) is { } linear)
                {
                    // Rescale and a LINEAR window compose to clamp(a x stored + b): vectorised, no table.
                    MapLinear16(MemoryMarshal.Cast<byte, ushort>(samples), output, h, (float)linear.A, (float)linear.B);
                }
                else if (h.BitsStored <= 16 && frame.BitsAllocated <= 16)
                {
                    // Every stored value maps through one table: a lookup per pixel, whatever the transforms.
                    int shift = h.HighBit - h.BitsStored + 1;
                    int mask = (1 << h.BitsStored) - 1;
                    float[] table = new float[mask + 1];
                    for (int u = 0; u <= mask; u++)
                    {
                        long stored = h.IsSigned && h.BitsStored > 1 && (u & (1 << (h.BitsStored - 1))) != 0 ? u - (1L << h.BitsStored) : u;
                        double d = Display(h, options.Values, lut, window, stored);
                        table[u] = (float)(invert ? 1 - d : d);
                    }

                    if (frame.BitsAllocated == 8)
                    {
                        for (int i = 0; i < output.Length; i++)
                        {
                            output[i] = table[(samples[i] >> shift) & mask];
                        }
                    }
                    else
                    {
                        ReadOnlySpan<ushort> words = MemoryMarshal.Cast<byte, ushort>(samples);
                        if (!BitConverter.IsLittleEndian)
                        {
                            throw new PlatformNotSupportedException("The DICOM reader needs a little-endian processor.");
                        }

                        if (shift == 0 && mask == 0xFFFF)
                        {
                            for (int i = 0; i < output.Length; i++)
                            {
                                output[i] = table[words[i]];
                            }
                        }
                        else
                        {
                            for (int i = 0; i < output.Length; i++)
                            {
                                output[i] = table[(words[i] >> shift) & mask];
                            }
                        }
                    }
                }
                else
                {
                    for (int i = 0; i < output.Length; i++)
                    {
                        long raw = frame.BitsAllocated switch
                        {
                            8 => samples[i],
                            16 => BinaryPrimitives.ReadUInt16LittleEndian(samples.Slice(2 * i)),
                            _ => BinaryPrimitives.ReadUInt32LittleEndian(samples.Slice(4 * i)),
                        };
                        double d = Display(h, options.Values, lut, window, Stored(h, raw));
                        output[i] = (float)(invert ? 1 - d : d);
                    }
                }

                if (options.Values != DicomValues.FileWindow)
                {
                    image.SetValueScale(fullScale, offset, invert);
                }

                return image;
            }
            catch
            {
                image.Dispose();
                throw;
            }
        }

        /// <summary>
        /// When the whole mapping is clamp(a x stored + b, 0, 1) (no LUT, a rescale at most, a
        /// LINEAR or LINEAR_EXACT window or none), its a and b; otherwise null.
        /// </summary>
        internal static (double A, double B)? Linear(DicomHeader h, DicomValues values, DicomLut? lut, DicomWindow? window, bool invert)
        {
            if (h.ModalityLut is not null || lut is not null)
            {
                return null;
            }

            double slope = 1, intercept = 0;
            if (h.RescaleSlope is double rs && h.RescaleIntercept is double ri)
            {
                (slope, intercept) = (rs, ri);
            }

            double a, b;
            if (values == DicomValues.StoredValues)
            {
                (long min, long max) = StoredRange(h);
                if (max == min)
                {
                    return null;
                }

                a = 1.0 / (max - min);
                b = -min / (double)(max - min);
            }
            else if (values == DicomValues.FileWindow && window is { } win)
            {
                if (h.VoiLutFunction is not ("LINEAR" or "LINEAR_EXACT"))
                {
                    return null;
                }

                bool exact = h.VoiLutFunction == "LINEAR_EXACT";
                double c = exact ? win.Center : win.Center - 0.5, w = exact ? win.Width : win.Width - 1;
                if (w <= 0)
                {
                    return null; // a step, not a line
                }

                a = slope / w;
                b = ((intercept - c) / w) + 0.5;
            }
            else
            {
                (double ra, double rb) = ModalityRange(h);
                double min = Math.Min(ra, rb), max = Math.Max(ra, rb);
                if (max == min)
                {
                    return null;
                }

                a = slope / (max - min);
                b = (intercept - min) / (max - min);
            }

            return invert ? (-a, 1 - b) : (a, b);
        }

        private static void MapLinear16(ReadOnlySpan<ushort> words, Span<float> output, DicomHeader h, float a, float b)
        {
            int shift = h.HighBit - h.BitsStored + 1;
            int unused = 32 - h.BitsStored; // for sign extension from Bits Stored
            uint mask = (1u << h.BitsStored) - 1;
            bool signed = h.IsSigned && h.BitsStored > 1;
            int i = 0;
            if (Vector.IsHardwareAccelerated && output.Length >= Vector<ushort>.Count)
            {
                var va = new Vector<float>(a);
                var vb = new Vector<float>(b);
                var vmask = new Vector<uint>(mask);
                int step = Vector<ushort>.Count, half = Vector<uint>.Count;
                for (; i <= output.Length - step; i += step)
                {
                    Vector.Widen(new Vector<ushort>(words.Slice(i)), out Vector<uint> low, out Vector<uint> high);
                    Store(low, output.Slice(i));
                    Store(high, output.Slice(i + half));
                }

                void Store(Vector<uint> raw, Span<float> target)
                {
                    Vector<uint> bits = Vector.BitwiseAnd(Vector.ShiftRightLogical(raw, shift), vmask);
                    Vector<int> value = Vector.AsVectorInt32(bits);
                    if (signed)
                    {
                        value = Vector.ShiftRightArithmetic(Vector.ShiftLeft(value, unused), unused);
                    }

                    Vector<float> mapped = (Vector.ConvertToSingle(value) * va) + vb;
                    Vector.Min(Vector.Max(mapped, Vector<float>.Zero), Vector<float>.One).CopyTo(target);
                }
            }

            for (; i < output.Length; i++)
            {
                int value = (int)((words[i] >> shift) & mask);
                if (signed)
                {
                    value = (value << unused) >> unused;
                }

                output[i] = Math.Clamp((value * a) + b, 0f, 1f);
            }
        }

        private static FloatImage Colour(DicomHeader h, DicomFrame frame)
        {
            int bits = Math.Min(h.BitsStored, frame.BitsAllocated);
            double max = Math.Pow(2, bits) - 1;
            FloatImage image = FloatImage.Rent(3, frame.Columns, frame.Rows, (float)max);
            float[] dst = image.Buffer;
            int plane = image.PlaneLength;
            bool ybr = frame.PhotometricInterpretation == "YBR_FULL";
            double half = Math.Pow(2, bits - 1);
            for (int y = 0; y < frame.Rows; y++)
            {
                for (int x = 0; x < frame.Columns; x++)
                {
                    int i = (y * frame.Columns) + x;
                    double r = Math.Min(frame.RawValue(x, y, 0) & (long)max, (long)max);
                    double g = Math.Min(frame.RawValue(x, y, 1) & (long)max, (long)max);
                    double b = Math.Min(frame.RawValue(x, y, 2) & (long)max, (long)max);
                    if (ybr)
                    {
                        (r, g, b) = YbrToRgb(r, g, b, half, max);
                    }

                    dst[i] = (float)(r / max);
                    dst[plane + i] = (float)(g / max);
                    dst[(2 * plane) + i] = (float)(b / max);
                }
            }

            return image;
        }

        /// <summary>YBR_FULL to RGB (PS3.3 C.7.6.3.1.2, ITU-R BT.601 full range), rounded and clipped as pydicom's convert_color_space does.</summary>
        public static (double R, double G, double B) YbrToRgb(double y, double cb, double cr, double half, double max)
        {
            float fy = (float)y, fb = (float)(cb - half), fr = (float)(cr - half);
            float r = fy + (1.402f * fr);
            float g = fy + (-0.114f * 1.772f / 0.587f * fb) + (-0.299f * 1.402f / 0.587f * fr);
            float b = fy + (1.772f * fb);
            return (Math.Clamp(Math.Floor(r + 0.5f), 0, max), Math.Clamp(Math.Floor(g + 0.5f), 0, max), Math.Clamp(Math.Floor(b + 0.5f), 0, max));
        }
    }
}
