using System.Collections.Generic;
using System.Globalization;
using System.Threading;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// Held-out test images. This is deliberately not an <see cref="ImageDataset"/>: training and
    /// validation APIs take <see cref="ImageDataset"/>s, so the test split cannot drive checkpoint
    /// selection, early stopping or learning-rate schedules (the mistake of the article this SDK
    /// generalises). Evaluation reads it through <see cref="GetBatches"/>.
    /// </summary>
    public sealed class TestSet
    {
        internal TestSet(ImageDataset images)
        {
            Images = images;
        }

        /// <summary>Class names in label order.</summary>
        public IReadOnlyList<string> Classes => Images.Classes;

        /// <summary>The images and their labels.</summary>
        public IReadOnlyList<ImageSample> Samples => Images.Samples;

        /// <summary>Number of images.</summary>
        public int Count => Images.Count;

        /// <summary>Per-class counts.</summary>
        public ClassStatistics Statistics => Images.Statistics;

        /// <summary>Images left out when the set was made (see <see cref="ImageDataset.LeftOut"/>).</summary>
        public IReadOnlyList<SkippedImage> LeftOut => Images.LeftOut;

        internal ImageDataset Images { get; }

        /// <summary>
        /// Reads every test image exactly once, in <see cref="Samples"/> order, as batches: the
        /// sampling mode and <see cref="LoaderOptions.DropLast"/> of <paramref name="options"/> are
        /// not used, because an evaluation must see each image once.
        /// </summary>
        /// <param name="transform">The evaluation transform (for example <see cref="Transforms.ForEvaluation"/>).</param>
        /// <param name="options">Batch size, workers, device, decoding; <see langword="null"/> for the defaults.</param>
        /// <param name="cancellationToken">Stops reading.</param>
        /// <returns>The batches; dispose each (or consume it inside a DisposeScope).</returns>
        public IEnumerable<Batch> GetBatches(ImageTransform transform, LoaderOptions? options = null, CancellationToken cancellationToken = default)
        {
            LoaderOptions evaluation = (options ?? new LoaderOptions()) with { Sampling = SamplingMode.Sequential, DropLast = false };
            var loader = new DataLoader(Images, transform, evaluation);
            return DataLoader.Owning(loader, loader.GetBatches(0, cancellationToken));
        }

        /// <inheritdoc />
        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "test set: {0} images in {1} classes", Count, Classes.Count);
    }
}
