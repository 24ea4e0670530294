using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Data;

namespace MedicalTransfer.Studies
{
    /// <summary>How images are dealt into cross-validation folds: whole patients, stratified by class, seeded.</summary>
    public sealed record FoldOptions
    {
        /// <summary>Number of folds k: each fold is held out once while the model trains on the others.</summary>
        /// <value>The default is 5.</value>
        public int Folds { get; init; } = 5;

        /// <summary>How many times the whole k-fold assignment is repeated with a different shuffle.</summary>
        /// <value>The default is 1.</value>
        public int Repeats { get; init; } = 1;

        /// <summary>Seed of the assignment; the same seed on the same data gives the same folds.</summary>
        /// <value>The default is 0.</value>
        public int Seed { get; init; }

        /// <summary>
        /// Share of each training part's patients carved out (stratified and grouped the same way) as the
        /// validation split that early stopping, checkpoint choice and calibration use; the held-out fold never
        /// chooses anything.
        /// </summary>
        /// <value>The default is 0.2.</value>
        public double ValidationFraction { get; init; } = 0.2;

        /// <summary>
        /// Regular expression on each file name that finds its patient, as <see cref="SplitOptions.GroupPattern"/>
        /// (the first capture group, or the whole match; a file that does not match is its own group).
        /// Ignored when <see cref="GroupOf"/> is set.
        /// </summary>
        /// <value>The default is <see langword="null"/>: images are grouped by their <see cref="ImageSample.PatientId"/> (a table's patient column, or the DICOM Patient ID) where they have one, as the data pipeline's splits are, and are each their own group otherwise.</value>
        public string? GroupPattern { get; init; }

        /// <summary>
        /// The patient (or any grouping key) of each image, for groupings a file name cannot express, for example
        /// a patient id from a table: <c>GroupOf = sample =&gt; patientOf[sample.Path]</c>. Images with the same key
        /// always land in the same fold.
        /// </summary>
        /// <value>The default is <see langword="null"/>: <see cref="GroupPattern"/> decides.</value>
        public Func<ImageSample, string>? GroupOf { get; init; }

        internal SplitOptions Grouping { get; private set; } = new SplitOptions().Validate();

        internal FoldOptions Validate()
        {
            var problems = new List<string>();
            if (Folds < 2 || Folds > 100)
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "Folds must be from 2 to 100; found {0}.", Folds));
            }

            if (Repeats < 1 || Repeats > 100)
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "Repeats must be from 1 to 100; found {0}.", Repeats));
            }

            if (!(ValidationFraction > 0 && ValidationFraction < 0.5))
            {
                problems.Add(string.Format(CultureInfo.InvariantCulture, "ValidationFraction must be above 0 and below 0.5; found {0}.", ValidationFraction));
            }

            try
            {
                Grouping = new SplitOptions { GroupPattern = GroupPattern }.Validate();
            }
            catch (ArgumentException ex)
            {
                problems.Add("GroupPattern: " + ex.Message);
            }

            if (problems.Count > 0)
            {
                throw new ArgumentException("The fold options are invalid:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "  - " + p)));
            }

            return this;
        }

        internal string GroupKey(ImageSample sample)
        {
            if (GroupOf is null)
            {
                return Grouping.GroupOf(sample);
            }

            return GroupOf(sample) ?? throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "FoldOptions.GroupOf returned null for '{0}'; return a patient id (or the path, for an image of its own).", sample.Path));
        }
    }
}
