using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace MedicalTransfer.Data
{
    /// <summary>Restricting all three splits at once: to a view, or to one finding of a multi-label table.</summary>
    public sealed partial class DatasetSplits
    {
        /// <summary>Keeps the images of the given views in every split (see <see cref="ImageDataset.WithViews"/>), for example a run on PA images only.</summary>
        /// <param name="views">The views to keep, for example "PA".</param>
        /// <returns>The restricted splits.</returns>
        /// <exception cref="ImageDataException">A split has no image of those views.</exception>
        public DatasetSplits WithViews(params string[] views) =>
            Rebuild(d => d.WithViews(views), string.Format(CultureInfo.InvariantCulture, "Restricted to view {0}.", string.Join(" or ", views ?? Array.Empty<string>())));

        /// <summary>One finding of a multi-label dataset as a single-label task in every split (see <see cref="ImageDataset.ForFinding"/>).</summary>
        /// <param name="finding">The finding, for example Pneumonia.</param>
        /// <param name="negativeClass">The class name of negative images.</param>
        /// <param name="positiveClass">The class name of positive images.</param>
        /// <returns>The single-label splits.</returns>
        public DatasetSplits ForFinding(string finding, string negativeClass, string positiveClass) =>
            Rebuild(d => d.ForFinding(finding, negativeClass, positiveClass), string.Format(CultureInfo.InvariantCulture, "Finding {0}: positive = {1}, negative = {2}; uncertain and missing left out.", finding, positiveClass, negativeClass));

        private DatasetSplits Rebuild(Func<ImageDataset, ImageDataset> change, string note)
        {
            ImageDataset train = change(Train), validation = change(Validation), test = change(Test.Images);
            var testSet = new TestSet(test);
            var notes = new List<string>(Report.Notes) { note };
            return new DatasetSplits(train, validation, testSet, new SplitReport(train.Classes, train.Statistics, validation.Statistics, testSet.Statistics, Report.Resplit, notes));
        }
    }
}
