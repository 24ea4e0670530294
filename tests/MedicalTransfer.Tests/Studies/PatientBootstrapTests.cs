using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Studies;
using Xunit;

namespace MedicalTransfer.Tests.Studies
{
    public sealed class PatientBootstrapTests
    {
        /// <summary>60 patients; each patient's image is repeated <paramref name="copies"/> times (perfectly correlated images).</summary>
        private static (Predictions Predictions, string[] Patients) Data(int copies)
        {
            var random = new Random(3);
            var labels = new List<int>();
            var rows = new List<IReadOnlyList<double>>();
            var patients = new List<string>();
            for (int p = 0; p < 60; p++)
            {
                int label = p % 2;
                double score = Math.Clamp(0.5 + ((label == 1 ? 0.1 : -0.1) + (0.7 * (random.NextDouble() - 0.5))), 0, 1);
                for (int k = 0; k < copies; k++)
                {
                    labels.Add(label);
                    rows.Add(new[] { 1 - score, score });
                    patients.Add("patient" + p.ToString(CultureInfo.InvariantCulture));
                }
            }

            return (new Predictions(new[] { "NORMAL", "PNEUMONIA" }, labels, rows), patients.ToArray());
        }

        private static double Width(ConfidenceInterval ci) => ci.Upper - ci.Lower;

        [Fact]
        public void Compute_FourIdenticalImagesPerPatient_IntervalsAboutTwiceAsWideAsTheImageBootstrap()
        {
            var options = new BootstrapOptions { Resamples = 2000, Seed = 1 };
            var (predictions, patients) = Data(4);
            var report = BinaryReport.Compute(predictions, "PNEUMONIA", OperatingPoint.Threshold(0.5), bootstrap: options);

            var byPatient = PatientBootstrap.Compute(predictions, patients, 1, 0.5, options, report);

            Assert.Equal(60, byPatient.Patients);
            Assert.Equal(report.RocAuc, byPatient.Auc.Estimate);
            // Copies add no information: the image bootstrap's n is 4x too large, its interval sqrt(4) = 2x too narrow.
            double ratio = Width(byPatient.Auc) / Width(report.RocAucInterval!);
            Assert.InRange(ratio, 1.6, 2.5);
            Assert.InRange(Width(byPatient.Sensitivity) / Width(report.SensitivityInterval!), 1.6, 2.5);
            Assert.Equal(byPatient, PatientBootstrap.Compute(predictions, patients, 1, 0.5, options, report));
        }

        [Fact]
        public void Compute_OneImagePerPatient_AgreesWithTheImageBootstrap()
        {
            var options = new BootstrapOptions { Resamples = 2000, Seed = 1 };
            var (predictions, patients) = Data(1);
            var report = BinaryReport.Compute(predictions, "PNEUMONIA", OperatingPoint.Threshold(0.5), bootstrap: options);

            var byPatient = PatientBootstrap.Compute(predictions, patients, 1, 0.5, options, report);

            Assert.InRange(Width(byPatient.Auc) / Width(report.RocAucInterval!), 0.8, 1.25);
            Assert.InRange(byPatient.Auc.Lower, report.RocAucInterval!.Lower - 0.03, report.RocAucInterval.Lower + 0.03);
        }
    }
}
