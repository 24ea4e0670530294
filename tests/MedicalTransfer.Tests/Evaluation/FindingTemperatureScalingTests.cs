using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Export;
using MedicalTransfer.Models;
using MedicalTransfer.Onnx;
using MedicalTransfer.Prediction;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Evaluation
{
    /// <summary>
    /// Per-finding temperature scaling of multi-label models, against PyTorch's LBFGS fit of the same masked BCE
    /// (Fixtures/MultiLabel/finding_temperatures.json, made by make_finding_temperatures.py beside it), and its travel
    /// through the model: prediction, evaluation, save/load and the ONNX export.
    /// </summary>
    public sealed class FindingTemperatureScalingTests
    {
        private static readonly Lazy<JsonElement> Fixture = new(() =>
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(TestSupport.FixturePath("MultiLabel", "finding_temperatures.json")));
            return doc.RootElement.Clone();
        });

        private static JsonElement Case(string name) => Fixture.Value.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

        private static (string[] Findings, double[] Logits, bool[] Positive, bool[] Observed) Read(JsonElement c) => (
            c.GetProperty("findings").EnumerateArray().Select(e => e.GetString()!).ToArray(),
            c.GetProperty("logits").EnumerateArray().Select(e => e.GetDouble()).ToArray(),
            c.GetProperty("positive").EnumerateArray().Select(e => e.GetBoolean()).ToArray(),
            c.GetProperty("observed").EnumerateArray().Select(e => e.GetBoolean()).ToArray());

        private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

        [Theory]
        [InlineData("three_findings_masked")]
        [InlineData("one_finding_all_observed")]
        public void FitLogits_PyTorchLbfgsOnTheSameMaskedLogits_SameTemperaturesAndBce(string name)
        {
            var c = Case(name);
            var (findings, logits, positive, observed) = Read(c);

            var fitted = FindingTemperatureScaling.FitLogits(findings, logits, positive, observed);

            var expected = c.GetProperty("temperatures").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            for (int j = 0; j < findings.Length; j++)
            {
                Assert.True(Math.Abs(expected[j] - fitted.Temperatures[j]) <= 1e-4 * Math.Max(1, expected[j]), $"{findings[j]}: T {fitted.Temperatures[j]:R}, PyTorch {expected[j]:R}");
                Assert.Equal(c.GetProperty("bce_before")[j].GetDouble(), fitted.BceBefore[j], 9);
                Assert.Equal(c.GetProperty("bce_after")[j].GetDouble(), fitted.BceAfter[j], 7);
                Assert.Equal(c.GetProperty("fitted_on")[j].GetInt32(), fitted.FittedOn[j]);
                Assert.True(fitted.BceAfter[j] <= fitted.BceBefore[j] + 1e-12);
            }
        }

        [Fact]
        public void Fit_SigmoidProbabilities_SameTemperaturesAsFromTheLogits_AndApplyRemoveRoundTripKeepingAuroc()
        {
            var (findings, logits, positive, observed) = Read(Case("three_findings_masked"));
            var raw = new MultiLabelPredictions(findings, logits.Select(Sigmoid).ToArray(), positive, observed);

            var fromProbabilities = FindingTemperatureScaling.Fit(raw);
            var fromLogits = FindingTemperatureScaling.FitLogits(findings, logits, positive, observed);
            for (int j = 0; j < findings.Length; j++)
            {
                Assert.Equal(fromLogits.Temperatures[j], fromProbabilities.Temperatures[j], 9);
            }

            var calibrated = fromProbabilities.Apply(raw);
            for (int i = 0; i < raw.Count; i++)
            {
                for (int j = 0; j < findings.Length; j++)
                {
                    Assert.Equal(Sigmoid(logits[(i * findings.Length) + j] / fromProbabilities.Temperatures[j]), calibrated.Probability(i, j), 12);
                    Assert.Equal(raw.IsObserved(i, j), calibrated.IsObserved(i, j));
                }
            }

            var withPatients = raw.WithPatients(Enumerable.Range(0, raw.Count).Select(i => "p" + (i / 3)).ToArray());
            Assert.Equal(withPatients.Patients, fromProbabilities.Apply(withPatients).Patients);
            var back = fromProbabilities.Remove(calibrated);
            Assert.Equal(raw.Probability(3, 1), back.Probability(3, 1), 12);
            var before = MultiLabelReport.Compute(raw);
            var after = MultiLabelReport.Compute(calibrated);
            Assert.Equal(before.PerFinding.Select(r => r.Auroc), after.PerFinding.Select(r => r.Auroc));
        }

        [Fact]
        public void FitLogits_MaskedLabels_DoNotInfluenceTheTemperature()
        {
            var (findings, logits, positive, observed) = Read(Case("three_findings_masked"));
            var reference = FindingTemperatureScaling.FitLogits(findings, logits, positive, observed);

            // Wild logits and flipped targets where the label is masked: the fit must not see them.
            var noisy = logits.Select((z, k) => observed[k] ? z : z * 40 + 9).ToArray();
            var flipped = positive.Select((p, k) => observed[k] ? p : !p).ToArray();
            var fitted = FindingTemperatureScaling.FitLogits(findings, noisy, flipped, observed);

            Assert.Equal(reference.Temperatures, fitted.Temperatures);
        }

        [Fact]
        public void Fit_FindingWithoutObservedNegatives_IsRefusedNamingIt()
        {
            var p = new MultiLabelPredictions(new[] { "Edema", "Effusion" }, new[] { 0.9, 0.2, 0.8, 0.7, 0.6, 0.1 }, new[] { true, false, true, true, true, false }, new[] { true, true, true, true, false, true });

            var ex = Assert.Throws<ArgumentException>(() => FindingTemperatureScaling.Fit(p));

            Assert.Contains("Finding 'Edema' has 2 positive and 0 negative observed validation labels", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Parse_ToJsonOfOtherFindingsOrUnknownMethod_IsAFormatError_AndRoundTrips()
        {
            var (findings, logits, positive, observed) = Read(Case("three_findings_masked"));
            var fitted = FindingTemperatureScaling.FitLogits(findings, logits, positive, observed);

            var back = FindingTemperatureScaling.Parse(fitted.ToJson(), findings);

            Assert.Equal(fitted.Temperatures, back.Temperatures);
            Assert.Equal(fitted.FittedOn, back.FittedOn);
            Assert.Equal(fitted.BceAfter, back.BceAfter);
            Assert.Throws<FormatException>(() => FindingTemperatureScaling.Parse(fitted.ToJson(), new[] { "A", "B", "C" }));
            Assert.Throws<FormatException>(() => FindingTemperatureScaling.Parse(fitted.ToJson().Replace("temperature_per_finding", "platt", StringComparison.Ordinal), findings));
            Assert.Throws<ArgumentOutOfRangeException>(() => new FindingTemperatureScaling(new[] { "A" }, new[] { 0.01 }));
        }

        [Fact]
        public void CalibrateFindings_MultiLabelModel_FitsOnUncalibratedPredictionsAndEveryPathAppliesIt()
        {
            using var folder = new TestSupport.TempFolder();
            var table = SyntheticChestXRay.WriteFindingsTable(folder.File("phantoms"), new SyntheticChestXRayOptions { Count = 48, Size = 32, Seed = 5 });
            var dataset = ImageTable.Load(table.TrainTable, SyntheticChestXRay.FindingsLayout, new ImageTableOptions { Root = table.Root });
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
                .WithPreprocessing(new Preprocessing { ResizeSize = 36, CropSize = 32 })
                .WithHead(Head.Mlp(16))
                .ForFindings(dataset.Findings)
                .OnDevice(CPU)
                .WithSeed(11)
                .Build();
            model.eval();
            var raw = model.PredictFindings(dataset);

            var scaling = model.CalibrateFindings(dataset);

            Assert.Same(scaling, model.FindingCalibration);
            Assert.Equal(FindingTemperatureScaling.Fit(raw).Temperatures, scaling.Temperatures);

            // Known temperatures far from 1 make each path's use of them visible.
            var known = new FindingTemperatureScaling(dataset.Findings, new[] { 0.2, 0.5, 2.0, 4.0 });
            model.SetFindingCalibration(known);
            var calibrated = model.PredictFindings(dataset);
            var expected = known.Apply(raw);
            Assert.True(Math.Abs(raw.Probability(0, 0) - calibrated.Probability(0, 0)) > 1e-4, "the temperature changed nothing");
            for (int i = 0; i < raw.Count; i++)
            {
                for (int j = 0; j < dataset.Findings.Count; j++)
                {
                    Assert.Equal(expected.Probability(i, j), calibrated.Probability(i, j), 9);
                }
            }

            string image = dataset.Samples[0].Path;
            Assert.Equal(Enumerable.Range(0, 4).Select(j => calibrated.Probability(0, j)), model.Predict(image).Probabilities, new Close(1e-6));

            string saved = folder.File("calibrated.safetensors");
            model.Save(saved);
            using (var loaded = TransferModel.Load(saved, CPU))
            {
                Assert.Equal(known.Temperatures, loaded.FindingCalibration!.Temperatures);
                Assert.Equal(model.Predict(image).Probabilities, loaded.Predict(image).Probabilities, new Close(1e-12));
            }

            string onnx = folder.File("calibrated.onnx");
            model.ExportOnnx(onnx);
            using var classifier = OnnxImageClassifier.Load(onnx);
            Assert.Equal("[0.2,0.5,2,4]", classifier.Metadata["finding_temperatures"]);
            Assert.Equal(model.Predict(image).Probabilities, classifier.Predict(image).Probabilities, new Close(1e-5));
        }

        [Fact]
        public void Calibrate_MultiLabelModel_PointsToCalibrateFindings_AndSetFindingCalibrationChecksTheFindings()
        {
            using var folder = new TestSupport.TempFolder();
            var table = SyntheticChestXRay.WriteFindingsTable(folder.File("phantoms"), new SyntheticChestXRayOptions { Count = 8, Size = 32, Seed = 5 });
            var dataset = ImageTable.Load(table.TrainTable, SyntheticChestXRay.FindingsLayout, new ImageTableOptions { Root = table.Root });
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForFindings(dataset.Findings).OnDevice(CPU).Build();

            var ex = Assert.Throws<ArgumentException>(() => model.Calibrate(dataset));
            Assert.Contains("CalibrateFindings", ex.Message, StringComparison.Ordinal);
            var other = Assert.Throws<ArgumentException>(() => model.SetFindingCalibration(new FindingTemperatureScaling(new[] { "Edema" }, new[] { 1.5 })));
            Assert.Contains("The temperatures are for findings Edema", other.Message, StringComparison.Ordinal);
        }

        private sealed class Close : System.Collections.Generic.IEqualityComparer<double>
        {
            private readonly double tolerance;

            public Close(double tolerance) => this.tolerance = tolerance;

            public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

            public int GetHashCode(double obj) => 0;
        }
    }
}
