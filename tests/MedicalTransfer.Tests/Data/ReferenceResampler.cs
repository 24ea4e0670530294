using System;
using MedicalTransfer.Data;

namespace MedicalTransfer.Tests.Data
{
    /// <summary>
    /// PIL's <c>ImagingResample</c> (bilinear, antialiased) written plainly, one output pixel at a time: the weights
    /// of each output computed in double and normalised to float, the horizontal pass first (taps summed left to
    /// right from 0), then the vertical pass (taps summed top to bottom from 0), all in float32. The resampler's
    /// vector paths and its fused crop must give exactly these bits.
    /// </summary>
    internal static class ReferenceResampler
    {
        public static float[] Resize(FloatImage source, double x0, double y0, double x1, double y1, int outWidth, int outHeight)
        {
            (int[] hStart, int[] hCount, float[][] hWeights) = Weights(source.Width, x0, x1, outWidth);
            (int[] vStart, int[] vCount, float[][] vWeights) = Weights(source.Height, y0, y1, outHeight);
            var result = new float[source.Channels * outWidth * outHeight];
            var mid = new float[source.Height * outWidth];
            for (int c = 0; c < source.Channels; c++)
            {
                float[] plane = source.Plane(c).ToArray();
                for (int y = 0; y < source.Height; y++)
                {
                    for (int x = 0; x < outWidth; x++)
                    {
                        float sum = 0;
                        for (int k = 0; k < hCount[x]; k++)
                        {
                            sum += plane[(y * source.Width) + hStart[x] + k] * hWeights[x][k];
                        }

                        mid[(y * outWidth) + x] = sum;
                    }
                }

                for (int y = 0; y < outHeight; y++)
                {
                    for (int x = 0; x < outWidth; x++)
                    {
                        float sum = 0;
                        for (int k = 0; k < vCount[y]; k++)
                        {
                            sum += mid[((vStart[y] + k) * outWidth) + x] * vWeights[y][k];
                        }

                        result[(c * outWidth * outHeight) + (y * outWidth) + x] = sum;
                    }
                }
            }

            return result;
        }

        private static (int[] Start, int[] Count, float[][] Weights) Weights(int inSize, double in0, double in1, int outSize)
        {
            double scale = (in1 - in0) / outSize;
            double filterScale = Math.Max(scale, 1.0);
            double support = filterScale;
            int kernelSize = ((int)Math.Ceiling(support) * 2) + 1;
            var start = new int[outSize];
            var count = new int[outSize];
            var weights = new float[outSize][];
            int low = Math.Max(0, (int)Math.Floor(in0));
            int high = Math.Min(inSize, (int)Math.Ceiling(in1));
            for (int o = 0; o < outSize; o++)
            {
                double center = in0 + ((o + 0.5) * scale);
                int first = Math.Max((int)(center - support + 0.5), low);
                int n = Math.Min(Math.Min((int)(center + support + 0.5), high) - first, kernelSize);
                var k = new double[Math.Max(n, 0)];
                double total = 0;
                for (int i = 0; i < k.Length; i++)
                {
                    double t = Math.Abs((i + first - center + 0.5) * (1.0 / filterScale)); // PIL multiplies by the reciprocal
                    k[i] = t < 1.0 ? 1.0 - t : 0.0;
                    total += k[i];
                }

                weights[o] = new float[k.Length];
                for (int i = 0; i < k.Length; i++)
                {
                    weights[o][i] = (float)(total != 0 ? k[i] / total : 0);
                }

                start[o] = first;
                count[o] = k.Length;
            }

            return (start, count, weights);
        }
    }
}
