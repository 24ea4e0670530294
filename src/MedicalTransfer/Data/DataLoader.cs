using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// Turns an <see cref="ImageDataset"/> into batches: worker threads decode and transform images
    /// ahead of the consumer (at most <see cref="LoaderOptions.PrefetchBatches"/> batches ahead),
    /// and batch tensors are created on the consumer's thread when it reads them. Per-sample random
    /// streams are derived from (seed, epoch, position), so results do not depend on the number of
    /// workers.
    /// <code>
    /// var loader = new DataLoader(splits.Train, Transforms.ForTraining(Preprocessing.ImageNet));
    /// foreach (Batch batch in loader.GetBatches(epoch))
    /// {
    ///     using var scope = torch.NewDisposeScope();
    ///     var loss = criterion.forward(model.forward(batch.Images), batch.Labels);
    /// }
    /// </code>
    /// </summary>
    public sealed class DataLoader : IDisposable
    {
        private readonly ImageDataset dataset;
        private readonly ImageTransform transform;
        private readonly ConcurrentDictionary<int, FloatImage>? cache;
        private readonly MultiLabelTargets? targets;
        private readonly object cacheGate = new();
        private long cachedBytes;
        private int runningEpochs;
        private bool cacheFullLogged;
        private bool disposed;

        /// <summary>Creates a loader; nothing is read until <see cref="GetBatches"/> is enumerated.</summary>
        /// <param name="dataset">Training or validation images.</param>
        /// <param name="transform">The pipeline applied to every image; it must produce one fixed size (end with a crop or an exact resize).</param>
        /// <param name="options">Batching, sampling, workers, device, cache, decoding; <see langword="null"/> for the defaults.</param>
        /// <exception cref="ArgumentException">An option is out of range.</exception>
        public DataLoader(ImageDataset dataset, ImageTransform transform, LoaderOptions? options = null)
        {
            this.dataset = Guard.NotNull(dataset);
            this.transform = Guard.NotNull(transform);
            Options = (options ?? new LoaderOptions()).Validate();
            if (dataset.IsMultiLabel)
            {
                targets = MultiLabelTargets.Create(dataset, Options);
            }

            Normalization = InputNormalization.Of(transform);
            if (Options.CacheShorterSide is not null)
            {
                cache = new ConcurrentDictionary<int, FloatImage>();
            }
        }

        /// <summary>What the pipeline's last normalisation step maps pixels to (the identity when it has none).</summary>
        internal InputNormalization Normalization { get; }

        /// <summary>The options in use.</summary>
        public LoaderOptions Options { get; }

        /// <summary>
        /// Whether the dataset is multi-label: batches then carry <see cref="Batch.Targets"/> and <see cref="Batch.TargetMask"/>
        /// [N, findings] made by <see cref="LoaderOptions.Uncertainty"/>, and their <see cref="Batch.Labels"/> are not defined.
        /// </summary>
        public bool IsMultiLabel => targets is not null;

        /// <summary>The findings of a multi-label dataset, in the order of the targets' columns; empty for a single-label dataset.</summary>
        public IReadOnlyList<string> Findings => dataset.Findings;

        /// <summary>
        /// Per-finding positive weights for the multi-label loss, <c>negatives / positives</c> over this loader's observed
        /// targets (after <see cref="LoaderOptions.Uncertainty"/>; masked labels not counted): pass a training loader's to
        /// <c>TrainingOptions.PositiveWeights</c> so each finding's positives weigh as much as its negatives. A finding
        /// without positives or negatives gets 1.
        /// </summary>
        /// <returns>One weight per finding.</returns>
        /// <exception cref="InvalidOperationException">The dataset is single-label (use its <c>Statistics.InverseFrequencyWeights</c>).</exception>
        public IReadOnlyList<float> PositiveWeights() =>
            (targets ?? throw new InvalidOperationException("PositiveWeights is defined for multi-label datasets; this one is single-label: use dataset.Statistics.InverseFrequencyWeights as TrainingOptions.ClassWeights.")).PositiveWeights();

        /// <summary>Files skipped so far under <see cref="BadImagePolicy.Skip"/>.</summary>
        public DataQualityReport Report { get; } = new();

        /// <summary>Number of batches an epoch yields (files already known to be bad are not counted).</summary>
        public int BatchesPerEpoch
        {
            get
            {
                int n = dataset.Count - Report.SkippedCount;
                return Options.DropLast ? n / Options.BatchSize : (n + Options.BatchSize - 1) / Options.BatchSize;
            }
        }

        /// <summary>
        /// Reads one epoch. Enumerate it on the thread that trains: each <see cref="Batch"/> creates
        /// its tensors there, on first access. Leaving the loop early stops the workers.
        /// </summary>
        /// <param name="epoch">Epoch number; with the seed it fixes the order and the augmentation.</param>
        /// <param name="cancellationToken">Stops the workers; the enumeration then throws <see cref="OperationCanceledException"/>.</param>
        /// <returns>The batches of the epoch.</returns>
        /// <exception cref="ImageDataException">A file cannot be decoded (under <see cref="BadImagePolicy.Throw"/>).</exception>
        /// <exception cref="ObjectDisposedException">The loader was disposed.</exception>
        public IEnumerable<Batch> GetBatches(int epoch, CancellationToken cancellationToken = default)
        {
            Guard.InRange(epoch, 0, int.MaxValue);
            ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed), this);
            return Enumerate(epoch, cancellationToken);
        }

        /// <summary>Images in the cache now.</summary>
        internal int CachedImages => cache?.Count ?? 0;

        /// <summary>Workers waiting because they are <see cref="LoaderOptions.PrefetchBatches"/> ahead of the consumer (tests wait for it instead of sleeping).</summary>
#pragma warning disable CA1051 // incremented by the epoch's workers with Interlocked
        internal int ParkedWorkers;
#pragma warning restore CA1051

        /// <summary>Bytes the cached images hold now.</summary>
        internal long CachedBytes => cache?.Values.Sum(i => (long)i.Length * sizeof(float)) ?? 0;

        /// <summary>
        /// Returns the cached images' buffers (<see cref="LoaderOptions.CacheShorterSide"/>) to their pool; later
        /// calls to <see cref="GetBatches"/> throw. An epoch being read when the loader is disposed finishes first.
        /// </summary>
        public void Dispose()
        {
            lock (cacheGate)
            {
                if (disposed)
                {
                    return;
                }

                Volatile.Write(ref disposed, true);
                if (runningEpochs > 0)
                {
                    return; // the last epoch to end releases the cache
                }
            }

            ReleaseCache();
        }

        internal int Label(int index) => dataset.Samples[index].Label;

        internal int[] EpochOrder(int epoch)
        {
            int n = dataset.Count;
            SampleRandom random = SampleRandom.For(Options.Seed, epoch, -1);
            switch (Options.Sampling)
            {
                case SamplingMode.Shuffle:
                    int[] order = Enumerable.Range(0, n).ToArray();
                    random.Shuffle(order);
                    return order.Where(i => !Report.IsSkipped(i)).ToArray();
                case SamplingMode.ClassBalanced:
                    int[][] byClass = Enumerable.Range(0, dataset.Classes.Count)
                        .Select(c => Enumerable.Range(0, n).Where(i => dataset.Samples[i].Label == c && !Report.IsSkipped(i)).ToArray())
                        .Where(members => members.Length > 0)
                        .ToArray();
                    int draws = byClass.Sum(m => m.Length);
                    var drawn = new int[draws];
                    for (int k = 0; k < draws; k++)
                    {
                        int[] members = byClass[random.NextInt(byClass.Length)];
                        drawn[k] = members[random.NextInt(members.Length)];
                    }

                    return drawn;
                default:
                    return Enumerable.Range(0, n).Where(i => !Report.IsSkipped(i)).ToArray();
            }
        }

        /// <summary>Decodes (or takes from the cache) and transforms one sample; the caller owns the result.</summary>
        internal FloatImage? Prepare(int index, int epoch, int position)
        {
            ImageSample sample = dataset.Samples[index];
            FloatImage image;
            try
            {
                image = Decode(index, sample.Path);
            }
            catch (ImageDataException e) when (Options.Decoding.BadImages == BadImagePolicy.Skip)
            {
                if (Report.Add(index, new SkippedImage(sample.Path, e.Message)))
                {
                    Log.SkippedImage(Options.Logger, sample.Path, e.Message);
                }

                return null;
            }

            SampleRandom random = SampleRandom.For(Options.Seed, epoch, position);
            try
            {
                return transform.Apply(image, ref random).ToChannels(transform.OutputChannels ?? 3);
            }
            catch (Exception e) when (e is not ImageDataException and not OutOfMemoryException)
            {
                throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "The transform {0} failed on '{1}': {2}", transform, sample.Path, e.Message), e);
            }
        }

        private FloatImage Decode(int index, string path)
        {
            if (cache is null)
            {
                return ImageDecoder.Decode(path, Options.Decoding);
            }

            // Cached images stay until the loader is disposed, which waits for running epochs: reading one is safe.
            if (cache.TryGetValue(index, out FloatImage? cached))
            {
                return cached.Clone();
            }

            FloatImage decoded = ImageDecoder.Decode(path, Options.Decoding);
            int side = Options.CacheShorterSide!.Value;
            if (Math.Min(decoded.Width, decoded.Height) > side)
            {
                (int w, int h) = ResizeTransform.ShorterSideSize(decoded.Width, decoded.Height, side);
                FloatImage small = Resampler.Resize(decoded, w, h);
                decoded.Dispose();
                decoded = small;
            }

            long bytes = (long)decoded.Length * sizeof(float);
            lock (cacheGate)
            {
                if (!disposed && cachedBytes + bytes <= Options.CacheMaxBytes && cache.TryAdd(index, decoded))
                {
                    cachedBytes += bytes;
                    return decoded.Clone();
                }

                if (!disposed && !cacheFullLogged && !cache.ContainsKey(index))
                {
                    cacheFullLogged = true;
                    Log.CacheFull(Options.Logger, Options.CacheMaxBytes, cache.Count);
                }
            }

            // Not kept (the cache is full, or another worker cached it first): the same pixels, owned by the caller.
            return decoded;
        }

        /// <summary>The batches of a loader made for one pass; the loader is disposed when the pass ends.</summary>
        internal static IEnumerable<Batch> Owning(DataLoader loader, IEnumerable<Batch> batches)
        {
            using (loader)
            {
                foreach (Batch batch in batches)
                {
                    yield return batch;
                }
            }
        }

        private void ReleaseCache()
        {
            if (cache is null)
            {
                return;
            }

            lock (cacheGate)
            {
                foreach (FloatImage image in cache.Values)
                {
                    image.Dispose();
                }

                cache.Clear();
                cachedBytes = 0;
            }
        }

        private IEnumerable<Batch> Enumerate(int epoch, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (cacheGate)
            {
                ObjectDisposedException.ThrowIf(disposed, this);
                runningEpochs++;
            }

            try
            {
                using var run = new EpochRun(this, epoch, EpochOrder(epoch), cancellationToken);
                Batch? batch;
                while ((batch = run.Next()) is not null)
                {
                    targets?.AttachTo(batch);
                    yield return batch;
                }
            }
            finally
            {
                bool release;
                lock (cacheGate)
                {
                    release = --runningEpochs == 0 && disposed;
                }

                if (release)
                {
                    ReleaseCache();
                }
            }
        }
    }
}
