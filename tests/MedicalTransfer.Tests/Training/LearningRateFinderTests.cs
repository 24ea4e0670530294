using System;
using System.Linq;
using MedicalTransfer.Training;
using Xunit;
using static MedicalTransfer.Tests.Training.TrainingFixtures;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Training
{
    [Collection(TrainingCollection.Name)]
    public sealed class LearningRateFinderTests
    {
        [Fact]
        public void FindLearningRate_TinyTask_RestoresWeightsBatchNormStatisticsModeAndRandomStateBitForBit()
        {
            // Dropout in the head draws from the global generator; BatchNorm layers update running statistics.
            using var model = TinyModel(head: Head.Mlp(16, inputDropout: 0.3, hiddenDropout: 0.2));
            model.eval();
            random.manual_seed(123);
            var before = Snapshot(model);
            using var rngBefore = random.get_rng_state();

            var result = TransferModelLearningRateExtensions.FindCore(model, Source(24, batchSize: 8), new LearningRateFinderOptions { MaxBatches = 12, EndLearningRate = 1 }, default);

            Assert.Equal(12, result.Points.Count);
            Assert.All(model.state_dict(), kv => Assert.True(BitwiseEqual(before[kv.Key], kv.Value), kv.Key + " changed"));
            Assert.False(model.training);
            using var rngAfter = random.get_rng_state();
            Assert.True(BitwiseEqual(rngBefore, rngAfter), "the random generator state was not restored");

            // The test did train: the running statistics moved during it (so restoring them is what kept them).
            Assert.Contains(result.Points, p => p.Loss != result.Points[0].Loss);
        }

        [Fact]
        public void FindLearningRate_Rates_GrowExponentiallyFromStartToEnd()
        {
            using var model = TinyModel();
            var options = new LearningRateFinderOptions { StartLearningRate = 1e-6, EndLearningRate = 1e-2, MaxBatches = 10, DivergenceFactor = 1e9 };

            var result = TransferModelLearningRateExtensions.FindCore(model, Source(16, batchSize: 8), options, default);

            Assert.Equal(10, result.Points.Count);
            Assert.False(result.Diverged);
            for (int i = 0; i < 10; i++)
            {
                double expected = 1e-6 * Math.Pow(1e4, i / 9.0);
                Assert.True(Math.Abs(result.Points[i].LearningRate - expected) <= 1e-12 * expected, $"rate {i}: {result.Points[i].LearningRate} vs {expected}");
            }

            // Bias-corrected exponential moving average, beta 0.98 (fastai's SmoothenValue).
            double average = 0;
            for (int i = 0; i < 10; i++)
            {
                average = (0.98 * average) + (0.02 * result.Points[i].Loss);
                Assert.Equal(average / (1 - Math.Pow(0.98, i + 1)), result.Points[i].SmoothedLoss, 12);
            }
        }

        [Fact]
        public void FindLearningRate_RateFarTooHigh_StopsAtDivergence()
        {
            using var model = TinyModel();
            var options = new LearningRateFinderOptions { StartLearningRate = 1e-3, EndLearningRate = 1e6, MaxBatches = 60, Smoothing = 0.5 };

            var result = TransferModelLearningRateExtensions.FindCore(model, Source(16, batchSize: 8), options, default);

            Assert.True(result.Diverged);
            Assert.True(result.Points.Count < 60, $"ran all {result.Points.Count} batches");
            var last = result.Points[^1].SmoothedLoss;
            Assert.True(!double.IsFinite(last) || last > 4 * result.Points.Take(result.Points.Count - 1).Min(p => p.SmoothedLoss));
        }

        [Fact]
        public void Suggestions_KnownCurve_MatchFastaisValleyAndSteep()
        {
            // lr_find_reference.py (fastai 2.7's valley and steep, transcribed) prints: valley 9 steep 10.
            double[] losses =
            {
                2.00, 1.99, 1.98, 2.01, 1.97, 1.96, 1.95, 1.94, 1.90, 1.80, 1.70, 1.40, 1.30, 1.20, 1.10,
                1.05, 1.02, 1.00, 0.99, 1.01, 1.10, 1.30, 1.60, 2.00, 2.50, 3.00, 3.60, 4.20, 5.00, 6.00,
            };
            var points = losses.Select((l, i) => new LearningRatePoint(1e-6 * Math.Pow(1e6, i / 29.0), l, l)).ToArray();

            var result = LearningRateFinderResult.Create(points, plannedBatches: 30, diverged: false);

            Assert.Equal(9, result.ValleyIndex);
            Assert.Equal(10, result.SteepestIndex);
            Assert.Equal(points[9].LearningRate, result.Valley);
            Assert.Equal(points[10].LearningRate, result.Steepest);
        }

        [Fact]
        public void FindLearningRate_EverythingFrozen_ThrowsBeforeTraining()
        {
            using var model = TinyModel();
            foreach (var parameter in model.parameters())
            {
                parameter.requires_grad = false;
            }

            var ex = Assert.Throws<InvalidOperationException>(() => TransferModelLearningRateExtensions.FindCore(model, Source(8), new LearningRateFinderOptions(), default));
            Assert.StartsWith("The model trains nothing", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Options_Invalid_ListsEveryProblem()
        {
            var ex = Assert.Throws<ArgumentException>(() => new LearningRateFinderOptions { StartLearningRate = 0, MaxBatches = 3, Smoothing = 1 }.Validate());
            Assert.Contains("StartLearningRate must be positive", ex.Message, StringComparison.Ordinal);
            Assert.Contains("MaxBatches must be at least 10", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Smoothing must be in [0, 1)", ex.Message, StringComparison.Ordinal);
        }
    }
}
