using System;
using System.Linq;
using MedicalTransfer.Training;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using static MedicalTransfer.Tests.Training.TrainingFixtures;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Training
{
    [Collection(TrainingCollection.Name)]
    public class AdaptiveFreezingTests
    {
        [Fact]
        public void RankLayerImportance_Stages_RestoresWeightsBitExactlyAndIsDeterministic()
        {
            using var model = TinyModel();
            Fit(model, Source(16), Source(8, shuffle: false), new TrainingOptions { Epochs = 1, LearningRate = 1e-2 });
            model.train();
            var before = Snapshot(model);
            var validation = Source(16, shuffle: false, seed: 12);
            var first = LayerImportanceExtensions.Rank(model, validation, ImportanceGranularity.Stages, NullLogger.Instance, default);
            var second = LayerImportanceExtensions.Rank(model, validation, ImportanceGranularity.Stages, NullLogger.Instance, default);

            Assert.All(model.state_dict(), kv => Assert.True(BitwiseEqual(before[kv.Key], kv.Value), kv.Key));
            Assert.True(model.training);
            Assert.Equal(new[] { "layer1", "layer2", "layer3", "layer4", "stem" }, first.Ranking.Select(r => r.Name).OrderBy(n => n, StringComparer.Ordinal));
            Assert.Equal(first.Ranking, second.Ranking);
            Assert.Equal(first.Ranking.Select(r => r.Increase).OrderByDescending(x => x), first.Ranking.Select(r => r.Increase));

            // Independently: a copy of the model with the unit's parameters zeroed, the mean cross-entropy of the
            // validation batches in evaluation mode.
            Assert.Equal(ValidationLoss(before, validation, _ => false), first.BaselineLoss, 1e-5);
            foreach (var unit in first.Ranking)
            {
                string[] prefixes = unit.Name == "stem" ? new[] { "conv1.", "bn1." } : new[] { unit.Name + "." };
                double ablated = ValidationLoss(before, validation, name => prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)));
                Assert.Equal(ablated, unit.AblatedLoss, 1e-5);
                Assert.Equal(ablated - first.BaselineLoss, unit.Increase, 1e-5);
            }

            Assert.Contains(first.Ranking, r => Math.Abs(r.Increase) > 1e-3);
        }

        private static double ValidationLoss(System.Collections.Generic.Dictionary<string, Tensor> state, TensorBatchSource validation, Func<string, bool> zeroed)
        {
            using var copy = TinyModel();
            using (no_grad())
            {
                var parameters = copy.state_dict();
                foreach (var (name, value) in state)
                {
                    parameters[name].copy_(value);
                }

                foreach (var (name, parameter) in copy.named_parameters())
                {
                    if (zeroed(name))
                    {
                        parameter.zero_();
                    }
                }
            }

            copy.eval();
            using var noGrad = no_grad();
            double sum = 0;
            int count = 0;
            foreach (var batch in validation.GetBatches(0, default))
            {
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    sum += nn.functional.cross_entropy(copy.call(batch.Images), batch.Labels).item<float>() * (double)batch.Count;
                    count += batch.Count;
                }
            }

            return sum / count;
        }

        [Fact]
        public void FreezeLeastImportant_FreezesTheBottomOfTheRankingAndKeepsTheTop()
        {
            var report = new LayerImportanceReport(1.0, new[]
            {
                new LayerImportance("layer4", 3.0, 2.0),
                new LayerImportance("layer3", 2.0, 1.0),
                new LayerImportance("stem", 1.5, 0.5),
                new LayerImportance("layer1", 1.1, 0.1),
                new LayerImportance("layer2", 1.0, 0.0),
            });
            Assert.Equal(new[] { "layer1", "layer2" }, report.FreezeLeastImportant(2).Targets);
            Assert.Equal(new[] { "stem", "layer1", "layer2" }, report.KeepMostImportant(2).Targets);
            Assert.True(report.FreezeLeastImportant(0).IsEmpty);
        }

        [Fact]
        public void RankLayerImportance_Blocks_CoversEveryBlock()
        {
            using var model = TinyModel();
            var report = LayerImportanceExtensions.Rank(model, Source(8, shuffle: false), ImportanceGranularity.Blocks, NullLogger.Instance, default);
            Assert.Equal(new[] { "layer1.0", "layer2.0", "layer3.0", "layer4.0", "stem" }, report.Ranking.Select(r => r.Name).OrderBy(n => n, StringComparer.Ordinal));
        }

        [Fact]
        public void AutoFreeze_LowThresholdNeverMet_FreezesNothing()
        {
            using var model = TinyModel();
            var result = Fit(model, Source(16), Source(8, shuffle: false), new TrainingOptions { Epochs = 3, AutoFreeze = new AutoFreezeOptions { Threshold = 1e-12 } });
            Assert.DoesNotContain(result.History.Events, e => e.Kind == "auto-freeze");
            Assert.True(model.FreezeSpec.IsEmpty);
        }

        [Fact]
        public void AutoFreeze_HugeThreshold_FreezesFrontToBackUpToTheLastFreezableStageNeverTheHead()
        {
            using var model = TinyModel();
            var before = Snapshot(model);
            var result = Fit(model, Source(16), Source(8, shuffle: false), new TrainingOptions { Epochs = 3, AutoFreeze = new AutoFreezeOptions { Threshold = 1e9, LastFreezableStage = "layer2" } });
            var frozen = result.History.Events.Where(e => e.Kind == "auto-freeze").ToList();
            Assert.Equal(3, frozen.Count);
            Assert.All(frozen, e => Assert.Equal(2, e.Epoch));
            Assert.StartsWith("froze stem", frozen[0].Message, StringComparison.Ordinal);
            Assert.StartsWith("froze layer1", frozen[1].Message, StringComparison.Ordinal);
            Assert.StartsWith("froze layer2", frozen[2].Message, StringComparison.Ordinal);
            Assert.Equal(new[] { "stem", "layer1", "layer2" }, result.FinalFreeze.Targets);
            Assert.Equal(new[] { "stem", "layer1", "layer2" }, result.History.Epochs[2].Frozen);
            Assert.True(model.named_parameters().Where(p => p.name.StartsWith("fc.", StringComparison.Ordinal)).All(p => p.parameter.requires_grad));
            Assert.True(model.named_parameters().Where(p => p.name.StartsWith("layer3.", StringComparison.Ordinal)).All(p => p.parameter.requires_grad));
        }

        [Fact]
        public void AutoFreeze_FrozenStage_DoesNotChangeAfterFreezing()
        {
            using var folder = new TestSupport.TempFolder();
            string checkpoint = folder.File("run.ckpt");
            using var model = TinyModel();
            Fit(model, Source(16), Source(8, shuffle: false), new TrainingOptions { Epochs = 2, CheckpointPath = checkpoint, AutoFreeze = new AutoFreezeOptions { Threshold = 1e9, LastFreezableStage = "stem" } });
            var afterFreeze = Snapshot(model);
            using var resumed = TinyModel();
            Fit(resumed, Source(16), Source(8, shuffle: false), new TrainingOptions { Epochs = 4, CheckpointPath = checkpoint, ResumeFrom = checkpoint, AutoFreeze = new AutoFreezeOptions { Threshold = 1e9, LastFreezableStage = "stem" } });
            Assert.Equal(new[] { "stem" }, resumed.FreezeSpec.Targets);
            Assert.True(BitwiseEqual(afterFreeze["conv1.weight"], resumed.state_dict()["conv1.weight"]));
            Assert.True(BitwiseEqual(afterFreeze["bn1.running_mean"], resumed.state_dict()["bn1.running_mean"]));
            Assert.False(BitwiseEqual(afterFreeze["layer1.0.conv1.weight"], resumed.state_dict()["layer1.0.conv1.weight"]));
        }

        [Fact]
        public void CacheFrozenFeatures_LinearProbe_MatchesUncachedTraining()
        {
            var options = new TrainingOptions { Epochs = 3, LearningRate = 1e-2, Schedule = LearningRateSchedule.Constant() };
            using var plain = TinyModel();
            plain.Freeze(Layers.All);
            var expected = Fit(plain, Source(16), Source(8, shuffle: false), options);
            using var cached = TinyModel();
            cached.Freeze(Layers.All);
            var actual = Fit(cached, Source(16), Source(8, shuffle: false), options with { CacheFrozenFeatures = true });
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(expected.History.Epochs[i].TrainLoss, actual.History.Epochs[i].TrainLoss, 5);
                Assert.Equal(expected.History.Epochs[i].ValidationLoss, actual.History.Epochs[i].ValidationLoss, 5);
            }

            Assert.True(plain.state_dict()["fc.weight"].allclose(cached.state_dict()["fc.weight"], rtol: 1e-4, atol: 1e-6));
        }
    }
}
