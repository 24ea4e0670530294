using System;
using System.Collections.Generic;
using System.Linq;
using MedicalTransfer.Evaluation;
using Xunit;

namespace MedicalTransfer.Tests.Evaluation
{
    /// <summary>
    /// Decision curves, subgroups and external validation per finding: each finding must give exactly what the single-label
    /// code gives on a binary <see cref="Predictions"/> built here by hand from that finding's OBSERVED labels, and the key
    /// numbers (net benefit, prevalence, sensitivity at the internal threshold) are recomputed from their formulas.
    /// </summary>
    public sealed class MultiLabelStudyToolsTests
    {
        private static readonly string[] Findings = { "Atelectasis", "Effusion", "Pneumothorax" };

        /// <summary>n images: finding j positive with prevalence 0.25 + 0.1 j (+ shift), calibrated probabilities (logits + shift), about 15% of labels unobserved.</summary>
        private static MultiLabelPredictions Make(int n, int seed, double prevalenceShift = 0, double logitShift = 0)
        {
            var random = new Random(seed);
            int f = Findings.Length;
            var p = new double[n * f];
            var y = new bool[n * f];
            var observed = new bool[n * f];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < f; j++)
                {
                    double prevalence = 0.25 + (0.1 * j) + prevalenceShift;
                    y[(i * f) + j] = random.NextDouble() < prevalence;
                    // x ~ N(+-1, 1) has true log-odds 2 x + log(prior odds): calibrated, then moved by logitShift.
                    double x = (y[(i * f) + j] ? 1.0 : -1.0) + (Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
                    double z = (2 * x) + Math.Log(prevalence / (1 - prevalence)) + logitShift;
                    p[(i * f) + j] = 1 / (1 + Math.Exp(-z));
                    observed[(i * f) + j] = random.NextDouble() > 0.15;
                }
            }

            return new MultiLabelPredictions(Findings, p, y, observed);
        }

        /// <summary>The finding's observed rows as a binary single-label problem, written out independently of the SDK's projection.</summary>
        private static (Predictions Binary, int[] Rows) ByHand(MultiLabelPredictions m, int j)
        {
            var rows = Enumerable.Range(0, m.Count).Where(i => m.IsObserved(i, j)).ToArray();
            var labels = rows.Select(i => m.IsPositive(i, j) ? 1 : 0).ToArray();
            var probabilities = rows.Select(i => (IReadOnlyList<double>)new[] { 1 - m.Probability(i, j), m.Probability(i, j) }).ToArray();
            return (new Predictions(new[] { "absent", Findings[j] }, labels, probabilities), rows);
        }

        [Fact]
        public void DecisionCurveCompute_Finding_EqualsTheSingleLabelCurveOfItsObservedLabels()
        {
            var test = Make(300, 1);
            for (int j = 0; j < Findings.Length; j++)
            {
                var curve = DecisionCurve.Compute(test, Findings[j]);
                var expected = DecisionCurve.Compute(ByHand(test, j).Binary, Findings[j]);

                Assert.Equal(Findings[j], curve.PositiveClass);
                Assert.Equal(expected.Count, curve.Count);
                Assert.True(curve.Count < test.Count, "the unobserved labels are left out");
                Assert.Equal(expected.Prevalence, curve.Prevalence);
                Assert.Equal(expected.Points, curve.Points);
                Assert.Equal(expected.ToCsv(), curve.ToCsv());
            }
        }

        [Fact]
        public void DecisionCurveCompute_Finding_NetBenefitIsTheFormulaOverObservedLabels()
        {
            var test = Make(300, 2);
            int j = 1;
            var curve = DecisionCurve.Compute(test, "Effusion");
            var rows = Enumerable.Range(0, test.Count).Where(i => test.IsObserved(i, j)).ToArray();
            double n = rows.Length;
            double prevalence = rows.Count(i => test.IsPositive(i, j)) / n;
            foreach (double t in new[] { 0.05, 0.2, 0.37, 0.5, 0.8 })
            {
                int tp = rows.Count(i => test.IsPositive(i, j) && test.Probability(i, j) >= t);
                int fp = rows.Count(i => !test.IsPositive(i, j) && test.Probability(i, j) >= t);
                var point = curve.Points.Single(p => Math.Abs(p.Threshold - t) < 1e-9);
                Assert.Equal((tp / n) - (fp / n * t / (1 - t)), point.Model, 12);
                Assert.Equal(prevalence - ((1 - prevalence) * t / (1 - t)), point.TreatAll, 12);
                Assert.Equal(0, point.TreatNone);
                Assert.Equal(tp, point.TruePositives);
                Assert.Equal(fp, point.FalsePositives);
            }
        }

        [Fact]
        public void DecisionCurveCompute_MaskedLabel_IsLeftOutOfTheNetBenefit()
        {
            // Observed: 0.9 positive, 0.6 negative, 0.4 positive, 0.2 negative; the masked 0.95 negative must not count.
            var m = new MultiLabelPredictions(new[] { "Edema" }, new[] { 0.9, 0.6, 0.4, 0.2, 0.95 }, new[] { true, false, true, false, false }, new[] { true, true, true, true, false });

            var curve = DecisionCurve.Compute(m, "Edema", 0.3, 0.5, 0.2);

            Assert.Equal(4, curve.Count);
            Assert.Equal(0.5, curve.Prevalence);
            Assert.Equal(0.5 - (0.25 * 0.3 / 0.7), curve.Points[0].Model, 12);   // t = 0.3: 2 TP, 1 FP of 4
            Assert.Equal(0.0, curve.Points[1].Model, 12);                         // t = 0.5: 1 TP, 1 FP of 4 (with the masked label: -0.2)
        }

        [Fact]
        public void DecisionCurveCompute_FindingWithoutObservedLabels_IsRefusedNamingIt()
        {
            var m = new MultiLabelPredictions(new[] { "Edema", "Mass" }, new[] { 0.9, 0.1, 0.2, 0.3 }, new[] { true, false, false, true }, new[] { true, false, true, false });

            var ex = Assert.Throws<ArgumentException>(() => DecisionCurve.Compute(m, "Mass"));

            Assert.Contains("finding 'Mass' has none among the 2 images", ex.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => DecisionCurve.Compute(m, "Nodule"));
        }

        [Fact]
        public void MultiLabelSubgroupCompute_EachFinding_EqualsTheSingleLabelSubgroupsOfItsObservedLabelsAtItsThreshold()
        {
            var test = Make(400, 3);
            var validation = Make(300, 4);
            var thresholds = FindingThresholds.Choose(validation, FindingThresholdRule.YoudenJ);
            var groups = Enumerable.Range(0, test.Count).Select(i => i % 11 == 10 ? null : i % 3 == 0 ? "AP" : "PA").ToArray();
            var bootstrap = new BootstrapOptions { Resamples = 200, Seed = 5 };

            var report = MultiLabelSubgroupReport.Compute(test, groups, "view", thresholds, bootstrap, minimumPerClass: 20);

            Assert.Equal("view", report.Attribute);
            Assert.Equal(Findings, report.Findings);
            for (int j = 0; j < Findings.Length; j++)
            {
                var (binary, rows) = ByHand(test, j);
                var options = new EvaluationOptions { PositiveClass = Findings[j], OperatingPoint = OperatingPoint.Threshold(thresholds.Values[j]), Bootstrap = bootstrap };
                var expected = SubgroupReport.Compute(binary, rows.Select(i => groups[i]).ToArray(), "view", options, null, 20);
                var actual = report.PerFinding[j];

                Assert.Equal(Findings[j], actual.PositiveClass);
                Assert.Equal(thresholds.Values[j], actual.Threshold);
                Assert.Equal(expected.Groups, actual.Groups);
                foreach (var g in actual.Groups)
                {
                    var members = rows.Where(i => (groups[i] ?? SubgroupReport.Missing) == g.Group).ToArray();
                    Assert.Equal(members.Length, g.Images);
                    Assert.Equal(members.Count(i => test.IsPositive(i, j)), g.Positives);
                    Assert.Equal(g.Positives < 20 || g.Negatives < 20, g.TooSmall);
                    Assert.NotNull(g.AucInterval);
                }
            }

            // The missing group (about 30 images, 8 to 16 positives of a finding) is flagged; the large view groups are not.
            Assert.All(report.PerFinding, r => Assert.True(r.Groups.Single(g => g.Group == SubgroupReport.Missing).TooSmall));
            Assert.All(report.PerFinding, r => Assert.False(r.Groups.Single(g => g.Group == "PA").TooSmall));
            Assert.Contains("subgroups by view (Pneumothorax positive", report.ToString(), StringComparison.Ordinal);
        }

        [Fact]
        public void MultiLabelSubgroupCompute_WrongCountsOrThresholds_AreRefused()
        {
            var test = Make(50, 3);
            var ex = Assert.Throws<ArgumentException>(() => MultiLabelSubgroupReport.Compute(test, new string?[49], "sex"));
            Assert.Contains("Expected one group per image (50); found 49", ex.Message, StringComparison.Ordinal);
            var other = FindingThresholds.Fixed(new[] { "Edema" });
            ex = Assert.Throws<ArgumentException>(() => MultiLabelSubgroupReport.Compute(test, new string?[50], "sex", other));
            Assert.Contains("The thresholds are for findings Edema", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void MultiLabelExternalCreate_EachFinding_InternalThresholdAppliedAsIsAndEqualsTheSingleLabelReport()
        {
            var validation = Make(300, 6);
            var internalTest = Make(300, 7);
            var external = Make(400, 8, prevalenceShift: -0.15, logitShift: -1.0);   // fewer positives, every logit pushed down by 1
            var thresholds = FindingThresholds.Choose(validation, FindingThresholdRule.YoudenJ);
            var bootstrap = new BootstrapOptions { Resamples = 200, Seed = 2 };

            var report = MultiLabelExternalValidationReport.Create("site B", external, internalTest, thresholds, bootstrap);

            Assert.Equal("site B", report.Site);
            Assert.Same(thresholds, report.Thresholds);
            for (int j = 0; j < Findings.Length; j++)
            {
                var r = report.PerFinding[j];
                var outside = ByHand(external, j);
                var inside = ByHand(internalTest, j);
                var expected = ExternalValidationReport.Create("site B", outside.Binary, inside.Binary, new EvaluationOptions { PositiveClass = Findings[j], OperatingPoint = OperatingPoint.Threshold(thresholds.Values[j]), Bootstrap = bootstrap }, inside.Binary);
                Assert.Equal(thresholds.Values[j], r.Threshold);
                Assert.Equal(expected.ExternalPrevalence, r.ExternalPrevalence);
                Assert.Equal(expected.InternalPrevalence, r.InternalPrevalence);
                Assert.Equal(expected.External.Binary!.RocAuc, r.External.Binary!.RocAuc);
                Assert.Equal(expected.External.Binary.RocAucInterval, r.External.Binary.RocAucInterval);
                Assert.Equal(expected.External.Binary.Sensitivity, r.External.Binary.Sensitivity);
                Assert.Equal(expected.External.Binary.SpecificityInterval, r.External.Binary.SpecificityInterval);
                Assert.Equal(expected.ExternalCalibration.InterceptInTheLarge, r.ExternalCalibration.InterceptInTheLarge);
                Assert.Equal(expected.Internal!.Binary!.RocAuc, r.Internal!.Binary!.RocAuc);

                // Independently: prevalence over the observed labels, and the internal threshold's sensitivity at the new site.
                var rows = outside.Rows;
                Assert.Equal(rows.Count(i => external.IsPositive(i, j)) / (double)rows.Length, r.ExternalPrevalence, 12);
                Assert.Equal(internalTest.Count(j, positive: true) / (double)internalTest.Count(j, positive: null), r.InternalPrevalence, 12);
                var positives = rows.Where(i => external.IsPositive(i, j)).ToArray();
                Assert.Equal(positives.Count(i => external.Probability(i, j) >= thresholds.Values[j]) / (double)positives.Length, r.External.Binary.Sensitivity, 12);

                // Logits pushed down by 1: the model under-predicts there (intercept about +1) and loses sensitivity at the fixed threshold.
                Assert.InRange(r.ExternalCalibration.InterceptInTheLarge, 0.5, 1.5);
                Assert.True(r.External.Binary.Sensitivity < r.Internal.Binary.Sensitivity, Findings[j] + ": under-prediction costs sensitivity");
                Assert.True(r.ExternalPrevalence < r.InternalPrevalence, Findings[j] + ": fewer positives externally");
            }

            Assert.Contains("Effusion: prevalence", report.ToString(), StringComparison.Ordinal);
        }

        [Fact]
        public void MultiLabelExternalCreate_OtherFindingsOrAFindingWithOneClass_IsRefused()
        {
            var internalTest = Make(50, 7);
            var other = new MultiLabelPredictions(new[] { "Edema" }, new[] { 0.2, 0.7 }, new[] { false, true });
            var ex = Assert.Throws<ArgumentException>(() => MultiLabelExternalValidationReport.Create("b", other, internalTest));
            Assert.Contains("The external data's findings (Edema) differ from the internal ones", ex.Message, StringComparison.Ordinal);

            var unlabelled = new MultiLabelPredictions(Findings, Enumerable.Repeat(0.5, 6).ToArray(), new bool[6], new[] { true, false, true, true, false, true });
            ex = Assert.Throws<ArgumentException>(() => MultiLabelExternalValidationReport.Create("site C", unlabelled, internalTest));
            Assert.Contains("Finding 'Atelectasis' needs observed positive and negative labels in site C for an AUROC; found 0 positive and 2 negative", ex.Message, StringComparison.Ordinal);
        }
    }

    internal static class MultiLabelCounts
    {
        /// <summary>Observed labels of a finding (<paramref name="positive"/> null), or its observed positives or negatives.</summary>
        public static int Count(this MultiLabelPredictions m, int finding, bool? positive) =>
            Enumerable.Range(0, m.Count).Count(i => m.IsObserved(i, finding) && (positive is null || m.IsPositive(i, finding) == positive));
    }
}
