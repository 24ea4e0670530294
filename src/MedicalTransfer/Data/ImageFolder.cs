using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// Reads image-folder datasets: one subfolder per class (<c>root/NORMAL/*.jpeg</c>,
    /// <c>root/PNEUMONIA/*.jpeg</c>), or a split layout with <c>train/</c>, <c>val/</c> and
    /// <c>test/</c> folders that each hold the class folders (the Kaggle chest X-ray layout). Class
    /// names are sorted ordinally, as torchvision's <c>ImageFolder</c> sorts them, so label indices
    /// match a model trained in PyTorch. Folders are only read, never written.
    /// </summary>
    public static class ImageFolder
    {
        private static readonly HashSet<string> ImageExtensions = new(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".bmp", ".dcm", ".dicom" };

        /// <summary>
        /// File extensions read as images (compared case-insensitively); files without an extension
        /// are read too when they are DICOM files (a 'DICM' prefix after the 128-byte preamble, as
        /// archives name them IM000001 and the like; DICOMDIR files are not images). Other files
        /// are ignored and counted.
        /// </summary>
        public static IReadOnlyCollection<string> Extensions => ImageExtensions;

        /// <summary>Lists the images of a folder with one subfolder per class.</summary>
        /// <param name="root">The folder that holds the class folders.</param>
        /// <param name="logger">Receives a summary and the count of ignored files; <see langword="null"/> for none.</param>
        /// <returns>The dataset; no image is decoded yet.</returns>
        /// <exception cref="ImageDataException">The folder does not exist, has fewer than two class folders, or a class folder holds no images.</exception>
        public static ImageDataset Load(string root, ILogger? logger = null)
        {
            Guard.NotNullOrWhiteSpace(root);
            return ReadFolder(root, null, logger ?? NullLogger.Instance);
        }

        /// <summary>
        /// Reads a split layout: <c>root/train</c> and <c>root/test</c> (required) and <c>root/val</c>
        /// (optional), each with the same class folders. When <c>val</c> is missing or a class has
        /// fewer than <see cref="SplitOptions.MinimumValidationPerClass"/> images in it, train and
        /// val are pooled and split again (stratified, seeded, grouped if asked); the test folder is
        /// never touched, and becomes a <see cref="TestSet"/>.
        /// </summary>
        /// <param name="root">The folder holding <c>train</c>, <c>val</c> and <c>test</c>.</param>
        /// <param name="options">Validation fraction, seed, grouping and minimum validation size; <see langword="null"/> for the defaults.</param>
        /// <param name="logger">Receives summaries, re-split notes and group-leak warnings; <see langword="null"/> for none.</param>
        /// <returns>The three sets and a report.</returns>
        /// <exception cref="ImageDataException">A required folder is missing, empty, or the class folders differ between splits.</exception>
        public static DatasetSplits LoadSplits(string root, SplitOptions? options = null, ILogger? logger = null)
        {
            Guard.NotNullOrWhiteSpace(root);
            options = (options ?? new SplitOptions()).Validate();
            logger ??= NullLogger.Instance;
            string trainRoot = Path.Combine(root, "train");
            string valRoot = Path.Combine(root, "val");
            string testRoot = Path.Combine(root, "test");
            foreach (string required in new[] { trainRoot, testRoot })
            {
                if (!Directory.Exists(required))
                {
                    throw new ImageDataException(root, Format("Split layout '{0}' has no '{1}' folder; expected {0}/train/<class>/..., {0}/test/<class>/... and optionally {0}/val/<class>/.... For a single folder of class folders use ImageFolder.Load(...).Split().", root, Path.GetFileName(required)));
                }
            }

            ImageDataset train = ReadFolder(trainRoot, null, logger);
            ImageDataset test = ReadFolder(testRoot, train.Classes, logger);
            ImageDataset? given = Directory.Exists(valRoot) ? ReadFolder(valRoot, train.Classes, logger) : null;

            var notes = new List<string>();
            ImageDataset validation;
            bool resplit = false;
            string? why = given is null
                ? "there is no val folder"
                : given.Statistics.Counts.Min() < options.MinimumValidationPerClass
                    ? Format("val has {0} ({1}), fewer than {2} images in a class (SplitOptions.MinimumValidationPerClass)", given.Count, string.Join(", ", given.Classes.Select((c, i) => c + " " + given.Statistics.Counts[i].ToString(CultureInfo.InvariantCulture))), options.MinimumValidationPerClass)
                    : null;
            if (why is null)
            {
                validation = given!;
            }
            else
            {
                var pool = new ImageDataset(trainRoot, train.Classes, train.Samples.Concat(given?.Samples ?? Array.Empty<ImageSample>()).ToArray(), 0);
                int[] assignment = Splitter.Assign(pool, options, options.ValidationFraction, 0);
                train = Splitter.Subset(pool, assignment, 0);
                validation = Splitter.Subset(pool, assignment, 1);
                resplit = true;
                string note = Format("{0}: pooled train and val ({1} images) and split them {2:P0}/{3:P0} (seed {4}); test left as it is.", why, pool.Count, 1 - options.ValidationFraction, options.ValidationFraction, options.Seed);
                notes.Add("Re-split: " + note);
                Log.Resplit(logger, note);
            }

            if (options.GroupRegex is not null || train.Samples.Concat(test.Samples).Any(s => s.PatientId is not null))
            {
                var trainingGroups = new HashSet<string>(train.Samples.Concat(validation.Samples).Select(options.GroupOf), StringComparer.Ordinal);
                string[] leaked = test.Samples.Select(options.GroupOf).Where(trainingGroups.Contains).Distinct(StringComparer.Ordinal).OrderBy(g => g, StringComparer.Ordinal).ToArray();
                if (leaked.Length > 0)
                {
                    notes.Add(Format("Group leak: {0} groups have images in both test and train/validation (for example {1}); test results may be optimistic.", leaked.Length, leaked[0]));
                    Log.GroupLeak(logger, leaked.Length, leaked[0]);
                }
            }

            var testSet = new TestSet(test);
            return new DatasetSplits(train, validation, testSet, new SplitReport(train.Classes, train.Statistics, validation.Statistics, testSet.Statistics, resplit, notes));
        }

        private static ImageDataset ReadFolder(string root, IReadOnlyList<string>? expectedClasses, ILogger logger)
        {
            if (!Directory.Exists(root))
            {
                throw new ImageDataException(root, Format("Image folder '{0}' does not exist; expected a folder with one subfolder of images per class.", root));
            }

            string[] classes = Directory.EnumerateDirectories(root)
                .Select(Path.GetFileName)
                .Where(name => !string.IsNullOrEmpty(name) && name[0] != '.')
                .Select(name => name!)
                .OrderBy(name => name, StringComparer.Ordinal)
                .ToArray();

            if (classes.Length == 0)
            {
                int loose = Directory.EnumerateFiles(root).Count(IsImage);
                throw new ImageDataException(root, Format("Image folder '{0}' has no class folders{1}; expected {0}/<class>/<image> with at least two classes.", root, loose > 0 ? Format(" ({0} images lie directly in it: move them into one folder per class)", loose) : string.Empty));
            }

            if (expectedClasses is not null && !classes.SequenceEqual(expectedClasses, StringComparer.Ordinal))
            {
                throw new ImageDataException(root, Format("Image folder '{0}' has classes ({1}) but the training folder has ({2}); every split needs the same class folders so that labels mean the same thing.", root, string.Join(", ", classes), string.Join(", ", expectedClasses)));
            }

            if (classes.Length < 2)
            {
                throw new ImageDataException(root, Format("Image folder '{0}' has a single class folder ('{1}'); a classifier needs at least two classes, each in its own folder.", root, classes[0]));
            }

            var samples = new List<ImageSample>();
            int ignored = 0;
            string? example = null;
            for (int label = 0; label < classes.Length; label++)
            {
                string classRoot = Path.Combine(root, classes[label]);
                int before = samples.Count;
                int ignoredHere = 0;
                // torchvision walks each class folder recursively, sorted by folder then file name.
                foreach (string file in Directory.EnumerateFiles(classRoot, "*", SearchOption.AllDirectories)
                    .OrderBy(f => Path.GetDirectoryName(f), StringComparer.Ordinal)
                    .ThenBy(f => Path.GetFileName(f), StringComparer.Ordinal))
                {
                    if (IsImage(file))
                    {
                        samples.Add(new ImageSample(file, label));
                    }
                    else
                    {
                        ignoredHere++;
                        example ??= file;
                    }
                }

                ignored += ignoredHere;
                if (samples.Count == before)
                {
                    throw new ImageDataException(classRoot, Format("Class folder '{0}' holds no .png, .jpg, .jpeg, .bmp or DICOM images{1}. Add images or remove the folder.", classRoot, ignoredHere > 0 ? Format(" ({0} other files were ignored)", ignoredHere) : string.Empty));
                }
            }

            if (ignored > 0)
            {
                Log.IgnoredFiles(logger, root, ignored, example!);
            }

            samples = WithDicomMetadata(root, samples, logger);
            var data = new ImageDataset(root, classes, samples, ignored);
            Log.FolderLoaded(logger, root, data.Count, classes.Length, string.Join(", ", classes.Select((c, i) => c + " " + data.Statistics.Counts[i].ToString(CultureInfo.InvariantCulture))));
            return data;
        }

        private static bool IsImage(string file)
        {
            string name = Path.GetFileName(file);
            // Dot files (macOS "._x.png" resource forks) are never images.
            if (name.Length == 0 || name[0] == '.')
            {
                return false;
            }

            string extension = Path.GetExtension(name);
            return extension.Length == 0 ? IsExtensionlessDicom(file, name) : ImageExtensions.Contains(extension);
        }

        private static bool IsExtensionlessDicom(string file, string name)
        {
            if (name.Equals("DICOMDIR", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            try
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
                Span<byte> start = stackalloc byte[132];
                return stream.Length >= 132 && stream.Read(start) == 132 && start.Slice(128).SequenceEqual("DICM"u8);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }

        /// <summary>Reads the headers (not the pixels) of the DICOM files: patient, study and view go on their samples.</summary>
        internal static List<ImageSample> WithDicomMetadata(string root, List<ImageSample> samples, ILogger logger)
        {
            int[] dicom = Enumerable.Range(0, samples.Count).Where(i => IsDicomPath(samples[i].Path)).ToArray();
            if (dicom.Length == 0)
            {
                return samples;
            }

            var metadata = new Dicom.DicomMetadata?[dicom.Length];
            System.Threading.Tasks.Parallel.For(0, dicom.Length, new System.Threading.Tasks.ParallelOptions { MaxDegreeOfParallelism = Math.Clamp(Environment.ProcessorCount, 1, 8) }, k =>
                metadata[k] = Dicom.DicomReader.TryReadMetadata(samples[dicom[k]].Path));
            var result = new List<ImageSample>(samples);
            for (int k = 0; k < dicom.Length; k++)
            {
                if (metadata[k] is { } m)
                {
                    ImageSample s = result[dicom[k]];
                    result[dicom[k]] = s with { PatientId = s.PatientId ?? m.PatientId, StudyId = s.StudyId ?? m.StudyInstanceUid, View = s.View ?? m.ViewPosition, Dicom = m };
                }
            }

            Log.DicomHeadersRead(logger, root, dicom.Length, metadata.Count(m => m is null));
            return result;
        }

        private static bool IsDicomPath(string path)
        {
            string extension = Path.GetExtension(path);
            return extension.Length == 0 || Dicom.DicomImageDecoding.HasDicomExtension(path);
        }

        private static string Format(string format, params object?[] args) => string.Format(CultureInfo.InvariantCulture, format, args);
    }
}
