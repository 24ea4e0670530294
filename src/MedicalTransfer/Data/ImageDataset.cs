using System;
using System.Collections.Generic;
using System.Linq;
using System.Globalization;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// Labelled image files for training or validation, read from an image folder
    /// (<see cref="ImageFolder.Load"/>) or produced by a split. Nothing is decoded until a
    /// <see cref="DataLoader"/> reads it, and nothing on disk is ever written. Test data has its own
    /// type, <see cref="TestSet"/>, so that it cannot be passed where training or validation data is
    /// expected.
    /// </summary>
    public sealed partial class ImageDataset
    {
        private ClassStatistics? statistics;

        internal ImageDataset(string root, IReadOnlyList<string> classes, IReadOnlyList<ImageSample> samples, int ignoredFileCount)
            : this(root, classes, samples, ignoredFileCount, Array.Empty<string>(), Array.Empty<SkippedImage>())
        {
        }

        internal ImageDataset(string root, IReadOnlyList<string> classes, IReadOnlyList<ImageSample> samples, int ignoredFileCount, IReadOnlyList<string> findings, IReadOnlyList<SkippedImage> leftOut)
        {
            Root = root;
            // Read-only copies: a caller cannot relabel or add files behind the dataset's back.
            Classes = Array.AsReadOnly(classes.ToArray());
            Samples = Array.AsReadOnly(samples.ToArray());
            IgnoredFileCount = ignoredFileCount;
            Findings = Array.AsReadOnly(findings.ToArray());
            LeftOut = Array.AsReadOnly(leftOut.ToArray());
        }

        /// <summary>The folder the images were read from.</summary>
        public string Root { get; }

        /// <summary>Class names in label order (sorted ordinally, as torchvision's ImageFolder sorts them).</summary>
        public IReadOnlyList<string> Classes { get; }

        /// <summary>The images and their labels, in a stable order (class, then folder, then file name, ordinally).</summary>
        public IReadOnlyList<ImageSample> Samples { get; }

        /// <summary>Number of images.</summary>
        public int Count => Samples.Count;

        /// <summary>Files under the class folders that were ignored because they are not .png, .jpg, .jpeg, .bmp or DICOM images.</summary>
        public int IgnoredFileCount { get; }

        /// <summary>Per-class counts, imbalance ratio and inverse-frequency class weights.</summary>
        public ClassStatistics Statistics => statistics ??= IsMultiLabel ? ClassStatistics.OfFindings(Findings, Samples) : new ClassStatistics(Classes, Samples);

        /// <summary>
        /// Splits the images into train, validation and test sets, stratified by class and seeded;
        /// with <see cref="SplitOptions.GroupPattern"/>, all images of a group (a patient) land in
        /// the same split.
        /// </summary>
        /// <param name="options">Fractions, seed and grouping; <see langword="null"/> for the defaults.</param>
        /// <returns>The three sets and a report of per-class counts.</returns>
        /// <exception cref="System.ArgumentException">The options are invalid.</exception>
        /// <exception cref="ImageDataException">A class has too few images (or groups) to give every split one.</exception>
        public DatasetSplits Split(SplitOptions? options = null) => Splitter.Split(this, (options ?? new SplitOptions()).Validate());

        /// <inheritdoc />
        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0} images in {1} classes from {2}", Count, Classes.Count, Root);
    }
}
