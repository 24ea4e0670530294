using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Evaluation;
using Xunit;

namespace MedicalTransfer.Tests.Evaluation
{
    public sealed class MetricsTests
    {
        private static readonly string[] Classes = { "NORMAL", "PNEUMONIA" };

        /// <summary>Binary predictions from positive-class probabilities.</summary>
        internal static Predictions Binary(int[] labels, double[] positive) =>
            new(Classes, labels, positive.Select(p => (IReadOnlyList<double>)new[] { 1 - p, p }).ToArray());

        [Fact]
        public void Constructor_Logits_ThrowsNamingImageAndClass()
        {
            var ex = Assert.Throws<ArgumentException>(() => new Predictions(Classes, new[] { 0 }, new[] { new[] { 2.5, -1.0 } }));
            Assert.Contains("image 0, class 0 is 2.5", ex.Message, StringComparison.Ordinal);
            Assert.Contains("softmax", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Constructor_LabelOutOfRange_Throws()
        {
            var ex = Assert.Throws<ArgumentException>(() => new Predictions(Classes, new[] { 2 }, new[] { new[] { 0.5, 0.5 } }));
            Assert.Contains("Label 2 of image 0", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void ClassIndex_UnknownName_ListsClasses()
        {
            var p = Binary(new[] { 0, 1 }, new[] { 0.2, 0.9 });
            var ex = Assert.Throws<ArgumentException>(() => BinaryReport.Compute(p, "COVID"));
            Assert.Contains("'COVID' is not one of this model's classes (NORMAL, PNEUMONIA)", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void OperatingPoint_Youden_PicksThresholdMaximisingJOnValidation()
        {
            // Positives 0.9, 0.8, 0.4; negatives 0.7, 0.3, 0.1. At 0.8: tpr 2/3, fpr 0 (J 0.667);
            // at 0.4: tpr 1, fpr 1/3 (J 0.667, later so not chosen); at 0.7: J 1/3.
            var validation = Binary(new[] { 1, 1, 1, 0, 0, 0 }, new[] { 0.9, 0.8, 0.4, 0.7, 0.3, 0.1 });
            var test = Binary(new[] { 1, 1, 0, 0 }, new[] { 0.85, 0.5, 0.6, 0.2 });
            var report = BinaryReport.Compute(test, "PNEUMONIA", OperatingPoint.YoudenJ, validation);
            Assert.Equal(0.8, report.Threshold);
            Assert.Equal((1, 0, 2, 1), (report.TruePositives, report.FalsePositives, report.TrueNegatives, report.FalseNegatives));
            Assert.Equal(0.5, report.Sensitivity);
            Assert.Equal(1.0, report.Specificity);
        }

        [Fact]
        public void OperatingPoint_TargetSensitivity_ChosenOnValidationAppliedUnchangedToTest()
        {
            // 10 validation positives with scores 0.91..1.0 spread among negatives; 90% sensitivity
            // needs the 9th highest positive score, 0.55.
            var pos = new[] { 0.99, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.55, 0.2 };
            var neg = new[] { 0.65, 0.5, 0.4, 0.3, 0.1 };
            var validation = Binary(Enumerable.Repeat(1, 10).Concat(Enumerable.Repeat(0, 5)).ToArray(), pos.Concat(neg).ToArray());
            var test = Binary(new[] { 1, 1, 1, 0, 0 }, new[] { 0.56, 0.54, 0.9, 0.55, 0.2 });
            var report = BinaryReport.Compute(test, "PNEUMONIA", OperatingPoint.TargetSensitivity(0.9), validation);
            Assert.Equal(0.55, report.Threshold);
            // The test's own sensitivity is what it is (2/3): the threshold is not re-tuned on it.
            Assert.Equal(2.0 / 3.0, report.Sensitivity, 12);
            Assert.Equal(1, report.FalsePositives);
        }

        /// <summary>
        /// Validation sets for the threshold searches: a Youden tie (0.9 and 0.6 both give J 0.5; the higher wins), 20
        /// positives where 19 of 20 must count as reaching 0.95, and seeded random scores rounded to 0.01 (tied scores).
        /// </summary>
        public static TheoryData<string> ThresholdCases => new() { "youden tie", "19 of 20", "random 1", "random 2", "random 3" };

        private static (int[] Labels, double[] Scores) ThresholdCase(string name)
        {
            switch (name)
            {
                case "youden tie":
                    return (new[] { 1, 1, 0, 0 }, new[] { 0.9, 0.6, 0.7, 0.2 });
                case "19 of 20":
                    var positives = Enumerable.Range(0, 20).Select(i => 0.5 + (i * 0.025)).ToArray();
                    return (Enumerable.Repeat(1, 20).Concat(Enumerable.Repeat(0, 10)).ToArray(), positives.Concat(Enumerable.Range(0, 10).Select(i => 0.05 + (i * 0.06))).ToArray());
                default:
                    var random = new Random(int.Parse(name.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture));
                    var labels = Enumerable.Range(0, 60).Select(i => i < 3 ? i % 2 : random.Next(2)).ToArray();
                    return (labels, labels.Select(l => Math.Round(Math.Clamp((0.3 * l) + (0.7 * random.NextDouble()), 0, 1), 2)).ToArray());
            }
        }

        [Theory]
        [MemberData(nameof(ThresholdCases))]
        public void YoudenJ_SameScores_OperatingPointAndFindingThresholdsChooseTheSameThreshold(string name)
        {
            var (labels, scores) = ThresholdCase(name);
            double single = OperatingPoint.YoudenJ.Resolve(Binary(labels, scores), "PNEUMONIA");
            var findings = FindingThresholds.Choose(new MultiLabelPredictions(new[] { "PNEUMONIA" }, scores, labels.Select(l => l == 1).ToArray()), FindingThresholdRule.YoudenJ);
            Assert.Equal(single, findings.Values[0]);
            if (name == "youden tie")
            {
                Assert.Equal(0.9, single);
            }
        }

        [Theory]
        [MemberData(nameof(ThresholdCases))]
        public void TargetSensitivity_SameScores_OperatingPointAndFindingThresholdsChooseTheSameThreshold(string name)
        {
            var (labels, scores) = ThresholdCase(name);
            var multiLabel = new MultiLabelPredictions(new[] { "PNEUMONIA" }, scores, labels.Select(l => l == 1).ToArray());
            foreach (double target in new[] { 0.5, 0.9, 0.95, 1.0 })
            {
                double single = OperatingPoint.TargetSensitivity(target).Resolve(Binary(labels, scores), "PNEUMONIA");
                Assert.Equal(single, FindingThresholds.Choose(multiLabel, FindingThresholdRule.TargetSensitivity(target)).Values[0]);
                if (name == "19 of 20" && target == 0.95)
                {
                    Assert.Equal(0.525, single, 12); // the 19th highest positive score: 19/20 reaches 0.95
                }
            }
        }

        [Fact]
        public void OperatingPoint_DataDrivenWithoutValidation_ThrowsSayingWhatToPass()
        {
            var test = Binary(new[] { 1, 0 }, new[] { 0.7, 0.2 });
            var ex = Assert.Throws<ArgumentException>(() => BinaryReport.Compute(test, "PNEUMONIA", OperatingPoint.YoudenJ));
            Assert.Contains("validation split's predictions (never the test split's)", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void OperatingPoint_FixedThreshold_CallsPositiveAtOrAboveThreshold()
        {
            var test = Binary(new[] { 1, 1, 0, 0 }, new[] { 0.3, 0.29, 0.3, 0.1 });
            var report = BinaryReport.Compute(test, "PNEUMONIA", OperatingPoint.Threshold(0.3));
            Assert.Equal((1, 1, 1, 1), (report.TruePositives, report.FalsePositives, report.TrueNegatives, report.FalseNegatives));
            Assert.Equal(0.5, report.Ppv);
            Assert.Equal(0.5, report.Npv);
        }

        [Fact]
        public void Argmax_Default_MatchesMostProbableClass()
        {
            var test = Binary(new[] { 1, 1, 0, 0 }, new[] { 0.6, 0.4, 0.55, 0.1 });
            var report = BinaryReport.Compute(test, "NORMAL");
            Assert.True(double.IsNaN(report.Threshold));
            // NORMAL positive: images 1 and 3 are called NORMAL; NORMAL images are 2 and 3.
            Assert.Equal((1, 1, 1, 1), (report.TruePositives, report.FalsePositives, report.TrueNegatives, report.FalseNegatives));
        }

        [Fact]
        public void Bootstrap_SameSeed_SameIntervalsAndEstimateInside()
        {
            var c = SklearnParityTests.Case("binary");
            var p = SklearnParityTests.PredictionsOf(c);
            var a = BinaryReport.Compute(p, "PNEUMONIA", bootstrap: new BootstrapOptions { Seed = 3 });
            var b = BinaryReport.Compute(p, "PNEUMONIA", bootstrap: new BootstrapOptions { Seed = 3 });
            var other = BinaryReport.Compute(p, "PNEUMONIA", bootstrap: new BootstrapOptions { Seed = 4 });
            Assert.Equal(a.RocAucInterval, b.RocAucInterval);
            Assert.NotEqual(a.RocAucInterval!.Lower, other.RocAucInterval!.Lower);
            foreach (var ci in new[] { a.RocAucInterval, a.SensitivityInterval!, a.SpecificityInterval!, a.AccuracyInterval! })
            {
                Assert.Equal(1000, ci.Resamples);
                Assert.Equal(0.95, ci.Level);
                Assert.InRange(ci.Estimate, ci.Lower, ci.Upper);
                // 80 images: a 95% interval is neither degenerate nor the whole range.
                Assert.InRange(ci.Upper - ci.Lower, 0.02, 0.5);
            }

            Assert.Equal(c.GetProperty("binary").GetProperty("roc_auc").GetDouble(), a.RocAucInterval.Estimate, 12);
        }

        [Fact]
        public void Percentile_Linear_MatchesNumpy()
        {
            // numpy.percentile([1, 2, 3, 4], [2.5, 25, 97.5]) = [1.075, 1.75, 3.925]
            var sorted = new double[] { 1, 2, 3, 4 };
            Assert.Equal(1.075, Bootstrap.Percentile(sorted, 0.025), 12);
            Assert.Equal(1.75, Bootstrap.Percentile(sorted, 0.25), 12);
            Assert.Equal(3.925, Bootstrap.Percentile(sorted, 0.975), 12);
        }

        [Fact]
        public void Calibration_HandComputed_EceAndBins()
        {
            // Confidences 0.95 (right), 0.95 (wrong), 0.65 (right), 0.55 (right).
            var p = Binary(new[] { 1, 0, 0, 1 }, new[] { 0.95, 0.95, 0.35, 0.55 });
            var cal = CalibrationReport.Compute(p, 10);
            Assert.Equal(10, cal.Bins.Count);
            var top = cal.Bins[9];
            Assert.Equal((2, 0.95, 0.5), (top.Count, top.MeanConfidence, top.Accuracy));
            Assert.Equal(1, cal.Bins[6].Count);
            Assert.Equal(1, cal.Bins[5].Count);
            Assert.True(double.IsNaN(cal.Bins[0].Accuracy));
            double ece = (2 * 0.45 + 1 * 0.35 + 1 * 0.45) / 4;
            Assert.Equal(ece, cal.ExpectedCalibrationError, 12);
            Assert.Equal(0.45, cal.MaximumCalibrationError, 12);
        }

        [Fact]
        public void EvaluationReport_ToJson_HasAllSectionsAndNullForInfinity()
        {
            var p = SklearnParityTests.PredictionsOf(SklearnParityTests.Case("binary"));
            var report = EvaluationReport.Create(p, new EvaluationOptions { PositiveClass = "PNEUMONIA", Bootstrap = new BootstrapOptions { Resamples = 200 } });
            using var doc = JsonDocument.Parse(report.ToJson());
            var root = doc.RootElement;
            Assert.Equal(new[] { "classes", "count", "classification_report", "confusion_matrix", "accuracy", "macro_roc_auc", "calibration", "binary" }, root.EnumerateObject().Select(x => x.Name));
            Assert.Equal(JsonValueKind.Null, root.GetProperty("binary").GetProperty("roc_curve").GetProperty("thresholds")[0].ValueKind);
            Assert.Equal(report.Binary!.RocAuc, root.GetProperty("binary").GetProperty("roc_auc").GetProperty("estimate").GetDouble());
            Assert.Equal(report.MacroRocAuc, report.Binary.RocAuc, 12);
            Assert.Contains("weighted avg", report.ToString(), StringComparison.Ordinal);
        }
    }
}
