using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using MedicalTransfer.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedicalTransfer.Data
{
    /// <summary>The pre-flight check of image files: header identification on several threads, one report.</summary>
    internal static class Preflight
    {
        /// <summary>At most this many files are named in an error message; the rest are counted.</summary>
        public const int ListedInMessage = 20;

        /// <summary>Per path, null when the file would decode, otherwise the reason.</summary>
        public static SkippedImage?[] Check(IReadOnlyList<string> paths, ImageLoadOptions options)
        {
            var results = new SkippedImage?[paths.Count];
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Clamp(Environment.ProcessorCount, 1, 8) };
            Parallel.For(0, paths.Count, parallel, i =>
            {
                try
                {
                    ImageDecoder.Identify(paths[i], options);
                }
                catch (ImageDataException e)
                {
                    results[i] = new SkippedImage(paths[i], e.Message);
                }
            });
            return results;
        }

        public static ImageDataException Failure(string root, int total, IReadOnlyList<SkippedImage> bad)
        {
            string list = string.Join(Environment.NewLine, bad.Take(ListedInMessage).Select(b => "  " + b.Path + ": " + b.Reason));
            string more = bad.Count > ListedInMessage ? string.Format(CultureInfo.InvariantCulture, "{0}  ... and {1} more.", Environment.NewLine, bad.Count - ListedInMessage) : string.Empty;
            return new ImageDataException(root, string.Format(CultureInfo.InvariantCulture, "The pre-flight check found {0} unreadable image file{1} of {2} in '{3}'; training would stop on them:{4}{5}{6}{4}Replace or remove them, or load with ImageLoadOptions.BadImages = BadImagePolicy.Skip to leave them out.", bad.Count, bad.Count == 1 ? string.Empty : "s", total, root, Environment.NewLine, list, more));
        }
    }

    /// <summary>The pre-flight check of train, validation and test together.</summary>
    public sealed partial class DatasetSplits
    {
        /// <summary>
        /// Checks every file of the three splits up front (see <see cref="ImageDataset.Verify"/>),
        /// so that a corrupt test image is found before training, not after it.
        /// </summary>
        /// <param name="options">The decoding limits and bad-file policy; <see langword="null"/> for the defaults.</param>
        /// <param name="logger">Receives warnings and a summary; <see langword="null"/> for none.</param>
        /// <returns>The splits without bad files (Skip), or the same splits when all files are good.</returns>
        /// <exception cref="ImageDataException">Some files are bad (Throw): one message lists them, across all splits.</exception>
        public DatasetSplits Verify(ImageLoadOptions? options = null, ILogger? logger = null)
        {
            DatasetSplits splits = this;
            options = (options ?? ImageLoadOptions.Default).Validate();
            logger ??= NullLogger.Instance;
            if (options.BadImages == BadImagePolicy.Throw)
            {
                // One message for every bad file of every split.
                var all = splits.Train.Samples.Concat(splits.Validation.Samples).Concat(splits.Test.Samples).Select(s => s.Path).ToArray();
                SkippedImage[] bad = Preflight.Check(all, options).Where(b => b is not null).Select(b => b!).ToArray();
                Log.PreflightDone(logger, splits.Train.Root, all.Length, bad.Length);
                if (bad.Length > 0)
                {
                    throw Preflight.Failure(splits.Train.Root, all.Length, bad);
                }

                return splits;
            }

            ImageDataset train = splits.Train.Verify(options, logger);
            ImageDataset validation = splits.Validation.Verify(options, logger);
            ImageDataset test = splits.Test.Images.Verify(options, logger);
            if (ReferenceEquals(train, splits.Train) && ReferenceEquals(validation, splits.Validation) && ReferenceEquals(test, splits.Test.Images))
            {
                return splits;
            }

            var notes = splits.Report.Notes.ToList();
            int left = train.LeftOut.Count + validation.LeftOut.Count + test.LeftOut.Count - splits.Train.LeftOut.Count - splits.Validation.LeftOut.Count - splits.Test.Images.LeftOut.Count;
            notes.Add(string.Format(CultureInfo.InvariantCulture, "Pre-flight: left out {0} unreadable files (train {1}, validation {2}, test {3}).", left, splits.Train.Count - train.Count, splits.Validation.Count - validation.Count, splits.Test.Count - test.Count));
            var testSet = new TestSet(test);
            return new DatasetSplits(train, validation, testSet, new SplitReport(splits.Report.Classes, train.Statistics, validation.Statistics, testSet.Statistics, splits.Report.Resplit, notes));
        }
    }
}
