using System;
using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// Separable bilinear resampling with antialiasing, the algorithm of PIL's <c>ImagingResample</c>
    /// (and of torchvision's <c>antialias=True</c>): when shrinking, the triangle filter widens to
    /// the scale factor so that every source pixel contributes. Works on a box of the source, so a
    /// crop and its resize are one pass, and computes only a window of the output, so a resize and the
    /// crop after it are one pass too.
    /// </summary>
    /// <remarks>
    /// Every output pixel is the same sum, in the same order, whichever code path computes it: the horizontal pass
    /// adds <c>source * weight</c> over the taps left to right starting from 0, the vertical pass adds
    /// <c>row * weight</c> top to bottom starting from 0, in float32, without fused multiply-adds. The vector paths
    /// (eight outputs at a time) only change how many outputs one instruction computes, so the result is bit-identical
    /// to the scalar loops and to computing the whole resized image and cropping it.
    /// </remarks>
    internal static class Resampler
    {
        public static FloatImage Resize(FloatImage source, int outWidth, int outHeight) =>
            ResizeBox(source, 0, 0, source.Width, source.Height, outWidth, outHeight);

        /// <summary>Resamples the box [x0, x1) x [y0, y1) of <paramref name="source"/> (not consumed).</summary>
        public static FloatImage ResizeBox(FloatImage source, double x0, double y0, double x1, double y1, int outWidth, int outHeight) =>
            ResizeWindow(source, x0, y0, x1, y1, outWidth, outHeight, 0, 0, outWidth, outHeight);

        /// <summary>
        /// Resamples the box [x0, x1) x [y0, y1) of <paramref name="source"/> (not consumed) to
        /// <paramref name="outWidth"/> x <paramref name="outHeight"/> and returns only the window of that result that
        /// starts at (<paramref name="left"/>, <paramref name="top"/>) and is <paramref name="width"/> x
        /// <paramref name="height"/>; where the window reaches outside the result it reads 0, as a crop's padding
        /// does. Only the window's pixels, and the source rows they read, are computed.
        /// </summary>
        public static FloatImage ResizeWindow(FloatImage source, double x0, double y0, double x1, double y1, int outWidth, int outHeight, int left, int top, int width, int height)
        {
            Coefficients horizontal = Coefficients.Compute(source.Width, x0, x1, outWidth);
            Coefficients vertical = Coefficients.Compute(source.Height, y0, y1, outHeight);
            int columnFirst = Math.Max(0, left), columnEnd = Math.Min(outWidth, left + width);
            int rowFirst = Math.Max(0, top), rowEnd = Math.Min(outHeight, top + height);
            FloatImage result = source.RentLike(width, height);
            if (columnFirst != left || columnEnd != left + width || rowFirst != top || rowEnd != top + height)
            {
                result.Pixels.Clear();
            }

            if (columnEnd <= columnFirst || rowEnd <= rowFirst)
            {
                return result;
            }

            // Only the source rows the window's output rows read go through the horizontal pass.
            int sourceFirst = int.MaxValue, sourceEnd = 0;
            for (int y = rowFirst; y < rowEnd; y++)
            {
                if (vertical.Counts[y] > 0)
                {
                    sourceFirst = Math.Min(sourceFirst, vertical.Starts[y]);
                    sourceEnd = Math.Max(sourceEnd, vertical.Starts[y] + vertical.Counts[y]);
                }
            }

            int rows = Math.Max(0, sourceEnd - sourceFirst);
            int columns = columnEnd - columnFirst;
            Groups? groups = Groups.For(horizontal, columnFirst, columnEnd, source.Width);
            float[] temp = ArrayPool<float>.Shared.Rent(Math.Max(1, rows * columns));
            try
            {
                for (int c = 0; c < source.Channels; c++)
                {
                    ReadOnlySpan<float> src = source.Plane(c);
                    Span<float> mid = temp.AsSpan(0, rows * columns);
                    for (int r = 0; r < rows; r++)
                    {
                        HorizontalRow(src.Slice((sourceFirst + r) * source.Width, source.Width), horizontal, columnFirst, groups, mid.Slice(r * columns, columns));
                    }

                    Span<float> dst = result.Plane(c);
                    for (int y = rowFirst; y < rowEnd; y++)
                    {
                        ReadOnlySpan<float> weights = vertical.Weights.AsSpan(y * vertical.KernelSize, vertical.Counts[y]);
                        Span<float> dstRow = dst.Slice(((y - top) * width) + (columnFirst - left), columns);
                        VerticalRow(mid, columns, vertical.Starts[y] - sourceFirst, weights, dstRow);
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(temp);
            }

            return result;
        }

        /// <summary>Output columns [first, first + mid.Length) of one source row: the vector groups, then the rest one by one.</summary>
        private static void HorizontalRow(ReadOnlySpan<float> row, Coefficients h, int first, Groups? groups, Span<float> mid)
        {
            if (groups is not null)
            {
                groups.Run(row, h, first, mid);
            }

            for (int x = groups?.ScalarFrom ?? 0; x < mid.Length; x++)
            {
                int o = first + x;
                ReadOnlySpan<float> w = h.Weights.AsSpan(o * h.KernelSize, h.Counts[o]);
                ReadOnlySpan<float> s = row.Slice(h.Starts[o], w.Length);
                float sum = 0;
                for (int k = 0; k < w.Length; k++)
                {
                    sum += s[k] * w[k];
                }

                mid[x] = sum;
            }
        }

        /// <summary>One output row: the weighted sum of the intermediate rows from <paramref name="start"/>, column by column.</summary>
        private static void VerticalRow(ReadOnlySpan<float> mid, int columns, int start, ReadOnlySpan<float> weights, Span<float> dst)
        {
            int x = 0;
            if (Vector.IsHardwareAccelerated)
            {
                for (; x + Vector<float>.Count <= columns; x += Vector<float>.Count)
                {
                    var sum = Vector<float>.Zero;
                    for (int k = 0; k < weights.Length; k++)
                    {
                        sum += new Vector<float>(mid.Slice(((start + k) * columns) + x, Vector<float>.Count)) * weights[k];
                    }

                    sum.CopyTo(dst.Slice(x));
                }
            }

            for (; x < columns; x++)
            {
                float sum = 0;
                for (int k = 0; k < weights.Length; k++)
                {
                    sum += mid[((start + k) * columns) + x] * weights[k];
                }

                dst[x] = sum;
            }
        }

        /// <summary>
        /// The horizontal pass eight outputs at a time (AVX2): output j of a group reads the taps from
        /// <c>start(first) + d[j]</c>, with every d below 16, so two loads of eight source floats and two permutes
        /// give each tap for all eight outputs. Lanes past their own kernel keep their sum unchanged. Outputs whose
        /// groups do not fit (the right edge, or a shrink by more than about 2) are left to the scalar loop.
        /// </summary>
        private sealed class Groups
        {
            private readonly int[] outputs;
            private readonly int[] taps;
            private readonly Vector256<int>[] offsets;
            private readonly Vector256<int>[] counts;

            private Groups(int[] outputs, int[] taps, Vector256<int>[] offsets, Vector256<int>[] counts, int scalarFrom)
            {
                this.outputs = outputs;
                this.taps = taps;
                this.offsets = offsets;
                this.counts = counts;
                ScalarFrom = scalarFrom;
            }

            /// <summary>The first column (relative to the window) that the vector groups do not cover.</summary>
            public int ScalarFrom { get; }

            public static Groups? For(Coefficients h, int first, int end, int sourceWidth)
            {
                if (!Avx2.IsSupported)
                {
                    return null;
                }

                int n = 0;
                while (first + (8 * (n + 1)) <= end && Fits(h, first + (8 * n), sourceWidth))
                {
                    n++;
                }

                if (n == 0)
                {
                    return null;
                }

                var outputs = new int[n];
                var taps = new int[n];
                var offsets = new Vector256<int>[n];
                var counts = new Vector256<int>[n];
                Span<int> d = stackalloc int[8];
                Span<int> c = stackalloc int[8];
                for (int g = 0; g < n; g++)
                {
                    int o = first + (8 * g);
                    for (int j = 0; j < 8; j++)
                    {
                        d[j] = h.Starts[o + j] - h.Starts[o];
                        c[j] = h.Counts[o + j];
                        taps[g] = Math.Max(taps[g], c[j]);
                    }

                    outputs[g] = o;
                    offsets[g] = Vector256.Create(d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
                    counts[g] = Vector256.Create(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
                }

                return new Groups(outputs, taps, offsets, counts, 8 * n);
            }

            public void Run(ReadOnlySpan<float> row, Coefficients h, int first, Span<float> mid)
            {
                ref float source = ref MemoryMarshal.GetReference(row);
                ref float target = ref MemoryMarshal.GetReference(mid);
                Vector256<int> eight = Vector256.Create(8);
                for (int g = 0; g < outputs.Length; g++)
                {
                    int o = outputs[g];
                    nuint start = (nuint)h.Starts[o];
                    Vector256<int> d = offsets[g];
                    // Lanes with d below 8 take their taps from the first eight floats, the others from the next eight.
                    Vector256<float> fromLow = Avx2.CompareGreaterThan(eight, d).AsSingle();
                    Vector256<float> sum = Vector256<float>.Zero;
                    for (int k = 0; k < taps[g]; k++)
                    {
                        Vector256<float> low = Avx2.PermuteVar8x32(Vector256.LoadUnsafe(ref source, start + (nuint)k), d);
                        Vector256<float> high = Avx2.PermuteVar8x32(Vector256.LoadUnsafe(ref source, start + (nuint)k + 8), d);
                        Vector256<float> s = Avx.BlendVariable(high, low, fromLow);
                        Vector256<float> w = Vector256.LoadUnsafe(ref h.Transposed[(k * h.Size) + o]);
                        Vector256<float> active = Avx2.CompareGreaterThan(counts[g], Vector256.Create(k)).AsSingle();
                        sum = Avx.BlendVariable(sum, sum + (s * w), active);
                    }

                    sum.StoreUnsafe(ref target, (nuint)(o - first));
                }
            }

            /// <summary>Whether the eight outputs from <paramref name="o"/> read within 16 floats of the first one's start, inside the row.</summary>
            private static bool Fits(Coefficients h, int o, int sourceWidth)
            {
                int start = h.Starts[o], taps = 0;
                for (int j = 0; j < 8; j++)
                {
                    int d = h.Starts[o + j] - start;
                    if (d < 0 || d > 15)
                    {
                        return false;
                    }

                    taps = Math.Max(taps, h.Counts[o + j]);
                }

                // The last tap's second load reads floats [start + taps - 1 + 8, start + taps - 1 + 16).
                return start + taps - 1 + 16 <= sourceWidth;
            }
        }

        private sealed class Coefficients
        {
            private Coefficients(int[] starts, int[] counts, float[] weights, int kernelSize, int size)
            {
                Starts = starts;
                Counts = counts;
                Weights = weights;
                KernelSize = kernelSize;
                Size = size;
                // The same weights tap-major, padded by eight outputs (zeros), for the vector groups.
                Transposed = new float[(kernelSize * size) + 8];
                for (int o = 0; o < size; o++)
                {
                    for (int k = 0; k < counts[o]; k++)
                    {
                        Transposed[(k * size) + o] = weights[(o * kernelSize) + k];
                    }
                }
            }

            public int[] Starts { get; }

            public int[] Counts { get; }

            public float[] Weights { get; }

            public float[] Transposed { get; }

            public int KernelSize { get; }

            public int Size { get; }

            public static Coefficients Compute(int inSize, double in0, double in1, int outSize)
            {
                double scale = (in1 - in0) / outSize;
                double filterScale = Math.Max(scale, 1.0);
                double support = filterScale; // bilinear: support 1, widened when shrinking
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
                    // Clamped to the box, not the image: torchvision crops first, then resizes.
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

                return new Coefficients(starts, counts, weights, kernelSize, outSize);
            }
        }
    }
}
