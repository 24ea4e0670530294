using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using MedicalTransfer.Models;
using MedicalTransfer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Training
{
    /// <summary>Tiny models and in-memory data for fast training tests (32x32 inputs, one block per stage).</summary>
    internal static class TrainingFixtures
    {
        public static TransferModel TinyModel(int seed = 1, HeadSpec? head = null, params string[] classes)
        {
            return TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
                .WithHead(head ?? Head.Linear())
                .ForClasses(classes.Length == 0 ? new[] { "A", "B" } : classes)
                .OnDevice(CPU)
                .WithSeed(seed)
                .Build();
        }

        /// <summary>
        /// n images [3, size, size]: class 1 images are brighter in the centre, so a network can learn the
        /// task; deterministic from the seed.
        /// </summary>
        public static (Tensor Images, Tensor Labels) MakeData(int n, int size = 32, int seed = 7, int classes = 2)
        {
            var generator = new Generator((ulong)seed);
            var images = randn(new long[] { n, 3, size, size }, generator: generator);
            var labels = arange(n, dtype: ScalarType.Int64) % classes;
            using (no_grad())
            {
                for (int i = 0; i < n; i++)
                {
                    long label = labels[i].item<long>();
                    images[i, TensorIndex.Colon, TensorIndex.Slice(size / 4, (3 * size) / 4), TensorIndex.Slice(size / 4, (3 * size) / 4)].add_(1.5 * label);
                }
            }

            return (images, labels);
        }

        public static TensorBatchSource Source(int n, int batchSize = 8, bool shuffle = true, int seed = 7, int dataSeed = 3, int classes = 2)
        {
            var (images, labels) = MakeData(n, seed: seed, classes: classes);
            return new TensorBatchSource(images, labels, batchSize, shuffle, dataSeed);
        }

        public static TrainingResult Fit(TransferModel model, IBatchSource train, IBatchSource validation, TrainingOptions options, CancellationToken token = default) =>
            TransferModelTrainingExtensions.FitCore(model, train, validation, options, token);

        public static TrainingResult Progressive(TransferModel model, IBatchSource train, IBatchSource validation, IReadOnlyList<TrainingPhase> phases, TrainingOptions options, CancellationToken token = default) =>
            new Trainer(model, train, validation, phases, options).Run(token);

        /// <summary>Copies of every state-dict tensor, by key.</summary>
        public static Dictionary<string, Tensor> Snapshot(nn.Module module) =>
            module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

        public static bool BitwiseEqual(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.Equals(b);

        /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool).</summary>
        public sealed class SyncProgress<T> : IProgress<T>
        {
            private readonly Action<T> action;

            public SyncProgress(Action<T> action) => this.action = action;

            public void Report(T value) => action(value);
        }

        /// <summary>A source that makes the images of one (epoch, batch) NaN.</summary>
        public sealed class PoisonedSource : IBatchSource
        {
            private readonly TensorBatchSource inner;
            private readonly int epoch;
            private readonly int batch;

            public PoisonedSource(TensorBatchSource inner, int epoch, int batch)
            {
                this.inner = inner;
                this.epoch = epoch;
                this.batch = batch;
            }

            public int BatchesPerEpoch => inner.BatchesPerEpoch;

            public int Seed => inner.Seed;

            public MedicalTransfer.Data.DataQualityReport? Quality => null;

            public IEnumerable<ITrainingBatch> GetBatches(int epochIndex, CancellationToken cancellationToken)
            {
                int i = 0;
                foreach (var b in inner.GetBatches(epochIndex, cancellationToken))
                {
                    i++;
                    yield return epochIndex == epoch && i == batch ? new NaNBatch(b) : b;
                }
            }

            private sealed class NaNBatch : ITrainingBatch
            {
                private readonly ITrainingBatch inner;

                public NaNBatch(ITrainingBatch inner) => this.inner = inner;

                public Tensor Images => inner.Images * float.NaN;

                public Tensor Labels => inner.Labels;

                public int Count => inner.Count;

                public IReadOnlyList<int> Indices => inner.Indices;

                public void Dispose() => inner.Dispose();
            }
        }
    }
}
