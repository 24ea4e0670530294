using System;
using System.Linq;

namespace MedicalTransfer.Training
{
    /// <summary>Metrics the trainer computes on the CPU after each validation pass.</summary>
    internal static class Metrics
    {
        /// <summary>
        /// Area under the ROC curve by the rank-sum (Mann-Whitney U) formula, ties given average ranks, as
        /// scikit-learn's <c>roc_auc_score</c>; <see langword="null"/> when one class is absent.
        /// </summary>
        public static double? BinaryAuc(ReadOnlySpan<float> scores, ReadOnlySpan<int> labels)
        {
            int n = scores.Length;
            long positives = 0;
            for (int i = 0; i < n; i++)
            {
                positives += labels[i] == 1 ? 1 : 0;
            }

            long negatives = n - positives;
            if (positives == 0 || negatives == 0)
            {
                return null;
            }

            float[] s = scores.ToArray();
            int[] order = Enumerable.Range(0, n).ToArray();
            Array.Sort(order, (a, b) => s[a].CompareTo(s[b]));
            double positiveRankSum = 0;
            for (int i = 0; i < n;)
            {
                int j = i;
                while (j + 1 < n && s[order[j + 1]] == s[order[i]])
                {
                    j++;
                }

                double averageRank = ((i + j) / 2.0) + 1;
                for (int k = i; k <= j; k++)
                {
                    if (labels[order[k]] == 1)
                    {
                        positiveRankSum += averageRank;
                    }
                }

                i = j + 1;
            }

            return (positiveRankSum - (positives * (positives + 1) / 2.0)) / (positives * (double)negatives);
        }
    }
}
