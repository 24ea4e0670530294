using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Evaluation;
using Xunit;

namespace MedicalTransfer.Tests.Evaluation
{
    /// <summary>
    /// Compares every metric with scikit-learn 1.2.1 on the inputs and outputs written by
    /// Fixtures/Evaluation/make_sklearn_metrics.py (run with /usr/bin/python3). Tolerance 1e-12: the same
    /// double arithmetic in a different order.
    /// </summary>
    public sealed class SklearnParityTests
    {
        private const double Tolerance = 1e-12;

        public static IEnumerable<object[]> Cases() => new[] { new object[] { "binary" }, new object[] { "three_classes" }, new object[] { "degenerate" } };

        internal static JsonElement Case(string name)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(TestSupport.FixturePath("Evaluation", "sklearn_metrics.json")));
            return doc.RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name).Clone();
        }

        internal static Predictions PredictionsOf(JsonElement c) => new(
            c.GetProperty("classes").EnumerateArray().Select(e => e.GetString()!).ToArray(),
            c.GetProperty("labels").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            c.GetProperty("probabilities").EnumerateArray().Select(r => (IReadOnlyList<double>)r.EnumerateArray().Select(e => e.GetDouble()).ToArray()).ToArray());

        private static double[] Doubles(JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();

        private static void Equal(double[] expected, IReadOnlyList<double> actual)
        {
            Assert.Equal(expected.Length, actual.Count);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - actual[i]) <= Tolerance, $"index {i}: expected {expected[i]}, found {actual[i]}");
            }
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void PredictedLabels_SklearnCase_MatchNumpyArgmax(string name)
        {
            var c = Case(name);
            Assert.Equal(c.GetProperty("predicted").EnumerateArray().Select(e => e.GetInt32()), PredictionsOf(c).PredictedLabels);
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void ConfusionMatrix_SklearnCase_MatchesSklearn(string name)
        {
            var c = Case(name);
            var expected = c.GetProperty("confusion_matrix").EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
            var p = PredictionsOf(c);
            var matrix = ConfusionMatrix.Compute(p.ClassNames, p.Labels, p.PredictedLabels);
            Assert.Equal(expected, matrix.ToArray());
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void ClassificationReport_SklearnCase_MatchesOutputDict(string name)
        {
            var c = Case(name);
            var expected = c.GetProperty("report");
            var report = ClassificationReport.Compute(PredictionsOf(c));
            foreach (var row in report.Classes.Append(report.MacroAverage).Append(report.WeightedAverage))
            {
                var e = expected.GetProperty(row.Name);
                Assert.Equal(e.GetProperty("precision").GetDouble(), row.Precision, Tolerance);
                Assert.Equal(e.GetProperty("recall").GetDouble(), row.Recall, Tolerance);
                Assert.Equal(e.GetProperty("f1-score").GetDouble(), row.F1, Tolerance);
                Assert.Equal(e.GetProperty("support").GetInt32(), row.Support);
            }

            Assert.Equal(expected.GetProperty("accuracy").GetDouble(), report.Accuracy, Tolerance);
            Assert.Equal(c.GetProperty("accuracy").GetDouble(), report.Accuracy, Tolerance);
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void ClassificationReport_ToString4Digits_IsSklearnTextByteForByte(string name)
        {
            var c = Case(name);
            Assert.Equal(c.GetProperty("report_text").GetString(), ClassificationReport.Compute(PredictionsOf(c)).ToString(4));
        }

        [Theory]
        [MemberData(nameof(Cases))]
        public void ClassificationReport_ToJson_RoundTripsSklearnKeys(string name)
        {
            var c = Case(name);
            using var doc = JsonDocument.Parse(ClassificationReport.Compute(PredictionsOf(c)).ToJson());
            var expected = c.GetProperty("report");
            Assert.Equal(expected.EnumerateObject().Select(p => p.Name), doc.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Equal(expected.GetProperty("macro avg").GetProperty("f1-score").GetDouble(), doc.RootElement.GetProperty("macro avg").GetProperty("f1-score").GetDouble(), Tolerance);
        }

        [Fact]
        public void MacroAuc_ThreeClasses_MatchesSklearnOvrMacro()
        {
            var c = Case("three_classes");
            Assert.Equal(c.GetProperty("ovr_macro_auc").GetDouble(), EvaluationReport.MacroAuc(PredictionsOf(c)), Tolerance);
        }

        [Fact]
        public void MacroAuc_ClassWithoutImages_IsNaN()
        {
            Assert.True(double.IsNaN(EvaluationReport.MacroAuc(PredictionsOf(Case("degenerate")))));
        }

        [Fact]
        public void RocCurve_TiedScores_MatchesSklearnRocCurve()
        {
            var c = Case("binary");
            var b = c.GetProperty("binary");
            var p = PredictionsOf(c);
            var isPositive = p.Labels.Select(l => l == 1).ToArray();
            var roc = RocCurve.Compute(isPositive, p.Scores(1));
            Equal(Doubles(b.GetProperty("roc_fpr")), roc.FalsePositiveRates);
            Equal(Doubles(b.GetProperty("roc_tpr")), roc.TruePositiveRates);
            Assert.Equal(double.PositiveInfinity, roc.Thresholds[0]);
            Equal(Doubles(b.GetProperty("roc_thresholds")), roc.Thresholds.Skip(1).ToArray());
            Assert.Equal(b.GetProperty("roc_auc").GetDouble(), roc.Auc, Tolerance);

            var full = RocCurve.Compute(isPositive, p.Scores(1), dropIntermediate: false);
            Equal(Doubles(b.GetProperty("roc_full_fpr")), full.FalsePositiveRates);
            Equal(Doubles(b.GetProperty("roc_full_tpr")), full.TruePositiveRates);
            Assert.Equal(roc.Auc, full.Auc, Tolerance);
        }

        [Fact]
        public void PrecisionRecallCurve_TiedScores_MatchesSklearn()
        {
            var c = Case("binary");
            var b = c.GetProperty("binary");
            var p = PredictionsOf(c);
            var pr = PrecisionRecallCurve.Compute(p.Labels.Select(l => l == 1).ToArray(), p.Scores(1));
            Equal(Doubles(b.GetProperty("pr_precision")), pr.Precisions);
            Equal(Doubles(b.GetProperty("pr_recall")), pr.Recalls);
            Equal(Doubles(b.GetProperty("pr_thresholds")), pr.Thresholds);
            Assert.Equal(b.GetProperty("average_precision").GetDouble(), pr.AveragePrecision, Tolerance);
        }

        [Fact]
        public void BinaryReport_Binary_AucAndApMatchSklearnAndCountsMatchMatrix()
        {
            var c = Case("binary");
            var b = c.GetProperty("binary");
            var report = BinaryReport.Compute(PredictionsOf(c), "PNEUMONIA");
            Assert.Equal(b.GetProperty("roc_auc").GetDouble(), report.RocAuc, Tolerance);
            Assert.Equal(b.GetProperty("average_precision").GetDouble(), report.AveragePrecision, Tolerance);
            var m = c.GetProperty("confusion_matrix").EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
            Assert.Equal((m[1][1], m[0][1], m[0][0], m[1][0]), (report.TruePositives, report.FalsePositives, report.TrueNegatives, report.FalseNegatives));
            var sk = c.GetProperty("report");
            Assert.Equal(sk.GetProperty("PNEUMONIA").GetProperty("recall").GetDouble(), report.Sensitivity, Tolerance);
            Assert.Equal(sk.GetProperty("NORMAL").GetProperty("recall").GetDouble(), report.Specificity, Tolerance);
            Assert.Equal(sk.GetProperty("PNEUMONIA").GetProperty("precision").GetDouble(), report.Ppv, Tolerance);
            Assert.Equal(sk.GetProperty("NORMAL").GetProperty("precision").GetDouble(), report.Npv, Tolerance);
        }
    }
}
