using System;
using System.Collections.Generic;
using System.Linq;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// A multi-label dataset's targets and masks, one row per sample, made once by the loader's
    /// <see cref="UncertaintyPolicy"/>; batches copy their rows.
    /// </summary>
    internal sealed class MultiLabelTargets
    {
        private readonly float[] values;
        private readonly float[] mask;

        private MultiLabelTargets(int findings, float[] values, float[] mask)
        {
            FindingCount = findings;
            this.values = values;
            this.mask = mask;
        }

        public int FindingCount { get; }

        /// <exception cref="ArgumentException">The sampling is class-balanced, or the policy names findings the dataset does not have.</exception>
        public static MultiLabelTargets Create(ImageDataset dataset, LoaderOptions options)
        {
            if (options.Sampling == SamplingMode.ClassBalanced)
            {
                throw new ArgumentException(
                    "SamplingMode.ClassBalanced draws a class per image, and this dataset is multi-label (findings " + string.Join(", ", dataset.Findings) + "): an image has no single class to balance. Use SamplingMode.Shuffle and give rare findings more weight with TrainingOptions.PositiveWeights = trainLoader.PositiveWeights().",
                    nameof(options));
            }

            var unknown = options.Uncertainty.UnknownFindings(dataset.Findings).ToArray();
            if (unknown.Length > 0)
            {
                throw new ArgumentException(
                    "LoaderOptions.Uncertainty names finding(s) " + string.Join(", ", unknown.Select(u => "'" + u + "'")) + " that the dataset does not have; its findings are " + string.Join(", ", dataset.Findings) + ". Check the spelling (names are case-sensitive).",
                    nameof(options));
            }

            int f = dataset.Findings.Count;
            var rules = dataset.Findings.Select(options.Uncertainty.For).ToArray();
            var values = new float[dataset.Count * f];
            var mask = new float[dataset.Count * f];
            for (int i = 0; i < dataset.Count; i++)
            {
                IReadOnlyList<FindingState>? states = dataset.Samples[i].Findings;
                for (int j = 0; j < f; j++)
                {
                    var (target, observed) = UncertaintyPolicy.Target(states is null || j >= states.Count ? FindingState.Missing : states[j], rules[j]);
                    values[(i * f) + j] = target;
                    mask[(i * f) + j] = observed;
                }
            }

            return new MultiLabelTargets(f, values, mask);
        }

        public IReadOnlyList<float> PositiveWeights()
        {
            var weights = new float[FindingCount];
            int n = values.Length / Math.Max(1, FindingCount);
            for (int j = 0; j < FindingCount; j++)
            {
                double positives = 0, negatives = 0;
                for (int i = 0; i < n; i++)
                {
                    if (mask[(i * FindingCount) + j] > 0)
                    {
                        if (values[(i * FindingCount) + j] > 0)
                        {
                            positives++;
                        }
                        else
                        {
                            negatives++;
                        }
                    }
                }

                weights[j] = positives == 0 || negatives == 0 ? 1f : (float)(negatives / positives);
            }

            return weights;
        }

        public void AttachTo(Batch batch)
        {
            int f = FindingCount;
            var t = new float[batch.Count * f];
            var m = new float[batch.Count * f];
            for (int k = 0; k < batch.Count; k++)
            {
                int i = batch.Indices[k];
                Array.Copy(values, i * f, t, k * f, f);
                Array.Copy(mask, i * f, m, k * f, f);
            }

            batch.AttachTargets(t, m, f);
        }
    }
}
