using System;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Evaluation
{
    public sealed class EvaluatorTests
    {
        private static TransferModel Model() =>
            TransferBuilder.FromResNet(18).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(11)
                .WithPreprocessing(new Preprocessing { ResizeSize = 40, CropSize = 32 }).Build();

        [Fact]
        public void Predict_TestSet_EvalModeNoGradRestoresTrainingAndMatchesManualForward()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 10, Size = 48 });
            var data = ImageFolder.Load(folder.Path);
            using var model = Model();
            model.train();
            var options = new PredictionOptions { Loader = new LoaderOptions { BatchSize = 4, Workers = 2 } };
            var predictions = Evaluator.Predict(model, new TestSet(data), options);
            Assert.True(model.training);
            Assert.Equal(10, predictions.Count);
            Assert.Equal(data.Samples.Select(s => s.Label), predictions.Labels);
            Assert.All(Enumerable.Range(0, 10), i => Assert.Equal(1.0, predictions.Probability(i, 0) + predictions.Probability(i, 1), 9));

            // Manual reference: the same evaluation transform, eval mode, one batch.
            model.eval();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var batch = new DataLoader(data, Transforms.ForEvaluation(model.Preprocessing), new LoaderOptions { Sampling = SamplingMode.Sequential, BatchSize = 10, Workers = 1 }).GetBatches(0).Single();
            var expected = nn.functional.softmax(model.call(batch.Images), 1).data<float>().ToArray();
            for (int i = 0; i < 10; i++)
            {
                Assert.Equal(expected[(i * 2) + 1], predictions.Probability(i, 1), 5);
            }
        }

        [Fact]
        public void Predict_ClassOrderDiffers_ThrowsBeforeRunning()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 4, Size = 32 });
            using var model = TransferBuilder.FromResNet(18).ForClasses("PNEUMONIA", "NORMAL").OnDevice(CPU).Build();
            var ex = Assert.Throws<ArgumentException>(() => Evaluator.Predict(model, ImageFolder.Load(folder.Path)));
            Assert.Contains("model's classes (PNEUMONIA, NORMAL) differ from the data's (NORMAL, PNEUMONIA)", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Probabilities_HorizontalFlip_IsMeanOfImageAndMirror()
        {
            using var model = Model();
            model.eval();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var x = TestSupport.FormulaInput(2, 32);
            var tta = Evaluator.Probabilities(model, x, TestTimeAugmentation.HorizontalFlip, 32);
            var expected = (nn.functional.softmax(model.call(x), 1) + nn.functional.softmax(model.call(x.flip(3)), 1)) / 2;
            Assert.True(TestSupport.RelativeError(tta, expected) < 1e-6);
            var plain = Evaluator.Probabilities(model, x, TestTimeAugmentation.None, 32);
            Assert.True((plain - tta).abs().max().item<double>() > 1e-6, "the mirror must change something on an asymmetric input");
        }

        [Fact]
        public void Probabilities_FiveCropAndFlip_AveragesTenViews()
        {
            using var model = Model();
            model.eval();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var x = TestSupport.FormulaInput(1, 40);
            var tta = Evaluator.Probabilities(model, x, TestTimeAugmentation.FiveCrop | TestTimeAugmentation.HorizontalFlip, 32);
            Tensor sum = zeros(1, 2);
            foreach (var (top, left) in new[] { (4, 4), (0, 0), (0, 8), (8, 0), (8, 8) })
            {
                var crop = x[.., .., top..(top + 32), left..(left + 32)];
                sum = sum + nn.functional.softmax(model.call(crop), 1) + nn.functional.softmax(model.call(crop.flip(3)), 1);
            }

            Assert.True(TestSupport.RelativeError(tta, sum / 10) < 1e-6);
        }

        [Fact]
        public void Probabilities_FiveCropOddMargin_CropsWhereTorchvisionFiveCropDoes()
        {
            // 67 -> 64: torchvision's center crop starts at round(1.5) = 2 (Fixtures/Data/crop_boxes.json), a floor at 1.
            using var model = Model();
            model.eval();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var x = TestSupport.FormulaInput(1, 67);
            var tta = Evaluator.Probabilities(model, x, TestTimeAugmentation.FiveCrop, 64);
            Tensor sum = zeros(1, 2);
            foreach (var (top, left) in new[] { (0, 0), (0, 3), (3, 0), (3, 3), (2, 2) })
            {
                sum = sum + nn.functional.softmax(model.call(x[.., .., top..(top + 64), left..(left + 64)]), 1);
            }

            Assert.True(TestSupport.RelativeError(tta, sum / 5) < 1e-6, "the five views are not torchvision's five_crop");
        }

        [Fact]
        public void Evaluate_WithFiveCropTta_ReportsTheMeanOfTorchvisionsTenViewsOfEveryFile()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 8, Size = 48 });
            var data = ImageFolder.Load(folder.Path);
            using var model = Model();
            var tta = new PredictionOptions { Augmentation = TestTimeAugmentation.FiveCrop | TestTimeAugmentation.HorizontalFlip, Loader = new LoaderOptions { Workers = 1 } };
            var report = Evaluator.Evaluate(
                model,
                new TestSet(data),
                new EvaluationOptions { PositiveClass = "PNEUMONIA", Bootstrap = new BootstrapOptions { Resamples = 50 } },
                prediction: tta);
            var predicted = Evaluator.Predict(model, data, tta);
            var plain = Evaluator.Predict(model, data, new PredictionOptions { Loader = new LoaderOptions { Workers = 1 } });

            // Independently: Resize(40), CenterCrop(40), normalise; torchvision's five_crop of 32 from 40 (crop_boxes.json)
            // and the mirror of each view; the mean of the ten softmax outputs.
            model.eval();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var square = Transforms.Compose(Transforms.Resize(40), Transforms.CenterCrop(40), Transforms.Normalize(Preprocessing.ImageNet.Mean, Preprocessing.ImageNet.Std));
            var images = new DataLoader(data, square, new LoaderOptions { Sampling = SamplingMode.Sequential, BatchSize = 8, Workers = 1 }).GetBatches(0).Single().Images;
            Tensor sum = zeros(8, 2);
            foreach (var (top, left) in new[] { (0, 0), (0, 8), (8, 0), (8, 8), (4, 4) })
            {
                var view = images[.., .., top..(top + 32), left..(left + 32)];
                sum = sum + nn.functional.softmax(model.call(view), 1) + nn.functional.softmax(model.call(view.flip(3)), 1);
            }

            var expected = (sum / 10).data<float>().ToArray();
            Assert.Equal(8, report.ConfusionMatrix.Total);
            Assert.Equal(report.Binary!.RocAuc, report.MacroRocAuc, 12);
            for (int i = 0; i < 8; i++)
            {
                // The report's own probabilities, not only Predict's: Evaluate must not drop the augmentation.
                Assert.Equal(expected[(2 * i) + 1], report.Predictions.Probability(i, 1), 1e-5);
                Assert.Equal(expected[(2 * i) + 1], predicted.Probability(i, 1), 1e-5);
            }

            Assert.Contains(Enumerable.Range(0, 8), i => Math.Abs(plain.Probability(i, 1) - predicted.Probability(i, 1)) > 1e-4);
            var isPositive = predicted.Labels.Select(l => l == 1).ToArray();
            Assert.Equal(RocCurve.Compute(isPositive, predicted.Scores(1)).Auc, report.Binary.RocAuc, 12);
        }
    }
}
