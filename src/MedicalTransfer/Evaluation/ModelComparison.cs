using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Evaluation
{
    /// <summary>How the p-values of several pairwise tests are corrected for multiple comparisons.</summary>
    public enum PValueCorrection
    {
        /// <summary>Holm's step-down method (1979): controls the family-wise error rate, never less powerful than Bonferroni.</summary>
        Holm,

        /// <summary>Bonferroni: each p-value times the number of tests (capped at 1).</summary>
        Bonferroni,

        /// <summary>No correction.</summary>
        None,
    }

    /// <summary>Which version of McNemar's test is used.</summary>
    public enum McNemarMethod
    {
        /// <summary>The exact binomial test when fewer than 25 pairs are discordant, otherwise the chi-square test with continuity correction.</summary>
        Auto,

        /// <summary>The exact two-sided binomial test on the discordant pairs (Binomial(b + c, 1/2)).</summary>
        Exact,

        /// <summary>The chi-square test with Edwards' continuity correction, (|b - c| - 1)^2 / (b + c), one degree of freedom.</summary>
        ChiSquare,
    }

    /// <summary>
    /// McNemar's test of two paired decisions on the same images: did model A and model B get the same
    /// images right? Only the discordant pairs count.
    /// </summary>
    /// <param name="What">What was compared, for example <c>correct decisions</c> or <c>sensitivity (positive images)</c>.</param>
    /// <param name="Images">Images compared.</param>
    /// <param name="OnlyA">Images model A got right and model B wrong (b).</param>
    /// <param name="OnlyB">Images model B got right and model A wrong (c).</param>
    /// <param name="Statistic">The chi-square statistic (for the exact test: the number of discordant pairs of the rarer kind, min(b, c)).</param>
    /// <param name="PValue">Two-sided p-value (1 when no pair is discordant).</param>
    /// <param name="Exact">Whether the exact binomial test was used.</param>
    public sealed record McNemarTest(string What, int Images, int OnlyA, int OnlyB, double Statistic, double PValue, bool Exact)
    {
        /// <summary>One line: the discordant counts, the method and p.</summary>
        /// <returns>The text.</returns>
        public override string ToString() => string.Format(
            CultureInfo.InvariantCulture, "McNemar ({0}, n {1}): only A right {2}, only B right {3}, {4}, p {5}",
            What, Images, OnlyA, OnlyB, Exact ? "exact binomial" : string.Format(CultureInfo.InvariantCulture, "chi-square {0:0.000} (continuity-corrected)", Statistic), DeLongTest.FormatP(PValue));
    }

    /// <summary>McNemar's test of two models' decisions at their operating points, overall and within each class.</summary>
    /// <param name="ModelA">Name of model A.</param>
    /// <param name="ModelB">Name of model B.</param>
    /// <param name="ThresholdA">Model A's threshold on the positive probability (NaN for argmax).</param>
    /// <param name="ThresholdB">Model B's threshold.</param>
    /// <param name="Accuracy">On all images: correct decisions.</param>
    /// <param name="Sensitivity">On positive images only: called positive.</param>
    /// <param name="Specificity">On negative images only: called negative.</param>
    public sealed record DecisionComparison(string ModelA, string ModelB, double ThresholdA, double ThresholdB, McNemarTest Accuracy, McNemarTest Sensitivity, McNemarTest Specificity);

    /// <summary>A paired bootstrap of the AUC difference: both models rescored on the same resampled images.</summary>
    /// <param name="ModelA">Name of model A.</param>
    /// <param name="ModelB">Name of model B.</param>
    /// <param name="Difference">AUC A - AUC B with its percentile interval.</param>
    /// <param name="PValue">Two-sided bootstrap p-value: twice the smaller share of resampled differences on either side of 0 (capped at 1).</param>
    public sealed record PairedBootstrapTest(string ModelA, string ModelB, ConfidenceInterval Difference, double PValue)
    {
        /// <summary>One line.</summary>
        /// <returns>The text.</returns>
        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "paired bootstrap {0} - {1}: AUC difference {2}, p {3}", ModelA, ModelB, Difference, DeLongTest.FormatP(PValue));
    }

    /// <summary>
    /// Statistical comparison of models evaluated on the same images: DeLong's test of correlated AUCs,
    /// McNemar's test of paired decisions, and a paired bootstrap of the AUC difference as a second
    /// opinion. Every method checks that the two predictions are of the same images (same labels in the
    /// same order).
    /// <code>
    /// var delong = ModelComparison.DeLong(resnet18Predictions, resnet50Predictions, "PNEUMONIA", "ResNet-18", "ResNet-50");
    /// Console.WriteLine(delong); // AUCs, difference with 95% CI, z, p
    /// </code>
    /// </summary>
    public static class ModelComparison
    {
        /// <summary>DeLong's test of two AUCs on the same images.</summary>
        /// <param name="isPositive">Whether each image is positive.</param>
        /// <param name="scoresA">Model A's score of each image.</param>
        /// <param name="scoresB">Model B's score of each image.</param>
        /// <param name="level">Confidence level of the difference's interval.</param>
        /// <returns>The test.</returns>
        /// <exception cref="ArgumentException">Lengths differ, a score is not finite, or there are fewer than 2 images of a class.</exception>
        public static DeLongTest DeLong(IReadOnlyList<bool> isPositive, IReadOnlyList<double> scoresA, IReadOnlyList<double> scoresB, double level = 0.95)
        {
            Guard.InRange(level, 0.5, 0.9999);
            var (aucs, s, m, n) = Evaluation.DeLong.Compute(isPositive, new[] { scoresA, scoresB });
            return Test(aucs, s, 0, 1, m, n, level, "A", "B");
        }

        /// <summary>DeLong's test of two models' AUCs for one class on the same images.</summary>
        /// <param name="a">Model A's predictions.</param>
        /// <param name="b">Model B's predictions of the same images.</param>
        /// <param name="positiveClass">The class whose probability is the score.</param>
        /// <param name="nameA">Name of model A in the result.</param>
        /// <param name="nameB">Name of model B.</param>
        /// <param name="level">Confidence level of the difference's interval.</param>
        /// <returns>The test.</returns>
        public static DeLongTest DeLong(Predictions a, Predictions b, string positiveClass, string nameA = "A", string nameB = "B", double level = 0.95)
        {
            var (isPositive, scores) = Scores(new[] { a, b }, positiveClass);
            Guard.InRange(level, 0.5, 0.9999);
            var (aucs, s, m, n) = Evaluation.DeLong.Compute(isPositive, scores);
            return Test(aucs, s, 0, 1, m, n, level, Guard.NotNull(nameA), Guard.NotNull(nameB));
        }

        /// <summary>An AUC with DeLong's standard error and a normal-theory interval (clipped to [0, 1]).</summary>
        /// <param name="isPositive">Whether each image is positive.</param>
        /// <param name="scores">Each image's score.</param>
        /// <param name="level">Confidence level.</param>
        /// <returns>The AUC and its interval.</returns>
        public static DeLongInterval DeLongAuc(IReadOnlyList<bool> isPositive, IReadOnlyList<double> scores, double level = 0.95)
        {
            Guard.InRange(level, 0.5, 0.9999);
            var (aucs, s, _, _) = Evaluation.DeLong.Compute(isPositive, new[] { scores });
            double se = Math.Sqrt(Math.Max(0, s[0, 0]));
            double z = StandardNormal.Quantile(1 - ((1 - level) / 2));
            return new DeLongInterval(aucs[0], se, Math.Max(0, aucs[0] - (z * se)), Math.Min(1, aucs[0] + (z * se)), level);
        }

        /// <summary>
        /// DeLong's test for every pair of several models on the same images, with one covariance matrix
        /// for all, and p-values corrected for the number of pairs.
        /// </summary>
        /// <param name="models">Named predictions of the same images (at least 2).</param>
        /// <param name="positiveClass">The class whose probability is the score.</param>
        /// <param name="correction">The multiple-comparison correction; the default is Holm's.</param>
        /// <param name="level">Confidence level of each difference's interval (not adjusted).</param>
        /// <returns>One test per pair (i &lt; j), in order (0,1), (0,2), ..., (1,2), ...</returns>
        public static IReadOnlyList<DeLongTest> PairwiseDeLong(IReadOnlyList<KeyValuePair<string, Predictions>> models, string positiveClass, PValueCorrection correction = PValueCorrection.Holm, double level = 0.95)
        {
            Guard.NotNull(models);
            if (models.Count < 2)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "A pairwise comparison needs at least 2 models; found {0}.", models.Count), nameof(models));
            }

            Guard.InRange(level, 0.5, 0.9999);
            var (isPositive, scores) = Scores(models.Select(m => m.Value).ToArray(), positiveClass);
            var (aucs, s, m, n) = Evaluation.DeLong.Compute(isPositive, scores);
            var tests = new List<DeLongTest>();
            for (int i = 0; i < models.Count; i++)
            {
                for (int j = i + 1; j < models.Count; j++)
                {
                    tests.Add(Test(aucs, s, i, j, m, n, level, models[i].Key, models[j].Key));
                }
            }

            var adjusted = Adjust(tests.Select(t => t.PValue).ToArray(), correction);
            return tests.Select((t, i) => t with { AdjustedPValue = adjusted[i] }).ToArray();
        }

        /// <summary>Corrects p-values for multiple comparisons (Holm's step-down or Bonferroni).</summary>
        /// <param name="pValues">The raw p-values.</param>
        /// <param name="correction">The method.</param>
        /// <returns>Adjusted p-values, in the input order, each at most 1.</returns>
        public static double[] Adjust(IReadOnlyList<double> pValues, PValueCorrection correction)
        {
            Guard.NotNull(pValues);
            int count = pValues.Count;
            var adjusted = new double[count];
            switch (correction)
            {
                case PValueCorrection.None:
                    return pValues.ToArray();
                case PValueCorrection.Bonferroni:
                    for (int i = 0; i < count; i++)
                    {
                        adjusted[i] = Math.Min(1, pValues[i] * count);
                    }

                    return adjusted;
                case PValueCorrection.Holm:
                    // Sorted ascending, p_(i) * (count - i), made non-decreasing, capped at 1.
                    var order = Enumerable.Range(0, count).OrderBy(i => pValues[i]).ToArray();
                    double running = 0;
                    for (int rank = 0; rank < count; rank++)
                    {
                        running = Math.Max(running, Math.Min(1, pValues[order[rank]] * (count - rank)));
                        adjusted[order[rank]] = running;
                    }

                    return adjusted;
                default:
                    throw new ArgumentOutOfRangeException(nameof(correction), correction, "Expected Holm, Bonferroni or None.");
            }
        }

        /// <summary>McNemar's test on paired outcomes (for example whether each model was right on each image).</summary>
        /// <param name="outcomeA">Model A's outcome per image (true = right).</param>
        /// <param name="outcomeB">Model B's outcome per image.</param>
        /// <param name="method">Exact, chi-square or automatic (exact below 25 discordant pairs).</param>
        /// <param name="what">What the outcomes are, for the result's text.</param>
        /// <returns>The test.</returns>
        public static McNemarTest McNemar(IReadOnlyList<bool> outcomeA, IReadOnlyList<bool> outcomeB, McNemarMethod method = McNemarMethod.Auto, string what = "correct decisions")
        {
            Guard.NotNull(outcomeA);
            Guard.NotNull(outcomeB);
            if (outcomeA.Count != outcomeB.Count)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "Expected paired outcomes: model A has {0}, model B {1}.", outcomeA.Count, outcomeB.Count), nameof(outcomeB));
            }

            int b = 0, c = 0;
            for (int i = 0; i < outcomeA.Count; i++)
            {
                if (outcomeA[i] && !outcomeB[i])
                {
                    b++;
                }
                else if (!outcomeA[i] && outcomeB[i])
                {
                    c++;
                }
            }

            return McNemar(b, c, outcomeA.Count, method, what);
        }

        /// <summary>McNemar's test from the two discordant counts.</summary>
        /// <param name="onlyA">Pairs where only A was right (b).</param>
        /// <param name="onlyB">Pairs where only B was right (c).</param>
        /// <param name="images">All pairs, for the record.</param>
        /// <param name="method">The method.</param>
        /// <param name="what">What the outcomes are.</param>
        /// <returns>The test.</returns>
        public static McNemarTest McNemar(int onlyA, int onlyB, int images, McNemarMethod method = McNemarMethod.Auto, string what = "correct decisions")
        {
            Guard.InRange(onlyA, 0, int.MaxValue);
            Guard.InRange(onlyB, 0, int.MaxValue);
            int discordant = onlyA + onlyB;
            bool exact = method == McNemarMethod.Exact || (method == McNemarMethod.Auto && discordant < 25);
            if (discordant == 0)
            {
                return new McNemarTest(what, images, onlyA, onlyB, 0, 1, exact);
            }

            if (exact)
            {
                int k = Math.Min(onlyA, onlyB);
                return new McNemarTest(what, images, onlyA, onlyB, k, Math.Min(1, 2 * BinomialLowerTail(k, discordant)), true);
            }

            double statistic = Math.Pow(Math.Abs(onlyA - onlyB) - 1, 2) / discordant;
            // Chi-square with one degree of freedom: P(X > x) = erfc(sqrt(x / 2)).
            return new McNemarTest(what, images, onlyA, onlyB, statistic, StandardNormal.Erfc(Math.Sqrt(statistic / 2)), false);
        }

        /// <summary>
        /// McNemar's tests of two models' binary decisions for <paramref name="positiveClass"/>: on all images
        /// (correct or not), on the positive images (sensitivity) and on the negative images (specificity).
        /// </summary>
        /// <param name="a">Model A's predictions.</param>
        /// <param name="b">Model B's predictions of the same images.</param>
        /// <param name="positiveClass">The positive class.</param>
        /// <param name="thresholdA">Model A's threshold on the positive probability (chosen on validation data), or NaN for argmax.</param>
        /// <param name="thresholdB">Model B's threshold, or NaN for argmax.</param>
        /// <param name="nameA">Name of model A.</param>
        /// <param name="nameB">Name of model B.</param>
        /// <param name="method">The McNemar variant.</param>
        /// <returns>The three tests.</returns>
        public static DecisionComparison McNemar(Predictions a, Predictions b, string positiveClass, double thresholdA, double thresholdB, string nameA = "A", string nameB = "B", McNemarMethod method = McNemarMethod.Auto)
        {
            var (isPositive, _) = Scores(new[] { a, b }, positiveClass);
            int positive = a.ClassIndex(positiveClass);
            var callsA = Calls(a, positive, thresholdA);
            var callsB = Calls(b, positive, thresholdB);
            var rightA = callsA.Select((c, i) => c == isPositive[i]).ToArray();
            var rightB = callsB.Select((c, i) => c == isPositive[i]).ToArray();
            var pos = Enumerable.Range(0, isPositive.Length).Where(i => isPositive[i]).ToArray();
            var neg = Enumerable.Range(0, isPositive.Length).Where(i => !isPositive[i]).ToArray();
            return new DecisionComparison(
                Guard.NotNull(nameA),
                Guard.NotNull(nameB),
                thresholdA,
                thresholdB,
                McNemar(rightA, rightB, method, "correct decisions"),
                McNemar(pos.Select(i => rightA[i]).ToArray(), pos.Select(i => rightB[i]).ToArray(), method, "sensitivity, positive images"),
                McNemar(neg.Select(i => rightA[i]).ToArray(), neg.Select(i => rightB[i]).ToArray(), method, "specificity, negative images"));
        }

        /// <summary>
        /// A paired percentile bootstrap of AUC A - AUC B: each resample draws images with replacement and
        /// rescores both models on them (resamples without both classes are left out).
        /// </summary>
        /// <param name="a">Model A's predictions.</param>
        /// <param name="b">Model B's predictions of the same images.</param>
        /// <param name="positiveClass">The positive class.</param>
        /// <param name="options">Resamples, level and seed; <see langword="null"/> for 1000 resamples, 95%, seed 0.</param>
        /// <param name="nameA">Name of model A.</param>
        /// <param name="nameB">Name of model B.</param>
        /// <returns>The difference with its interval and a bootstrap p-value.</returns>
        public static PairedBootstrapTest PairedBootstrapAuc(Predictions a, Predictions b, string positiveClass, BootstrapOptions? options = null, string nameA = "A", string nameB = "B")
        {
            var (isPositive, scores) = Scores(new[] { a, b }, positiveClass);
            options = (options ?? new BootstrapOptions()).Validate();
            double estimate = Ranking.Auc(isPositive, scores[0]) - Ranking.Auc(isPositive, scores[1]);
            var resampledPositive = new bool[isPositive.Length];
            var resampledA = new double[isPositive.Length];
            var resampledB = new double[isPositive.Length];
            var differences = new List<double>(options.Resamples);
            var interval = Bootstrap.Intervals(isPositive.Length, options, new[] { estimate }, indices =>
            {
                for (int i = 0; i < indices.Length; i++)
                {
                    resampledPositive[i] = isPositive[indices[i]];
                    resampledA[i] = scores[0][indices[i]];
                    resampledB[i] = scores[1][indices[i]];
                }

                double d = Ranking.Auc(resampledPositive, resampledA) - Ranking.Auc(resampledPositive, resampledB);
                if (!double.IsNaN(d))
                {
                    differences.Add(d);
                }

                return new[] { d };
            })[0];
            double p = differences.Count == 0
                ? double.NaN
                : Math.Min(1, 2 * Math.Min(differences.Count(d => d <= 0), differences.Count(d => d >= 0)) / (double)differences.Count);
            return new PairedBootstrapTest(Guard.NotNull(nameA), Guard.NotNull(nameB), interval, p);
        }

        /// <summary>Whether each image is called positive: probability at least the threshold, or the argmax when NaN.</summary>
        internal static bool[] Calls(Predictions predictions, int positive, double threshold)
        {
            var calls = new bool[predictions.Count];
            for (int i = 0; i < calls.Length; i++)
            {
                calls[i] = double.IsNaN(threshold) ? predictions.PredictedLabels[i] == positive : predictions.Probability(i, positive) >= threshold;
            }

            return calls;
        }

        private static DeLongTest Test(double[] aucs, double[,] s, int i, int j, int m, int n, double level, string nameA, string nameB)
        {
            double difference = aucs[i] - aucs[j];
            double variance = s[i, i] + s[j, j] - (2 * s[i, j]);
            double se = Math.Sqrt(Math.Max(0, variance));
            double z = se > 0 ? difference / se : double.NaN;
            double p = se > 0 ? StandardNormal.TwoSidedP(z) : (difference == 0 ? 1 : 0);
            double q = StandardNormal.Quantile(1 - ((1 - level) / 2));
            return new DeLongTest
            {
                ModelA = nameA,
                ModelB = nameB,
                AucA = aucs[i],
                AucB = aucs[j],
                Difference = difference,
                StandardError = se,
                Z = z,
                PValue = p,
                AdjustedPValue = p,
                DifferenceLower = difference - (q * se),
                DifferenceUpper = difference + (q * se),
                Level = level,
                Positives = m,
                Negatives = n,
            };
        }

        /// <summary>Checks that all predictions are of the same images and returns the labels and each model's positive scores.</summary>
        private static (bool[] IsPositive, double[][] Scores) Scores(IReadOnlyList<Predictions> predictions, string positiveClass)
        {
            Guard.NotNull(positiveClass);
            for (int i = 0; i < predictions.Count; i++)
            {
                Guard.NotNull(predictions[i], "predictions");
            }

            var first = predictions[0];
            int positive = first.ClassIndex(positiveClass);
            for (int i = 1; i < predictions.Count; i++)
            {
                var p = predictions[i];
                if (!p.ClassNames.SequenceEqual(first.ClassNames, StringComparer.Ordinal) || p.Count != first.Count || !p.RawLabels.AsSpan().SequenceEqual(first.RawLabels))
                {
                    throw new ArgumentException(
                        string.Format(CultureInfo.InvariantCulture, "Predictions {0} are not of the same images as predictions 0 (classes, image count {1} vs {2}, or labels differ); a paired comparison needs both models' predictions of the same images in the same order.", i, p.Count, first.Count),
                        nameof(predictions));
                }
            }

            return (first.RawLabels.Select(l => l == positive).ToArray(), predictions.Select(p => p.Scores(positive)).ToArray());
        }

        /// <summary>P(X &lt;= k) for X ~ Binomial(n, 1/2), summed in log space.</summary>
        private static double BinomialLowerTail(int k, int n)
        {
            double logHalfN = n * Math.Log(0.5);
            double logTerm = logHalfN; // C(n, 0) / 2^n
            double sum = Math.Exp(logTerm);
            for (int i = 1; i <= k; i++)
            {
                logTerm += Math.Log(n - i + 1) - Math.Log(i);
                sum += Math.Exp(logTerm);
            }

            return sum;
        }
    }
}
