using System;
using System.Collections.Generic;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;

namespace MedicalTransfer.Studies
{
    /// <summary>
    /// Bootstrap intervals that resample PATIENTS, not images: a patient's images are correlated, so resampling
    /// images as if independent gives intervals that are too narrow when patients have several images.
    /// </summary>
    /// <param name="Patients">Patients resampled.</param>
    /// <param name="Auc">ROC AUC of the positive class.</param>
    /// <param name="Sensitivity">Sensitivity at the report's threshold.</param>
    /// <param name="Specificity">Specificity at the report's threshold.</param>
    /// <param name="Accuracy">Accuracy at the report's threshold.</param>
    public sealed record PatientLevelIntervals(int Patients, ConfidenceInterval Auc, ConfidenceInterval Sensitivity, ConfidenceInterval Specificity, ConfidenceInterval Accuracy);

    internal static class PatientBootstrap
    {
        /// <summary>Percentile intervals over <paramref name="options"/>.Resamples draws of the patients with replacement.</summary>
        public static PatientLevelIntervals Compute(Predictions predictions, IReadOnlyList<string> patientOfPrediction, int positive, double threshold, BootstrapOptions options, BinaryReport estimates)
        {
            var groups = Enumerable.Range(0, predictions.Count).GroupBy(i => patientOfPrediction[i], StringComparer.Ordinal).Select(g => g.ToArray()).ToArray();
            var isPositive = predictions.RawLabels.Select(l => l == positive).ToArray();
            var scores = predictions.Scores(positive);
            var calls = ModelComparison.Calls(predictions, positive, threshold);
            var random = SampleRandom.For(options.Seed, 0x9A71E47, groups.Length);
            var samples = new List<double>[4];
            for (int m = 0; m < samples.Length; m++)
            {
                samples[m] = new List<double>(options.Resamples);
            }

            var y = new List<bool>();
            var s = new List<double>();
            for (int r = 0; r < options.Resamples; r++)
            {
                y.Clear();
                s.Clear();
                int tp = 0, fp = 0, tn = 0, fn = 0;
                for (int k = 0; k < groups.Length; k++)
                {
                    foreach (int i in groups[random.NextInt(groups.Length)])
                    {
                        y.Add(isPositive[i]);
                        s.Add(scores[i]);
                        if (isPositive[i])
                        {
                            if (calls[i])
                            {
                                tp++;
                            }
                            else
                            {
                                fn++;
                            }
                        }
                        else if (calls[i])
                        {
                            fp++;
                        }
                        else
                        {
                            tn++;
                        }
                    }
                }

                Add(samples[0], Ranking.Auc(y, s));
                Add(samples[1], tp + fn == 0 ? double.NaN : (double)tp / (tp + fn));
                Add(samples[2], tn + fp == 0 ? double.NaN : (double)tn / (tn + fp));
                Add(samples[3], (double)(tp + tn) / y.Count);
            }

            var values = new[] { estimates.RocAuc, estimates.Sensitivity, estimates.Specificity, estimates.Accuracy };
            double alpha = (1 - options.Level) / 2;
            var intervals = samples.Select((list, m) =>
            {
                if (list.Count == 0)
                {
                    return new ConfidenceInterval(values[m], double.NaN, double.NaN, options.Level, 0);
                }

                list.Sort();
                return new ConfidenceInterval(values[m], Bootstrap.Percentile(list, alpha), Bootstrap.Percentile(list, 1 - alpha), options.Level, list.Count);
            }).ToArray();
            return new PatientLevelIntervals(groups.Length, intervals[0], intervals[1], intervals[2], intervals[3]);
        }

        private static void Add(List<double> list, double value)
        {
            if (!double.IsNaN(value))
            {
                list.Add(value);
            }
        }
    }
}
