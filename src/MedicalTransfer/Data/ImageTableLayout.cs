using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// Which columns of a label table (CSV or TSV) mean what. Exactly one way of labelling is
    /// given: <see cref="ClassColumn"/> (single-label), <see cref="FindingColumns"/> (several
    /// 1/0/-1/blank columns, multi-label) or <see cref="FindingsColumn"/> (one column of labels
    /// joined by <see cref="FindingsSeparator"/>, multi-label). Presets are in
    /// <see cref="ImageTableLayouts"/>.
    /// </summary>
    public sealed record ImageTableLayout
    {
        /// <summary>The column with each image's path, relative to <see cref="ImageTableOptions.Root"/> (or its file name, with <see cref="PathsAreFileNames"/>).</summary>
        /// <value>The default is "Path".</value>
        public string PathColumn { get; init; } = "Path";

        /// <summary>The column of class names, for a single-label table: classes are its distinct values, sorted ordinally as folder names are.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? ClassColumn { get; init; }

        /// <summary>Columns of one finding each, for a multi-label table: 1 (or 1.0) positive, 0 negative, -1 uncertain, blank missing.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public IReadOnlyList<string>? FindingColumns { get; init; }

        /// <summary>One column of labels joined by <see cref="FindingsSeparator"/> ("Effusion|Infiltration"), for a multi-label table: a listed finding is positive, an unlisted one negative.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? FindingsColumn { get; init; }

        /// <summary>What separates the labels of <see cref="FindingsColumn"/>.</summary>
        /// <value>The default is "|".</value>
        public string FindingsSeparator { get; init; } = "|";

        /// <summary>The findings <see cref="FindingsColumn"/> may name, in output order; a label outside them is an error. When <see langword="null"/>, the labels found, sorted ordinally.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public IReadOnlyList<string>? Findings { get; init; }

        /// <summary>The label of <see cref="FindingsColumn"/> that means "every finding negative" (NIH's "No Finding").</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? NoFindingLabel { get; init; }

        /// <summary>The column with each image's patient (or other group): images of a patient stay in one split.</summary>
        /// <value>The default is <see langword="null"/>: from <see cref="PatientPattern"/>, or the DICOM Patient ID of DICOM files.</value>
        public string? PatientColumn { get; init; }

        /// <summary>A regular expression on the path whose first capture group (or whole match) is the patient, as CheXpert's patient00001/study1/... paths hold it.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? PatientPattern { get; init; }

        /// <summary>The column with each image's study.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? StudyColumn { get; init; }

        /// <summary>A regular expression on the path whose first capture group (or whole match) is the study.</summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? StudyPattern { get; init; }

        /// <summary>Columns that give the view (PA, AP, Lateral), the first non-blank one winning; for <see cref="ImageDataset.WithViews"/>.</summary>
        /// <value>The default is empty: the DICOM View Position of DICOM files.</value>
        public IReadOnlyList<string> ViewColumns { get; init; } = Array.Empty<string>();

        /// <summary>
        /// A column that says which split each row belongs to: train (or training), validation (or
        /// valid, val) and test, case-insensitively; for <see cref="ImageTable.LoadSplits(string, ImageTableLayout, SplitOptions?, ImageTableOptions?)"/>.
        /// </summary>
        /// <value>The default is <see langword="null"/>.</value>
        public string? SplitColumn { get; init; }

        /// <summary>Columns kept on each sample's <see cref="ImageSample.Metadata"/> (sex, age, view, site).</summary>
        /// <value>The default is empty.</value>
        public IReadOnlyList<string> MetadataColumns { get; init; } = Array.Empty<string>();

        /// <summary>Whether <see cref="PathColumn"/> holds bare file names to be found anywhere under the root (NIH ChestX-ray14 spreads its images over images_001/images ... images_012/images).</summary>
        /// <value>The default is <see langword="false"/>.</value>
        public bool PathsAreFileNames { get; init; }

        internal Regex? PatientRegex { get; private set; }

        internal Regex? StudyRegex { get; private set; }

        internal bool IsMultiLabel => FindingColumns is not null || FindingsColumn is not null;

        internal ImageTableLayout Validate()
        {
            int ways = (ClassColumn is null ? 0 : 1) + (FindingColumns is null ? 0 : 1) + (FindingsColumn is null ? 0 : 1);
            if (ways != 1)
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "ImageTableLayout needs exactly one of ClassColumn, FindingColumns or FindingsColumn; {0} are set.", ways), nameof(ClassColumn));
            }

            if (string.IsNullOrWhiteSpace(PathColumn))
            {
                throw new ArgumentException("ImageTableLayout.PathColumn must name a column.", nameof(PathColumn));
            }

            if (FindingColumns is { Count: 0 } || (FindingColumns is not null && FindingColumns.Distinct(StringComparer.Ordinal).Count() != FindingColumns.Count))
            {
                throw new ArgumentException("ImageTableLayout.FindingColumns must name at least one column, each once.", nameof(FindingColumns));
            }

            if (FindingsColumn is not null && string.IsNullOrEmpty(FindingsSeparator))
            {
                throw new ArgumentException("ImageTableLayout.FindingsSeparator must not be empty.", nameof(FindingsSeparator));
            }

            if (ViewColumns is null || MetadataColumns is null)
            {
                throw new ArgumentNullException(ViewColumns is null ? nameof(ViewColumns) : nameof(MetadataColumns));
            }

            PatientRegex = Compile(PatientPattern, nameof(PatientPattern));
            StudyRegex = Compile(StudyPattern, nameof(StudyPattern));
            return this;
        }

        private static Regex? Compile(string? pattern, string name)
        {
            if (pattern is null)
            {
                return null;
            }

            try
            {
                return new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException("ImageTableLayout." + name + " is not a valid regular expression: " + e.Message, name, e);
            }
        }
    }

    /// <summary>Where a label table's images are and what to do with rows whose file is missing.</summary>
    public sealed record ImageTableOptions
    {
        /// <summary>The folder the paths are relative to.</summary>
        /// <value>The default is <see langword="null"/>: the table's own folder. CheXpert's paths begin with CheXpert-v1.0-small/, so pass the folder that holds it.</value>
        public string? Root { get; init; }

        /// <summary>
        /// What to do with a row whose file does not exist: <see cref="BadImagePolicy.Throw"/> lists
        /// it with the table's other problems; <see cref="BadImagePolicy.Skip"/> leaves it out,
        /// logs it and lists it in <see cref="ImageDataset.LeftOut"/>.
        /// </summary>
        /// <value>The default is <see cref="BadImagePolicy.Throw"/>.</value>
        public BadImagePolicy MissingFiles { get; init; } = BadImagePolicy.Throw;

        /// <summary>The field delimiter.</summary>
        /// <value>The default is <see langword="null"/>: a tab for .tsv and .tab files, a comma otherwise.</value>
        public char? Delimiter { get; init; }

        /// <summary>Receives a summary and a warning per row left out.</summary>
        /// <value>The default is <see cref="NullLogger.Instance"/>.</value>
        public ILogger Logger { get; init; } = NullLogger.Instance;

        internal ImageTableOptions Validate()
        {
            if (!Enum.IsDefined(MissingFiles))
            {
                throw new ArgumentOutOfRangeException(nameof(MissingFiles), MissingFiles, "ImageTableOptions.MissingFiles must be Throw or Skip.");
            }

            if (Delimiter is '"' or '\r' or '\n')
            {
                throw new ArgumentOutOfRangeException(nameof(Delimiter), Delimiter, "ImageTableOptions.Delimiter cannot be a quote or a line break.");
            }

            if (Logger is null)
            {
                throw new ArgumentNullException(nameof(Logger));
            }

            return this;
        }
    }

    /// <summary>Layouts of public chest X-ray label tables.</summary>
    public static class ImageTableLayouts
    {
        /// <summary>CheXpert's 14 observations, in its column order.</summary>
        public static IReadOnlyList<string> CheXpertObservations { get; } = Array.AsReadOnly(new[]
        {
            "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema", "Consolidation",
            "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture", "Support Devices",
        });

        /// <summary>NIH ChestX-ray14's 14 findings (its "No Finding" means all negative).</summary>
        public static IReadOnlyList<string> NihFindings { get; } = Array.AsReadOnly(new[]
        {
            "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Emphysema", "Fibrosis", "Hernia",
            "Infiltration", "Mass", "Nodule", "Pleural_Thickening", "Pneumonia", "Pneumothorax",
        });

        /// <summary>
        /// CheXpert (train.csv, valid.csv): Path (CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg),
        /// Sex, Age, Frontal/Lateral, AP/PA and the 14 observations as 1.0, 0.0, -1.0 (uncertain) or
        /// blank (missing); patient and study from the path; view from AP/PA, else Frontal/Lateral.
        /// </summary>
        public static ImageTableLayout CheXpert { get; } = new()
        {
            PathColumn = "Path",
            FindingColumns = CheXpertObservations,
            PatientPattern = @"(patient\d+)",
            StudyPattern = @"(patient\d+/study\d+)",
            ViewColumns = new[] { "AP/PA", "Frontal/Lateral" },
            MetadataColumns = new[] { "Sex", "Age", "Frontal/Lateral", "AP/PA" },
        };

        /// <summary>
        /// NIH ChestX-ray14 (Data_Entry_2017.csv): "Image Index" (a file name found anywhere under
        /// the root), "Finding Labels" joined by '|' ("No Finding" for none), "Patient ID",
        /// "View Position" (PA/AP), age, gender and follow-up kept as metadata.
        /// </summary>
        public static ImageTableLayout NihChestXray14 { get; } = new()
        {
            PathColumn = "Image Index",
            FindingsColumn = "Finding Labels",
            FindingsSeparator = "|",
            Findings = NihFindings,
            NoFindingLabel = "No Finding",
            PatientColumn = "Patient ID",
            ViewColumns = new[] { "View Position" },
            MetadataColumns = new[] { "Follow-up #", "Patient Age", "Patient Gender", "View Position" },
            PathsAreFileNames = true,
        };

        /// <summary>A single-label table: one path column and one column of class names.</summary>
        /// <param name="pathColumn">The path column.</param>
        /// <param name="classColumn">The class column.</param>
        /// <returns>The layout.</returns>
        public static ImageTableLayout ForClasses(string pathColumn = "Path", string classColumn = "Label") => new() { PathColumn = pathColumn, ClassColumn = classColumn };
    }
}
