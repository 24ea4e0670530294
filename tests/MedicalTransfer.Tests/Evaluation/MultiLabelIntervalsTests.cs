using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Evaluation;
using Xunit;

namespace MedicalTransfer.Tests.Evaluation
{
    /// <summary>
    /// Per-finding bootstrap intervals of multi-label predictions against an independent percentile bootstrap
    /// (scikit-learn's roc_auc_score and average_precision_score with numpy's percentiles on the same resampled patients:
    /// Fixtures/MultiLabel/finding_bootstrap.json, made by make_finding_bootstrap.py beside it), and their seeding.
    /// </summary>
    public sealed class MultiLabelIntervalsTests
    {
        private static readonly Lazy<JsonElement> Fixture = new(() =>
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(TestSupport.FixturePath("MultiLabel", "finding_bootstrap.json")));
            return doc.RootElement.Clone();
        });

        private static JsonElement Case(string name) => Fixture.Value.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

        internal static MultiLabelPredictions Predictions(JsonElement c)
        {
            var findings = c.GetProperty("findings").EnumerateArray().Select(e => e.GetString()!).ToArray();
            var scores = c.GetProperty("scores").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(e => e.GetDouble())).ToArray();
            var positive = c.GetProperty("positive").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(e => e.GetBoolean())).ToArray();
            var observed = c.GetProperty("observed").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(e => e.GetBoolean())).ToArray();
            var predictions = new MultiLabelPredictions(findings, scores, positive, observed);
            return c.GetProperty("patient_level").GetBoolean()
                ? predictions.WithPatients(c.GetProperty("patients").EnumerateArray().Select(e => e.GetString()!).ToArray())
                : predictions;
        }

        private static void AssertInterval(JsonElement expected, ConfidenceInterval actual, string what)
        {
            Assert.Equal(expected.GetProperty("estimate").GetDouble(), actual.Estimate, 12);
            var interval = expected.GetProperty("interval");
            Assert.True(Math.Abs(interval[0].GetDouble() - actual.Lower) <= 1e-12, $"{what} lower {actual.Lower:R}, reference {interval[0].GetDouble():R}");
            Assert.True(Math.Abs(interval[1].GetDouble() - actual.Upper) <= 1e-12, $"{what} upper {actual.Upper:R}, reference {interval[1].GetDouble():R}");
            Assert.Equal(interval[2].GetInt32(), actual.Resamples);
        }

        [Theory]
        [InlineData("patients_three_findings")]
        [InlineData("images_two_findings")]
        public void Compute_TheReferencesDraws_SameIntervalsAsSklearnAndNumpyPercentiles(string name)
        {
            var c = Case(name);
            var predictions = Predictions(c);
            var draws = c.GetProperty("draws").EnumerateArray().Select(d => d.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();

            var intervals = MultiLabelIntervals.Compute(predictions, c.GetProperty("level").GetDouble(), draws);

            Assert.Equal(c.GetProperty("patient_level").GetBoolean(), intervals.PatientLevel);
            Assert.Equal(draws[0].Length, intervals.Units);
            for (int j = 0; j < predictions.Findings.Count; j++)
            {
                AssertInterval(c.GetProperty("auroc")[j], intervals.PerFinding[j].Auroc, predictions.Findings[j] + " AUROC");
                AssertInterval(c.GetProperty("average_precision")[j], intervals.PerFinding[j].AveragePrecision, predictions.Findings[j] + " AP");
            }

            AssertInterval(c.GetProperty("macro_auroc"), intervals.MacroAuroc, "macro AUROC");
        }

        [Fact]
        public void Compute_SameSeed_SameIntervals_OtherSeedOtherIntervals_AndPatientsResampledWhole()
        {
            var predictions = Predictions(Case("patients_three_findings"));

            var a = MultiLabelIntervals.Compute(predictions, new BootstrapOptions { Resamples = 300, Seed = 4 });
            var b = MultiLabelIntervals.Compute(predictions, new BootstrapOptions { Resamples = 300, Seed = 4 });
            var other = MultiLabelIntervals.Compute(predictions, new BootstrapOptions { Resamples = 300, Seed = 5 });

            Assert.Equal(a.PerFinding, b.PerFinding);
            Assert.NotEqual(a.PerFinding[0].Auroc.Lower, other.PerFinding[0].Auroc.Lower);
            Assert.True(a.PatientLevel);
            Assert.Equal(50, a.Units);
            Assert.Equal(MultiLabelReport.Compute(predictions).PerFinding.Select(r => r.Auroc), a.PerFinding.Select(r => r.Auroc.Estimate));
            Assert.All(a.PerFinding, r => Assert.InRange(r.Auroc.Estimate, r.Auroc.Lower, r.Auroc.Upper));
            Assert.Contains("50 patients resampled", a.ToTable(), StringComparison.Ordinal);
        }

        [Fact]
        public void WithPatients_WrongCount_IsRefusedWithTheCounts()
        {
            var predictions = new MultiLabelPredictions(new[] { "Edema" }, new[] { 0.1, 0.9 }, new[] { false, true });

            var ex = Assert.Throws<ArgumentException>(() => predictions.WithPatients(new[] { "p1" }));

            Assert.Contains("Expected one non-empty patient id per row (2 rows); found 1 ids", ex.Message, StringComparison.Ordinal);
        }
    }
}
