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
    /// The study statistics against independent implementations, from Fixtures/Evaluation/study_statistics.json
    /// (made by make_study_statistics.py with /usr/bin/python3): SciPy for the normal distribution and
    /// McNemar, the original O(m n) DeLong kernel written from the 1988 paper (the C# side is Sun and Xu's
    /// midrank algorithm), scikit-learn for Brier, log-loss, calibration curves and the calibration slope,
    /// SciPy's brentq for calibration-in-the-large, and numpy for net benefit.
    /// </summary>
    public sealed class StudyStatisticsTests
    {
        private static readonly Lazy<JsonElement> Fixture = new(() =>
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(TestSupport.FixturePath("Evaluation", "study_statistics.json")));
            return doc.RootElement.Clone();
        });

        private static JsonElement Root => Fixture.Value;

        private static double[] Doubles(JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();

        private static JsonElement DeLongCase(string name) => Root.GetProperty("delong").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

        private static JsonElement CalibrationCase(string name) => Root.GetProperty("calibration").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

        private static void Close(double expected, double actual, double relative, string what)
        {
            double tolerance = relative * Math.Max(1e-300, Math.Abs(expected));
            Assert.True(Math.Abs(expected - actual) <= tolerance, $"{what}: expected {expected:R}, found {actual:R} (relative tolerance {relative})");
        }

        internal static Predictions CalibrationPredictions(JsonElement c)
        {
            var probabilities = c.GetProperty("probabilities").EnumerateArray().Select(r => (IReadOnlyList<double>)Doubles(r)).ToArray();
            var names = Enumerable.Range(0, probabilities[0].Count).Select(i => "C" + i).ToArray();
            return new Predictions(names, c.GetProperty("labels").EnumerateArray().Select(e => e.GetInt32()).ToArray(), probabilities);
        }

        [Fact]
        public void StandardNormal_ScipyValues_MatchToNearDoublePrecision()
        {
            var n = Root.GetProperty("normal");
            var xs = Doubles(n.GetProperty("x"));
            var cdf = Doubles(n.GetProperty("cdf"));
            var sf = Doubles(n.GetProperty("sf"));
            var erfc = Doubles(n.GetProperty("erfc"));
            for (int i = 0; i < xs.Length; i++)
            {
                Close(cdf[i], StandardNormal.Cdf(xs[i]), 1e-13, $"cdf({xs[i]})");
                Close(sf[i], StandardNormal.UpperTail(xs[i]), 1e-13, $"sf({xs[i]})");
                Close(erfc[i], StandardNormal.Erfc(xs[i]), 1e-13, $"erfc({xs[i]})");
            }

            var ps = Doubles(n.GetProperty("p"));
            var ppf = Doubles(n.GetProperty("ppf"));
            for (int i = 0; i < ps.Length; i++)
            {
                Assert.True(Math.Abs(ppf[i] - StandardNormal.Quantile(ps[i])) <= 1e-12 * Math.Max(1, Math.Abs(ppf[i])), $"ppf({ps[i]}): expected {ppf[i]:R}, found {StandardNormal.Quantile(ps[i]):R}");
            }
        }

        [Theory]
        [InlineData("three_models")]
        [InlineData("two_models_90")]
        [InlineData("hanley_mcneil_1982")]
        public void DeLongCompute_PaperKernelReference_SameAucsAndCovariance(string name)
        {
            var c = DeLongCase(name);
            var labels = c.GetProperty("labels").EnumerateArray().Select(e => e.GetBoolean()).ToArray();
            var scores = c.GetProperty("scores").EnumerateArray().Select(s => (IReadOnlyList<double>)Doubles(s)).ToArray();
            var (aucs, covariance, _, _) = DeLong.Compute(labels, scores);
            var expectedAucs = Doubles(c.GetProperty("aucs"));
            var expectedCovariance = c.GetProperty("covariance").EnumerateArray().Select(Doubles).ToArray();
            for (int a = 0; a < aucs.Length; a++)
            {
                Close(expectedAucs[a], aucs[a], 1e-13, $"AUC {a}");
                for (int b = 0; b < aucs.Length; b++)
                {
                    Assert.True(Math.Abs(expectedCovariance[a][b] - covariance[a, b]) <= 1e-14, $"S[{a},{b}]: expected {expectedCovariance[a][b]:R}, found {covariance[a, b]:R}");
                }
            }
        }

        [Theory]
        [InlineData("three_models")]
        [InlineData("two_models_90")]
        [InlineData("hanley_mcneil_1982")]
        public void PairwiseDeLong_PaperKernelReference_SameZPIntervalAndHolmAdjustment(string name)
        {
            var c = DeLongCase(name);
            var labels = c.GetProperty("labels").EnumerateArray().Select(e => e.GetBoolean()).ToArray();
            double level = c.GetProperty("level").GetDouble();
            var models = c.GetProperty("scores").EnumerateArray().Select((s, i) => new KeyValuePair<string, Predictions>("m" + i, Binary(labels, Doubles(s)))).ToArray();
            var tests = ModelComparison.PairwiseDeLong(models, "POS", PValueCorrection.Holm, level);
            var bonferroni = ModelComparison.PairwiseDeLong(models, "POS", PValueCorrection.Bonferroni, level);
            var pairs = c.GetProperty("pairs").EnumerateArray().ToArray();
            Assert.Equal(pairs.Length, tests.Count);
            for (int i = 0; i < pairs.Length; i++)
            {
                var e = pairs[i];
                var t = tests[i];
                Assert.Equal("m" + e.GetProperty("a").GetInt32(), t.ModelA);
                Assert.Equal("m" + e.GetProperty("b").GetInt32(), t.ModelB);
                Close(e.GetProperty("difference").GetDouble(), t.Difference, 1e-12, "difference");
                Close(e.GetProperty("se").GetDouble(), t.StandardError, 1e-11, "standard error");
                Close(e.GetProperty("z").GetDouble(), t.Z, 1e-11, "z");
                Close(e.GetProperty("p").GetDouble(), t.PValue, 1e-10, "p");
                Close(e.GetProperty("lower").GetDouble(), t.DifferenceLower, 1e-10, "lower");
                Close(e.GetProperty("upper").GetDouble(), t.DifferenceUpper, 1e-10, "upper");
                Close(e.GetProperty("holm").GetDouble(), t.AdjustedPValue, 1e-10, "Holm p");
                Close(e.GetProperty("bonferroni").GetDouble(), bonferroni[i].AdjustedPValue, 1e-10, "Bonferroni p");
            }

            var single = c.GetProperty("single").EnumerateArray().ToArray();
            for (int r = 0; r < models.Length; r++)
            {
                var interval = ModelComparison.DeLongAuc(labels, models[r].Value.Scores(1), level);
                Close(single[r].GetProperty("se").GetDouble(), interval.StandardError, 1e-11, "single-model SE");
                Close(single[r].GetProperty("lower").GetDouble(), interval.Lower, 1e-11, "single-model lower");
                Close(single[r].GetProperty("upper").GetDouble(), interval.Upper, 1e-11, "single-model upper");
            }
        }

        [Fact]
        public void DeLongAuc_HanleyMcNeil1982Ratings_ReproducesThePublishedAuc()
        {
            // Hanley and McNeil, Radiology 143:29-36 (1982), Table 1: AUC 0.893 for 109 rated CT images.
            var c = DeLongCase("hanley_mcneil_1982");
            var labels = c.GetProperty("labels").EnumerateArray().Select(e => e.GetBoolean()).ToArray();
            var ratings = Doubles(c.GetProperty("scores")[0]);
            Assert.Equal(58, labels.Count(l => !l));
            Assert.Equal(0.893, Math.Round(ModelComparison.DeLongAuc(labels, ratings).Auc, 3));
        }

        [Fact]
        public void DeLong_IdenticalScores_DifferenceZeroAndPOne()
        {
            var c = DeLongCase("three_models");
            var labels = c.GetProperty("labels").EnumerateArray().Select(e => e.GetBoolean()).ToArray();
            var s = Doubles(c.GetProperty("scores")[0]);
            var test = ModelComparison.DeLong(labels, s, s);
            Assert.Equal(0, test.Difference);
            Assert.Equal(1, test.PValue);
            Assert.True(double.IsNaN(test.Z));
        }

        [Fact]
        public void DeLong_DifferentImages_IsRefusedWithAClearMessage()
        {
            var a = Binary(new[] { true, false, true, false }, new[] { 0.9, 0.1, 0.8, 0.3 });
            var b = Binary(new[] { true, false, false, true }, new[] { 0.9, 0.1, 0.8, 0.3 });
            var ex = Assert.Throws<ArgumentException>(() => ModelComparison.DeLong(a, b, "POS"));
            Assert.Contains("not of the same images", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void McNemar_ScipyReference_ExactAndChiSquarePValues()
        {
            foreach (var e in Root.GetProperty("mcnemar").EnumerateArray())
            {
                int b = e.GetProperty("b").GetInt32(), c = e.GetProperty("c").GetInt32();
                var exact = ModelComparison.McNemar(b, c, 300, McNemarMethod.Exact);
                var chi = ModelComparison.McNemar(b, c, 300, McNemarMethod.ChiSquare);
                Close(e.GetProperty("exact_p").GetDouble(), exact.PValue, 1e-12, $"exact p ({b}, {c})");
                Close(e.GetProperty("chi2_p").GetDouble(), chi.PValue, 1e-12, $"chi-square p ({b}, {c})");
                Assert.Equal(e.GetProperty("chi2").GetDouble(), chi.Statistic, 12);
                Assert.Equal(b + c < 25, ModelComparison.McNemar(b, c, 300).Exact);
            }
        }

        [Fact]
        public void McNemar_PairedDecisions_CountsDiscordantPairsPerClass()
        {
            // Positives 0-3, negatives 4-7. A: threshold 0.5; B: argmax of the same probabilities shifted.
            var labels = new[] { true, true, true, true, false, false, false, false };
            var a = Binary(labels, new[] { 0.9, 0.6, 0.4, 0.3, 0.2, 0.7, 0.1, 0.55 });
            var b = Binary(labels, new[] { 0.9, 0.4, 0.6, 0.7, 0.2, 0.3, 0.8, 0.45 });
            var result = ModelComparison.McNemar(a, b, "POS", 0.5, 0.5, "A", "B");
            // Positives: A right on 0, 1; B right on 0, 2, 3 -> only A 1 (image 1), only B 2 (images 2, 3).
            Assert.Equal((1, 2), (result.Sensitivity.OnlyA, result.Sensitivity.OnlyB));
            // Negatives: A right on 4, 6; B right on 4, 5, 7 -> only A 1 (6), only B 2 (5, 7).
            Assert.Equal((1, 2), (result.Specificity.OnlyA, result.Specificity.OnlyB));
            Assert.Equal((2, 4), (result.Accuracy.OnlyA, result.Accuracy.OnlyB));
            Assert.Equal(ModelComparison.McNemar(2, 4, 8, McNemarMethod.Exact).PValue, result.Accuracy.PValue);
        }

        [Fact]
        public void PairedBootstrapAuc_ThreeModelCase_EstimateIsTheAucDifferenceAndAgreesWithDeLong()
        {
            var c = DeLongCase("three_models");
            var labels = c.GetProperty("labels").EnumerateArray().Select(e => e.GetBoolean()).ToArray();
            var a = Binary(labels, Doubles(c.GetProperty("scores")[0]));
            var b = Binary(labels, Doubles(c.GetProperty("scores")[2]));
            var options = new BootstrapOptions { Resamples = 2000, Seed = 3 };
            var bootstrap = ModelComparison.PairedBootstrapAuc(a, b, "POS", options);
            var delong = ModelComparison.DeLong(a, b, "POS");
            Assert.Equal(delong.Difference, bootstrap.Difference.Estimate, 12);
            // Two estimates of the same sampling distribution: the intervals agree to about a bootstrap's noise.
            Assert.InRange(bootstrap.Difference.Lower, delong.DifferenceLower - 0.03, delong.DifferenceLower + 0.03);
            Assert.InRange(bootstrap.Difference.Upper, delong.DifferenceUpper - 0.03, delong.DifferenceUpper + 0.03);
            Assert.InRange(bootstrap.PValue, delong.PValue / 2, Math.Min(1, delong.PValue * 2));
            Assert.Equal(bootstrap, ModelComparison.PairedBootstrapAuc(a, b, "POS", options));
        }

        [Fact]
        public void Adjust_Holm_IsStepDownAndMonotone()
        {
            var adjusted = ModelComparison.Adjust(new[] { 0.04, 0.01, 0.03, 0.5 }, PValueCorrection.Holm);
            // Sorted 0.01, 0.03, 0.04, 0.5 -> 0.04, 0.09, 0.09 (monotone), 0.5.
            Assert.Equal(new[] { 0.09, 0.04, 0.09, 0.5 }, adjusted.Select(p => Math.Round(p, 12)));
        }

        [Theory]
        [InlineData("binary_overconfident")]
        [InlineData("three_classes_rounded")]
        public void CalibrationMetrics_SklearnReference_BrierLogLossCurvesSlopeAndIntercept(string name)
        {
            var c = CalibrationCase(name);
            var predictions = CalibrationPredictions(c);
            string positive = "C" + c.GetProperty("positive").GetInt32();
            var metrics = CalibrationMetrics.Compute(predictions, positive, c.GetProperty("bins").GetInt32());
            Close(c.GetProperty("brier").GetDouble(), metrics.Brier, 1e-12, "Brier");
            Close(c.GetProperty("log_loss").GetDouble(), metrics.LogLoss, 1e-12, "log-loss");
            Close(c.GetProperty("mean_predicted").GetDouble(), metrics.MeanPredicted, 1e-12, "mean predicted");
            Close(c.GetProperty("observed_rate").GetDouble(), metrics.ObservedRate, 1e-12, "observed");
            Close(c.GetProperty("slope").GetDouble(), metrics.Slope, 1e-6, "slope");
            Close(c.GetProperty("slope_intercept").GetDouble(), metrics.SlopeIntercept, 1e-6, "slope's intercept");
            Close(c.GetProperty("intercept_in_the_large").GetDouble(), metrics.InterceptInTheLarge, 1e-10, "calibration-in-the-large");
            foreach (var (strategy, curve) in new[] { ("uniform", metrics.EqualWidth), ("quantile", metrics.EqualMass) })
            {
                var e = c.GetProperty(strategy);
                Assert.Equal(e.GetProperty("counts").EnumerateArray().Select(v => v.GetInt32()), curve.Bins.Select(b => b.Count));
                var edges = Doubles(e.GetProperty("edges"));
                Assert.Equal(edges, curve.Bins.Select(b => b.Lower).Append(curve.Bins[^1].Upper));
                var filled = curve.Bins.Where(b => b.Count > 0).ToArray();
                var observed = Doubles(e.GetProperty("prob_true"));
                var predicted = Doubles(e.GetProperty("prob_pred"));
                Assert.Equal(observed.Length, filled.Length);
                for (int i = 0; i < filled.Length; i++)
                {
                    Close(observed[i], filled[i].ObservedRate, 1e-12, $"{strategy} prob_true[{i}]");
                    Close(predicted[i], filled[i].MeanPredicted, 1e-12, $"{strategy} prob_pred[{i}]");
                }

                Close(e.GetProperty("ece").GetDouble(), curve.ExpectedCalibrationError, 1e-12, strategy + " ECE");
                Close(e.GetProperty("mce").GetDouble(), curve.MaximumCalibrationError, 1e-12, strategy + " MCE");
            }
        }

        [Theory]
        [InlineData("binary_overconfident")]
        [InlineData("three_classes_rounded")]
        public void DecisionCurve_NumpyReference_NetBenefitAtEveryThreshold(string name)
        {
            var c = CalibrationCase(name);
            var e = c.GetProperty("decision_curve");
            var curve = DecisionCurve.Compute(CalibrationPredictions(c), "C" + c.GetProperty("positive").GetInt32());
            var thresholds = Doubles(e.GetProperty("thresholds"));
            var model = Doubles(e.GetProperty("model"));
            var all = Doubles(e.GetProperty("treat_all"));
            Assert.Equal(thresholds, curve.Points.Select(p => p.Threshold));
            for (int i = 0; i < thresholds.Length; i++)
            {
                Assert.True(Math.Abs(model[i] - curve.Points[i].Model) <= 1e-13, $"model at {thresholds[i]}: {model[i]} vs {curve.Points[i].Model}");
                Assert.True(Math.Abs(all[i] - curve.Points[i].TreatAll) <= 1e-13, $"treat all at {thresholds[i]}");
                Assert.Equal(0, curve.Points[i].TreatNone);
            }

            Assert.StartsWith("threshold,net_benefit_model", curve.ToCsv(), StringComparison.Ordinal);
            Assert.Equal(100, curve.ToCsv().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        }

        [Theory]
        [InlineData("three_classes_overconfident")]
        [InlineData("binary_underconfident")]
        public void TemperatureScaling_PyTorchLbfgsOnTheSameLogits_SameTemperatureAndNll(string name)
        {
            var c = Root.GetProperty("temperature").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
            var logits = c.GetProperty("logits").EnumerateArray().SelectMany(Doubles).ToArray();
            var labels = c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            int classes = c.GetProperty("classes").GetInt32();
            var fitted = TemperatureScaling.FitLogits(logits, labels, classes);
            Close(c.GetProperty("temperature").GetDouble(), fitted.Temperature, 1e-7, "temperature");
            Close(c.GetProperty("nll_before").GetDouble(), fitted.NllBefore, 1e-12, "NLL before");
            Close(c.GetProperty("nll_after").GetDouble(), fitted.NllAfter, 1e-12, "NLL after");
            Assert.True(fitted.NllAfter <= c.GetProperty("guo_nll_after").GetDouble() + 1e-12, "at least as good as Guo et al.'s 50-iteration LBFGS");

            // The same fit from softmax probabilities (what Predictions hold): log p is the logits up to a per-row constant.
            var probabilities = new List<IReadOnlyList<double>>();
            for (int i = 0; i < labels.Length; i++)
            {
                var row = logits.Skip(i * classes).Take(classes).ToArray();
                double max = row.Max();
                var e = row.Select(z => Math.Exp(z - max)).ToArray();
                probabilities.Add(e.Select(v => v / e.Sum()).ToArray());
            }

            var predictions = new Predictions(Enumerable.Range(0, classes).Select(i => "C" + i).ToArray(), labels, probabilities);
            var fromProbabilities = TemperatureScaling.Fit(predictions);
            Close(fitted.Temperature, fromProbabilities.Temperature, 1e-9, "temperature from probabilities");

            // Applying it gives the NLL PyTorch reports, keeps every argmax, and Remove undoes it.
            var calibrated = fromProbabilities.Apply(predictions);
            Close(c.GetProperty("nll_after").GetDouble(), CalibrationMetrics.LogLossOf(calibrated), 1e-9, "log-loss after scaling");
            Assert.Equal(predictions.PredictedLabels, calibrated.PredictedLabels);
            var restored = fromProbabilities.Remove(calibrated);
            Assert.All(Enumerable.Range(0, predictions.Count), i => Assert.Equal(predictions.Probability(i, 0), restored.Probability(i, 0), 12));
        }

        [Fact]
        public void TemperatureScaling_OneClassOnly_IsRefusedWithAClearMessage()
        {
            var p = new Predictions(new[] { "A", "B" }, new[] { 1, 1, 1 }, new IReadOnlyList<double>[] { new[] { 0.2, 0.8 }, new[] { 0.4, 0.6 }, new[] { 0.1, 0.9 } });
            var ex = Assert.Throws<ArgumentException>(() => TemperatureScaling.Fit(p));
            Assert.Contains("at least two classes; all 3 are of class 1", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void TemperatureScaling_Metadata_RoundTripsAndRejectsUnknownMethods()
        {
            var scaling = new TemperatureScaling(1.7) { FittedOn = 12, NllBefore = 0.5, NllAfter = 0.4 };
            Assert.Equal(scaling, TemperatureScaling.FromMetadata(TemperatureScaling.ToMetadata(scaling)));
            Assert.Null(TemperatureScaling.FromMetadata(TemperatureScaling.ToMetadata(null)));
            Assert.Null(TemperatureScaling.FromMetadata(null));
            Assert.Throws<FormatException>(() => TemperatureScaling.FromMetadata("{\"method\":\"platt\",\"temperature\":1,\"fitted_on\":0}"));
        }

        internal static Predictions Binary(IReadOnlyList<bool> isPositive, IReadOnlyList<double> scores)
        {
            // Ratings such as 1..5 are not probabilities: rescale monotonically into [0, 1] (AUCs depend on order only).
            double min = scores.Min(), max = scores.Max();
            var rows = scores.Select(s => (IReadOnlyList<double>)new[] { 1 - Scale(s), Scale(s) }).ToArray();
            return new Predictions(new[] { "NEG", "POS" }, isPositive.Select(p => p ? 1 : 0).ToArray(), rows);

            double Scale(double s) => max > 1 || min < 0 ? (s - min) / (max - min) : s;
        }
    }
}
