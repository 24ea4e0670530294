using System;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;

namespace MedicalTransfer.Data
{
    /// <summary>In which order a <see cref="DataLoader"/> visits the images of an epoch.</summary>
    public enum SamplingMode
    {
        /// <summary>Every image once, in dataset order (validation and evaluation).</summary>
        Sequential,

        /// <summary>Every image once, in an order shuffled by (seed, epoch).</summary>
        Shuffle,

        /// <summary>
        /// As many draws as there are images, with replacement, each picking a class uniformly and
        /// then an image of that class uniformly (torch's <c>WeightedRandomSampler</c> with
        /// inverse-frequency weights): every class is seen about equally often.
        /// </summary>
        ClassBalanced,
    }

    /// <summary>How a <see cref="DataLoader"/> batches, orders, decodes and places images.</summary>
    public sealed record LoaderOptions
    {
        /// <summary>Images per batch.</summary>
        /// <value>The default is 32 (the reference article's).</value>
        public int BatchSize { get; init; } = 32;

        /// <summary>Order of the images in an epoch.</summary>
        /// <value>The default is <see cref="SamplingMode.Shuffle"/>.</value>
        public SamplingMode Sampling { get; init; } = SamplingMode.Shuffle;

        /// <summary>Whether a last batch smaller than <see cref="BatchSize"/> is left out (useful with BatchNorm).</summary>
        /// <value>The default is <see langword="false"/>.</value>
        public bool DropLast { get; init; }

        /// <summary>Seed of the shuffle and of every random transform; the same seed gives the same batches whatever <see cref="Workers"/> is.</summary>
        /// <value>The default is 0.</value>
        public int Seed { get; init; }

        /// <summary>Threads that decode and transform images while the consumer trains.</summary>
        /// <value>The default is the number of processors, at most 4.</value>
        public int Workers { get; init; } = Math.Min(Environment.ProcessorCount, 4);

        /// <summary>How many batches the workers may prepare ahead of the consumer; memory is bounded by this many batches.</summary>
        /// <value>The default is 2.</value>
        public int PrefetchBatches { get; init; } = 2;

        /// <summary>Device the batch tensors are placed on.</summary>
        /// <value>The default is <see langword="null"/>: the CPU.</value>
        public torch.Device? Device { get; init; }

        /// <summary>
        /// When set, each decoded image is resized once so that its shorter side is at most this
        /// many pixels and kept in memory for the next epochs (for small datasets: it costs
        /// about 4 bytes per pixel per image). Pick it at least as large as the first resize or
        /// crop of the pipeline.
        /// </summary>
        /// <value>The default is <see langword="null"/>: no cache, every epoch decodes again.</value>
        public int? CacheShorterSide { get; init; }

        /// <summary>
        /// The most memory the <see cref="CacheShorterSide"/> cache may hold, in bytes (4 per pixel and channel of
        /// each cached image). Images that do not fit are decoded (and resized) again every epoch instead; the
        /// results are the same either way. <see cref="DataLoader.Dispose"/> releases the cache.
        /// </summary>
        /// <value>The default is 2 GiB.</value>
        public long CacheMaxBytes { get; init; } = 2L << 30;

        /// <summary>Decoding limits and the policy for bad files.</summary>
        /// <value>The default is <see cref="ImageLoadOptions.Default"/>: 64 megapixels, throw on a bad file.</value>
        public ImageLoadOptions Decoding { get; init; } = ImageLoadOptions.Default;

        /// <summary>Receives a warning per skipped file.</summary>
        /// <value>The default is <see cref="NullLogger.Instance"/>.</value>
        public ILogger Logger { get; init; } = NullLogger.Instance;

        /// <summary>
        /// Lets model verbs (<c>Fit</c>, <c>FitProgressive</c>, <c>RankLayerImportance</c>) accept this loader although its
        /// normalisation (channel order, pixel scale, mean, standard deviation) differs from the model's
        /// <see cref="TransferModel.Preprocessing"/>. Only for pipelines that are meant to differ; a loader built with
        /// <c>model.CreateLoader</c> always matches.
        /// </summary>
        /// <value>The default is <see langword="false"/>: such a loader is refused with an <see cref="ArgumentException"/> naming both normalisations.</value>
        public bool SkipNormalizationCheck { get; init; }

        /// <summary>
        /// For a multi-label dataset: what each finding's uncertain labels become in the targets (missing labels are always
        /// masked). Training records it in the history and the saved model. Not used for single-label datasets.
        /// </summary>
        /// <value>The default is <see cref="UncertaintyPolicy.Ignore"/> (U-Ignore: uncertain labels masked out of the loss).</value>
        public UncertaintyPolicy Uncertainty { get; init; } = UncertaintyPolicy.Ignore;

        internal LoaderOptions Validate()
        {
            Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "at least 1");
            Check(Enum.IsDefined(Sampling), nameof(Sampling), Sampling, "Sequential, Shuffle or ClassBalanced");
            Check(Workers >= 1 && Workers <= 256, nameof(Workers), Workers, "from 1 to 256");
            Check(PrefetchBatches >= 1, nameof(PrefetchBatches), PrefetchBatches, "at least 1");
            Check(CacheShorterSide is null or > 0, nameof(CacheShorterSide), CacheShorterSide, "positive or null");
            Check(CacheMaxBytes > 0, nameof(CacheMaxBytes), CacheMaxBytes, "positive");
            if (Uncertainty is null)
            {
                throw new ArgumentException("LoaderOptions.Uncertainty is null; give a policy such as UncertaintyPolicy.Ignore.", nameof(Uncertainty));
            }

            if (Decoding is null)
            {
                throw new ArgumentNullException(nameof(Decoding));
            }

            if (Logger is null)
            {
                throw new ArgumentNullException(nameof(Logger));
            }

            Decoding.Validate();
            return this;
        }

        private static void Check(bool ok, string name, object? value, string expected)
        {
            if (!ok)
            {
                throw new ArgumentOutOfRangeException(name, value, string.Format(CultureInfo.InvariantCulture, "LoaderOptions.{0} must be {1}; found {2}.", name, expected, value ?? "null"));
            }
        }
    }
}
