using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Training;
using Xunit;
using static MedicalTransfer.Tests.Training.TrainingFixtures;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Training
{
    [Collection(TrainingCollection.Name)]
    public class TrainerTests
    {
        [Fact]
        public void Fit_TinyTask_LossFallsAndHistoryHasEveryEpoch()
        {
            using var model = TinyModel();
            var validation = Source(16, shuffle: false, seed: 8);
            var result = Fit(model, Source(32), validation, new TrainingOptions { Epochs = 4, LearningRate = 3e-3, Schedule = LearningRateSchedule.Constant() });
            var epochs = result.History.Epochs;
            Assert.Equal(new[] { 1, 2, 3, 4 }, epochs.Select(e => e.Epoch));
            Assert.True(epochs[^1].TrainLoss < epochs[0].TrainLoss, $"train loss {epochs[0].TrainLoss} -> {epochs[^1].TrainLoss}");
            Assert.All(epochs, e => Assert.Equal(new[] { 3e-3 }, e.LearningRates));
            Assert.All(epochs, e => Assert.True(e.ImagesPerSecond > 0 && e.Seconds > 0));
            Assert.False(model.training);

            // The last epoch's validation figures are those of the trained model, recomputed here: mean
            // cross-entropy, accuracy, and the AUC of the class-1 probability (Mann-Whitney, ties halved).
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var batches = validation.GetBatches(0, default).ToList();
            var logits = cat(batches.Select(b => model.call(b.Images)).ToArray(), 0);
            var truth = cat(batches.Select(b => b.Labels).ToArray(), 0);
            double loss = nn.functional.cross_entropy(logits, truth).item<float>();
            double accuracy = logits.argmax(1).eq(truth).to(ScalarType.Float64).mean().item<double>();
            float[] scores = nn.functional.softmax(logits, 1).select(1, 1).data<float>().ToArray();
            long[] labels = truth.data<long>().ToArray();
            var positives = scores.Where((_, i) => labels[i] == 1).ToArray();
            var negatives = scores.Where((_, i) => labels[i] == 0).ToArray();
            double auc = positives.Sum(p => negatives.Sum(n => p > n ? 1.0 : p == n ? 0.5 : 0.0)) / (positives.Length * (double)negatives.Length);
            Assert.Equal(loss, epochs[^1].ValidationLoss, 1e-5);
            Assert.Equal(accuracy, epochs[^1].ValidationAccuracy, 1e-12);
            Assert.Equal(auc, epochs[^1].ValidationAuc!.Value, 1e-9);
            // The task is learnable: brighter centres are class 1.
            Assert.True(epochs[^1].ValidationAccuracy >= 0.75, $"validation accuracy {epochs[^1].ValidationAccuracy}");
        }

        [Theory]
        [InlineData(1e-3)]
        [InlineData(0.05)]
        public void Fit_GradientClipNorm_OneSgdStepMovesTheWeightsByAtMostLearningRateTimesTheNorm(double clip)
        {
            // Plain SGD (no momentum, no decay) at learning rate 1: one step moves the trainable weights by exactly the
            // gradient, so the L2 norm of the change is the clipped gradient norm.
            double Moved(double? clipNorm)
            {
                using var model = TinyModel();
                var before = Snapshot(model);
                Fit(model, Source(8), Source(8, shuffle: false, seed: 8), new TrainingOptions { Epochs = 1, Optimizer = OptimizerKind.Sgd, Momentum = 0, WeightDecay = 0, LearningRate = 1, GradientClipNorm = clipNorm, Schedule = LearningRateSchedule.Constant() });
                var after = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
                return Math.Sqrt(after.Sum(kv => kv.Value.detach().sub(before[kv.Key]).square().sum().item<float>()));
            }

            double unclipped = Moved(null);
            double clipped = Moved(clip);
            Assert.True(unclipped > 2 * clip, $"the unclipped step ({unclipped}) must be larger than the clip for the test to mean anything");
            Assert.InRange(clipped, clip * 0.98, clip * 1.02);
        }

        [Fact]
        public void Fit_Finished_LeavesNoGradientBuffersBehind()
        {
            // Between steps the trainer keeps gradient buffers (zeroed in place, for speed); they must not outlive Fit.
            using var model = TinyModel();
            Fit(model, Source(16), Source(8, shuffle: false, seed: 8), new TrainingOptions { Epochs = 1, Schedule = LearningRateSchedule.Constant() });
            Assert.All(model.parameters(), p => Assert.Null(p.grad));
        }

        [Fact]
        public void Fit_RetainFreedMemoryOff_LeavesTheAllocatorAlone_OnByDefault_TunesItForTheProcess()
        {
            using var model = TinyModel();
            var off = new ListLogger();
            Fit(model, Source(8), Source(8, shuffle: false, seed: 8), new TrainingOptions { Epochs = 1, Schedule = LearningRateSchedule.Constant(), RetainFreedMemory = false, Logger = off });
            Assert.Contains(off.Entries, e => e.Id.Id == 5013 && e.Message.Contains("RetainFreedMemory is false", StringComparison.Ordinal));
            Assert.DoesNotContain(off.Entries, e => e.Id.Id == 5012);

            var on = new ListLogger();
            Fit(model, Source(8), Source(8, shuffle: false, seed: 8), new TrainingOptions { Epochs = 1, Schedule = LearningRateSchedule.Constant(), Logger = on });
            if (OperatingSystem.IsLinux())
            {
                // Applied by this fit, or by an earlier one in this process: either way it is in force now.
                Assert.Contains(on.Entries, e => e.Id.Id == 5012 || (e.Id.Id == 5013 && e.Message.Contains("already keeping freed memory", StringComparison.Ordinal)));
                Assert.Equal(MedicalTransfer.Internal.AllocatorTuning.AlreadyApplied, MedicalTransfer.Internal.NativeAllocator.RetainFreedMemory());
            }
            else
            {
                Assert.Contains(on.Entries, e => e.Id.Id == 5013 && e.Message.Contains("not Linux with glibc", StringComparison.Ordinal));
            }
        }

        [Fact]
        public void Fit_FrozenPrefix_LeavesFrozenWeightsAndBatchNormStatisticsBitwiseUnchanged()
        {
            using var model = TinyModel();
            model.Freeze(Layers.UpTo(2));
            var before = Snapshot(model);
            Fit(model, Source(16), Source(8, shuffle: false), new TrainingOptions { Epochs = 1, LearningRate = 1e-2 });
            var after = model.state_dict();
            foreach (var key in before.Keys)
            {
                bool frozen = key.StartsWith("conv1.", StringComparison.Ordinal) || key.StartsWith("bn1.", StringComparison.Ordinal) || key.StartsWith("layer1.", StringComparison.Ordinal) || key.StartsWith("layer2.", StringComparison.Ordinal);
                bool same = BitwiseEqual(before[key], after[key]);
                if (frozen)
                {
                    Assert.True(same, key + " changed although frozen");
                }
                else if (key.EndsWith("weight", StringComparison.Ordinal))
                {
                    Assert.False(same, key + " did not train");
                }
            }
        }

        [Fact]
        public void Fit_DiscriminativeRates_OneGroupPerTrainableStageWithScaledRates()
        {
            using var model = TinyModel();
            model.Freeze(Layers.UpTo(1));
            var result = Fit(model, Source(8), Source(8, shuffle: false), new TrainingOptions { Epochs = 1, LearningRate = 1e-3, Schedule = LearningRateSchedule.Constant(), StageLearningRates = StageLearningRates.Discriminative() });
            var rates = result.History.Epochs[0].LearningRates;
            Assert.Equal(4, rates.Count);
            Assert.Equal(1e-3 / 9, rates[0], 15);
            Assert.Equal(1e-3 / 3, rates[1], 15);
            Assert.Equal(1e-3, rates[2], 15);
            Assert.Equal(1e-2, rates[3], 15);
        }

        [Fact]
        public void Fit_ClassWeightsAndLabelSmoothing_ValidationLossIsTheWeightedSmoothedCrossEntropy()
        {
            using var model = TinyModel();
            var (images, labels) = MakeData(8, seed: 9);
            var validation = new TensorBatchSource(images, labels, 8);
            var weights = new[] { 0.25f, 3f };
            var result = Fit(model, Source(8), validation, new TrainingOptions { Epochs = 1, ClassWeights = weights, LabelSmoothing = 0.1 });
            model.eval();
            using var noGrad = no_grad();
            double expected = nn.functional.cross_entropy(model.forward(images), labels, weight: tensor(weights), label_smoothing: 0.1).item<float>();
            Assert.Equal(expected, result.History.Epochs[0].ValidationLoss, 5);
        }

        [Fact]
        public void Fit_NaNLossInEpochTwo_ThrowsNamingEpochAndBatchAndKeepsEpochOneCheckpoint()
        {
            using var folder = new TestSupport.TempFolder();
            string checkpoint = folder.File("run.ckpt");
            using var model = TinyModel();
            var train = new PoisonedSource(Source(24), epoch: 1, batch: 2);
            var ex = Assert.Throws<TrainingDivergedException>(() => Fit(model, train, Source(8, shuffle: false), new TrainingOptions { Epochs = 3, CheckpointPath = checkpoint }));
            Assert.Equal(2, ex.Epoch);
            Assert.Equal(2, ex.Batch);
            Assert.Contains("epoch 2, batch 2 of 3", ex.Message, StringComparison.Ordinal);
            Assert.True(model.parameters().All(p => !p.isnan().any().item<bool>()), "the diverged step was applied");
            using var state = TrainingCheckpoint.ReadFor(checkpoint, model);
            Assert.Equal(1, state.State.EpochsDone);
        }

        [Fact]
        public void Fit_ProgressReporter_ReceivesEveryBatchAndEveryEpoch()
        {
            using var model = TinyModel();
            var reports = new List<TrainingProgress>();
            Fit(model, Source(24), Source(8, shuffle: false), new TrainingOptions { Epochs = 2, Progress = new SyncProgress<TrainingProgress>(reports.Add) });
            Assert.Equal(6, reports.Count(r => r.Kind == TrainingProgressKind.Batch));
            Assert.Equal(new[] { 1, 2, 3, 1, 2, 3 }, reports.Where(r => r.Kind == TrainingProgressKind.Batch).Select(r => r.Batch));
            var epochs = reports.Where(r => r.Kind == TrainingProgressKind.Epoch).ToList();
            Assert.Equal(new[] { 1, 2 }, epochs.Select(r => r.Epoch));
            Assert.All(epochs, r => Assert.NotNull(r.EpochRecord));
            Assert.All(reports, r => Assert.Equal(2, r.TotalEpochs));
        }

        [Fact]
        public void EarlyStopping_NoImprovement_StopsAfterPatienceEpochs()
        {
            using var model = TinyModel();
            var stopper = new EarlyStopping(new EarlyStoppingOptions { Patience = 2, MinDelta = 10 });
            var result = Fit(model, Source(8), Source(8, shuffle: false), new TrainingOptions { Epochs = 10, Callbacks = new[] { stopper } });
            Assert.True(result.StoppedEarly);
            Assert.Equal(3, result.History.Epochs.Count);
            Assert.Equal(3, stopper.StoppedEpoch);
            Assert.Contains(result.History.Events, e => e.Kind == "early-stop" && e.Epoch == 3);
        }

        [Fact]
        public void BestCheckpoint_MonitorsValidationLoss_SavesTheBestEpochsWeights()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = TinyModel();
            var best = new BestCheckpoint(folder.File("best.safetensors"));
            var validation = Source(8, shuffle: false, seed: 11);
            var result = Fit(model, Source(16), validation, new TrainingOptions { Epochs = 3, LearningRate = 1e-2, Schedule = LearningRateSchedule.Constant(), Callbacks = new[] { best } });
            var bestEpoch = result.History.Epochs.OrderBy(e => e.ValidationLoss).First();
            Assert.Equal(bestEpoch.Epoch, best.BestEpoch);
            Assert.Equal(bestEpoch.ValidationLoss, best.BestValue);
            using var loaded = TransferModel.Load(best.Path, CPU);
            var (images, labels) = MakeData(8, seed: 11);
            using var noGrad = no_grad();
            double loss = nn.functional.cross_entropy(loaded.forward(images), labels).item<float>();
            Assert.Equal(bestEpoch.ValidationLoss, loss, 5);
        }

        [Fact]
        public void History_JsonRoundTripAndCsv_KeepEveryValue()
        {
            using var model = TinyModel();
            var history = Fit(model, Source(8), Source(8, shuffle: false), new TrainingOptions { Epochs = 2 }).History;
            var copy = TrainingHistory.FromJson(history.ToJson());
            Assert.Equal(history.Epochs.Select(e => e.ValidationLoss), copy.Epochs.Select(e => e.ValidationLoss));
            Assert.Equal(history.Epochs[1].LearningRates, copy.Epochs[1].LearningRates);
            Assert.Equal(history.Events.Count, copy.Events.Count);
            var lines = history.ToCsv().TrimEnd('\n').Split('\n');
            Assert.Equal("epoch,phase,phase_name,phase_epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_auc,lr,seconds,images_per_second,frozen", lines[0]);
            Assert.Equal(3, lines.Length);
            Assert.StartsWith("2,1,fit,2,", lines[2], StringComparison.Ordinal);
        }

        [Fact]
        public void BinaryAuc_TiesAndOrder_MatchesScikitLearn()
        {
            // sklearn.metrics.roc_auc_score([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.4, 0.4]) == 0.6666666666666666
            Assert.Equal(2.0 / 3.0, Metrics.BinaryAuc(new[] { 0.1f, 0.4f, 0.35f, 0.8f, 0.4f, 0.4f }, new[] { 0, 0, 1, 1, 0, 1 })!.Value, 12);
            Assert.Null(Metrics.BinaryAuc(new[] { 0.1f, 0.2f }, new[] { 1, 1 }));
        }
    }
}
