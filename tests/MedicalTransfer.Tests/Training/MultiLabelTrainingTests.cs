using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Data;
using MedicalTransfer.Models;
using MedicalTransfer.Training;
using TorchSharp;
using Xunit;
using static MedicalTransfer.Tests.Training.TrainingFixtures;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Training
{
    [Collection(TrainingCollection.Name)]
    public class MultiLabelTrainingTests
    {
        internal static readonly string[] Findings = { "Left opacity", "Right opacity", "Cardiomegaly" };

        internal static TransferModel TinyMultiLabel(int seed = 1, HeadSpec? head = null) =>
            TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).WithHead(head ?? Head.Linear()).ForFindings(Findings).OnDevice(CPU).WithSeed(seed).Build();

        /// <summary>n images [3, 32, 32] with independent findings (a bright left or right half, a bright centre); about one label in six masked.</summary>
        internal static TensorBatchSource MultiSource(int n, int batchSize = 8, bool shuffle = true, int seed = 7, int dataSeed = 3, UncertaintyPolicy? policy = null)
        {
            var generator = new Generator((ulong)seed);
            var images = randn(new long[] { n, 3, 32, 32 }, generator: generator);
            var targets = (rand(new long[] { n, 3 }, generator: generator) < 0.45).to(ScalarType.Float32);
            var mask = (rand(new long[] { n, 3 }, generator: generator) > 0.17).to(ScalarType.Float32);
            using (no_grad())
            {
                for (int i = 0; i < n; i++)
                {
                    images[i, TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(0, 16)].add_(1.5 * targets[i, 0].item<float>());
                    images[i, TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(16, 32)].add_(1.5 * targets[i, 1].item<float>());
                    images[i, TensorIndex.Colon, TensorIndex.Slice(10, 22), TensorIndex.Slice(10, 22)].add_(2.0 * targets[i, 2].item<float>());
                }
            }

            return new TensorBatchSource(images, targets, mask, Findings, batchSize, shuffle, dataSeed, policy);
        }

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

        [Theory]
        [InlineData("plain")]
        [InlineData("pos_weight")]
        [InlineData("pos_weight_smoothing")]
        public void MaskedLoss_FixtureLogits_EqualsPyTorch(string variant)
        {
            var loss = MedicalTransfer.Tests.Evaluation.MultiLabelReportTests.Reference().GetProperty("loss");
            float[] F(string name) => loss.GetProperty(name).EnumerateArray().Select(e => e.GetSingle()).ToArray();
            using var scope = NewDisposeScope();
            var logits = tensor(F("logits")).reshape(6, 4);
            var targets = tensor(F("targets")).reshape(6, 4);
            var mask = tensor(F("mask")).reshape(6, 4);
            var weights = variant == "plain" ? null : tensor(F("pos_weight"));

            var value = MultiLabelLoss.Masked(logits, targets, mask, weights, variant.EndsWith("smoothing", StringComparison.Ordinal) ? 0.1 : 0).item<float>();

            Assert.Equal(loss.GetProperty("values").GetProperty(variant).GetDouble(), value, 1e-6);
        }

        [Fact]
        public void MaskedLoss_MaskedLabels_DoNotChangeTheLossOrTheirGradient()
        {
            using var scope = NewDisposeScope();
            var logits = tensor(new float[] { 0.3f, -1.2f, 2.0f, 0.5f }).reshape(2, 2).requires_grad_(true);
            var mask = tensor(new float[] { 1, 0, 1, 1 }).reshape(2, 2);
            var a = MultiLabelLoss.Masked(logits, tensor(new float[] { 1, 0, 0, 1 }).reshape(2, 2), mask, null, 0);
            var b = MultiLabelLoss.Masked(logits, tensor(new float[] { 1, 1, 0, 1 }).reshape(2, 2), mask, null, 0);
            Assert.Equal(a.item<float>(), b.item<float>());
            a.backward();
            Assert.Equal(0f, logits.grad!.reshape(-1)[1].item<float>());
        }

        [Fact]
        public void Fit_MultiLabelTask_LossFallsMeanValidationAucRecordedAndPolicyInHistoryAndModel()
        {
            using var model = TinyMultiLabel(head: Head.Mlp(16));
            var policy = UncertaintyPolicy.Zeros.With("Cardiomegaly", UncertainLabel.Ones);

            var result = OneThread(() => Fit(model, MultiSource(32, policy: policy), MultiSource(16, shuffle: false, seed: 9, policy: policy), new TrainingOptions { Epochs = 4, LearningRate = 3e-3, Seed = 5, PositiveWeights = new[] { 1.2f, 1f, 0.8f }, LabelSmoothing = 0.05 }));

            var epochs = result.History.Epochs;
            Assert.True(epochs[^1].TrainLoss < epochs[0].TrainLoss, string.Join(", ", epochs.Select(e => e.TrainLoss)));
            Assert.All(epochs, e => Assert.InRange(e.ValidationAuc!.Value, 0, 1));
            Assert.All(epochs, e => Assert.InRange(e.TrainAccuracy, 0, 1));
            var task = Assert.Single(result.History.Events, e => e.Kind == "task");
            Assert.Contains("U-Zeros (Cardiomegaly: U-Ones); missing masked", task.Message, StringComparison.Ordinal);
            Assert.Contains("Cardiomegaly 0.8", task.Message, StringComparison.Ordinal);
            Assert.Equal(policy, model.UncertaintyPolicy);
        }

        [Fact]
        public void Validate_MultiLabel_MeanAucEqualsTheReportsMacroAurocOnTheSameProbabilities()
        {
            using var model = TinyMultiLabel();
            var validation = MultiSource(24, shuffle: false, seed: 11);
            var result = Fit(model, MultiSource(16), validation, new TrainingOptions { Epochs = 1, Seed = 1 });

            model.eval();
            var probabilities = new List<double>();
            var positive = new List<bool>();
            var observed = new List<bool>();
            using (no_grad())
            {
                foreach (var batch in validation.GetBatches(0, default))
                {
                    using var scope = NewDisposeScope();
                    probabilities.AddRange(sigmoid(model.forward(batch.Images).to(ScalarType.Float64)).data<double>().ToArray());
                    positive.AddRange(batch.Targets.data<float>().ToArray().Select(t => t > 0.5f));
                    observed.AddRange(batch.TargetMask.data<float>().ToArray().Select(m => m > 0));
                }
            }

            var report = MedicalTransfer.Evaluation.MultiLabelReport.Compute(new MedicalTransfer.Evaluation.MultiLabelPredictions(Findings, probabilities, positive, observed));
            Assert.Equal(report.MacroAuroc, result.History.Epochs[0].ValidationAuc!.Value, 1e-9);
        }

        [Fact]
        public void BestCheckpoint_MultiLabelOnValidationAuc_KeepsTheEpochWithTheHighestMeanAuroc()
        {
            using var folder = new TestSupport.TempFolder();
            string best = folder.File("best.safetensors");
            using var model = TinyMultiLabel();
            var callback = new BestCheckpoint(best, TrainingMetric.ValidationAuc);
            var result = OneThread(() => Fit(model, MultiSource(24), MultiSource(16, shuffle: false, seed: 9), new TrainingOptions { Epochs = 3, LearningRate = 3e-3, Seed = 2, Callbacks = new ITrainingCallback[] { callback } }));

            int bestEpoch = result.History.Epochs.OrderByDescending(e => e.ValidationAuc).ThenBy(e => e.Epoch).First().Epoch;
            Assert.Equal(bestEpoch, callback.BestEpoch);
            using var loaded = TransferModel.Load(best, CPU);
            Assert.Equal(TaskKind.MultiLabel, loaded.TaskKind);
            Assert.Equal(UncertaintyPolicy.Ignore, loaded.UncertaintyPolicy);
        }

        [Fact]
        public void Resume_MultiLabelRunExtendedByAnEpoch_EqualsTheUninterruptedRunBitwise()
        {
            using var folder = new TestSupport.TempFolder();
            string checkpoint = folder.File("run.ckpt");
            TrainingOptions Options(int epochs, string? save = null, string? resume = null) => new() { Epochs = epochs, Seed = 42, LearningRate = 1e-3, Schedule = LearningRateSchedule.Constant(), PositiveWeights = new[] { 2f, 1f, 0.5f }, CheckpointPath = save, ResumeFrom = resume };
            using var straight = TinyMultiLabel(head: Head.Mlp(16, inputDropout: 0.3));
            var full = OneThread(() => Fit(straight, MultiSource(16), MultiSource(8, shuffle: false), Options(3)));
            using var interrupted = TinyMultiLabel(head: Head.Mlp(16, inputDropout: 0.3));
            OneThread(() => Fit(interrupted, MultiSource(16), MultiSource(8, shuffle: false), Options(2, checkpoint)));
            using var resumed = TinyMultiLabel(head: Head.Mlp(16, inputDropout: 0.3));
            var rest = OneThread(() => Fit(resumed, MultiSource(16), MultiSource(8, shuffle: false), Options(3, checkpoint, checkpoint)));

            Assert.Equal(3, rest.History.Epochs.Count);
            Assert.Equal(full.History.Epochs.Select(e => e.TrainLoss), rest.History.Epochs.Select(e => e.TrainLoss));
            Assert.Equal(full.History.Epochs.Select(e => e.ValidationAuc), rest.History.Epochs.Select(e => e.ValidationAuc));
            Assert.Single(rest.History.Events, e => e.Kind == "task");
            Assert.All(straight.state_dict(), kv => Assert.True(BitwiseEqual(kv.Value, resumed.state_dict()[kv.Key]), kv.Key));
        }

        [Fact]
        public void Fit_MultiLabel100Steps_LiveTensorCountIsFlat()
        {
            using var model = TinyMultiLabel(head: Head.Mlp(16));
            var live = new List<long>();
            var progress = new SyncProgress<TrainingProgress>(p =>
            {
                if (p.Kind == TrainingProgressKind.Batch)
                {
                    live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
                }
            });
            var options = new TrainingOptions { Epochs = 10, LearningRate = 1e-3, PositiveWeights = new[] { 1f, 2f, 3f }, LabelSmoothing = 0.1, Progress = progress };

            OneThread(() => Fit(model, MultiSource(40, batchSize: 4), MultiSource(4, batchSize: 4, shuffle: false), options));

            Assert.Equal(100, live.Count);
            Assert.All(live.Skip(10), count => Assert.Equal(live[10], count));
        }

        [Fact]
        public void Fit_MultiLabelModelOnSingleLabelData_RefusedNamingTheTask()
        {
            using var model = TinyMultiLabel();
            var ex = Assert.Throws<ArgumentException>(() => Fit(model, Source(8), Source(8), new TrainingOptions { Epochs = 1 }));
            Assert.Contains("The model is multi-label (findings Left opacity, Right opacity, Cardiomegaly) but the training loader is single-label", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Fit_SingleLabelModelOnMultiLabelData_RefusedPointingToForFindings()
        {
            using var model = TinyModel();
            var ex = Assert.Throws<ArgumentException>(() => Fit(model, MultiSource(8), MultiSource(8), new TrainingOptions { Epochs = 1 }));
            Assert.Contains("build it with ForFindings(dataset.Findings)", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Fit_MultiLabelWithClassWeights_RefusedPointingToPositiveWeights()
        {
            using var model = TinyMultiLabel();
            var ex = Assert.Throws<ArgumentException>(() => Fit(model, MultiSource(8), MultiSource(8), new TrainingOptions { Epochs = 1, ClassWeights = new[] { 1f, 1f, 1f } }));
            Assert.Contains("give TrainingOptions.PositiveWeights", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void RankLayerImportance_MultiLabel_UsesTheMaskedLossAndLeavesWeightsUnchanged()
        {
            using var model = TinyMultiLabel();
            var before = Snapshot(model);
            var report = LayerImportanceExtensions.Rank(model, MultiSource(8, shuffle: false), ImportanceGranularity.Stages, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, default);
            Assert.True(double.IsFinite(report.BaselineLoss));
            Assert.All(model.state_dict(), kv => Assert.True(BitwiseEqual(before[kv.Key], kv.Value), kv.Key));
        }
    }
}
