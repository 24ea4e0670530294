using System.Collections.Generic;
using MedicalTransfer.Data.Dicom;

namespace MedicalTransfer.Data
{
    /// <summary>One image of a dataset: its file, its class index, and what the folder, table or DICOM header says about it.</summary>
    /// <param name="Path">Full path of the image file.</param>
    /// <param name="Label">Index of its class in the dataset's <see cref="ImageDataset.Classes"/>; -1 in a multi-label dataset (read <see cref="Findings"/>).</param>
    public readonly record struct ImageSample(string Path, int Label)
    {
        /// <summary>
        /// The patient (or other group) the image belongs to: a table's patient column or pattern,
        /// or the DICOM Patient ID. Splits keep a patient's images together when no
        /// <see cref="SplitOptions.GroupPattern"/> is given.
        /// </summary>
        /// <value>The default is <see langword="null"/>: unknown.</value>
        public string? PatientId { get; init; }

        /// <summary>The study: a table's study column or pattern, or the DICOM Study Instance UID.</summary>
        /// <value>The default is <see langword="null"/>: unknown.</value>
        public string? StudyId { get; init; }

        /// <summary>The view (PA, AP, LL, Lateral): a table's view column, or the DICOM View Position.</summary>
        /// <value>The default is <see langword="null"/>: unknown.</value>
        public string? View { get; init; }

        /// <summary>
        /// In a multi-label dataset, the state of each of <see cref="ImageDataset.Findings"/> (same
        /// order): positive, negative, uncertain (CheXpert's -1) or missing (a blank cell). Uncertain
        /// and missing are kept apart so that a training policy can treat them differently.
        /// </summary>
        /// <value>The default is <see langword="null"/>: a single-label sample.</value>
        public IReadOnlyList<FindingState>? Findings { get; init; }

        /// <summary>The table's metadata columns for this image (for example Sex, Age, View Position), by column name.</summary>
        /// <value>The default is <see langword="null"/>: none.</value>
        public IReadOnlyDictionary<string, string>? Metadata { get; init; }

        /// <summary>The DICOM header's descriptive attributes, for DICOM files.</summary>
        /// <value>The default is <see langword="null"/>: not a DICOM file, or its header could not be read when the dataset was listed.</value>
        public DicomMetadata? Dicom { get; init; }
    }

    /// <summary>What a label table says about one finding of one image.</summary>
    public enum FindingState : sbyte
    {
        /// <summary>The table says nothing (a blank cell): not the same as negative.</summary>
        Missing = 0,

        /// <summary>Absent (0).</summary>
        Negative = 1,

        /// <summary>Present (1).</summary>
        Positive = 2,

        /// <summary>Uncertain (CheXpert's -1): the report's wording leaves it open.</summary>
        Uncertain = 3,
    }
}
