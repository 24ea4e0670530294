using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace MedicalTransfer.Data
{
    /// <summary>Train, validation and test sets, with a report of how they were made.</summary>
    public sealed partial class DatasetSplits
    {
        internal DatasetSplits(ImageDataset train, ImageDataset validation, TestSet test, SplitReport report)
        {
            Train = train;
            Validation = validation;
            Test = test;
            Report = report;
        }

        /// <summary>Images to train on.</summary>
        public ImageDataset Train { get; }

        /// <summary>Images for checkpoint selection, early stopping and learning-rate schedules.</summary>
        public ImageDataset Validation { get; }

        /// <summary>Held-out images, for the final evaluation only.</summary>
        public TestSet Test { get; }

        /// <summary>Per-class counts per split and notes on re-splitting and group leakage.</summary>
        public SplitReport Report { get; }
    }

    /// <summary>Per-class image counts of each split, and what the splitter had to do.</summary>
    public sealed class SplitReport
    {
        internal SplitReport(IReadOnlyList<string> classes, ClassStatistics train, ClassStatistics validation, ClassStatistics test, bool resplit, IReadOnlyList<string> notes)
        {
            Classes = classes;
            Train = train;
            Validation = validation;
            Test = test;
            Resplit = resplit;
            Notes = notes;
        }

        /// <summary>Class names in label order.</summary>
        public IReadOnlyList<string> Classes { get; }

        /// <summary>Counts of the training split.</summary>
        public ClassStatistics Train { get; }

        /// <summary>Counts of the validation split.</summary>
        public ClassStatistics Validation { get; }

        /// <summary>Counts of the test split.</summary>
        public ClassStatistics Test { get; }

        /// <summary>Whether train and validation were pooled and split again because validation was too small or missing.</summary>
        public bool Resplit { get; }

        /// <summary>Why a re-split happened, and any groups found in both test and train/validation.</summary>
        public IReadOnlyList<string> Notes { get; }

        /// <summary>A table: one row per class, one column per split.</summary>
        /// <returns>The table, followed by the notes.</returns>
        public override string ToString()
        {
            var text = new StringBuilder();
            text.AppendLine(string.Format(CultureInfo.InvariantCulture, "{0,-16}{1,8}{2,8}{3,8}", "class", "train", "val", "test"));
            for (int c = 0; c < Classes.Count; c++)
            {
                text.AppendLine(string.Format(CultureInfo.InvariantCulture, "{0,-16}{1,8}{2,8}{3,8}", Classes[c], Train.Counts[c], Validation.Counts[c], Test.Counts[c]));
            }

            text.AppendLine(string.Format(CultureInfo.InvariantCulture, "{0,-16}{1,8}{2,8}{3,8}", "total", Train.Total, Validation.Total, Test.Total));
            foreach (string note in Notes)
            {
                text.AppendLine(note);
            }

            return text.ToString();
        }
    }
}
