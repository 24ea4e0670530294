using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MedicalTransfer.Data;
using MedicalTransfer.Training;
using TorchSharp;
using Xunit;
using static MedicalTransfer.Tests.Training.TrainingFixtures;

namespace MedicalTransfer.Tests.Training
{
    [Collection(TrainingCollection.Name)]
    public class MemoryAndLoaderTests
    {
        [Fact]
        public void Fit_200Steps_LiveTensorCountIsFlatAndRssLevelsOff()
        {
            using var model = TinyModel(head: Head.Mlp(16));
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

            // One intra-op thread: on a shared, oversubscribed CI machine OpenMP spinning made this test 10x slower.
            int threads = torch.get_num_threads();
            torch.set_num_threads(1);
            try
            {
                Fit(model, Source(40, batchSize: 4), Source(4, batchSize: 4, shuffle: false), options);
            }
            finally
            {
                torch.set_num_threads(threads);
            }

            Assert.Equal(200, live.Count);
            // After the first step (which creates the optimizer state) every step ends with the same live tensors.
            Assert.All(live.Skip(10), count => Assert.Equal(live[10], count));
            // RSS after a full GC, every 25 steps (measured here: 630 MiB +- 60 MiB from step 25 to 200, no trend).
            Assert.Equal(8, rss.Count);
            long growth = rss[^1] - rss.Take(4).Max();
            Assert.True(growth < 96L << 20, $"RSS at step 200 is {growth >> 20} MiB above the largest of steps 25-100: {string.Join(", ", rss.Select(r => r >> 20))} MiB");
        }

        [Fact]
        public void Fit_DataLoaderOnSyntheticImages_TrainsAndValidatesThroughThePublicPath()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 24, Size = 40, PositiveFraction = 0.5, Seed = 3 });
            var dataset = ImageFolder.Load(folder.Path);
            var split = dataset.Split(new SplitOptions { ValidationFraction = 0.25, TestFraction = 0.2, MinimumValidationPerClass = 1, Seed = 1 });
            var transform = Transforms.Compose(Transforms.Resize(32), Transforms.CenterCrop(32), Transforms.ToTensor());
            using var model = TinyModel(classes: dataset.Classes.ToArray());
            using var train = model.CreateLoader(split.Train, transform, new LoaderOptions { BatchSize = 4, Workers = 1, Seed = 5 });
            using var validation = model.CreateLoader(split.Validation, transform, new LoaderOptions { BatchSize = 4, Workers = 1, Sampling = SamplingMode.Sequential });
            var weights = split.Train.Statistics.InverseFrequencyWeights;
            var initial = Snapshot(model);

            var result = model.Fit(train, validation, new TrainingOptions { Epochs = 2, ClassWeights = weights });

            Assert.Equal(2, result.History.Epochs.Count);
            Assert.All(result.History.Epochs, e => Assert.True(e.ImagesPerSecond > 0));
            Assert.False(BitwiseEqual(initial["fc.weight"], model.state_dict()["fc.weight"]), "the head was trained");
            Assert.False(BitwiseEqual(initial["layer1.0.conv1.weight"], model.state_dict()["layer1.0.conv1.weight"]), "the backbone was trained");

            // The recorded validation loss and accuracy are the final model's on the validation loader's images:
            // the class-weighted cross-entropy of each batch, weighted by its size, and the share predicted right.
            using var noGrad = TorchSharp.torch.no_grad();
            double loss = 0, right = 0;
            int seen = 0;
            using var classWeights = TorchSharp.torch.tensor(weights.ToArray());
            foreach (var batch in validation.GetBatches(0))
            {
                using var scope = TorchSharp.torch.NewDisposeScope();
                using (batch)
                {
                    var logits = model.call(batch.Images);
                    loss += TorchSharp.torch.nn.functional.cross_entropy(logits, batch.Labels, weight: classWeights).item<float>() * (double)batch.Count;
                    right += logits.argmax(1).eq(batch.Labels).sum().item<long>();
                    seen += batch.Count;
                }
            }

            Assert.Equal(split.Validation.Count, seen);
            Assert.Equal(loss / seen, result.History.Epochs[^1].ValidationLoss, 1e-5);
            Assert.Equal(right / seen, result.History.Epochs[^1].ValidationAccuracy, 1e-12);
        }

        [Fact]
        public async Task FitAsync_Cancelled_ThrowsOperationCanceledAndKeepsTheCheckpoint()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 16, Size = 32, PositiveFraction = 0.5, Seed = 4 });
            var dataset = ImageFolder.Load(folder.Path);
            var transform = Transforms.Compose(Transforms.Resize(32), Transforms.ToTensor());
            using var model = TinyModel(classes: dataset.Classes.ToArray());
            var train = model.CreateLoader(dataset, transform, new LoaderOptions { BatchSize = 4, Workers = 1 });
            var validation = model.CreateLoader(dataset, transform, new LoaderOptions { BatchSize = 8, Workers = 1, Sampling = SamplingMode.Sequential });
            using var cts = new CancellationTokenSource();
            string checkpoint = folder.File("run.ckpt");
            var progress = new SyncProgress<TrainingProgress>(p =>
            {
                if (p.Kind == TrainingProgressKind.Epoch)
                {
                    cts.Cancel();
                }
            });

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => model.FitAsync(train, validation, new TrainingOptions { Epochs = 5, CheckpointPath = checkpoint, Progress = progress }, cts.Token));
            using var saved = TrainingCheckpoint.ReadFor(checkpoint, model);
            Assert.Equal(1, saved.State.EpochsDone);
            Assert.True(File.Exists(checkpoint));
        }
    }
}
