using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using MedicalTransfer.Data.Dicom;

namespace MedicalTransfer.Data
{
    /// <summary>Where <see cref="SyntheticChestXRay.WriteCheXpertTable"/> put its files.</summary>
    /// <param name="Root">The folder the tables' paths are relative to (pass it as <see cref="ImageTableOptions.Root"/>).</param>
    /// <param name="TrainTable">train.csv.</param>
    /// <param name="ValidationTable">valid.csv.</param>
    public sealed record SyntheticTable(string Root, string TrainTable, string ValidationTable);

    /// <summary>The phantoms as a CheXpert-style table.</summary>
    public static partial class SyntheticChestXRay
    {
        /// <summary>The dataset folder inside the root, as CheXpert-v1.0-small is CheXpert's.</summary>
        public const string CheXpertFolder = "CheXpert-synthetic";

        /// <summary>
        /// Writes the phantoms in CheXpert's layout: <c>root/CheXpert-synthetic/{train,valid}/patientNNNNN/studyK/view1_frontal.ext</c>
        /// (one study per image, <see cref="SyntheticChestXRayOptions.ImagesPerPatient"/> studies per
        /// patient; every seventh patient in valid) and <c>train.csv</c>, <c>valid.csv</c> with
        /// CheXpert's columns: Path, Sex, Age, Frontal/Lateral, AP/PA and the 14 observations.
        /// Pneumonia is 1.0 for PNEUMONIA phantoms (one in ten written -1.0, uncertain) and 0.0 or
        /// blank (missing) for NORMAL ones; Lung Opacity follows Pneumonia; No Finding is 1.0 for
        /// NORMAL; the rest are blank. Patients are assigned to classes, so a patient's studies
        /// share one. With <see cref="SyntheticImageFormat.Dicom"/> the files carry the same patient,
        /// study, sex, age and view in their headers.
        /// </summary>
        /// <param name="root">A new or empty folder.</param>
        /// <param name="options">Count, class ratio, size, format (DICOM is the natural one), studies per patient, seed; <see langword="null"/> for the defaults (which write PNG).</param>
        /// <returns>Where the tables are.</returns>
        /// <exception cref="ArgumentException"><paramref name="root"/> is not empty, or an option is out of range.</exception>
        public static SyntheticTable WriteCheXpertTable(string root, SyntheticChestXRayOptions? options = null)
        {
            options ??= new SyntheticChestXRayOptions();
            Validate(root, options);
            string folder = Path.Combine(root, CheXpertFolder);
            Directory.CreateDirectory(folder);
            string header = "Path,Sex,Age,Frontal/Lateral,AP/PA," + string.Join(",", ImageTableLayouts.CheXpertObservations);
            var train = new StringBuilder(header).Append('\n');
            var valid = new StringBuilder(header).Append('\n');
            var pixels = new float[options.Size * options.Size];
            string extension = Extension(options.Format);
            int perPatient = options.ImagesPerPatient;
            for (int i = 0; i < options.Count; i++)
            {
                int patient = i / perPatient, study = i % perPatient;
                // Classes interleave over patients (a low-discrepancy sequence), so valid gets both.
                bool positive = ((patient + 1) * 0.6180339887498949 % 1.0) < options.PositiveFraction;
                bool isValid = patient % 7 == 6;
                Render(pixels, options.Size, options.Seed, patient, i, positive);
                string relative = string.Format(CultureInfo.InvariantCulture, "{0}/{1}/patient{2:D5}/study{3}/view1_frontal{4}", CheXpertFolder, isValid ? "valid" : "train", patient, study + 1, extension);
                string path = Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar));
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                SaveAny(pixels, options.Size, options.Format, path, options.Seed, patient, study);

                SampleRandom labels = SampleRandom.For(options.Seed, 0x7AB1E, i);
                string pneumonia = positive ? (labels.NextDouble() < 0.1 ? "-1.0" : "1.0") : (labels.NextDouble() < 0.5 ? "0.0" : string.Empty);
                string[] observations = ImageTableLayouts.CheXpertObservations.Select(o => o switch
                {
                    "No Finding" => positive ? string.Empty : "1.0",
                    "Pneumonia" => pneumonia,
                    "Lung Opacity" => positive ? "1.0" : string.Empty,
                    _ => string.Empty,
                }).ToArray();
                string sex = SyntheticDicom.Sex(options.Seed, patient) == "M" ? "Male" : "Female";
                (isValid ? valid : train).Append(string.Join(",", new[] { relative, sex, SyntheticDicom.Age(options.Seed, patient).ToString(CultureInfo.InvariantCulture), "Frontal", SyntheticDicom.View(options.Seed, patient, study) }.Concat(observations))).Append('\n');
            }

            string trainTable = Path.Combine(folder, "train.csv");
            string validTable = Path.Combine(folder, "valid.csv");
            File.WriteAllText(trainTable, train.ToString());
            File.WriteAllText(validTable, valid.ToString());
            return new SyntheticTable(root, trainTable, validTable);
        }
    }
}
