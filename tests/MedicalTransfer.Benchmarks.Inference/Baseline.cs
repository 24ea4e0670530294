using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MedicalTransfer.Data;

namespace MedicalTransfer.Benchmarks.Inference
{
    /// <summary>
    /// A frozen copy of the prediction pipeline's stages as they were at commit e197b74 (before issue 11's pipeline
    /// work): the row unfiltering with compare-and-select Paeth, 16-bit samples to floats through the table, the resampler computing the whole resized image, the
    /// center crop as a copy, the normalisation into new planes. Benchmark code only: it lets one run of
    /// <see cref="PipelineStages"/> measure before and after side by side, under the same load, and check that the
    /// prepared tensors are bit-identical. Nothing in the SDK calls it.
    /// </summary>
    internal static class Baseline
    {
        /// <summary>Undoes PNG's per-row filters in place (each row: a filter byte, then the samples).</summary>
        public static void Unfilter(byte[] raw, int height, int stride, int bpp)
        {
            byte[] zeros = ArrayPool<byte>.Shared.Rent(stride);
            try
            {
                Array.Clear(zeros, 0, stride);
                for (int y = 0; y < height; y++)
                {
                    int start = y * (stride + 1);
                    int filter = raw[start];
                    // The row above the first row reads as zeros.
                    ref byte up = ref y == 0 ? ref zeros[0] : ref raw[start - stride];
                    ref byte row = ref raw[start + 1];
                    switch (filter)
                    {
                        case 0:
                            break;
                        case 1:
                            for (int i = bpp; i < stride; i++)
                            {
                                Unsafe.Add(ref row, i) += Unsafe.Add(ref row, i - bpp);
                            }

                            break;
                        case 2:
                            for (int i = 0; i < stride; i++)
                            {
                                Unsafe.Add(ref row, i) += Unsafe.Add(ref up, i);
                            }

                            break;
                        case 3:
                            for (int i = 0; i < bpp; i++)
                            {
                                Unsafe.Add(ref row, i) += (byte)(Unsafe.Add(ref up, i) >> 1);
                            }

                            for (int i = bpp; i < stride; i++)
                            {
                                Unsafe.Add(ref row, i) += (byte)((Unsafe.Add(ref row, i - bpp) + Unsafe.Add(ref up, i)) >> 1);
                            }

                            break;
                        case 4:
                            PaethRow(ref row, ref up, stride, bpp);
                            break;
                        default:
                            throw new InvalidDataException("row " + y + " has an unknown filter type " + filter);
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(zeros);
            }
        }

        /// <summary>
        /// Paeth-unfilters one row. Each byte depends on the byte <paramref name="bpp"/> to its left,
        /// so the left and upper-left neighbours are carried in registers per interleaved sample
        /// instead of being reloaded from memory just after being stored.
        /// </summary>
        private static void PaethRow(ref byte row, ref byte up, int stride, int bpp)
        {
            if (bpp == 2)
            {
                int a0 = 0, a1 = 0, c0 = 0, c1 = 0;
                for (int i = 0; i + 1 < stride; i += 2)
                {
                    int b0 = Unsafe.Add(ref up, i), b1 = Unsafe.Add(ref up, i + 1);
                    a0 = (byte)(Unsafe.Add(ref row, i) + Paeth(a0, b0, c0));
                    a1 = (byte)(Unsafe.Add(ref row, i + 1) + Paeth(a1, b1, c1));
                    Unsafe.Add(ref row, i) = (byte)a0;
                    Unsafe.Add(ref row, i + 1) = (byte)a1;
                    c0 = b0;
                    c1 = b1;
                }

                return;
            }

            int a = 0, c = 0;
            for (int i = 0; i < stride; i++)
            {
                // bpp is 1 here (8-bit gray).
                int b = Unsafe.Add(ref up, i);
                a = (byte)(Unsafe.Add(ref row, i) + Paeth(a, b, c));
                Unsafe.Add(ref row, i) = (byte)a;
                c = b;
            }
        }

        /// <summary>Paeth's predictor (a on ties, then b, then c) as selects the JIT turns into conditional moves.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int Paeth(int a, int b, int c)
        {
            int pa = Abs(b - c), pb = Abs(a - c), pc = Abs(a + b - c - c);
            int pick = pb < pa ? b : a;
            return pc < Math.Min(pa, pb) ? c : pick;
        }

        /// <summary>Branch-free absolute value (Math.Abs branches to check for int.MinValue).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int Abs(int x)
        {
            int sign = x >> 31;
            return (x ^ sign) - sign;
        }

        public static void ToFloats16(byte[] raw, int width, int height, float[] scale16, float[] destination)
        {
            int stride = width * 2;
            for (int y = 0; y < height; y++)
            {
                ReadOnlySpan<byte> row = raw.AsSpan((y * (stride + 1)) + 1, stride);
                Span<float> output = destination.AsSpan(y * width, width);
                ref byte sample = ref MemoryMarshal.GetReference(row);
                for (int x = 0; x < output.Length; x++)
                {
                    output[x] = scale16[(Unsafe.Add(ref sample, 2 * x) << 8) | Unsafe.Add(ref sample, (2 * x) + 1)];
                }
            }
        }

        /// <summary>The evaluation transform (Resize(shorter side), CenterCrop, Normalize) and the channel count, consuming <paramref name="image"/>.</summary>
        public static FloatImage Evaluate(FloatImage image, Preprocessing p)
        {
            (int w, int h) = ResizeTransform.ShorterSideSize(image.Width, image.Height, p.ResizeSize);
            if (w != image.Width || h != image.Height)
            {
                FloatImage resized = Resize(image, w, h);
                image.Dispose();
                image = resized;
            }

            if (image.Width != p.CropSize || image.Height != p.CropSize)
            {
                FloatImage cropped = Crop(image, CropBoxes.CenterOffset(image.Width, p.CropSize), CropBoxes.CenterOffset(image.Height, p.CropSize), p.CropSize, p.CropSize);
                image.Dispose();
                image = cropped;
            }

            return Normalize(image, p).ToChannels(p.Channels);
        }

        public static FloatImage Resize(FloatImage source, int outWidth, int outHeight)
        {
            Coefficients horizontal = Coefficients.Compute(source.Width, 0, source.Width, outWidth);
            Coefficients vertical = Coefficients.Compute(source.Height, 0, source.Height, outHeight);
            int rowFirst = vertical.Starts[0];
            int rowLast = vertical.Starts[outHeight - 1] + vertical.Counts[outHeight - 1];
            int rows = rowLast - rowFirst;

            FloatImage result = source.RentLike(outWidth, outHeight);
            float[] temp = ArrayPool<float>.Shared.Rent(rows * outWidth);
            try
            {
                for (int c = 0; c < source.Channels; c++)
                {
                    ReadOnlySpan<float> src = source.Plane(c);
                    Span<float> mid = temp.AsSpan(0, rows * outWidth);
                    for (int r = 0; r < rows; r++)
                    {
                        ReadOnlySpan<float> srcRow = src.Slice((rowFirst + r) * source.Width, source.Width);
                        Span<float> midRow = mid.Slice(r * outWidth, outWidth);
                        for (int x = 0; x < outWidth; x++)
                        {
                            int start = horizontal.Starts[x];
                            ReadOnlySpan<float> w = horizontal.Weights.AsSpan(x * horizontal.KernelSize, horizontal.Counts[x]);
                            ReadOnlySpan<float> s = srcRow.Slice(start, w.Length);
                            float sum = 0;
                            for (int k = 0; k < w.Length; k++)
                            {
                                sum += s[k] * w[k];
                            }

                            midRow[x] = sum;
                        }
                    }

                    Span<float> dst = result.Plane(c);
                    for (int y = 0; y < outHeight; y++)
                    {
                        int start = vertical.Starts[y] - rowFirst;
                        ReadOnlySpan<float> w = vertical.Weights.AsSpan(y * vertical.KernelSize, vertical.Counts[y]);
                        Span<float> dstRow = dst.Slice(y * outWidth, outWidth);
                        dstRow.Clear();
                        for (int k = 0; k < w.Length; k++)
                        {
                            float wk = w[k];
                            ReadOnlySpan<float> midRow = mid.Slice((start + k) * outWidth, outWidth);
                            for (int x = 0; x < outWidth; x++)
                            {
                                dstRow[x] += midRow[x] * wk;
                            }
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(temp);
            }

            return result;
        }

        public static FloatImage Crop(FloatImage image, int left, int top, int cropWidth, int cropHeight)
        {
            FloatImage result = image.RentLike(cropWidth, cropHeight);
            int x0 = Math.Max(0, left), x1 = Math.Min(image.Width, left + cropWidth);
            for (int c = 0; c < image.Channels; c++)
            {
                Span<float> src = image.Plane(c);
                Span<float> dst = result.Plane(c);
                dst.Clear();
                for (int y = 0; y < cropHeight; y++)
                {
                    int sy = y + top;
                    if (sy < 0 || sy >= image.Height || x1 <= x0)
                    {
                        continue;
                    }

                    src.Slice((sy * image.Width) + x0, x1 - x0).CopyTo(dst.Slice((y * cropWidth) + (x0 - left), x1 - x0));
                }
            }

            return result;
        }

        public static FloatImage Normalize(FloatImage image, Preprocessing p)
        {
            IReadOnlyList<float> mean = p.Mean, std = p.Std;
            FloatImage source = mean.Count == 1 ? image.ToChannels(1) : image;
            FloatImage result = FloatImage.Rent(mean.Count, image.Width, image.Height, 1f);
            for (int c = 0; c < mean.Count; c++)
            {
                int from = source.Channels == 1 ? 0 : p.ChannelOrder == ChannelOrder.Bgr ? 2 - c : c;
                ReadOnlySpan<float> src = source.Plane(from);
                Span<float> dst = result.Plane(c);
                float a = p.PixelScale / std[c];
                float b = -mean[c] / std[c];
                for (int i = 0; i < dst.Length; i++)
                {
                    dst[i] = (src[i] * a) + b;
                }
            }

            source.Dispose();
            return result;
        }

        private sealed class Coefficients
        {
            private Coefficients(int[] starts, int[] counts, float[] weights, int kernelSize)
            {
                Starts = starts;
                Counts = counts;
                Weights = weights;
                KernelSize = kernelSize;
            }

            public int[] Starts { get; }

            public int[] Counts { get; }

            public float[] Weights { get; }

            public int KernelSize { get; }

            public static Coefficients Compute(int inSize, double in0, double in1, int outSize)
            {
                double scale = (in1 - in0) / outSize;
                double filterScale = Math.Max(scale, 1.0);
                double support = filterScale;
                int kernelSize = ((int)Math.Ceiling(support) * 2) + 1;
                var starts = new int[outSize];
                var counts = new int[outSize];
                var weights = new float[outSize * kernelSize];
                var k = new double[kernelSize];
                double invScale = 1.0 / filterScale;
                int low = Math.Max(0, (int)Math.Floor(in0));
                int high = Math.Min(inSize, (int)Math.Ceiling(in1));
                for (int xx = 0; xx < outSize; xx++)
                {
                    double center = in0 + ((xx + 0.5) * scale);
                    int xmin = Math.Max((int)(center - support + 0.5), low);
                    int xmax = Math.Min((int)(center + support + 0.5), high) - xmin;
                    xmax = Math.Min(xmax, kernelSize);
                    double total = 0;
                    for (int x = 0; x < xmax; x++)
                    {
                        double t = Math.Abs((x + xmin - center + 0.5) * invScale);
                        double w = t < 1.0 ? 1.0 - t : 0.0;
                        k[x] = w;
                        total += w;
                    }

                    for (int x = 0; x < xmax; x++)
                    {
                        weights[(xx * kernelSize) + x] = (float)(total != 0 ? k[x] / total : 0);
                    }

                    starts[xx] = xmin;
                    counts[xx] = Math.Max(xmax, 0);
                }

                return new Coefficients(starts, counts, weights, kernelSize);
            }
        }
    }
}
