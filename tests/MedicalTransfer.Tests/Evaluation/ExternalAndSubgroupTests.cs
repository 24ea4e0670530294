using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using Xunit;

namespace MedicalTransfer.Tests.Evaluation
{
    public sealed class ExternalAndSubgroupTests
    {
        private static readonly string[] Classes = { "NORMAL", "PNEUMONIA" };

        /// <summary>
        /// n predictions: each image's true risk has logit N(<paramref name="location"/>, 1.5), its label is drawn from
        /// that risk, and the model reports the risk with its logit moved by <paramref name="shift"/>: calibrated when
        /// the shift is 0, under-predicting by exactly <paramref name="shift"/> on the logit scale otherwise.
        /// </summary>
        private static Predictions Make(int n, double location, double shift, int seed)
        {
            var random = new Random(seed);
            var labels = new int[n];
            var rows = new IReadOnlyList<double>[n];
            for (int i = 0; i < n; i++)
            {
                double risk = location + (1.5 * Gaussian(random));
                labels[i] = random.NextDouble() < 1 / (1 + Math.Exp(-risk)) ? 1 : 0;
                double p = 1 / (1 + Math.Exp(-(risk + shift)));
                rows[i] = new[] { 1 - p, p };
            }

            return new Predictions(Classes, labels, rows);
        }

        private static double Gaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

        [Fact]
        public void Create_ExternalSiteUnderPredicts_InternalThresholdAppliedAsIsAndPrevalenceShiftReported()
        {
            var validation = Make(300, 0, 0, 1);
            var internalTest = Make(300, 0, 0, 2);
            var external = Make(400, -1.2, -1.0, 3); // lower prevalence, and every logit pushed down by 1
            var options = new EvaluationOptions { PositiveClass = "PNEUMONIA", OperatingPoint = OperatingPoint.TargetSensitivity(0.9), Bootstrap = new BootstrapOptions { Resamples = 200 } };

            var report = ExternalValidationReport.Create("site B", external, validation, options, internalTest);

            double threshold = OperatingPoint.TargetSensitivity(0.9).Resolve(validation, "PNEUMONIA");
            Assert.Equal(threshold, report.Threshold);
            Assert.Equal(threshold, report.External.Binary!.Threshold);
            var direct = BinaryReport.Compute(external, "PNEUMONIA", OperatingPoint.Threshold(threshold));
            Assert.Equal(direct.Sensitivity, report.External.Binary.Sensitivity);
            Assert.Equal(direct.Specificity, report.External.Binary.Specificity);
            Assert.Equal(external.Labels.Count(l => l == 1) / 400.0, report.ExternalPrevalence);
            Assert.Equal(internalTest.Labels.Count(l => l == 1) / 300.0, report.InternalPrevalence);

            // The external logits were pushed down by 1: the recalibration intercept (slope fixed at 1) recovers about +1.
            Assert.True(report.ExternalPrevalence < report.InternalPrevalence - 0.1, "the external site has fewer positives");
            Assert.InRange(report.ExternalCalibration.InterceptInTheLarge, 0.7, 1.3);
            Assert.InRange(report.InternalCalibration!.InterceptInTheLarge, -0.3, 0.3);
            Assert.True(report.External.Binary.Sensitivity < report.Internal!.Binary!.Sensitivity, "under-prediction costs sensitivity at a fixed threshold");
            Assert.Contains("internal operating point (target sensitivity 0.9 (validation), threshold", report.ToString(), StringComparison.Ordinal);
            Assert.NotNull(report.External.Binary.SensitivityInterval);
        }

        [Fact]
        public void Create_NoPositiveClass_IsRefused()
        {
            var p = Make(20, 0, 0, 1);
            var ex = Assert.Throws<ArgumentException>(() => ExternalValidationReport.Create("x", p, p, new EvaluationOptions()));
            Assert.Contains("set EvaluationOptions.PositiveClass", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void SubgroupCompute_TwoGroupsAndMissing_EachGroupEqualsTheBinaryReportOfItsImagesAtTheCommonThreshold()
        {
            var predictions = Make(240, -0.4, 0, 7);
            var validation = Make(200, -0.4, 0, 8);
            var groups = Enumerable.Range(0, 240).Select(i => i % 10 == 9 ? null : i % 3 == 0 ? "F" : "M").ToArray();
            var options = new EvaluationOptions { PositiveClass = "PNEUMONIA", OperatingPoint = OperatingPoint.YoudenJ, Bootstrap = new BootstrapOptions { Resamples = 200, Seed = 1 } };

            var report = SubgroupReport.Compute(predictions, groups, "sex", options, validation, minimumPerClass: 15);

            Assert.Equal(new[] { SubgroupReport.Missing, "F", "M" }, report.Groups.Select(g => g.Group));
            double threshold = OperatingPoint.YoudenJ.Resolve(validation, "PNEUMONIA");
            Assert.Equal(threshold, report.Threshold);
            foreach (var g in report.Groups)
            {
                var indices = Enumerable.Range(0, 240).Where(i => (groups[i] ?? SubgroupReport.Missing) == g.Group).ToArray();
                var subset = predictions.Subset(indices);
                var expected = BinaryReport.Compute(subset, "PNEUMONIA", OperatingPoint.Threshold(threshold));
                Assert.Equal(indices.Length, g.Images);
                Assert.Equal(expected.TruePositives + expected.FalseNegatives, g.Positives);
                Assert.Equal(expected.Sensitivity, g.Sensitivity, 12);
                Assert.Equal(expected.Specificity, g.Specificity, 12);
                Assert.Equal(expected.RocAuc, g.Auc, 12);
                Assert.Equal(expected.Accuracy, g.Accuracy, 12);
                Assert.NotNull(g.AucInterval);
                Assert.True(g.AucInterval!.Lower <= g.Auc && g.Auc <= g.AucInterval.Upper);
                Assert.Equal(g.Positives < 15 || g.Negatives < 15, g.TooSmall);
            }

            Assert.True(report.Groups.Single(g => g.Group == SubgroupReport.Missing).TooSmall, "24 images, about 10 positive: flagged");
            Assert.False(report.Groups.Single(g => g.Group == "M").TooSmall);
            Assert.Contains("[too small: fewer than 15 of a class]", report.ToString(), StringComparison.Ordinal);
        }

        [Fact]
        public void SubgroupCompute_GroupWithOneClass_HasNoAucButKeepsItsSensitivity()
        {
            var predictions = new Predictions(Classes, new[] { 1, 1, 1, 0, 0, 1 }, new IReadOnlyList<double>[] { new[] { 0.2, 0.8 }, new[] { 0.6, 0.4 }, new[] { 0.1, 0.9 }, new[] { 0.7, 0.3 }, new[] { 0.4, 0.6 }, new[] { 0.3, 0.7 } });
            var report = SubgroupReport.Compute(predictions, new[] { "a", "a", "a", "b", "b", "b" }, "site", new EvaluationOptions { PositiveClass = "PNEUMONIA", Bootstrap = null });
            var a = report.Groups[0];
            Assert.True(double.IsNaN(a.Auc));
            Assert.Equal(2.0 / 3, a.Sensitivity, 12);
            Assert.True(double.IsNaN(a.Specificity));
            Assert.Equal(0.5, report.Groups[1].Specificity);
            Assert.True(a.TooSmall);
        }

        [Fact]
        public void SubgroupCompute_SamplesAndAMapping_UsesTheCallersColumnAndChecksTheOrder()
        {
            var samples = Enumerable.Range(0, 6).Select(i => new ImageSample(Path.Combine("/data", "img" + i + ".png"), i % 2)).ToArray();
            var predictions = new Predictions(Classes, samples.Select(s => s.Label).ToArray(), samples.Select(s => (IReadOnlyList<double>)new[] { 0.5, 0.5 }).ToArray());
            var view = new Dictionary<string, string> { ["img0.png"] = "PA", ["img1.png"] = "AP", ["img2.png"] = "PA", ["img3.png"] = "AP" };
            var options = new EvaluationOptions { PositiveClass = "PNEUMONIA", Bootstrap = null };

            var report = SubgroupReport.Compute(predictions, samples, s => view.GetValueOrDefault(Path.GetFileName(s.Path)), "view position", options);

            Assert.Equal(new[] { SubgroupReport.Missing, "AP", "PA" }, report.Groups.Select(g => g.Group));
            Assert.Equal(new[] { 2, 2, 2 }, report.Groups.Select(g => g.Images));
            var ex = Assert.Throws<ArgumentException>(() => SubgroupReport.Compute(predictions, samples.Reverse().ToArray(), s => "x", "view", options));
            Assert.Contains("the samples are not the predicted images in order", ex.Message, StringComparison.Ordinal);
        }
    }
}
