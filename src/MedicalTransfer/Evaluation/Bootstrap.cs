using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>How confidence intervals are estimated: a seeded percentile bootstrap over images.</summary>
    public sealed record BootstrapOptions
    {
        /// <summary>Number of resamples (with replacement, same size as the data).</summary>
        /// <value>The default is 1000.</value>
        public int Resamples { get; init; } = 1000;

        /// <summary>Confidence level of the interval.</summary>
        /// <value>The default is 0.95.</value>
        public double Level { get; init; } = 0.95;

        /// <summary>Seed of the resampling; the same seed gives the same intervals.</summary>
        /// <value>The default is 0.</value>
        public int Seed { get; init; }

        internal BootstrapOptions Validate()
        {
            Guard.InRange(Resamples, 10, 1_000_000, "BootstrapOptions.Resamples");
            Guard.InRange(Level, 0.5, 0.999, "BootstrapOptions.Level");
            return this;
        }
    }

    /// <summary>A point estimate with a bootstrap confidence interval.</summary>
    /// <param name="Estimate">The value on the full data.</param>
    /// <param name="Lower">Lower bound (percentile (1 - level) / 2 of the resampled values).</param>
    /// <param name="Upper">Upper bound (percentile (1 + level) / 2).</param>
    /// <param name="Level">Confidence level, for example 0.95.</param>
    /// <param name="Resamples">Resamples on which the metric was defined (for example, AUC needs both classes).</param>
    public sealed record ConfidenceInterval(double Estimate, double Lower, double Upper, double Level, int Resamples)
    {
        /// <summary>For example <c>0.912 (95% CI 0.871-0.948)</c>.</summary>
        /// <returns>The text.</returns>
        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0:0.000} ({1:0.#}% CI {2:0.000}-{3:0.000})", Estimate, Level * 100, Lower, Upper);
    }

    /// <summary>Percentile bootstrap over image indices.</summary>
    internal static class Bootstrap
    {
        /// <summary>
        /// Computes every metric on <paramref name="options"/>.Resamples resamples; a metric that
        /// returns NaN on a resample (undefined there) is left out of that metric's percentiles.
        /// </summary>
        public static ConfidenceInterval[] Intervals(int count, BootstrapOptions options, double[] estimates, Func<int[], double[]> metrics)
        {
            options.Validate();
            var random = new Random(options.Seed);
            var samples = new List<double>[estimates.Length];
            for (int m = 0; m < samples.Length; m++)
            {
                samples[m] = new List<double>(options.Resamples);
            }

            var indices = new int[count];
            for (int r = 0; r < options.Resamples; r++)
            {
                for (int i = 0; i < count; i++)
                {
                    indices[i] = random.Next(count);
                }

                double[] values = metrics(indices);
                for (int m = 0; m < values.Length; m++)
                {
                    if (!double.IsNaN(values[m]))
                    {
                        samples[m].Add(values[m]);
                    }
                }
            }

            double alpha = (1 - options.Level) / 2;
            return samples.Select((s, m) =>
            {
                if (s.Count == 0)
                {
                    return new ConfidenceInterval(estimates[m], double.NaN, double.NaN, options.Level, 0);
                }

                s.Sort();
                return new ConfidenceInterval(estimates[m], Percentile(s, alpha), Percentile(s, 1 - alpha), options.Level, s.Count);
            }).ToArray();
        }

        /// <summary>numpy's default ("linear") percentile of sorted values, q in [0, 1].</summary>
        internal static double Percentile(IReadOnlyList<double> sorted, double q)
        {
            double position = q * (sorted.Count - 1);
            int lower = (int)Math.Floor(position);
            int upper = Math.Min(lower + 1, sorted.Count - 1);
            double fraction = position - lower;
            return sorted[lower] + ((sorted[upper] - sorted[lower]) * fraction);
        }
    }
}
