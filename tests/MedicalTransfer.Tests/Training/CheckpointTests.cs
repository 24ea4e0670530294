using System;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Tests.Weights;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;
using Xunit;
using static MedicalTransfer.Tests.Training.TrainingFixtures;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Training
{
    [Collection(TrainingCollection.Name)]
    public class CheckpointTests
    {
        // Dropout in the head exercises the random generator state; shuffled data the data-order seed.
        private static TransferModel Model() => TinyModel(head: Head.Mlp(16, inputDropout: 0.3, hiddenDropout: 0.2));

        private static TrainingOptions Options(int epochs, string? checkpoint = null, string? resume = null) => new()
        {
            Epochs = epochs,
            LearningRate = 2e-3,
            Seed = 42,
            Schedule = LearningRateSchedule.ReduceOnPlateau(patience: 0),
            CheckpointPath = checkpoint,
            ResumeFrom = resume,
        };

        [Fact]
        public void Resume_OneEpochThenTwoMore_EqualsThreeUninterruptedEpochsBitwise()
        {
            using var folder = new TestSupport.TempFolder();
            using var straight = Model();
            var full = Fit(straight, Source(24), Source(8, shuffle: false), Options(3));

            using var interrupted = Model();
            string checkpoint = folder.File("run.ckpt");
            Fit(interrupted, Source(24), Source(8, shuffle: false), Options(1, checkpoint));
            using var resumed = Model();
            var rest = Fit(resumed, Source(24), Source(8, shuffle: false), Options(3, checkpoint, resume: checkpoint));

            Assert.Equal(full.History.Epochs.Select(e => e.TrainLoss), rest.History.Epochs.Select(e => e.TrainLoss));
            Assert.Equal(full.History.Epochs.Select(e => e.ValidationLoss), rest.History.Epochs.Select(e => e.ValidationLoss));
            AssertSameWeights(straight, resumed);
            Assert.Equal(full.History.Epochs.Select(e => e.LearningRates[0]), rest.History.Epochs.Select(e => e.LearningRates[0]));
            Assert.Contains(rest.History.Events, e => e.Kind == "resume");
        }

        [Fact]
        public void Cancel_MidEpoch_StopsWithinOneBatchKeepsCheckpointAndResumesToTheSameWeights()
        {
            using var folder = new TestSupport.TempFolder();
            string checkpoint = folder.File("run.ckpt");
            using var straight = Model();
            Fit(straight, Source(24), Source(8, shuffle: false), Options(3));

            using var cts = new CancellationTokenSource();
            int batchesAfterCancel = 0;
            var progress = new SyncProgress<TrainingProgress>(p =>
            {
                if (cts.IsCancellationRequested && p.Kind == TrainingProgressKind.Batch)
                {
                    batchesAfterCancel++;
                }

                if (p.Kind == TrainingProgressKind.Batch && p.Epoch == 2 && p.Batch == 1)
                {
                    cts.Cancel();
                }
            });
            using var interrupted = Model();
            Assert.ThrowsAny<OperationCanceledException>(() => Fit(interrupted, Source(24), Source(8, shuffle: false), Options(3, checkpoint) with { Progress = progress }, cts.Token));
            Assert.Equal(0, batchesAfterCancel);
            using (var saved = TrainingCheckpoint.ReadFor(checkpoint, interrupted))
            {
                Assert.Equal(1, saved.State.EpochsDone);
                Assert.Equal(3, saved.State.Step);
            }

            using var resumed = Model();
            Fit(resumed, Source(24), Source(8, shuffle: false), Options(3, checkpoint, resume: checkpoint));
            AssertSameWeights(straight, resumed);
        }

        [Fact]
        public void Resume_CheckpointOfAnotherClassCount_IsRefusedBeforeAnythingIsApplied()
        {
            using var folder = new TestSupport.TempFolder();
            string checkpoint = folder.File("run.ckpt");
            using (var two = Model())
            {
                Fit(two, Source(8), Source(8, shuffle: false), Options(1, checkpoint));
            }

            using var three = TinyModel(head: Head.Mlp(16, inputDropout: 0.3, hiddenDropout: 0.2), classes: new[] { "A", "B", "C" });
            var before = Snapshot(three);
            var ex = Assert.Throws<WeightsMismatchException>(() => Fit(three, Source(8, classes: 3), Source(8, shuffle: false, classes: 3), Options(2, resume: checkpoint)));
            Assert.Contains("classes is [\"A\",\"B\"] in the checkpoint but [\"A\",\"B\",\"C\"] in the model", ex.Message, StringComparison.Ordinal);
            Assert.All(three.state_dict(), kv => Assert.True(BitwiseEqual(before[kv.Key], kv.Value)));
        }

        [Fact]
        public void Resume_CheckpointOfAnotherArchitecture_IsRefusedBeforeAnythingIsApplied()
        {
            using var folder = new TestSupport.TempFolder();
            string checkpoint = folder.File("run.ckpt");
            string basicArchitecture;
            using (var basic = Model())
            {
                Fit(basic, Source(8), Source(8, shuffle: false), Options(1, checkpoint));
                basicArchitecture = basic.Architecture.ToString();
            }

            using var deeper = TransferBuilder.FromResNet(MedicalTransfer.Models.ResNetArchitecture.Custom(MedicalTransfer.Models.BlockKind.Basic, 2, 1, 1, 1))
                .WithHead(Head.Mlp(16, inputDropout: 0.3, hiddenDropout: 0.2)).ForClasses("A", "B").OnDevice(CPU).WithSeed(1).Build();
            var before = Snapshot(deeper);
            var ex = Assert.Throws<WeightsMismatchException>(() => Fit(deeper, Source(8), Source(8, shuffle: false), Options(2, resume: checkpoint)));
            Assert.Contains("architecture is " + basicArchitecture + " in the checkpoint but " + deeper.Architecture + " in the model", ex.Message, StringComparison.Ordinal);
            Assert.Contains(checkpoint, ex.Message, StringComparison.Ordinal);
            Assert.All(deeper.state_dict(), kv => Assert.True(BitwiseEqual(before[kv.Key], kv.Value)));
        }

        [Fact]
        public void Resume_CheckpointOfAnotherFreezeSpec_IsRefusedNamingBothPhasesAndTheModelIsUntouched()
        {
            using var folder = new TestSupport.TempFolder();
            string checkpoint = folder.File("run.ckpt");
            using (var first = Model())
            {
                first.Freeze(Layers.UpTo(2));
                Fit(first, Source(8), Source(8, shuffle: false), Options(1, checkpoint));
            }

            // The phase (name, freeze spec, learning rate) is part of what a checkpoint resumes; its optimizer state
            // would cover parameters the new phase does not train (that check has its own test below).
            using var second = Model();
            second.Freeze(Layers.UpTo(3));
            var before = Snapshot(second);
            var ex = Assert.Throws<ArgumentException>(() => Fit(second, Source(8), Source(8, shuffle: false), Options(2, resume: checkpoint)));
            Assert.StartsWith("Cannot resume from '" + checkpoint + "': it was written for the phases [fit|stem,layer1,layer2|0.002|1], this run has [fit|stem,layer1,layer2,layer3|0.002|2] (only epoch counts may change).", ex.Message, StringComparison.Ordinal);
            Assert.All(second.state_dict(), kv => Assert.True(BitwiseEqual(before[kv.Key], kv.Value)));
        }

        [Fact]
        public void LoadState_EntryForAParameterItDoesNotTrain_ThrowsWeightsMismatch()
        {
            using var model = Model();
            var groups = new[] { new ParameterGroup("head", model.named_parameters().Where(p => p.name.StartsWith("fc.", StringComparison.Ordinal)).ToList(), 1e-3) };
            using var optimizer = new AdamWOptimizer(groups, 0.9, 0.999, 1e-8, 0);
            var state = new System.Collections.Generic.Dictionary<string, Tensor> { ["layer4.0.conv1.weight/exp_avg"] = zeros(1) };
            var ex = Assert.Throws<WeightsMismatchException>(() => optimizer.LoadState(state, new System.Collections.Generic.Dictionary<string, long>(), "x.ckpt"));
            Assert.Contains("state for 'layer4.0.conv1.weight', which this phase does not train", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Write_FailsMidStreamOverTheSamePath_PreviousCheckpointStaysIntactAndLoadable()
        {
            using var folder = new TestSupport.TempFolder();
            string checkpoint = folder.File("run.ckpt");
            using var model = Model();
            Fit(model, Source(8), Source(8, shuffle: false), Options(1, checkpoint));
            byte[] good = File.ReadAllBytes(checkpoint);
            Assert.True(good.Length > 100_000, "the checkpoint is large enough to fail in the middle");

            // The next run writes the same path and the disk fills up half-way through the tensors.
            StateDictFile.WriteFaultForTests.Value = s => new FailingStream(s, failAfter: good.Length / 2);
            try
            {
                var ex = Assert.Throws<IOException>(() => Fit(model, Source(8), Source(8, shuffle: false), Options(1, checkpoint)));
                Assert.Equal("disk full (simulated)", ex.Message);
            }
            finally
            {
                StateDictFile.WriteFaultForTests.Value = null;
            }

            Assert.Equal(good, File.ReadAllBytes(checkpoint));
            Assert.Equal(new[] { "run.ckpt" }, Directory.GetFiles(folder.Path).Select(Path.GetFileName));
            using var saved = TrainingCheckpoint.ReadFor(checkpoint, model);
            Assert.Equal(1, saved.State.EpochsDone);
        }

        private static void AssertSameWeights(TransferModel expected, TransferModel actual)
        {
            var a = actual.state_dict();
            foreach (var (key, value) in expected.state_dict())
            {
                Assert.True(BitwiseEqual(value, a[key]), key + " differs");
            }
        }
    }
}
