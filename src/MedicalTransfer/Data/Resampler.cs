using System;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// Separable bilinear resampling with antialiasing, the algorithm of PIL's <c>ImagingResample</c>
    /// (and of torchvision's <c>antialias=True</c>): when shrinking, the triangle filter widens to
    /// the scale factor so that every source pixel contributes. Works on a box of the source, so a
    /// crop and its resize are one pass.
    /// </summary>
    internal static class Resampler
    {
        public static FloatImage Resize(FloatImage source, int outWidth, int outHeight) =>
            ResizeBox(source, 0, 0, source.Width, source.Height, outWidth, outHeight);

        /// <summary>Resamples the box [x0, x1) x [y0, y1) of <paramref name="source"/> (not consumed).</summary>
        public static FloatImage ResizeBox(FloatImage source, double x0, double y0, double x1, double y1, int outWidth, int outHeight)
        {
            Coefficients horizontal = Coefficients.Compute(source.Width, x0, x1, outWidth);
            Coefficients vertical = Coefficients.Compute(source.Height, y0, y1, outHeight);

            // Only the source rows the vertical pass reads go through the horizontal pass.
            int rowFirst = vertical.Starts[0];
            int rowLast = vertical.Starts[outHeight - 1] + vertical.Counts[outHeight - 1];
            int rows = rowLast - rowFirst;

            FloatImage result = source.RentLike(outWidth, outHeight);
            float[] temp = System.Buffers.ArrayPool<float>.Shared.Rent(rows * outWidth);
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
                System.Buffers.ArrayPool<float>.Shared.Return(temp);
            }

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

                return new Coefficients(starts, counts, weights, kernelSize);
            }
        }
    }
}
