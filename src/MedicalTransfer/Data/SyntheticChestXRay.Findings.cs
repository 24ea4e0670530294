using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace MedicalTransfer.Data
{
    /// <summary>Multi-label phantoms: several independent findings per image, written with a CheXpert-style table.</summary>
    public static partial class SyntheticChestXRay
    {
        /// <summary>The findings <see cref="WriteFindingsTable"/> draws, in column order.</summary>
        public static IReadOnlyList<string> PhantomFindings { get; } = Array.AsReadOnly(new[] { "Left Opacity", "Right Opacity", "Cardiomegaly", "Pleural Effusion" });

        /// <summary>Each phantom finding's prevalence, in the order of <see cref="PhantomFindings"/>.</summary>
        public static IReadOnlyList<double> PhantomPrevalences { get; } = Array.AsReadOnly(new[] { 0.35, 0.3, 0.3, 0.25 });

        /// <summary>The layout of the tables <see cref="WriteFindingsTable"/> writes: Path, Sex, Age and the four findings; patient from the path.</summary>
        public static ImageTableLayout FindingsLayout { get; } = new()
        {
            PathColumn = "Path",
            FindingColumns = PhantomFindings,
            PatientPattern = @"(patient\d+)",
            MetadataColumns = new[] { "Sex", "Age" },
        };

        /// <summary>
        /// Writes multi-label phantoms: each image independently shows an opacity in the left lung, one in the right lung, an
        /// enlarged heart shadow and a pleural effusion (a bright fluid level blunting the right costophrenic angle) with the
        /// prevalences of <see cref="PhantomPrevalences"/>. Files go to <c>root/findings/{train,valid}/patientNNNNN/view1_frontal.ext</c>
        /// (every seventh patient in valid) with <c>train.csv</c> and <c>valid.csv</c> in CheXpert's value style: 1.0, 0.0,
        /// -1.0 for about one label in twelve (uncertain; the image itself shows the finding or not as the true label says)
        /// and blank for about one in twenty-five (missing). Read them with <see cref="FindingsLayout"/>.
        /// </summary>
        /// <param name="root">A new or empty folder.</param>
        /// <param name="options">Count, size, format, images per patient, seed (<see cref="SyntheticChestXRayOptions.PositiveFraction"/> is not used).</param>
        /// <returns>Where the tables are.</returns>
        /// <exception cref="ArgumentException"><paramref name="root"/> is not empty, or an option is out of range.</exception>
        public static SyntheticTable WriteFindingsTable(string root, SyntheticChestXRayOptions? options = null)
        {
            options ??= new SyntheticChestXRayOptions();
            Validate(root, options);
            string folder = Path.Combine(root, "findings");
            Directory.CreateDirectory(folder);
            string header = "Path,Sex,Age," + string.Join(",", PhantomFindings);
            var train = new StringBuilder(header).Append('\n');
            var valid = new StringBuilder(header).Append('\n');
            var pixels = new float[options.Size * options.Size];
            string extension = Extension(options.Format);
            for (int i = 0; i < options.Count; i++)
            {
                int patient = i / options.ImagesPerPatient, study = i % options.ImagesPerPatient;
                bool isValid = patient % 7 == 6;
                SampleRandom draw = SampleRandom.For(options.Seed, 0xF1D, i);
                bool[] present = PhantomPrevalences.Select(p => draw.NextDouble() < p).ToArray();
                RenderFindings(pixels, options.Size, options.Seed, patient, i, present);
                string relative = string.Format(CultureInfo.InvariantCulture, "findings/{0}/patient{1:D5}/study{2}/view1_frontal{3}", isValid ? "valid" : "train", patient, study + 1, extension);
                string path = Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar));
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                SaveAny(pixels, options.Size, options.Format, path, options.Seed, patient, study);
                var cells = present.Select(p =>
                {
                    double u = draw.NextDouble();
                    return u < 0.04 ? string.Empty : u < 0.12 ? "-1.0" : p ? "1.0" : "0.0";
                });
                string sex = draw.NextDouble() < 0.5 ? "Male" : "Female";
                string age = (30 + draw.NextInt(55)).ToString(CultureInfo.InvariantCulture);
                (isValid ? valid : train).Append(string.Join(",", new[] { relative, sex, age }.Concat(cells))).Append('\n');
            }

            string trainTable = Path.Combine(folder, "train.csv");
            string validTable = Path.Combine(folder, "valid.csv");
            File.WriteAllText(trainTable, train.ToString());
            File.WriteAllText(validTable, valid.ToString());
            return new SyntheticTable(root, trainTable, validTable);
        }

        /// <summary>A gray phantom with the findings <paramref name="present"/> (in the order of <see cref="PhantomFindings"/>).</summary>
        internal static void RenderFindings(float[] image, int size, int seed, int patient, int index, bool[] present)
        {
            SampleRandom anatomy = SampleRandom.For(seed, 0x0A7A, patient);
            SampleRandom shot = SampleRandom.For(seed, 0x5407, index);
            double lungW = 0.27 + (0.02 * anatomy.NextGaussian()), lungH = 0.5 + (0.03 * anatomy.NextGaussian());
            double lungX = 0.4, lungY = -0.1;
            double heartR = (present[2] ? 0.34 : 0.22) + (0.02 * anatomy.NextGaussian());
            double leftY = lungY + (0.3 * lungH * ((2 * shot.NextDouble()) - 1)), rightY = lungY + (0.3 * lungH * ((2 * shot.NextDouble()) - 1));
            double fluidLevel = lungY + (lungH * (0.45 + (0.15 * shot.NextDouble())));
            double noise = 0.015 + (0.01 * shot.NextDouble());
            for (int py = 0; py < size; py++)
            {
                for (int px = 0; px < size; px++)
                {
                    double u = ((px + 0.5) / size * 2) - 1, v = ((py + 0.5) / size * 2) - 1;
                    double body = Smooth(1 - Ellipse(u, v - 0.3, 0.92, 1.5), 0.05);
                    double value = 0.06 + (0.5 * body);
                    double left = Smooth(1 - Ellipse(u + lungX, v - lungY, lungW, lungH), 0.1);
                    double right = Smooth(1 - Ellipse(u - lungX, v - lungY, lungW, lungH), 0.1);
                    value -= 0.3 * Math.Max(left, right) * body;
                    value += 0.18 * Smooth(1 - Ellipse(u - 0.1, v - 0.3, heartR * 1.3, heartR), 0.15) * body;

                    // The image's left (patient's right lung) and right halves; opacities are soft blobs inside a lung.
                    if (present[0])
                    {
                        value += 0.22 * left * Math.Exp(-(((u + lungX) * (u + lungX)) + ((v - leftY) * (v - leftY))) / 0.02);
                    }

                    if (present[1])
                    {
                        value += 0.22 * right * Math.Exp(-(((u - lungX) * (u - lungX)) + ((v - rightY) * (v - rightY))) / 0.02);
                    }

                    if (present[3])
                    {
                        value += 0.25 * right * Smooth(v - fluidLevel, 0.06);
                    }

                    value += noise * shot.NextGaussian();
                    image[(py * size) + px] = (float)Math.Clamp(value, 0, 1);
                }
            }
        }
    }
}
