using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Models;
using MedicalTransfer.Studies;
using MedicalTransfer.Tests.Training;
using MedicalTransfer.Training;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Studies
{
    /// <summary>
    /// The cross-validation runner on a tiny ResNet and 48 synthetic phantoms of 24 patients (2 images each), 3 folds,
    /// 2 epochs: seconds per fold on a CPU. It seeds TorchSharp's global generator, so it runs in the training collection.
    /// </summary>
    [Collection(TrainingCollection.Name)]
    public sealed class CrossValidationTests
    {
        private const string Pattern = @"^(patient\d+)_";
        private static readonly StudyFixture.Shared phantoms = StudyFixture.Instance;

        internal static TransferBuilder Builder() => TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
            .WithHead(Head.Mlp(16, inputDropout: 0.2, hiddenDropout: 0.1))
            .ForClasses(SyntheticChestXRay.NormalClass, SyntheticChestXRay.PneumoniaClass)
            .WithPreprocessing(new Preprocessing { ResizeSize = 36, CropSize = 32 })
            .OnDevice(CPU)
            .WithSeed(7);

        internal static CrossValidationOptions Options(string work, ListLogger? logger = null) => new()
        {
            Folds = new FoldOptions { Folds = 3, Seed = 4, GroupPattern = Pattern, ValidationFraction = 0.25 },
            WorkFolder = work,
            Training = new TrainingOptions { Epochs = 2, LearningRate = 3e-3, Seed = 11 },
            Loader = new LoaderOptions { BatchSize = 8, Workers = 1, Seed = 3 },
            Evaluation = new EvaluationOptions { PositiveClass = SyntheticChestXRay.PneumoniaClass, OperatingPoint = OperatingPoint.YoudenJ, Bootstrap = new BootstrapOptions { Resamples = 200 } },
            Logger = logger ?? new ListLogger(),
        };

        [Fact]
        public void Run_ThreeFolds_EveryImageGetsOneOutOfFoldPredictionFromTheModelThatNeverSawItsPatient()
        {
            var (result, work, logger, progress) = phantoms.Straight;

            var data = phantoms.Data;
            Assert.Equal(3, result.Folds.Count);
            Assert.Equal(data.Count, result.OutOfFold.Count);
            Assert.Equal(Enumerable.Range(0, data.Count), result.OutOfFoldIndices());
            Assert.Equal(data.Samples.Select(s => s.Label), result.OutOfFold.Labels);
            foreach (var fold in result.Folds)
            {
                var split = result.Assignment.Split(fold.Fold);
                string Patient(ImageSample s) => Path.GetFileName(s.Path).Split('_')[0];
                var seen = split.Train.Samples.Concat(split.Validation.Samples).Select(Patient).ToHashSet();
                Assert.DoesNotContain(split.HeldOut.Samples.Select(Patient), seen.Contains);
                Assert.Equal(split.HeldOutIndices, fold.HeldOutIndices);

                // The saved fold model is the calibrated best epoch: it reproduces the stored held-out predictions.
                using var model = TransferModel.Load(fold.ModelPath, CPU);
                Assert.NotNull(model.Calibration);
                Assert.Equal(fold.Calibration, model.Calibration);
                var again = Evaluator.Predict(model, split.HeldOut, new PredictionOptions { Loader = new LoaderOptions { Workers = 1 } });
                Assert.All(Enumerable.Range(0, again.Count), i => Assert.Equal(fold.HeldOut.Probability(i, 1), again.Probability(i, 1), 12));
                for (int i = 0; i < fold.HeldOutIndices.Count; i++)
                {
                    Assert.Equal(fold.HeldOut.Probability(i, 1), result.OutOfFold.Probability(fold.HeldOutIndices[i], 1));
                }

                Assert.InRange(fold.BestEpoch, 1, 2);
                Assert.Equal(2, fold.History.Epochs.Count);
                Assert.False(File.Exists(Path.Combine(work, "fold-" + (fold.Fold + 1), "checkpoint.mtckpt")), "a complete fold's resumable state is removed");
            }

            // Mean and SD across folds are of the fold reports; the pooled report is of all out-of-fold predictions.
            var auc = result.Summary.Single(s => s.Name == "ROC AUC PNEUMONIA");
            var values = result.Folds.Select(f => f.Report.Binary!.RocAuc).ToArray();
            Assert.Equal(values.Average(), auc.Mean, 12);
            Assert.Equal(Math.Sqrt(values.Sum(v => (v - values.Average()) * (v - values.Average())) / 2), auc.StandardDeviation, 12);
            Assert.Equal(data.Count, result.Pooled.Predictions.Count);
            Assert.NotNull(result.Pooled.Binary!.RocAucInterval);

            // Logging and progress name the fold.
            Assert.Contains(logger.Messages, m => m.StartsWith("[fold 2/3] Epoch 1:", StringComparison.Ordinal));
            Assert.Contains(logger.Messages, m => m.StartsWith("fold 3/3: done;", StringComparison.Ordinal));
            Assert.Contains(progress, p => p.Stage == CrossValidationStage.Training && p.Fold == 3 && p.Training?.Kind == TrainingProgressKind.Epoch);
            Assert.Equal(3, progress.Count(p => p.Stage == CrossValidationStage.FoldCompleted));

            // The fold models as an ensemble.
            var ensemble = result.LoadEnsemble(CPU);
            try
            {
                Assert.Equal(3, ensemble.Members.Count);
                Assert.All(ensemble.Members, m => Assert.NotNull(m.Calibration));
            }
            finally
            {
                foreach (var m in ensemble.Members)
                {
                    m.Dispose();
                }
            }
        }

        [Fact]
        public void Run_AgainOnACompleteWorkFolder_TrainsNothingAndGivesTheSameResult()
        {
            var (result, work, _, _) = phantoms.Straight;
            var logger = new ListLogger();
            var again = CrossValidation.Run(Builder(), phantoms.Data, Options(work, logger), new TestSet(phantoms.Test));
            Assert.Equal(3, logger.Messages.Count(m => m.Contains("already complete", StringComparison.Ordinal)));
            Assert.DoesNotContain(logger.Messages, m => m.Contains("Epoch 1", StringComparison.Ordinal));
            Assert.Equal(result.OutOfFold.Scores(1), again.OutOfFold.Scores(1));
            Assert.Equal(result.Test!.Predictions.Scores(1), again.Test!.Predictions.Scores(1));
        }

        [Fact]
        public void Run_CancelledInFoldTwo_ContinuesAtThatFoldAndEpochAndEqualsAnUninterruptedRun()
        {
            var straight = phantoms.Straight.Result;

            using var work = new TestSupport.TempFolder();
            using var cts = new CancellationTokenSource();
            var progress = new TrainingFixtures.SyncProgress<CrossValidationProgress>(p =>
            {
                if (p.Fold == 2 && p.Training is { Kind: TrainingProgressKind.Batch, Epoch: 2, Batch: 1 })
                {
                    cts.Cancel();
                }
            });
            Assert.ThrowsAny<OperationCanceledException>(() => CrossValidation.Run(Builder(), phantoms.Data, Options(work.Path) with { Progress = progress }, cancellationToken: cts.Token));
            Assert.True(File.Exists(Path.Combine(work.Path, "fold-1", "result.json")));
            Assert.True(File.Exists(Path.Combine(work.Path, "fold-2", "checkpoint.mtckpt")));
            Assert.False(File.Exists(Path.Combine(work.Path, "fold-2", "result.json")));

            var logger = new ListLogger();
            var resumed = CrossValidation.Run(Builder(), phantoms.Data, Options(work.Path, logger));

            Assert.Contains(logger.Messages, m => m == "fold 1/3: already complete (" + Path.Combine(work.Path, "fold-1", "result.json") + "); not trained again");
            Assert.Contains(logger.Messages, m => m.StartsWith("fold 2/3: resuming training from", StringComparison.Ordinal));
            Assert.DoesNotContain(logger.Messages, m => m.StartsWith("[fold 2/3] Epoch 1:", StringComparison.Ordinal));
            Assert.Contains(logger.Messages, m => m.StartsWith("[fold 2/3] Epoch 2:", StringComparison.Ordinal));
            Assert.Equal(straight.OutOfFold.Scores(1), resumed.OutOfFold.Scores(1));
            Assert.Equal(straight.Folds.Select(f => f.Calibration!.Temperature), resumed.Folds.Select(f => f.Calibration!.Temperature));
            // The fold's time counts both sessions: at least every epoch it trained, epoch 1 in the cancelled run included.
            FoldResult second = resumed.Folds[1];
            Assert.True(second.History.Epochs[0].Seconds > 0);
            Assert.True(second.Seconds >= second.History.Epochs.Sum(e => e.Seconds), $"fold 2 took {second.Seconds} s, less than its epochs' {second.History.Epochs.Sum(e => e.Seconds)} s");
        }

        [Fact]
        public void Run_TestSetKeptApart_IsEvaluatedOnceByTheEnsembleOfFoldModels()
        {
            var result = phantoms.Straight.Result;
            var test = new TestSet(phantoms.Test);

            Assert.NotNull(result.Test);
            Assert.Equal(12, result.TestImages);
            var ensemble = result.LoadEnsemble(CPU);
            try
            {
                var expected = Evaluator.Predict(ensemble, test);
                Assert.Equal(expected.Scores(1), result.Test!.Predictions.Scores(1));
            }
            finally
            {
                foreach (var m in ensemble.Members)
                {
                    m.Dispose();
                }
            }

            // The test set's threshold comes from the pooled out-of-fold predictions, never from the test set.
            var threshold = OperatingPoint.YoudenJ.Resolve(result.OutOfFold, SyntheticChestXRay.PneumoniaClass);
            Assert.Equal(threshold, result.Test.Binary!.Threshold);

            // Both phantom sets name patients from patient0000: the run notices patients in both.
            Assert.Contains(result.Notes, n => n.StartsWith("Group leak: 12 patients have images in both the test set and the cross-validated data", StringComparison.Ordinal));
        }

        [Fact]
        public void Refit_AllImages_TrainsOneCalibratedModelOnAllPatients()
        {
            using var work = new TestSupport.TempFolder();
            var options = Options(work.Path);
            var folds = FoldAssignment.Create(phantoms.Data, options.Folds);
            using var model = CrossValidation.Refit(Builder(), folds, options);
            Assert.NotNull(model.Calibration);
            Assert.True(File.Exists(Path.Combine(work.Path, "refit", "model.safetensors")));
            var (train, validation) = folds.CarveAll();
            Assert.Equal(phantoms.Data.Count, train.Count + validation.Count);
            Assert.All(validation.Statistics.Counts, c => Assert.True(c > 0));
        }

        [Fact]
        public void Run_WorkFolderOfAnotherCrossValidation_IsRefusedNamingWhatDiffersBeforeTraining()
        {
            var (_, work, _, _) = phantoms.Straight;
            var options = Options(work);
            var logger = new ListLogger();
            var ex = Assert.Throws<ArgumentException>(() => CrossValidation.Run(Builder(), phantoms.Data, options with { Folds = options.Folds with { Folds = 2 }, Logger = logger }));
            Assert.Contains("holds a cross-validation of other fold assignments than this run's", ex.Message, StringComparison.Ordinal);
            Assert.Contains(work, ex.Message, StringComparison.Ordinal);
            ex = Assert.Throws<ArgumentException>(() => CrossValidation.Run(Builder(), phantoms.Data, options with { Training = options.Training with { Epochs = 3 } }));
            Assert.Contains("of other training settings", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(logger.Messages, m => m.Contains("Epoch", StringComparison.Ordinal));
        }

        [Fact]
        public void Run_InvalidOptions_ListsEveryProblemBeforeTraining()
        {
            var options = new CrossValidationOptions
            {
                Training = new TrainingOptions { CheckpointPath = "x.ckpt", Callbacks = new ITrainingCallback[] { new EarlyStopping() } },
                Folds = new FoldOptions { Folds = 1 },
            };
            var ex = Assert.Throws<ArgumentException>(() => CrossValidation.Run(Builder(), phantoms.Data, options));
            Assert.Contains("WorkFolder must be set", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Training.CheckpointPath and Training.ResumeFrom must be null", ex.Message, StringComparison.Ordinal);
            Assert.Contains("give a factory in CrossValidationOptions.Callbacks instead", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Folds must be from 2 to 100; found 1.", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Run_BuilderForOtherClasses_IsRefusedBeforeTraining()
        {
            using var work = new TestSupport.TempFolder();
            var builder = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForClasses("PNEUMONIA", "NORMAL").OnDevice(CPU);
            var ex = Assert.Throws<ArgumentException>(() => CrossValidation.Run(builder, phantoms.Data, Options(work.Path)));
            Assert.Contains("model's classes (PNEUMONIA, NORMAL) differ from the data's (NORMAL, PNEUMONIA)", ex.Message, StringComparison.Ordinal);
        }
    }
}
