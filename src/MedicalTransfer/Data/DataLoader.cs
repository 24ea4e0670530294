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
    public sealed class DataLoader
    {
        private readonly ImageDataset dataset;
        private readonly ImageTransform transform;
        private readonly ConcurrentDictionary<int, FloatImage>? cache;

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
            if (Options.CacheShorterSide is not null)
            {
                cache = new ConcurrentDictionary<int, FloatImage>();
            }
        }

        /// <summary>The options in use.</summary>
        public LoaderOptions Options { get; }

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
        public IEnumerable<Batch> GetBatches(int epoch, CancellationToken cancellationToken = default)
        {
            Guard.InRange(epoch, 0, int.MaxValue);
            return Enumerate(epoch, cancellationToken);
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

            if (!cache.TryGetValue(index, out FloatImage? cached))
            {
                FloatImage decoded = ImageDecoder.Decode(path, Options.Decoding);
                int side = Options.CacheShorterSide!.Value;
                if (Math.Min(decoded.Width, decoded.Height) > side)
                {
                    (int w, int h) = ResizeTransform.ShorterSideSize(decoded.Width, decoded.Height, side);
                    FloatImage small = Resampler.Resize(decoded, w, h);
                    decoded.Dispose();
                    decoded = small;
                }

                cached = cache.GetOrAdd(index, decoded);
                if (!ReferenceEquals(cached, decoded))
                {
                    decoded.Dispose();
                }
            }

            return cached.Clone();
        }

        private IEnumerable<Batch> Enumerate(int epoch, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var run = new EpochRun(this, epoch, EpochOrder(epoch), cancellationToken);
            Batch? batch;
            while ((batch = run.Next()) is not null)
            {
                yield return batch;
            }
        }
    }
}
