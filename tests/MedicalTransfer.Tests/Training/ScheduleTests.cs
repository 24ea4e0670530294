using MedicalTransfer.Training;
using Xunit;

namespace MedicalTransfer.Tests.Training
{
    [Collection(TrainingCollection.Name)]
    public class ScheduleTests
    {
        // Reference values: torch 1.13 OneCycleLR(max_lr=1, total_steps=10, pct_start=0.3, div_factor=25,
        // final_div_factor=1e4, anneal_strategy='cos', cycle_momentum=False), printed by make_schedule_reference.py.
        [Theory]
        [InlineData(0, 0.04)]
        [InlineData(1, 0.52)]
        [InlineData(2, 1.0)]
        [InlineData(5, 0.61126)]
        [InlineData(9, 4e-6)]
        public void OneCycle_MatchesPyTorchOneCycleLR(int step, double expected)
        {
            Assert.Equal(expected, LearningRateSchedule.OneCycle().Factor(step, 10), 4);
        }

        [Fact]
        public void CosineWithWarmup_RisesLinearlyThenAnnealsToMin()
        {
            var schedule = LearningRateSchedule.CosineWithWarmup(warmupFraction: 0.2, minFactor: 0.1);
            Assert.Equal(0.5, schedule.Factor(0, 10), 12);
            Assert.Equal(1.0, schedule.Factor(1, 10), 12);
            Assert.Equal(1.0, schedule.Factor(2, 10), 12);
            Assert.Equal(0.1 + (0.9 * 0.5 * (1 + System.Math.Cos(System.Math.PI * 3 / 7.0))), schedule.Factor(5, 10), 12);
            Assert.Equal(0.1, schedule.Factor(9, 10), 12);
        }

        [Fact]
        public void ReduceOnPlateau_NoImprovementBeyondPatience_HalvesTheScale()
        {
            var schedule = (PlateauSchedule)LearningRateSchedule.ReduceOnPlateau(factor: 0.5, patience: 2);
            var state = new PlateauState();
            Assert.False(state.Observe(schedule, 1.0));
            Assert.False(state.Observe(schedule, 1.0));
            Assert.False(state.Observe(schedule, 1.0));
            Assert.True(state.Observe(schedule, 1.0));
            Assert.Equal(0.5, state.Scale);
            Assert.False(state.Observe(schedule, 0.5));
            Assert.Equal(0.5, state.Scale);
        }

        [Fact]
        public void Validate_BadValues_ListsEveryProblemInOneMessage()
        {
            var options = new TrainingOptions { Epochs = 0, LearningRate = -1, LabelSmoothing = 1.5, Schedule = LearningRateSchedule.OneCycle(pctStart: 2), ClassWeights = new[] { 1f } };
            var ex = Assert.Throws<System.ArgumentException>(() => options.Validate(classCount: 2));
            Assert.Contains("Epochs must be at least 1; found 0.", ex.Message, System.StringComparison.Ordinal);
            Assert.Contains("LearningRate must be a positive number; found -1.", ex.Message, System.StringComparison.Ordinal);
            Assert.Contains("LabelSmoothing must be in [0, 1); found 1.5.", ex.Message, System.StringComparison.Ordinal);
            Assert.Contains("OneCycle pctStart must be in (0, 1); found 2.", ex.Message, System.StringComparison.Ordinal);
            Assert.Contains("ClassWeights has 1 entries but the model has 2 classes", ex.Message, System.StringComparison.Ordinal);
        }
    }
}
