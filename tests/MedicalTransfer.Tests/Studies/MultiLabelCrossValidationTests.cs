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
    /// The multi-label cross-validation runner on a tiny ResNet and 72 multi-label phantoms of 36 patients (2 images each;
    /// four findings with uncertain and missing labels), 3 folds, 2 epochs; 12 phantoms of 6 other patients are the test set.
    /// It seeds TorchSharp's global generator, so it runs in the training collection.
    /// </summary>
    [Collection(TrainingCollection.Name)]
    public sealed class MultiLabelCrossValidationTests
    {
        private static readonly FindingsStudyFixture.Shared phantoms = FindingsStudyFixture.Instance;

        [Fact]
        public void RunFindings_ThreeFolds_EveryImageGetsOneOutOfFoldPredictionFromTheModelThatNeverSawItsPatient()
        {
            var (result, work, logger, progress) = phantoms.Straight;
            var data = phantoms.Data;
            int findings = data.Findings.Count;

            Assert.Equal(3, result.Folds.Count);
            Assert.Equal(data.Count, result.OutOfFold.Count);
            Assert.Equal(Enumerable.Range(0, data.Count), result.OutOfFoldIndices());
            var heldOutPatients = new List<HashSet<string>>();
            foreach (var fold in result.Folds)
            {
                var split = result.Assignment.Split(fold.Fold);
                var seen = split.Train.Samples.Concat(split.Validation.Samples).Select(s => s.PatientId!).ToHashSet();
                var mine = split.HeldOut.Samples.Select(s => s.PatientId!).ToHashSet();
                Assert.DoesNotContain(mine, seen.Contains);
                Assert.All(heldOutPatients, other => Assert.Empty(other.Intersect(mine)));
                heldOutPatients.Add(mine);
                Assert.Equal(split.HeldOutIndices, fold.HeldOutIndices);
                Assert.Equal(split.HeldOut.Count, fold.HeldOutImages);
                Assert.Equal(mine.Count, fold.HeldOutPatients);

                // The saved fold model is the calibrated best epoch with its thresholds: it reproduces the stored held-out predictions.
                using var model = TransferModel.Load(fold.ModelPath, CPU);
                Assert.Equal(fold.Calibration!.Temperatures, model.FindingCalibration!.Temperatures);
                Assert.Equal(fold.Thresholds.Values, model.FindingThresholds!.Values);
                var again = model.PredictFindings(split.HeldOut, new PredictionOptions { Loader = new LoaderOptions { Workers = 1 } });
                for (int i = 0; i < fold.HeldOutIndices.Count; i++)
                {
                    int image = fold.HeldOutIndices[i];
                    Assert.Equal(result.Assignment.GroupOf(image), result.OutOfFold.Patients![image]);
                    for (int j = 0; j < findings; j++)
                    {
                        Assert.Equal(fold.HeldOut.Probability(i, j), again.Probability(i, j), 12);
                        Assert.Equal(fold.HeldOut.Probability(i, j), result.OutOfFold.Probability(image, j));
                    }
                }

                // The fold trained with its own training part's positive weights, and the fold report is at the fold's thresholds.
                Assert.Contains(fold.History.Events, e => e.Kind == "task" && e.Message.Contains("positive weights " + data.Findings[0] + " ", StringComparison.Ordinal));
                Assert.Equal(MultiLabelReport.Compute(fold.HeldOut, fold.Thresholds).PerFinding, fold.Report.PerFinding);
                Assert.InRange(fold.BestEpoch, 1, 2);
                Assert.False(File.Exists(Path.Combine(work, "fold-" + (fold.Fold + 1), "checkpoint.mtckpt")), "a complete fold's resumable state is removed");
            }

            // Every out-of-fold label is the table's: uncertain (U-Ignore) and missing labels are not observed.
            for (int i = 0; i < data.Count; i++)
            {
                for (int j = 0; j < findings; j++)
                {
                    var state = data.Samples[i].Findings![j];
                    Assert.Equal(state is FindingState.Positive or FindingState.Negative, result.OutOfFold.IsObserved(i, j));
                    Assert.Equal(state == FindingState.Positive, result.OutOfFold.IsPositive(i, j));
                }
            }

            // The pooled report is MultiLabelReport.Compute on the out-of-fold predictions at thresholds from all folds' carves.
            var thresholds = FindingThresholds.Choose(result.PooledValidation(), FindingThresholdRule.YoudenJ);
            Assert.Equal(thresholds.Values, result.PooledThresholds.Values);
            var expected = MultiLabelReport.Compute(result.OutOfFold, thresholds);
            Assert.Equal(expected.PerFinding, result.Pooled.PerFinding);
            Assert.Equal(expected.MacroAuroc, result.Pooled.MacroAuroc);
            Assert.Equal(expected.MicroAuroc, result.Pooled.MicroAuroc);
            Assert.Equal(expected.SubsetAccuracy, result.Pooled.SubsetAccuracy);
            Assert.Equal(result.Folds.Sum(f => f.ValidationImages), result.PooledValidation().Count);

            // Its intervals resample patients (36), seeded.
            var intervals = MultiLabelIntervals.Compute(result.OutOfFold, new BootstrapOptions { Resamples = 200, Seed = 1 });
            Assert.True(result.Intervals!.PatientLevel);
            Assert.Equal(36, result.Intervals.Units);
            Assert.Equal(intervals.PerFinding, result.Intervals.PerFinding);
            Assert.Equal(intervals.MacroAuroc, result.Intervals.MacroAuroc);

            // Mean and SD across folds are of the fold reports.
            foreach (var finding in data.Findings)
            {
                int j = data.Findings.ToList().IndexOf(finding);
                var values = result.Folds.Select(f => f.Report.PerFinding[j].Auroc).ToArray();
                var summary = result.AurocAcrossFolds(finding);
                Assert.Equal(values.Average(), summary.Mean, 12);
                Assert.Equal(Math.Sqrt(values.Sum(v => (v - values.Average()) * (v - values.Average())) / 2), summary.StandardDeviation, 12);
                Assert.Equal(3, summary.Folds);
            }

            Assert.Equal(result.Folds.Select(f => f.Report.MacroAuroc).Average(), result.Summary.Single(s => s.Name == "mean AUROC").Mean, 12);

            // Logging and progress name the fold.
            Assert.Contains(logger.Messages, m => m.StartsWith("[fold 2/3] Epoch 1:", StringComparison.Ordinal));
            Assert.Contains(logger.Messages, m => m.StartsWith("fold 3/3: done; held-out mean AUROC", StringComparison.Ordinal));
            Assert.Contains(progress, p => p.Stage == CrossValidationStage.Training && p.Fold == 3 && p.Training?.Kind == TrainingProgressKind.Epoch);
            Assert.Equal(3, progress.Count(p => p.Stage == CrossValidationStage.FoldCompleted));

            // The table a researcher pastes.
            string table = result.ToTable();
            Assert.Contains("held-out AUROC per fold", table, StringComparison.Ordinal);
            Assert.Contains("fold 2/3: train " + result.Folds[1].TrainImages, table, StringComparison.Ordinal);
            Assert.Contains("patients resampled", table, StringComparison.Ordinal);
            Assert.Contains("kept-apart test set (12 images)", table, StringComparison.Ordinal);
        }

        [Fact]
        public void RunFindings_ThresholdsAndTemperatures_AreChosenOnTheValidationCarveOnly()
        {
            var result = phantoms.Straight.Result;
            foreach (var fold in result.Folds)
            {
                Assert.Equal(FindingTemperatureScaling.Fit(fold.ValidationUncalibrated).Temperatures, fold.Calibration!.Temperatures);
                Assert.Equal(FindingThresholds.Choose(fold.Validation, FindingThresholdRule.YoudenJ).Values, fold.Thresholds.Values);
                Assert.Equal(fold.Validation.Count, fold.ValidationImages);
            }

            // Flip every held-out label of fold 1 (the folds kept as they were): fold 1's model, temperatures and thresholds do not move.
            var data = phantoms.Data;
            var a = result.Assignment;
            var heldOut = a.Split(0).HeldOutIndices.ToHashSet();
            var flipped = data.Samples.Select((s, i) => heldOut.Contains(i) ? s with { Findings = s.Findings!.Select(Flip).ToArray() } : s).ToArray();
            var changed = new ImageDataset(data.Root, data.Classes, flipped, 0, data.Findings, Array.Empty<SkippedImage>());
            var original = data.Samples.ToDictionary(s => s.Path, s => s.Findings!);
            int f = data.Findings.Count;
            var strataNames = data.Findings.Concat(new[] { FoldAssignment.NoPositiveFinding }).ToArray();
            var b = FoldAssignment.Create(changed, a.Options, strataNames, s =>
            {
                var positive = Enumerable.Range(0, f).Where(j => original[s.Path][j] == FindingState.Positive).ToArray();
                return positive.Length == 0 ? new[] { f } : positive;
            });
            Assert.Equal(Enumerable.Range(0, data.Count).Select(i => a.FoldOf(i)), Enumerable.Range(0, data.Count).Select(i => b.FoldOf(i)));
            Assert.Equal(a.Split(0).Validation.Samples.Select(s => s.Path), b.Split(0).Validation.Samples.Select(s => s.Path));

            using var work = new TestSupport.TempFolder();
            var options = FindingsStudyFixture.Options(work.Path).Validate() with { Folds = b.Options };
            var record = CrossValidation.TrainFindingsFold(FindingsStudyFixture.Builder(), b, b.Split(0), work.Path, "fold 1/3", options, CancellationToken.None);

            var straight = result.Folds[0].Record;
            Assert.Equal(straight.Calibration, record.Calibration);
            Assert.Equal(straight.Thresholds, record.Thresholds);
            Assert.Equal(straight.Validation.Probabilities, record.Validation.Probabilities);
            Assert.Equal(straight.HeldOut.Probabilities, record.HeldOut.Probabilities);
            Assert.NotEqual(straight.HeldOut.Positive, record.HeldOut.Positive);
        }

        [Fact]
        public void RefitFindings_AllImages_TrainsOneCalibratedModelWhoseCarveChoosesItsThresholdsAndReadsItBackWhenComplete()
        {
            using var work = new TestSupport.TempFolder();
            var logger = new ListLogger();
            var options = FindingsStudyFixture.Options(work.Path, logger);
            var assignment = phantoms.Straight.Result.Assignment;
            var carve = assignment.CarveAll();

            // The carve is patient-grouped and the rest trains: together they are all the cross-validated images.
            Assert.Empty(carve.Train.Samples.Select(s => s.PatientId).Intersect(carve.Validation.Samples.Select(s => s.PatientId)));
            Assert.Equal(phantoms.Data.Count, carve.Train.Count + carve.Validation.Count);

            string modelPath = Path.Combine(work.Path, "refit", "model.safetensors");
            double[] temperatures;
            double[] thresholds;
            using (var model = CrossValidation.RefitFindings(FindingsStudyFixture.Builder(), assignment, options))
            {
                Assert.True(model.IsMultiLabel);
                Assert.Equal(phantoms.Data.Findings, model.Findings);
                Assert.True(File.Exists(modelPath));
                Assert.False(File.Exists(Path.Combine(work.Path, "refit", "checkpoint.mtckpt")), "the checkpoint of a complete refit is deleted");

                // Temperatures and thresholds are the carve's: refitted from the saved model's own predictions of the carve.
                var loader = new PredictionOptions { Loader = options.Loader with { Sampling = SamplingMode.Sequential, DropLast = false } }; // the runner's batches
                var scaling = model.FindingCalibration!;
                model.SetFindingCalibration(null);
                var raw = model.PredictFindings(carve.Validation, loader);
                Assert.Equal(FindingTemperatureScaling.Fit(raw).Temperatures, scaling.Temperatures);
                model.SetFindingCalibration(scaling);
                Assert.Equal(FindingThresholds.Choose(model.PredictFindings(carve.Validation, loader), FindingThresholdRule.YoudenJ).Values, model.FindingThresholds!.Values);
                temperatures = scaling.Temperatures.ToArray();
                thresholds = model.FindingThresholds.Values.ToArray();
            }

            // Complete: a second call reads the saved model back without training.
            var written = File.GetLastWriteTimeUtc(modelPath);
            int messages = logger.Entries.Count;
            using (var again = CrossValidation.RefitFindings(FindingsStudyFixture.Builder(), assignment, options))
            {
                Assert.Equal(written, File.GetLastWriteTimeUtc(modelPath));
                Assert.Equal(temperatures, again.FindingCalibration!.Temperatures);
                Assert.Equal(thresholds, again.FindingThresholds!.Values);
            }

            Assert.Contains(logger.Entries.Skip(messages), e => e.Message.Contains("refit", StringComparison.Ordinal) && e.Message.Contains("complete", StringComparison.OrdinalIgnoreCase));

            // The single-label refit points here; this one refuses single-label data.
            var ex = Assert.Throws<ArgumentException>(() => CrossValidation.Refit(CrossValidationTests.Builder(), assignment, CrossValidationTests.Options(work.File("single"))));
            Assert.Contains("Use CrossValidation.RefitFindings", ex.Message, StringComparison.Ordinal);
            ex = Assert.Throws<ArgumentException>(() => CrossValidation.RefitFindings(FindingsStudyFixture.Builder(), FoldAssignment.Create(StudyFixture.Instance.Data, new FoldOptions { Folds = 3 }), options));
            Assert.Contains("is a single-label dataset", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void RunFindings_CancelledInFoldTwo_ContinuesAtThatFoldAndEpochAndEqualsAnUninterruptedRun()
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
            var options = FindingsStudyFixture.Options(work.Path);
            Assert.ThrowsAny<OperationCanceledException>(() => CrossValidation.RunFindings(FindingsStudyFixture.Builder(), phantoms.Data, options with { Progress = progress }, cancellationToken: cts.Token));
            string first = Path.Combine(work.Path, "fold-1", "result.json");
            Assert.True(File.Exists(first));
            Assert.True(File.Exists(Path.Combine(work.Path, "fold-2", "checkpoint.mtckpt")));
            Assert.False(File.Exists(Path.Combine(work.Path, "fold-2", "result.json")));
            var written = File.GetLastWriteTimeUtc(first);
            var model = File.GetLastWriteTimeUtc(Path.Combine(work.Path, "fold-1", "model.safetensors"));

            var logger = new ListLogger();
            var resumed = CrossValidation.RunFindings(FindingsStudyFixture.Builder(), phantoms.Data, options with { Logger = logger });

            // Fold 1 is read back, not trained again; fold 2 continues at epoch 2.
            Assert.Contains(logger.Messages, m => m == "fold 1/3: already complete (" + first + "); not trained again");
            Assert.DoesNotContain(logger.Messages, m => m.StartsWith("[fold 1/3]", StringComparison.Ordinal));
            Assert.Equal(written, File.GetLastWriteTimeUtc(first));
            Assert.Equal(model, File.GetLastWriteTimeUtc(Path.Combine(work.Path, "fold-1", "model.safetensors")));
            Assert.Contains(logger.Messages, m => m.StartsWith("fold 2/3: resuming training from", StringComparison.Ordinal));
            Assert.DoesNotContain(logger.Messages, m => m.StartsWith("[fold 2/3] Epoch 1:", StringComparison.Ordinal));
            Assert.Contains(logger.Messages, m => m.StartsWith("[fold 2/3] Epoch 2:", StringComparison.Ordinal));

            // The same numbers as the uninterrupted run.
            Assert.Equal(FindingRows.Of(straight.OutOfFold).Probabilities, FindingRows.Of(resumed.OutOfFold).Probabilities);
            Assert.Equal(straight.Folds.Select(f => f.Record.Calibration), resumed.Folds.Select(f => f.Record.Calibration));
            Assert.Equal(straight.Folds.Select(f => f.Record.Thresholds), resumed.Folds.Select(f => f.Record.Thresholds));

            // The fold's time counts both sessions: at least every epoch it trained, epoch 1 in the cancelled run included.
            MultiLabelFoldResult second = resumed.Folds[1];
            Assert.True(second.Seconds >= second.History.Epochs.Sum(e => e.Seconds), $"fold 2 took {second.Seconds} s, less than its epochs' {second.History.Epochs.Sum(e => e.Seconds)} s");
            Assert.Equal(straight.Folds.Select(f => f.BestEpoch), resumed.Folds.Select(f => f.BestEpoch));
            Assert.Equal(straight.Pooled.PerFinding, resumed.Pooled.PerFinding);
            Assert.Null(resumed.Test);
        }

        [Fact]
        public void RunFindings_TestSetKeptApart_IsPredictedOnceByTheEnsembleOfFoldModelsAtOutOfFoldThresholds()
        {
            var result = phantoms.Straight.Result;
            var test = new TestSet(phantoms.Test);
            Assert.Equal(12, result.TestImages);

            var ensemble = result.LoadEnsemble(CPU);
            try
            {
                Assert.Equal(3, ensemble.Members.Count);
                Assert.True(ensemble.IsMultiLabel);
                var expected = ensemble.PredictFindings(test);
                Assert.Equal(FindingRows.Of(expected).Probabilities, FindingRows.Of(result.TestPredictions!).Probabilities);
                Assert.Equal(FindingRows.Of(expected).Observed, FindingRows.Of(result.TestPredictions!).Observed);
            }
            finally
            {
                foreach (var m in ensemble.Members)
                {
                    m.Dispose();
                }
            }

            // The test set's thresholds come from the pooled out-of-fold predictions, never from the test set.
            var thresholds = FindingThresholds.Choose(result.OutOfFold, FindingThresholdRule.YoudenJ);
            Assert.Equal(thresholds.Values, result.TestThresholds!.Values);
            Assert.Equal(MultiLabelReport.Compute(result.TestPredictions!, thresholds).PerFinding, result.Test!.PerFinding);
            Assert.True(result.TestIntervals!.PatientLevel);

            // The valid table's patients are not in the train table: no leak.
            Assert.Empty(result.Notes);
        }

        [Fact]
        public void RunFindings_WorkFolderOfAnotherDatasetOrTask_IsRefusedBeforeTraining()
        {
            var (_, work, _, _) = phantoms.Straight;
            var data = phantoms.Data;
            var logger = new ListLogger();

            // The same images with one label changed.
            var samples = data.Samples.ToArray();
            var states = samples[5].Findings!.ToArray();
            states[0] = states[0] == FindingState.Positive ? FindingState.Negative : FindingState.Positive;
            samples[5] = samples[5] with { Findings = states };
            var other = new ImageDataset(data.Root, data.Classes, samples, 0, data.Findings, Array.Empty<SkippedImage>());
            var ex = Assert.Throws<ArgumentException>(() => CrossValidation.RunFindings(FindingsStudyFixture.Builder(), other, FindingsStudyFixture.Options(work, logger)));
            Assert.Contains("holds a cross-validation of other images or labels", ex.Message, StringComparison.Ordinal);
            Assert.Contains(work, ex.Message, StringComparison.Ordinal);

            // A single-label cross-validation's runner on this multi-label work folder.
            var single = StudyFixture.Instance;
            ex = Assert.Throws<ArgumentException>(() => CrossValidation.Run(CrossValidationTests.Builder(), single.Data, CrossValidationTests.Options(work, logger)));
            Assert.Contains("other task (single-label or multi-label)", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(logger.Messages, m => m.Contains("Epoch", StringComparison.Ordinal));
        }

        [Fact]
        public void RunFindings_SingleLabelDataOrABuilderForOtherOutputs_IsRefusedBeforeAnythingIsWritten()
        {
            using var work = new TestSupport.TempFolder();
            string folder = work.File("cv");
            var options = FindingsStudyFixture.Options(folder);
            var tiny = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).OnDevice(CPU);

            var ex = Assert.Throws<ArgumentException>(() => CrossValidation.RunFindings(FindingsStudyFixture.Builder(), StudyFixture.Instance.Data, options));
            Assert.Contains("is a single-label dataset (classes NORMAL, PNEUMONIA); CrossValidation.RunFindings and RefitFindings train multi-label models", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Use CrossValidation.Run and Refit", ex.Message, StringComparison.Ordinal);

            var reversed = SyntheticChestXRay.PhantomFindings.Reverse().ToArray();
            ex = Assert.Throws<ArgumentException>(() => CrossValidation.RunFindings(tiny.ForFindings(reversed), phantoms.Data, options));
            Assert.Contains("The model's findings (" + string.Join(", ", reversed) + ") differ from the data's (" + string.Join(", ", phantoms.Data.Findings) + ")", ex.Message, StringComparison.Ordinal);
            Assert.Equal("builder", ex.ParamName);

            ex = Assert.Throws<ArgumentException>(() => CrossValidation.RunFindings(TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForClasses("NORMAL", "PNEUMONIA"), phantoms.Data, options));
            Assert.Contains("The builder makes a single-label model (classes NORMAL, PNEUMONIA)", ex.Message, StringComparison.Ordinal);

            ex = Assert.Throws<ArgumentException>(() => CrossValidation.RunFindings(FindingsStudyFixture.Builder(), phantoms.Data, options with { Evaluation = new EvaluationOptions { PositiveClass = "Cardiomegaly" } }));
            Assert.Contains("a multi-label model has no positive class", ex.Message, StringComparison.Ordinal);

            // The single-label runner points to this one.
            ex = Assert.Throws<ArgumentException>(() => CrossValidation.Run(CrossValidationTests.Builder(), phantoms.Data, CrossValidationTests.Options(folder)));
            Assert.Contains("is a multi-label dataset (findings " + string.Join(", ", phantoms.Data.Findings) + "); CrossValidation.Run trains and evaluates single-label models. Use CrossValidation.RunFindings", ex.Message, StringComparison.Ordinal);

            Assert.False(Directory.Exists(folder), "nothing is written before the checks pass");
        }

        [Fact]
        public void RunFindings_FindingWithoutPositivesInSomeCarve_IsRefusedForEveryFoldBeforeTraining()
        {
            using var work = new TestSupport.TempFolder();
            var data = phantoms.Data;
            int effusion = data.Findings.ToList().IndexOf("Pleural Effusion");

            // Pleural Effusion positive on one patient's images only: at most one validation carve can see a positive.
            string keep = data.Samples.First(s => s.Findings![effusion] == FindingState.Positive).PatientId!;
            var samples = data.Samples.Select(s =>
            {
                var states = s.Findings!.ToArray();
                if (s.PatientId != keep && states[effusion] == FindingState.Positive)
                {
                    states[effusion] = FindingState.Negative;
                }

                return s with { Findings = states };
            }).ToArray();
            var rare = new ImageDataset(data.Root, data.Classes, samples, 0, data.Findings, Array.Empty<SkippedImage>());
            var logger = new ListLogger();

            var ex = Assert.Throws<ArgumentException>(() => CrossValidation.RunFindings(FindingsStudyFixture.Builder(), rare, FindingsStudyFixture.Options(work.File("cv"), logger)));

            Assert.Contains("Each fold chooses every finding's threshold and temperature on its validation carve", ex.Message, StringComparison.Ordinal);
            Assert.Matches("fold [123]/3: 'Pleural Effusion' has 0 positive and [0-9]+ negative observed labels in the validation carve", ex.Message);
            Assert.Contains("'Pleural Effusion' has 0 positive", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Use fewer folds, a larger FoldOptions.ValidationFraction", ex.Message, StringComparison.Ordinal);
            Assert.Empty(logger.Messages);
            Assert.False(Directory.Exists(work.File("cv")));
        }

        private static FindingState Flip(FindingState state) => state switch
        {
            FindingState.Positive => FindingState.Negative,
            FindingState.Negative => FindingState.Positive,
            _ => state,
        };
    }
}
