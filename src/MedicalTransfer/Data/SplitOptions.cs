using System;
using System.Globalization;
using System.Text.RegularExpressions;

namespace MedicalTransfer.Data
{
    /// <summary>How images are divided into train, validation and test sets.</summary>
    public sealed record SplitOptions
    {
        /// <summary>Fraction of each class's images that goes to validation.</summary>
        /// <value>The default is 0.15.</value>
        public double ValidationFraction { get; init; } = 0.15;

        /// <summary>
        /// Fraction of each class's images that goes to test when one folder is split
        /// (<see cref="ImageDataset.Split"/>); an existing <c>test/</c> folder is never re-split.
        /// </summary>
        /// <value>The default is 0.15.</value>
        public double TestFraction { get; init; } = 0.15;

        /// <summary>Seed of the shuffle that assigns images (or groups) to splits.</summary>
        /// <value>The default is 0.</value>
        public int Seed { get; init; }

        /// <summary>
        /// Regular expression applied to each file name (without folder) to find its group, for
        /// example a patient id: the first capture group if the pattern has one, otherwise the whole
        /// match. All images of a group go to the same split. A file that does not match is a group
        /// of its own. For Kaggle chest X-ray names such as <c>person12_bacteria_45.jpeg</c> use
        /// <c>^(person\d+)_</c>.
        /// </summary>
        /// <value>The default is <see langword="null"/>: images are grouped by their <see cref="ImageSample.PatientId"/> (a table's patient column, or the DICOM Patient ID) where they have one, and are each their own group otherwise.</value>
        public string? GroupPattern { get; init; }

        /// <summary>
        /// For <see cref="ImageFolder.LoadSplits"/>: when a class in the given <c>val/</c> folder has
        /// fewer images than this (the Kaggle set has 8 per class), or there is no <c>val/</c>
        /// folder, train and validation are pooled and split again with
        /// <see cref="ValidationFraction"/>; the test folder is left as it is.
        /// </summary>
        /// <value>The default is 20.</value>
        public int MinimumValidationPerClass { get; init; } = 20;

        internal Regex? GroupRegex { get; private set; }

        internal SplitOptions Validate()
        {
            if (double.IsNaN(ValidationFraction) || ValidationFraction <= 0 || ValidationFraction >= 1)
            {
                throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "SplitOptions.ValidationFraction must be between 0 and 1 (exclusive).");
            }

            if (double.IsNaN(TestFraction) || TestFraction < 0 || TestFraction >= 1)
            {
                throw new ArgumentOutOfRangeException(nameof(TestFraction), TestFraction, "SplitOptions.TestFraction must be from 0 (no test split) to below 1.");
            }

            if (ValidationFraction + TestFraction >= 1)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "SplitOptions.ValidationFraction ({0}) plus TestFraction ({1}) must leave images for training (sum below 1).", ValidationFraction, TestFraction), nameof(TestFraction));
            }

            if (MinimumValidationPerClass < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(MinimumValidationPerClass), MinimumValidationPerClass, "SplitOptions.MinimumValidationPerClass must be at least 1.");
            }

            if (GroupPattern is not null)
            {
                try
                {
                    GroupRegex = new Regex(GroupPattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
                }
                catch (ArgumentException e)
                {
                    throw new ArgumentException("SplitOptions.GroupPattern is not a valid regular expression: " + e.Message, nameof(GroupPattern), e);
                }
            }

            return this;
        }

        /// <summary>A sample's group: <see cref="GroupPattern"/> on its file name when given, otherwise its patient (table or DICOM Patient ID), otherwise the image alone.</summary>
        internal string GroupOf(ImageSample sample)
        {
            if (GroupRegex is not null)
            {
                return GroupOf(sample.Path);
            }

            return string.IsNullOrEmpty(sample.PatientId) ? sample.Path : "patient:" + sample.PatientId;
        }

        internal string GroupOf(string path)
        {
            string name = System.IO.Path.GetFileName(path);
            if (GroupRegex is null)
            {
                return path;
            }

            Match match = GroupRegex.Match(name);
            if (!match.Success)
            {
                return path;
            }

            return match.Groups.Count > 1 && match.Groups[1].Success ? match.Groups[1].Value : match.Value;
        }
    }
}
