using System;
using System.Linq;
using MedicalTransfer.Training;
using Xunit;
using static MedicalTransfer.Tests.Training.TrainingFixtures;

namespace MedicalTransfer.Tests.Training
{
    [Collection(TrainingCollection.Name)]
    public class ProgressiveTests
    {
        [Fact]
        public void Article_Preset_IsHeadThenLayer3Layer4HeadThenEverything()
        {
            var phases = TrainingPhases.Article();
            Assert.Equal(new[] { 1e-3, 1e-4, 1e-5 }, phases.Select(p => p.LearningRate));
            Assert.Equal(Layers.All, phases[0].Freeze);
            Assert.Equal(new[] { "stem", "layer1", "layer2" }, phases[1].Freeze.For(MedicalTransfer.Models.ResNetArchitecture.ForDepth(18)).Targets);
            Assert.True(phases[2].Freeze.IsEmpty);
        }

        [Fact]
        public void FitProgressive_ThreePhases_FreshOptimizerPerPhaseAndBoundariesInHistory()
        {
            using var model = TinyModel();
            var before = Snapshot(model);
            var trainableCounts = new System.Collections.Generic.List<long>();
            var observer = new PhaseObserver(c => trainableCounts.Add(c.Model.parameters().Where(p => p.requires_grad).Sum(p => p.numel())));
            var phases = TrainingPhases.Article(headEpochs: 2, partialEpochs: 1, fullEpochs: 1);
            var result = Progressive(model, Source(16), Source(8, shuffle: false), phases, new TrainingOptions { Schedule = LearningRateSchedule.Constant(), Callbacks = new[] { observer } });

            var epochs = result.History.Epochs;
            Assert.Equal(new[] { 1, 1, 2, 3 }, epochs.Select(e => e.Phase));
            Assert.Equal(new[] { 1, 2, 1, 1 }, epochs.Select(e => e.PhaseEpoch));
            Assert.Equal(new[] { 1e-3, 1e-3, 1e-4, 1e-5 }, epochs.Select(e => e.LearningRates[0]));
            Assert.Equal(3, result.History.Events.Count(e => e.Kind == "phase"));
            Assert.Equal(new[] { 0, 2, 3 }, result.History.Events.Where(e => e.Kind == "phase").Select(e => e.Epoch));

            long head = model.named_parameters().Where(p => p.name.StartsWith("fc.", StringComparison.Ordinal)).Sum(p => p.parameter.numel());
            long all = model.parameters().Sum(p => p.numel());
            Assert.Equal(head, trainableCounts[0]);
            Assert.True(trainableCounts[1] > head && trainableCounts[1] < all);
            Assert.Equal(all, trainableCounts[2]);
            Assert.True(model.FreezeSpec.IsEmpty);
        }

        [Fact]
        public void FitProgressive_PhaseEarlyStopping_EndsOnlyThatPhase()
        {
            using var model = TinyModel();
            var phases = new[]
            {
                new TrainingPhase("head", Layers.All, 1e-3, 5) { EarlyStopping = new EarlyStoppingOptions { Patience = 1, MinDelta = 10 } },
                new TrainingPhase("all", Layers.None, 1e-4, 1),
            };
            var result = Progressive(model, Source(8), Source(8, shuffle: false), phases, new TrainingOptions());
            Assert.Equal(new[] { 1, 1, 2 }, result.History.Epochs.Select(e => e.Phase));
            Assert.False(result.StoppedEarly);
        }

        [Fact]
        public void FitProgressive_BestCheckpoint_ChoosesAcrossPhases()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = TinyModel();
            var best = new BestCheckpoint(folder.File("best.safetensors"));
            var phases = TrainingPhases.Article(headEpochs: 1, partialEpochs: 1, fullEpochs: 1);
            var result = Progressive(model, Source(16), Source(8, shuffle: false), phases, new TrainingOptions { Callbacks = new[] { best } });
            Assert.Equal(result.History.Epochs.OrderBy(e => e.ValidationLoss).First().Epoch, best.BestEpoch);
            Assert.Equal(result.BestEpoch!.Epoch, best.BestEpoch);
        }

        [Fact]
        public void FitProgressive_InvalidPhases_ListsEveryProblem()
        {
            using var model = TinyModel();
            var phases = new[] { new TrainingPhase("", Layers.All, -1, 0), new TrainingPhase("x", Layers.Only("layer1.5"), 1e-3, 1) };
            var ex = Assert.Throws<ArgumentException>(() => Progressive(model, Source(8), Source(8), phases, new TrainingOptions()));
            Assert.Contains("Phase 1 (''): Name must not be empty.", ex.Message, StringComparison.Ordinal);
            Assert.Contains("LearningRate must be a positive number; found -1.", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Epochs must be at least 1; found 0.", ex.Message, StringComparison.Ordinal);
            Assert.Contains("'layer1.5' does not exist", ex.Message, StringComparison.Ordinal);
        }

        private sealed class PhaseObserver : ITrainingCallback
        {
            private readonly Action<TrainingContext> onPhase;

            public PhaseObserver(Action<TrainingContext> onPhase) => this.onPhase = onPhase;

            public void OnPhaseBegin(TrainingContext context) => onPhase(context);
        }
    }
}
