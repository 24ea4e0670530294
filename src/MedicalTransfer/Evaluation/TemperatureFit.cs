using System;

namespace MedicalTransfer.Evaluation
{
    /// <summary>
    /// The one fit behind <see cref="TemperatureScaling"/> (softmax over classes, one temperature) and
    /// <see cref="FindingTemperatureScaling"/> (a sigmoid per finding over its observed labels, one temperature each).
    /// Both minimise a mean negative log-likelihood of logits scaled by b = 1/T, convex in b (its second derivative is
    /// the variance of the logits under the scaled model), by safeguarded Newton iterations inside a shrinking bracket,
    /// to machine precision; b is kept within [1/100, 1/0.05]. Only the objective differs between the two.
    /// </summary>
    internal static class TemperatureFit
    {
        /// <summary>Minimises <paramref name="objective"/> over b in [1 / <see cref="TemperatureScaling.MaximumTemperature"/>, 1 / <see cref="TemperatureScaling.MinimumTemperature"/>].</summary>
        /// <param name="objective">The mean NLL at b, and its first two derivatives in b; convex in b.</param>
        /// <returns>The minimising inverse temperature b, within the bracket.</returns>
        internal static double InverseTemperature(Func<double, Objective> objective)
        {
            double lo = 1 / TemperatureScaling.MaximumTemperature, hi = 1 / TemperatureScaling.MinimumTemperature;
            double b = 1;
            for (int iteration = 0; iteration < 200; iteration++)
            {
                var (_, gradient, curvature) = objective(b);
                if (gradient > 0)
                {
                    hi = b;
                }
                else
                {
                    lo = b;
                }

                double next = curvature > 0 ? b - (gradient / curvature) : double.NaN;
                if (!(next > lo && next < hi))
                {
                    next = (lo + hi) / 2; // Newton left the bracket: bisect instead.
                }

                if (Math.Abs(next - b) <= 1e-15 * Math.Max(1, b) || hi - lo <= 1e-15 * hi)
                {
                    b = next;
                    break;
                }

                b = next;
            }

            return Math.Clamp(b, 1 / TemperatureScaling.MaximumTemperature, 1 / TemperatureScaling.MinimumTemperature);
        }

        /// <summary>
        /// Softmax: f(b) = mean(logsumexp(b z) - b z_y) over row-major logits [images][classes], with
        /// f'(b) = mean(E[z] - z_y) and f''(b) = mean Var[z] under softmax(b z).
        /// </summary>
        internal static Objective Softmax(double[] logits, int[] labels, int classes, double b)
        {
            double value = 0, gradient = 0, curvature = 0;
            for (int i = 0; i < labels.Length; i++)
            {
                int offset = i * classes;
                double max = double.NegativeInfinity;
                for (int c = 0; c < classes; c++)
                {
                    max = Math.Max(max, b * logits[offset + c]);
                }

                double sum = 0, mean = 0, square = 0;
                for (int c = 0; c < classes; c++)
                {
                    double z = logits[offset + c];
                    double w = Math.Exp((b * z) - max);
                    sum += w;
                    mean += w * z;
                    square += w * z * z;
                }

                mean /= sum;
                square /= sum;
                double zy = logits[offset + labels[i]];
                value += max + Math.Log(sum) - (b * zy);
                gradient += mean - zy;
                curvature += Math.Max(0, square - (mean * mean));
            }

            return new Objective(value / labels.Length, gradient / labels.Length, curvature / labels.Length);
        }

        /// <summary>
        /// Sigmoid, one finding of row-major logits [images][findings]: the mean binary cross-entropy of sigmoid(b z)
        /// over the images where <paramref name="observed"/> is set (the others are left out, as the loss masks them),
        /// with f'(b) = mean (sigma - y) z and f''(b) = mean sigma (1 - sigma) z^2.
        /// </summary>
        internal static Objective MaskedSigmoid(double[] logits, bool[] positive, bool[] observed, int findings, int finding, double b)
        {
            double value = 0, gradient = 0, curvature = 0;
            int count = 0;
            for (int index = finding; index < logits.Length; index += findings)
            {
                if (!observed[index])
                {
                    continue;
                }

                double z = logits[index];
                double u = b * z;
                double t = positive[index] ? 1 : 0;

                // softplus(u) - t u, stable for large |u|.
                value += Math.Max(u, 0) + Math.Log(1 + Math.Exp(-Math.Abs(u))) - (t * u);
                double s = Sigmoid(u);
                gradient += (s - t) * z;
                curvature += s * (1 - s) * z * z;
                count++;
            }

            return new Objective(value / count, gradient / count, curvature / count);
        }

        /// <summary>1 / (1 + e^-z), without overflow for large |z|.</summary>
        internal static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

        /// <summary>A mean negative log-likelihood at one inverse temperature, and its first two derivatives in it.</summary>
        internal readonly record struct Objective(double Value, double Gradient, double Curvature);
    }
}
