using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using MedicalTransfer.Models;
using MedicalTransfer.Training;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using Xunit;
using static MedicalTransfer.Tests.Training.TrainingFixtures;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Training
{
    /// <summary>The training engine on DenseNet and EfficientNet: nothing in it knows which backbone it trains.</summary>
    [Collection(TrainingCollection.Name)]
    public class BackboneTrainingTests
    {
        private static readonly DenseNetArchitecture TinyDenseNet = DenseNetArchitecture.Custom(8, 16, 2, 2, 2, 2);

        private static TransferModel Model(BackboneArchitecture architecture, HeadSpec? head = null, int seed = 1) =>
            TransferBuilder.From(architecture).WithHead(head ?? Head.Linear()).ForClasses("A", "B").OnDevice(CPU).WithSeed(seed).Build();

        /// <summary>One intra-op thread: on a shared, oversubscribed machine OpenMP spinning made these fits up to 10x slower.</summary>
        private static T OneThread<T>(Func<T> run)
        {
            int threads = torch.get_num_threads();
            torch.set_num_threads(1);
            try
            {
                return run();
            }
            finally
            {
                torch.set_num_threads(threads);
            }
        }

        public static IEnumerable<object[]> Backbones() => new[] { new object[] { "densenet:8:16:2,2,2,2" }, new object[] { "efficientnet:b0" } };

        [Theory]
        [MemberData(nameof(Backbones))]
        public void Fit_200Steps_LiveTensorCountIsFlatAndRssLevelsOff(string layout)
        {
            using var model = Model(BackboneCatalog.Parse(layout), Head.Mlp(16));
            var live = new List<long>();
            var rss = new List<long>();
            using var process = Process.GetCurrentProcess();
            var progress = new SyncProgress<TrainingProgress>(p =>
            {
                if (p.Kind == TrainingProgressKind.Batch)
                {
                    live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
                    if (live.Count % 25 == 0)
                    {
                        GC.Collect();
                        GC.WaitForPendingFinalizers();
                        process.Refresh();
                        rss.Add(process.WorkingSet64);
                    }
                }
            });
            var options = new TrainingOptions { Epochs = 20, LearningRate = 1e-3, GradientClipNorm = 1.0, Schedule = LearningRateSchedule.CosineWithWarmup(), Progress = progress, AutoFreeze = new AutoFreezeOptions { Threshold = 1e-12 } };
            OneThread(() => Fit(model, Source(40, batchSize: 4), Source(4, batchSize: 4, shuffle: false), options));

            Assert.Equal(200, live.Count);
            Assert.All(live.Skip(10), count => Assert.Equal(live[10], count));
            Assert.Equal(8, rss.Count);
            long growth = rss[^1] - rss.Take(4).Max();
            Assert.True(growth < 96L << 20, $"RSS at step 200 is {growth >> 20} MiB above the largest of steps 25-100: {string.Join(", ", rss.Select(r => r >> 20))} MiB");
        }

        [Theory]
        [MemberData(nameof(Backbones))]
        public void Fit_TinyTask_LossFallsAndFrozenStagesStayBitwiseUnchanged(string layout)
        {
            using var model = Model(BackboneCatalog.Parse(layout));
            model.Freeze(Layers.UpTo(1));
            var before = Snapshot(model);
            var frozen = model.named_parameters().Where(p => !p.parameter.requires_grad).Select(p => p.name).ToHashSet();
            var result = OneThread(() => Fit(model, Source(32), Source(16, shuffle: false, seed: 8), new TrainingOptions { Epochs = 4, LearningRate = 3e-3, Schedule = LearningRateSchedule.Constant() }));
            var epochs = result.History.Epochs;
            Assert.True(epochs[^1].TrainLoss < epochs[0].TrainLoss, $"train loss {epochs[0].TrainLoss} -> {epochs[^1].TrainLoss}");
            Assert.NotEmpty(frozen);
            foreach (var (key, value) in model.state_dict())
            {
                bool inFrozenStage = frozen.Any(f => key[..key.LastIndexOf('.')] == f[..f.LastIndexOf('.')]);
                if (inFrozenStage)
                {
                    Assert.True(BitwiseEqual(before[key], value), key + " is in a frozen stage but changed (weights or BatchNorm statistics)");
                }
            }

            Assert.Contains(model.state_dict(), kv => !BitwiseEqual(before[kv.Key], kv.Value));
        }

        [Fact]
        public void FitProgressive_ArticlePhasesOnDenseNet_FreezeTheDenseNetsStages()
        {
            using var model = Model(TinyDenseNet);
            var result = OneThread(() => Progressive(model, Source(16), Source(8, shuffle: false), TrainingPhases.Article(1, 1, 1), new TrainingOptions()));
            var phases = result.History.Events.Where(e => e.Kind == "phase").Select(e => e.Message).ToArray();
            Assert.Contains("freeze Layers.All [stem, denseblock1, denseblock2, denseblock3, denseblock4]", phases[0], StringComparison.Ordinal);
            Assert.Contains("freeze Layers.UpTo(2) [stem, denseblock1, denseblock2]", phases[1], StringComparison.Ordinal);
            Assert.Equal(new[] { "stem", "denseblock1", "denseblock2" }, result.History.Epochs[1].Frozen);
            Assert.True(result.FinalFreeze.IsEmpty);
        }

        [Fact]
        public void AutoFreeze_EfficientNetDefaultLastStage_FreezesUpToStage7NeverTheHeadConvolution()
        {
            using var model = Model(EfficientNetArchitecture.ForWidth(0));
            var result = OneThread(() => Fit(model, Source(16), Source(8, shuffle: false), new TrainingOptions { Epochs = 3, AutoFreeze = new AutoFreezeOptions { Threshold = 1e9 } }));
            Assert.Equal(new[] { "stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7" }, result.FinalFreeze.Targets);
            Assert.True(model.named_parameters().Where(p => p.name.StartsWith("features.8.", StringComparison.Ordinal)).All(p => p.parameter.requires_grad));
        }

        [Fact]
        public void AutoFreeze_StageOfAnotherBackbone_IsRefusedBeforeTraining()
        {
            using var model = Model(TinyDenseNet);
            var ex = Assert.Throws<ArgumentException>(() => Fit(model, Source(8), Source(8, shuffle: false), new TrainingOptions { Epochs = 1, AutoFreeze = new AutoFreezeOptions { LastFreezableStage = "layer3" } }));
            Assert.Contains("AutoFreeze.LastFreezableStage is 'layer3', which is not a stage of DenseNet (growth 8, 2-2-2-2)", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Fit_DiscriminativeRatesOnDenseNet_OneGroupPerTrainableStageScaledFromTheLast()
        {
            using var model = Model(TinyDenseNet);
            model.Freeze(Layers.UpTo(2));
            var result = Fit(model, Source(8), Source(8, shuffle: false), new TrainingOptions { Epochs = 1, LearningRate = 1e-3, Schedule = LearningRateSchedule.Constant(), StageLearningRates = StageLearningRates.Discriminative() });
            var rates = result.History.Epochs[0].LearningRates;
            Assert.Equal(3, rates.Count);
            Assert.Equal(1e-3 / 3, rates[0], 15);
            Assert.Equal(1e-3, rates[1], 15);
            Assert.Equal(1e-2, rates[2], 15);
            var factors = StageLearningRates.Discriminative().FactorsFor(TinyDenseNet);
            Assert.Equal(1.0 / 81, factors["stem"], 15);
        }

        [Fact]
        public void RankLayerImportance_DenseNetBlocks_CoversEveryDenseLayerAndTransitionAndTheirNamesFreeze()
        {
            using var model = Model(TinyDenseNet);
            var before = Snapshot(model);
            var report = OneThread(() => LayerImportanceExtensions.Rank(model, Source(8, shuffle: false), ImportanceGranularity.Blocks, NullLogger.Instance, default));
            var expected = new[] { "stem" }
                .Concat(Enumerable.Range(1, 4).SelectMany(b => new[] { $"denseblock{b}.denselayer1", $"denseblock{b}.denselayer2", b < 4 ? $"denseblock{b}.transition" : "denseblock4.norm" }))
                .OrderBy(n => n, StringComparer.Ordinal);
            Assert.Equal(expected, report.Ranking.Select(r => r.Name).OrderBy(n => n, StringComparer.Ordinal));
            Assert.All(model.state_dict(), kv => Assert.True(BitwiseEqual(before[kv.Key], kv.Value), kv.Key));
            model.Freeze(report.FreezeLeastImportant(3));
            Assert.Equal(3, model.FreezeSpec.Targets.Count);
        }

        [Fact]
        public void Resume_DenseNetProgressiveRunExtendedByAnEpoch_EqualsTheUninterruptedRunBitwise()
        {
            // Checkpoints record each phase's freeze spec resolved for the backbone; only epoch counts may change on resume.
            using var folder = new TestSupport.TempFolder();
            string checkpoint = folder.File("run.ckpt");
            TrainingOptions Options(string? save = null, string? resume = null) => new() { Seed = 42, Schedule = LearningRateSchedule.Constant(), CheckpointPath = save, ResumeFrom = resume };
            TrainingPhase[] Phases(int topEpochs) => new[] { new TrainingPhase("probe", Layers.All, 1e-3, 1), new TrainingPhase("top", Layers.UpTo(2), 1e-3, topEpochs) };
            using var straight = Model(TinyDenseNet, Head.Mlp(16, inputDropout: 0.3));
            var full = OneThread(() => Progressive(straight, Source(16), Source(8, shuffle: false), Phases(2), Options()));
            using var interrupted = Model(TinyDenseNet, Head.Mlp(16, inputDropout: 0.3));
            OneThread(() => Progressive(interrupted, Source(16), Source(8, shuffle: false), Phases(1), Options(checkpoint)));
            using var resumed = Model(TinyDenseNet, Head.Mlp(16, inputDropout: 0.3));
            var rest = OneThread(() => Progressive(resumed, Source(16), Source(8, shuffle: false), Phases(2), Options(checkpoint, checkpoint)));
            Assert.Equal(3, rest.History.Epochs.Count);
            Assert.Equal(full.History.Epochs.Select(e => e.TrainLoss), rest.History.Epochs.Select(e => e.TrainLoss));
            Assert.All(straight.state_dict(), kv => Assert.True(BitwiseEqual(kv.Value, resumed.state_dict()[kv.Key]), kv.Key));
        }
    }
}
