using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Models;
using MedicalTransfer.Prediction;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Prediction
{
    /// <summary>
    /// Predict and PredictFolder: the same decoding, preprocessing, test-time augmentation and probabilities as
    /// evaluation (Evaluator is the reference), the bad-file policy, progress, cancellation and the decision threshold.
    /// </summary>
    public sealed class PredictionTests : IDisposable
    {
        private readonly TestSupport.TempFolder _folder = new();
        private readonly TransferModel _model;
        private readonly ImageDataset _dataset;

        public PredictionTests()
        {
            SyntheticChestXRay.WriteImageFolder(_folder.Path, new SyntheticChestXRayOptions { Count = 6, Size = 80, PositiveFraction = 0.5, Format = SyntheticImageFormat.Png16, Seed = 4 });
            _dataset = ImageFolder.Load(_folder.Path);
            var preprocessing = new Preprocessing { ResizeSize = 72, CropSize = 64 };
            _model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).WithHead(Head.Mlp(16)).WithPreprocessing(preprocessing)
                .ForClasses(_dataset.Classes.ToArray()).OnDevice(CPU).WithSeed(2).Build();
            _model.train(); // prediction must switch to eval mode itself (dropout, BatchNorm statistics) and restore this
        }

        public void Dispose()
        {
            _model.Dispose();
            _folder.Dispose();
        }

        [Theory]
        [InlineData(TestTimeAugmentation.None)]
        [InlineData(TestTimeAugmentation.HorizontalFlip)]
        [InlineData(TestTimeAugmentation.FiveCrop | TestTimeAugmentation.HorizontalFlip)]
        public void Predict_EveryFile_EqualsEvaluatorProbabilities(TestTimeAugmentation augmentation)
        {
            var reference = Evaluator.Predict(_model, _dataset, new PredictionOptions { Augmentation = augmentation, Loader = new LoaderOptions { BatchSize = 3, Workers = 1 } });
            var options = new ImagePredictionOptions { Augmentation = augmentation };

            for (int i = 0; i < _dataset.Count; i++)
            {
                var p = _model.Predict(_dataset.Samples[i].Path, options);
                Assert.Equal(_dataset.Samples[i].Path, p.Source);
                for (int c = 0; c < 2; c++)
                {
                    Assert.Equal(reference.Probability(i, c), p.Probabilities[c], 1e-6);
                }

                Assert.Equal(reference.PredictedLabels[i], p.PredictedIndex);
            }

            Assert.True(_model.training, "the model's mode is restored");
        }

        [Fact]
        public void Predict_StreamAndImage16_EqualThePredictionOfTheFile()
        {
            string path = _dataset.Samples[0].Path;
            var fromFile = _model.Predict(path);
            using var stream = File.OpenRead(path);
            var fromStream = _model.Predict(stream, "upload.png");
            using var image = Image.Load<L16>(path);
            var fromImage = _model.Predict(image, "pacs");

            Assert.Equal(fromFile.Probabilities, fromStream.Probabilities);
            Assert.Equal(fromFile.Probabilities, fromImage.Probabilities);
            Assert.Equal(("upload.png", "pacs"), (fromStream.Source, fromImage.Source));
            Assert.Equal(1.0, fromFile.Probabilities.Sum(), 12);
            Assert.Equal(fromFile.ClassNames[fromFile.PredictedIndex], fromFile.PredictedClass);
            using var eightBit = image.CloneAs<L8>();
            Assert.NotEqual(fromFile.Probabilities, _model.Predict(eightBit).Probabilities); // 16-bit precision is kept, not reduced to 8 bits
        }

        [Fact]
        public void Predict_CorruptFile_ThrowsImageDataExceptionNamingIt()
        {
            string bad = _folder.File("bad.png");
            File.WriteAllBytes(bad, File.ReadAllBytes(_dataset.Samples[0].Path).AsSpan(0, 100).ToArray());

            var ex = Assert.Throws<ImageDataException>(() => _model.Predict(bad));

            Assert.Contains(bad, ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public async Task PredictFolder_WithABadFile_ReportsItAndClassifiesTheRestInOrder()
        {
            string bad = Path.Combine(_folder.Path, "NORMAL", "zz-truncated.png");
            File.WriteAllBytes(bad, File.ReadAllBytes(_dataset.Samples[0].Path).AsSpan(0, 200).ToArray());
            File.WriteAllText(Path.Combine(_folder.Path, "notes.txt"), "not an image");
            var reports = new List<PredictionProgress>();
            var progress = new SynchronousProgress(reports.Add);

            var results = new List<ImagePrediction>();
            await foreach (var r in _model.PredictFolder(_folder.Path, new ImagePredictionOptions { BatchSize = 4, Workers = 2, Progress = progress }))
            {
                results.Add(r);
            }

            var expectedOrder = _dataset.Samples.Select(s => s.Path).Append(bad).OrderBy(p => p, StringComparer.Ordinal).ToList();
            Assert.Equal(expectedOrder, results.Select(r => r.Source));
            var failed = Assert.Single(results, r => !r.Succeeded);
            Assert.Equal(bad, failed.Source);
            Assert.Contains("truncated", failed.Error, StringComparison.Ordinal);
            Assert.Null(failed.PredictedClass);
            foreach (var r in results.Where(r => r.Succeeded))
            {
                var single = _model.Predict(r.Source).Probabilities;
                Assert.All(single.Zip(r.Probabilities), p => Assert.Equal(p.First, p.Second, 1e-6)); // batch of 4 against batch of 1: float rounding only
            }

            Assert.Equal(2, reports.Count);
            Assert.Equal((7, 1, 7), (reports[^1].Completed, reports[^1].Failed, reports[^1].Total));
            Assert.All(reports, r => Assert.True(r.ImagesPerSecond > 0));
        }

        [Fact]
        public async Task PredictFolder_ThrowPolicy_StopsAtTheBadFile()
        {
            string bad = Path.Combine(_folder.Path, "NORMAL", "000-bad.jpg");
            File.WriteAllText(bad, "GIF89a, renamed");
            var options = new ImagePredictionOptions { BatchSize = 2, Decoding = new ImageLoadOptions { BadImages = BadImagePolicy.Throw } };

            var ex = await Assert.ThrowsAsync<ImageDataException>(async () =>
            {
                await foreach (var _ in _model.PredictFolder(_folder.Path, options))
                {
                }
            });

            Assert.Contains("000-bad.jpg", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public async Task PredictFolder_Cancelled_ThrowsOperationCanceledAfterTheFirstResults()
        {
            using var cts = new CancellationTokenSource();
            int seen = 0;

            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var _ in _model.PredictFolder(_folder.Path, new ImagePredictionOptions { BatchSize = 2 }, cts.Token))
                {
                    if (++seen == 2)
                    {
                        cts.Cancel();
                    }
                }
            });

            Assert.Equal(2, seen);
        }

        [Fact]
        public async Task PredictFolder_FileList_KeepsTheGivenOrder()
        {
            var files = _dataset.Samples.Select(s => s.Path).Reverse().Take(5).ToArray();

            var sources = new List<string>();
            await foreach (var r in _model.PredictFolder(files, new ImagePredictionOptions { BatchSize = 3, Workers = 3 }))
            {
                sources.Add(r.Source);
            }

            Assert.Equal(files, sources);
            Assert.Throws<DirectoryNotFoundException>(() => _model.PredictFolder(_folder.File("missing")));
        }

        [Fact]
        public void UseOperatingPoint_ChosenOnValidation_DecidesPredictionsAndSurvivesSave()
        {
            var validation = Evaluator.Predict(_model, _dataset);
            string positive = _dataset.Classes[1];

            var threshold = _model.UseOperatingPoint(OperatingPoint.TargetSensitivity(1.0), validation, positive);

            Assert.NotNull(threshold);
            Assert.Equal(positive, threshold!.PositiveClass);
            Assert.Equal("target sensitivity 1 (validation)", threshold.Rule);
            int positiveIndex = 1;
            for (int i = 0; i < _dataset.Count; i++)
            {
                var p = _model.Predict(_dataset.Samples[i].Path);
                Assert.Equal(p.Probabilities[positiveIndex] >= threshold.Threshold ? positiveIndex : 0, p.PredictedIndex);
                var argmax = _model.Predict(_dataset.Samples[i].Path, new ImagePredictionOptions { ApplyDecisionThreshold = false });
                Assert.Equal(Predictions.Argmax(argmax.Probabilities.ToArray()), argmax.PredictedIndex);
            }

            // Every true positive is caught at the threshold chosen for sensitivity 1.
            Assert.All(_dataset.Samples.Where(s => s.Label == positiveIndex), s => Assert.Equal(positive, _model.Predict(s.Path).PredictedClass));
            string saved = _folder.File("model.safetensors");
            _model.Save(saved);
            using var loaded = TransferModel.Load(saved, CPU);
            Assert.Equal(threshold, loaded.DecisionThreshold);
            Assert.Null(_model.UseOperatingPoint(OperatingPoint.Argmax, validation, positive));
            Assert.Null(_model.DecisionThreshold);
        }

        [Fact]
        public void ImagePredictionOptions_OutOfRange_AreRefused()
        {
            string path = _dataset.Samples[0].Path;
            Assert.Throws<ArgumentOutOfRangeException>(() => _model.Predict(path, new ImagePredictionOptions { BatchSize = 0 }));
            Assert.Throws<ArgumentOutOfRangeException>(() => _model.Predict(path, new ImagePredictionOptions { Workers = 0 }));
            Assert.Throws<ArgumentOutOfRangeException>(() => _model.Predict(path, new ImagePredictionOptions { Augmentation = (TestTimeAugmentation)8 }));
        }

        private sealed class SynchronousProgress : IProgress<PredictionProgress>
        {
            private readonly Action<PredictionProgress> _report;

            public SynchronousProgress(Action<PredictionProgress> report) => _report = report;

            public void Report(PredictionProgress value) => _report(value);
        }
    }
}
