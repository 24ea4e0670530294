using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedicalTransfer.Data
{
    /// <summary>Multi-label findings, views, and the pre-flight check of a dataset.</summary>
    public sealed partial class ImageDataset
    {
        /// <summary>
        /// The findings of a multi-label dataset (a table with several 0/1 columns or one column of
        /// joined labels), in column order; each sample's <see cref="ImageSample.Findings"/> holds
        /// their states. Empty for a single-label dataset. <see cref="Classes"/> then repeats them,
        /// and <see cref="Statistics"/> counts positives per finding.
        /// </summary>
        public IReadOnlyList<string> Findings { get; }

        /// <summary>Whether this is a multi-label dataset (see <see cref="Findings"/>).</summary>
        public bool IsMultiLabel => Findings.Count > 0;

        /// <summary>Images left out when the dataset was made (table rows whose file is missing, files the pre-flight check found unreadable under <see cref="BadImagePolicy.Skip"/>), and why.</summary>
        public IReadOnlyList<SkippedImage> LeftOut { get; }

        /// <summary>Keeps the images whose <see cref="ImageSample.View"/> is one of <paramref name="views"/> (compared case-insensitively), for example a run on PA images only.</summary>
        /// <param name="views">The views to keep, for example "PA".</param>
        /// <returns>The images of those views; images whose view is unknown are left out.</returns>
        /// <exception cref="ImageDataException">No image has one of those views.</exception>
        public ImageDataset WithViews(params string[] views)
        {
            Guard.NotEmpty(views);
            var wanted = new HashSet<string>(views.Select(v => Guard.NotNullOrWhiteSpace(v, nameof(views)).Trim()), StringComparer.OrdinalIgnoreCase);
            ImageSample[] kept = Samples.Where(s => s.View is not null && wanted.Contains(s.View.Trim())).ToArray();
            if (kept.Length == 0)
            {
                string seen = string.Join(", ", Samples.Select(s => s.View ?? "(none)").Distinct(StringComparer.OrdinalIgnoreCase).Take(10));
                throw new ImageDataException(Root, string.Format(CultureInfo.InvariantCulture, "No image of '{0}' has view {1}; the views found are: {2}. Views come from a table's view column or the DICOM View Position (0018,5101).", Root, string.Join(" or ", wanted), seen));
            }

            return WithSamples(kept);
        }

        /// <summary>
        /// A single-label dataset from one finding of a multi-label dataset: images positive for it
        /// become <paramref name="positiveClass"/>, negative ones <paramref name="negativeClass"/>;
        /// uncertain and missing ones are left out (other policies for them belong to multi-label
        /// training). Class indices follow the ordinal order of the two names, as for folders.
        /// </summary>
        /// <param name="finding">The finding, one of <see cref="Findings"/>.</param>
        /// <param name="negativeClass">The class name of negative images, for example NORMAL.</param>
        /// <param name="positiveClass">The class name of positive images, for example PNEUMONIA.</param>
        /// <returns>The single-label dataset.</returns>
        /// <exception cref="ArgumentException">The dataset is not multi-label, the finding is unknown, or the names are equal.</exception>
        /// <exception cref="ImageDataException">No image is positive, or none negative.</exception>
        public ImageDataset ForFinding(string finding, string negativeClass, string positiveClass)
        {
            Guard.NotNullOrWhiteSpace(finding);
            Guard.NotNullOrWhiteSpace(negativeClass);
            Guard.NotNullOrWhiteSpace(positiveClass);
            if (!IsMultiLabel)
            {
                throw new ArgumentException("ForFinding needs a multi-label dataset (a table with finding columns); this one has classes " + string.Join(", ", Classes) + ".", nameof(finding));
            }

            int index = Findings.ToList().IndexOf(finding);
            if (index < 0)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "'{0}' is not one of the findings ({1}).", finding, string.Join(", ", Findings)), nameof(finding));
            }

            if (string.Equals(negativeClass, positiveClass, StringComparison.Ordinal))
            {
                throw new ArgumentException("The negative and positive class names must differ.", nameof(positiveClass));
            }

            string[] classes = new[] { negativeClass, positiveClass }.OrderBy(c => c, StringComparer.Ordinal).ToArray();
            int positive = Array.IndexOf(classes, positiveClass);
            var kept = new List<ImageSample>();
            foreach (ImageSample sample in Samples)
            {
                FindingState state = sample.Findings![index];
                if (state is FindingState.Positive or FindingState.Negative)
                {
                    kept.Add(sample with { Label = state == FindingState.Positive ? positive : 1 - positive, Findings = null });
                }
            }

            var result = new ImageDataset(Root, classes, kept, IgnoredFileCount, Array.Empty<string>(), LeftOut);
            int[] counts = result.Statistics.Counts.ToArray();
            if (counts.Min() == 0)
            {
                throw new ImageDataException(Root, string.Format(CultureInfo.InvariantCulture, "Finding '{0}' of '{1}' has {2} positive and {3} negative images (uncertain and missing left out); a classifier needs both.", finding, Root, counts[positive], counts[1 - positive]));
            }

            return result;
        }

        /// <summary>
        /// The pre-flight check: reads every file's header (not its pixels) and reports every file
        /// that would fail to decode, with the reason, before training starts: empty, truncated,
        /// corrupt, unsupported (a DICOM transfer syntax, a GIF renamed .png), above the pixel limit,
        /// unreadable. Under <see cref="BadImagePolicy.Throw"/> one <see cref="ImageDataException"/>
        /// lists them all; under <see cref="BadImagePolicy.Skip"/> they are left out and listed in
        /// <see cref="LeftOut"/>. Files are only read.
        /// </summary>
        /// <param name="options">The decoding limits and bad-file policy the loaders will use; <see langword="null"/> for the defaults.</param>
        /// <param name="logger">Receives a warning per bad file and a summary; <see langword="null"/> for none.</param>
        /// <returns>This dataset when every file is good, otherwise one without the bad files (Skip).</returns>
        /// <exception cref="ImageDataException">Some files are bad (Throw): the message lists the first 20 and the count.</exception>
        public ImageDataset Verify(ImageLoadOptions? options = null, ILogger? logger = null)
        {
            options = (options ?? ImageLoadOptions.Default).Validate();
            logger ??= NullLogger.Instance;
            SkippedImage?[] bad = Preflight.Check(Samples.Select(s => s.Path).ToArray(), options);
            int badCount = bad.Count(b => b is not null);
            Log.PreflightDone(logger, Root, Count, badCount);
            if (badCount == 0)
            {
                return this;
            }

            SkippedImage[] list = bad.Where(b => b is not null).Select(b => b!).ToArray();
            if (options.BadImages == BadImagePolicy.Throw)
            {
                throw Preflight.Failure(Root, Count, list);
            }

            foreach (SkippedImage image in list)
            {
                Log.SkippedImage(logger, image.Path, image.Reason);
            }

            var kept = Samples.Where((_, i) => bad[i] is null).ToArray();
            return new ImageDataset(Root, Classes, kept, IgnoredFileCount, Findings, LeftOut.Concat(list).ToArray());
        }

        /// <summary>The same dataset (classes, findings, root) with other samples.</summary>
        internal ImageDataset WithSamples(IReadOnlyList<ImageSample> samples) => new(Root, Classes, samples, 0, Findings, LeftOut);
    }
}
