using System;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Ensembles;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Models;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Evaluation
{
    /// <summary>A model carries its temperature: applied in prediction, evaluation and ensembles, and saved with it.</summary>
    public sealed class ModelCalibrationTests
    {
        private static TransferModel Model(int seed) =>
            TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(seed)
                .WithPreprocessing(new Preprocessing { ResizeSize = 40, CropSize = 32 }).Build();

        [Fact]
        public void Calibrate_ValidationImages_AttachesTheFittedTemperatureAndEveryPredictionUsesIt()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 16, Size = 48 });
            var data = ImageFolder.Load(folder.Path);
            using var model = Model(3);
            var raw = Evaluator.Predict(model, data);

            var scaling = model.Calibrate(data);

            Assert.Same(scaling, model.Calibration);
            Assert.Equal(TemperatureScaling.Fit(raw).Temperature, scaling.Temperature, 12);
            Assert.Equal(16, scaling.FittedOn);
            Assert.True(scaling.NllAfter <= scaling.NllBefore);
            var calibrated = Evaluator.Predict(model, data);
            var expected = scaling.Apply(raw);
            for (int i = 0; i < raw.Count; i++)
            {
                Assert.Equal(expected.Probability(i, 1), calibrated.Probability(i, 1), 12);
            }

            Assert.Equal(raw.PredictedLabels, calibrated.PredictedLabels);
            Assert.NotEqual(raw.Probability(0, 1), calibrated.Probability(0, 1));

            // Calibrating again starts from the raw logits, not from the calibrated ones.
            Assert.Equal(scaling.Temperature, model.Calibrate(data).Temperature, 12);
        }

        [Fact]
        public void SaveLoad_CalibratedModel_KeepsTheTemperatureAndTheProbabilities()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.File("images"), new SyntheticChestXRayOptions { Count = 8, Size = 48 });
            var data = ImageFolder.Load(folder.File("images"));
            using var model = Model(5);
            model.SetCalibration(new TemperatureScaling(2.5) { FittedOn = 40, NllBefore = 0.7, NllAfter = 0.6 });
            var before = Evaluator.Predict(model, data);
            model.Save(folder.File("model.safetensors"));
            var metadata = MedicalTransfer.Weights.StateDictFile.ReadSafetensorsMetadata(folder.File("model.safetensors"));
            Assert.Contains("\"temperature\":2.5", metadata["calibration"], StringComparison.Ordinal);

            using var loaded = TransferModel.Load(folder.File("model.safetensors"), CPU);

            Assert.Equal(model.Calibration, loaded.Calibration);
            var after = Evaluator.Predict(loaded, data);
            Assert.Equal(before.Scores(1), after.Scores(1));

            loaded.SetCalibration(null);
            loaded.Save(folder.File("plain.safetensors"));
            using var plain = TransferModel.Load(folder.File("plain.safetensors"), CPU);
            Assert.Null(plain.Calibration);
        }

        [Fact]
        public void EnsemblePredict_CalibratedMembers_AveragesEachMembersCalibratedProbabilities()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 8, Size = 48 });
            var data = ImageFolder.Load(folder.Path);
            using var a = Model(1);
            using var b = Model(2);
            a.SetCalibration(new TemperatureScaling(3));
            b.SetCalibration(new TemperatureScaling(0.5));
            var ensemble = Evaluator.Predict(Ensemble.Of(a, b), data);
            var pa = Evaluator.Predict(a, data);
            var pb = Evaluator.Predict(b, data);
            for (int i = 0; i < data.Count; i++)
            {
                Assert.Equal((pa.Probability(i, 1) + pb.Probability(i, 1)) / 2, ensemble.Probability(i, 1), 12);
            }

            a.SetCalibration(null);
            Assert.NotEqual(pa.Probability(0, 1), Evaluator.Predict(a, data).Probability(0, 1));
        }
    }
}
