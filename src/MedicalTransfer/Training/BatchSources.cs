using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using static TorchSharp.torch;

namespace MedicalTransfer.Training
{
    /// <summary>One batch as the trainer sees it; its tensors are created in the caller's DisposeScope.</summary>
    internal interface ITrainingBatch : IDisposable
    {
        Tensor Images { get; }

        Tensor Labels { get; }

        /// <summary>Multi-label targets [N, findings] (float32).</summary>
        Tensor Targets => throw new System.InvalidOperationException("This batch has no multi-label targets.");

        /// <summary>Multi-label observed mask [N, findings] (float32, 1 observed).</summary>
        Tensor TargetMask => throw new System.InvalidOperationException("This batch has no multi-label targets.");

        int Count { get; }

        /// <summary>Dataset index of each image (for the frozen-feature cache).</summary>
        IReadOnlyList<int> Indices { get; }
    }

    /// <summary>Where the trainer's batches come from: the data pipeline's <see cref="DataLoader"/>, or tensors in tests.</summary>
    internal interface IBatchSource
    {
        int BatchesPerEpoch { get; }

        /// <summary>The seed that fixes the order and augmentation of every epoch (recorded in checkpoints).</summary>
        int Seed { get; }

        IEnumerable<ITrainingBatch> GetBatches(int epoch, CancellationToken cancellationToken);

        /// <summary>Images the source skipped as unreadable (under the loader's skip policy), or <see langword="null"/> for in-memory tensors.</summary>
        DataQualityReport? Quality { get; }

        /// <summary>The findings of multi-label batches, in column order; empty for single-label ones.</summary>
        IReadOnlyList<string> Findings => Array.Empty<string>();

        /// <summary>How uncertain labels became targets, for multi-label sources.</summary>
        UncertaintyPolicy? Uncertainty => null;
    }

    /// <summary>Adapts the data pipeline's loader.</summary>
    internal sealed class LoaderBatchSource : IBatchSource
    {
        private readonly DataLoader loader;

        public LoaderBatchSource(DataLoader loader) => this.loader = loader;

        public int BatchesPerEpoch => loader.BatchesPerEpoch;

        public int Seed => loader.Options.Seed;

        public DataQualityReport? Quality => loader.Report;

        public IReadOnlyList<string> Findings => loader.IsMultiLabel ? loader.Findings : Array.Empty<string>();

        public UncertaintyPolicy? Uncertainty => loader.IsMultiLabel ? loader.Options.Uncertainty : null;

        public IEnumerable<ITrainingBatch> GetBatches(int epoch, CancellationToken cancellationToken) =>
            loader.GetBatches(epoch, cancellationToken).Select(b => (ITrainingBatch)new LoaderBatch(b));

        private sealed class LoaderBatch : ITrainingBatch
        {
            private readonly Batch batch;

            public LoaderBatch(Batch batch) => this.batch = batch;

            public Tensor Images => batch.Images;

            public Tensor Labels => batch.Labels;

            public Tensor Targets => batch.Targets;

            public Tensor TargetMask => batch.TargetMask;

            public int Count => batch.Count;

            public IReadOnlyList<int> Indices => batch.Indices;

            public void Dispose() => batch.Dispose();
        }
    }

    /// <summary>Batches sliced from in-memory tensors, shuffled per epoch from (seed, epoch) when asked: for tests and benchmarks.</summary>
    internal sealed class TensorBatchSource : IBatchSource
    {
        private readonly Tensor images;
        private readonly Tensor labels;
        private readonly Tensor? targets;
        private readonly Tensor? mask;
        private readonly int batchSize;
        private readonly bool shuffle;

        public TensorBatchSource(Tensor images, Tensor labels, int batchSize, bool shuffle = false, int seed = 0)
        {
            this.images = images;
            this.labels = labels;
            this.batchSize = batchSize;
            this.shuffle = shuffle;
            Seed = seed;
        }

        /// <summary>A multi-label source: targets and mask [N, findings] float32.</summary>
        public TensorBatchSource(Tensor images, Tensor targets, Tensor mask, IReadOnlyList<string> findings, int batchSize, bool shuffle = false, int seed = 0, UncertaintyPolicy? uncertainty = null)
            : this(images, zeros(images.shape[0], dtype: ScalarType.Int64), batchSize, shuffle, seed)
        {
            this.targets = targets;
            this.mask = mask;
            Findings = findings;
            Uncertainty = uncertainty ?? UncertaintyPolicy.Ignore;
        }

        public IReadOnlyList<string> Findings { get; } = Array.Empty<string>();

        public UncertaintyPolicy? Uncertainty { get; }

        public int Count => (int)images.shape[0];

        public DataQualityReport? Quality => null;

        public int BatchesPerEpoch => (Count + batchSize - 1) / batchSize;

        public int Seed { get; }

        public IEnumerable<ITrainingBatch> GetBatches(int epoch, CancellationToken cancellationToken)
        {
            int[] order = Enumerable.Range(0, Count).ToArray();
            if (shuffle)
            {
                new Random(unchecked((Seed * 1_000_003) + epoch)).Shuffle(order);
            }

            for (int start = 0; start < Count; start += batchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return new SliceBatch(this, order.Skip(start).Take(batchSize).ToArray());
            }
        }

        private sealed class SliceBatch : ITrainingBatch
        {
            private readonly TensorBatchSource source;
            private readonly int[] indices;

            public SliceBatch(TensorBatchSource source, int[] indices)
            {
                this.source = source;
                this.indices = indices;
            }

            public Tensor Images => source.images.index_select(0, tensor(indices.Select(i => (long)i).ToArray()));

            public Tensor Labels => source.labels.index_select(0, tensor(indices.Select(i => (long)i).ToArray()));

            public Tensor Targets => source.targets!.index_select(0, tensor(indices.Select(i => (long)i).ToArray()));

            public Tensor TargetMask => source.mask!.index_select(0, tensor(indices.Select(i => (long)i).ToArray()));

            public int Count => indices.Length;

            public IReadOnlyList<int> Indices => indices;

            public void Dispose()
            {
            }
        }
    }
}
