using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Evaluation;
using Xunit;

namespace MedicalTransfer.Tests.Evaluation
{
    /// <summary>Against Fixtures/MultiLabel/multilabel_reference.json (scikit-learn 1.2.1; make_multilabel_reference.py beside it).</summary>
    public class MultiLabelReportTests
    {
        private const double Tolerance = 1e-9;

        internal static JsonElement Reference()
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(TestSupport.FixturePath("MultiLabel", "multilabel_reference.json")));
            return doc.RootElement.Clone();
        }

        internal static MultiLabelPredictions Predictions(JsonElement r, bool masked, int? from = null, int? to = null)
        {
            var findings = r.GetProperty("findings").EnumerateArray().Select(e => e.GetString()!).ToArray();
            var p = r.GetProperty("probabilities").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var truth = r.GetProperty("truth").EnumerateArray().Select(e => e.GetInt32() == 1).ToArray();
            var states = r.GetProperty("states").EnumerateArray().Select(e => e.GetString()!).ToArray();
            var observed = states.Select(s => !masked || (s != "-1" && s.Length > 0)).ToArray();
            int f = findings.Length;
            int start = (from ?? 0) * f, end = (to ?? (p.Length / f)) * f;
            return new MultiLabelPredictions(findings, p[start..end], truth[start..end], observed[start..end]);
        }

        private static double[] Doubles(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(x => x.GetDouble()).ToArray();

        /// <summary>The metrics both reference blocks hold ("metrics", masked; "unmasked"): each finding's AUROC and AP, every average, and the image-level scores.</summary>
        private static void AssertEqualsReference(JsonElement expected, MultiLabelReport report)
        {
            var auc = Doubles(expected, "auroc");
            var ap = Doubles(expected, "average_precision");
            Assert.Equal(auc.Length, report.PerFinding.Count);
            for (int j = 0; j < auc.Length; j++)
            {
                Assert.Equal(auc[j], report.PerFinding[j].Auroc, Tolerance);
                Assert.Equal(ap[j], report.PerFinding[j].AveragePrecision, Tolerance);
            }

            Assert.Equal(expected.GetProperty("macro_auroc").GetDouble(), report.MacroAuroc, Tolerance);
            Assert.Equal(expected.GetProperty("micro_auroc").GetDouble(), report.MicroAuroc, Tolerance);
            Assert.Equal(expected.GetProperty("weighted_auroc").GetDouble(), report.WeightedAuroc, Tolerance);
            Assert.Equal(expected.GetProperty("macro_average_precision").GetDouble(), report.MacroAveragePrecision, Tolerance);
            Assert.Equal(expected.GetProperty("micro_average_precision").GetDouble(), report.MicroAveragePrecision, Tolerance);
            Assert.Equal(expected.GetProperty("weighted_average_precision").GetDouble(), report.WeightedAveragePrecision, Tolerance);
            Assert.Equal(expected.GetProperty("subset_accuracy").GetDouble(), report.SubsetAccuracy, Tolerance);
            Assert.Equal(expected.GetProperty("hamming_loss").GetDouble(), report.HammingLoss, Tolerance);
            Assert.Equal(expected.GetProperty("lrap").GetDouble(), report.LabelRankingAveragePrecision, Tolerance);
        }

        [Fact]
        public void Compute_UncertainAndMissingMasked_EqualsSklearnPerFindingAndEveryAverage()
        {
            var r = Reference();
            var expected = r.GetProperty("metrics");

            var report = MultiLabelReport.Compute(Predictions(r, masked: true));

            AssertEqualsReference(expected, report);
            for (int j = 0; j < report.PerFinding.Count; j++)
            {
                Assert.Equal(expected.GetProperty("positives")[j].GetInt32(), report.PerFinding[j].Positives);
            }

            Assert.Equal(expected.GetProperty("fully_observed").GetInt32(), report.FullyObservedImages);
        }

        [Fact]
        public void Compute_EveryLabelObserved_EqualsSklearnMultiLabelApi()
        {
            var r = Reference();

            var report = MultiLabelReport.Compute(Predictions(r, masked: false));

            AssertEqualsReference(r.GetProperty("unmasked"), report);
        }

        [Fact]
        public void Choose_YoudenOnValidation_MaximisesJThereAndIsAppliedUnchangedToTest()
        {
            var r = Reference();
            var validation = Predictions(r, masked: true, 0, 30);
            var test = Predictions(r, masked: true, 30, 60);

            var thresholds = FindingThresholds.Choose(validation, FindingThresholdRule.YoudenJ);
            var report = MultiLabelReport.Compute(test, thresholds);

            for (int j = 0; j < validation.Findings.Count; j++)
            {
                // Brute force over every observed validation score: no threshold has a higher J.
                var (isPositive, scores) = validation.Column(j);
                double J(double t) => (isPositive.Where((p, i) => p && scores[i] >= t).Count() / (double)isPositive.Count(p => p)) - (isPositive.Where((p, i) => !p && scores[i] >= t).Count() / (double)isPositive.Count(p => !p));
                double best = scores.Distinct().Max(J);
                Assert.Equal(best, J(thresholds.Values[j]), 1e-12);
                Assert.Equal(thresholds.Values[j], report.PerFinding[j].Threshold);
            }

            // Chosen on test instead, at least one threshold differs: the report used validation's.
            var onTest = FindingThresholds.Choose(test, FindingThresholdRule.YoudenJ);
            Assert.NotEqual(onTest.Values, thresholds.Values);
        }

        [Fact]
        public void Compute_AtThresholds_SensitivitySpecificityCountTheObservedCalls()
        {
            var r = Reference();
            var test = Predictions(r, masked: true);
            var thresholds = FindingThresholds.Fixed(test.Findings, 0.4);
            var report = MultiLabelReport.Compute(test, thresholds);
            for (int j = 0; j < test.Findings.Count; j++)
            {
                var (isPositive, scores) = test.Column(j);
                double tp = isPositive.Where((p, i) => p && scores[i] >= 0.4).Count(), fn = isPositive.Where((p, i) => p && scores[i] < 0.4).Count();
                double tn = isPositive.Where((p, i) => !p && scores[i] < 0.4).Count(), fp = isPositive.Where((p, i) => !p && scores[i] >= 0.4).Count();
                Assert.Equal(tp / (tp + fn), report.PerFinding[j].Sensitivity, 1e-12);
                Assert.Equal(tn / (tn + fp), report.PerFinding[j].Specificity, 1e-12);
                Assert.Equal(tp / (tp + fp), report.PerFinding[j].PositivePredictiveValue, 1e-12);
                Assert.Equal(tn / (tn + fn), report.PerFinding[j].NegativePredictiveValue, 1e-12);
            }

            Assert.Contains("Cardiomegaly", report.ToTable(), StringComparison.Ordinal);
        }

        [Theory]
        [InlineData("f1")]
        [InlineData("sensitivity")]
        public void Choose_OtherRules_ReachTheirTargetOnValidation(string rule)
        {
            var validation = Predictions(Reference(), masked: true, 0, 30);
            var thresholds = FindingThresholds.Choose(validation, rule == "f1" ? FindingThresholdRule.F1Optimal : FindingThresholdRule.TargetSensitivity(0.9));
            for (int j = 0; j < validation.Findings.Count; j++)
            {
                var (isPositive, scores) = validation.Column(j);
                double F1(double t)
                {
                    double tp = isPositive.Where((p, i) => p && scores[i] >= t).Count(), fp = isPositive.Where((p, i) => !p && scores[i] >= t).Count(), fn = isPositive.Where((p, i) => p && scores[i] < t).Count();
                    return 2 * tp / ((2 * tp) + fp + fn);
                }

                double Sensitivity(double t) => isPositive.Where((p, i) => p && scores[i] >= t).Count() / (double)isPositive.Count(p => p);
                double t = thresholds.Values[j];
                if (rule == "f1")
                {
                    Assert.Equal(scores.Distinct().Max(F1), F1(t), 1e-12);
                }
                else
                {
                    Assert.True(Sensitivity(t) >= 0.9);
                    Assert.True(scores.Where(s => s > t).All(s => Sensitivity(s) < 0.9), "a higher threshold also reaches 0.9");
                }
            }
        }
    }
}
