using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;

namespace MedicalTransfer.Reporting
{
    /// <summary>The multi-label form of the study report: per-finding metrics with bootstrap intervals, a ROC grid and per-finding calibration.</summary>
    public sealed partial class StudyReport
    {
        private FindingsStudy? findings;

        /// <summary>
        /// Reports a multi-label evaluation on a test split: the CheXNet paper's per-finding table (observed positives, AUROC and
        /// AP with bootstrap intervals, resampling patients where the predictions know them), the averaged metrics, a grid of
        /// per-finding ROC curves, and per-finding calibration (temperatures, Brier score and ECE before and after scaling,
        /// and a grid of reliability diagrams).
        /// <code>
        /// model.CalibrateFindings(splits.Validation);
        /// var test = model.PredictFindings(splits.Test);
        /// model.SetFindingCalibration(null);
        /// var raw = model.PredictFindings(splits.Test);   // the same images before scaling, for the before/after columns
        /// new StudyReport("Four findings on chest X-rays").WithFindings(test, raw, thresholds, temperatures).Save("report");
        /// </code>
        /// </summary>
        /// <param name="test">Test predictions as the model makes them (calibrated when it has finding temperatures).</param>
        /// <param name="uncalibratedTest">The same images' predictions before temperature scaling; <see langword="null"/> when not scaled.</param>
        /// <param name="thresholds">The per-finding thresholds chosen on validation (sensitivity and specificity are at them); <see langword="null"/> for 0.5.</param>
        /// <param name="temperatures">The per-finding temperatures fitted on validation, for the calibration table.</param>
        /// <param name="bootstrap">Resamples, level and seed of the intervals; <see langword="null"/> for 1000 resamples at 95%, seed 0.</param>
        /// <param name="splitReport">How the data were split, for the data flow.</param>
        /// <returns>This report.</returns>
        /// <exception cref="ArgumentException">The uncalibrated predictions are not of the same images and findings.</exception>
        public StudyReport WithFindings(MultiLabelPredictions test, MultiLabelPredictions? uncalibratedTest = null, FindingThresholds? thresholds = null, FindingTemperatureScaling? temperatures = null, BootstrapOptions? bootstrap = null, SplitReport? splitReport = null)
        {
            ArgumentNullException.ThrowIfNull(test);
            if (uncalibratedTest is not null && (uncalibratedTest.Count != test.Count || !uncalibratedTest.Findings.SequenceEqual(test.Findings, StringComparer.Ordinal)))
            {
                throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "The uncalibrated predictions ({0} images) are not of the same images and findings as the test predictions ({1} images).", uncalibratedTest.Count, test.Count), nameof(uncalibratedTest));
            }

            bootstrap ??= new BootstrapOptions();
            findings = new FindingsStudy(test, uncalibratedTest, MultiLabelReport.Compute(test, thresholds), MultiLabelIntervals.Compute(test, bootstrap), thresholds, temperatures);
            splits = splitReport;
            AddSeed("bootstrap (BootstrapOptions.Seed)", bootstrap.Seed);
            return this;
        }

        private StudyDocument BuildFindings(string figureFolder)
        {
            var c = CultureInfo.InvariantCulture;
            var study = findings!;
            var facts = new StudyFacts();
            var doc = new StudyDocument(title);
            var figures = new FigureWriter(figureFolder);
            var time = generated ?? DateTimeOffset.UtcNow;
            doc.Subtitle.Add("Generated " + time.ToString("yyyy-MM-dd HH:mm 'UTC'", c) + " by MedicalTransfer " + Version(typeof(TransferModel)) + ".");
            var report = study.Report;
            var intervals = study.Intervals;

            var summary = doc.Add("summary", "Summary");
            summary.Paragraph(string.Format(c, "Multi-label model of {0} findings ({1}), {2} test images{3} evaluated once. Mean AUROC over findings {4}; per finding from {5} ({6}) to {7} ({8}).", report.PerFinding.Count, string.Join(", ", report.PerFinding.Select(r => r.Finding)), study.Test.Count, intervals.PatientLevel ? string.Format(c, " of {0} patients", intervals.Units) : string.Empty, Text(intervals.MacroAuroc), Lowest(report).Finding, F(Lowest(report).Auroc), Highest(report).Finding, F(Highest(report).Auroc)));
            foreach (var note in notes)
            {
                summary.Note(note);
            }

            var data = doc.Add("data", "Data and partitions");
            if (dataDescription is not null)
            {
                data.Paragraph(dataDescription);
            }

            data.Paragraph("Labels come from a table with one column per finding. Uncertain labels (under U-Ignore) and missing labels are left out of their finding in every metric and in the temperature fit; the counts below are observed labels.");
            if (splits is not null)
            {
                var table = data.Table("finding (positives)", "train", "validation", "test");
                for (int k = 0; k < splits.Classes.Count; k++)
                {
                    table.Row(splits.Classes[k], splits.Train.Counts[k].ToString(c), splits.Validation.Counts[k].ToString(c), splits.Test.Counts[k].ToString(c));
                }

                table.Row("images", splits.Train.Total.ToString(c), splits.Validation.Total.ToString(c), splits.Test.Total.ToString(c));
                foreach (var note in splits.Notes)
                {
                    data.Note(note);
                }

                facts.Partitions = "train/validation/test split, grouped by patient and stratified by each image's rarest positive finding (see 'Data and partitions')";
                facts.Flow = "table 'Data and partitions'";
            }

            facts.SampleSize = string.Format(c, "{0} test images ({1})", study.Test.Count, string.Join(", ", report.PerFinding.Select(r => r.Finding + " " + r.Positives.ToString(c) + " positive")));
            facts.PartitionCharacteristics = "positives per finding and partition";
            facts.Missing = "uncertain and missing labels are left out of their finding";
            facts.ReferenceStandard = null;

            ModelSection(doc, facts);
            if (modelFacts is { } m)
            {
                facts.Model = m.Architecture + ", head " + m.Head + "; input: " + m.Preprocessing + "; output: one sigmoid probability per finding (" + m.Classes + ")";
            }

            if (trainingOptions is { } t)
            {
                var training = doc.Add("training", "Training");
                var lines = new List<string>
                {
                    string.Format(c, "Optimizer {0}, learning rate {1:G4}, weight decay {2:G4}, schedule {3}, {4} epochs.", t.Optimizer, t.LearningRate, t.WeightDecay, t.Schedule, t.Epochs),
                    "Loss: binary cross-entropy with logits over the observed labels" + (t.PositiveWeights is null ? string.Empty : " with positive weights " + string.Join(", ", t.PositiveWeights.Select(w => w.ToString("0.###", c)))) + (t.LabelSmoothing > 0 ? string.Format(c, ", label smoothing {0}", t.LabelSmoothing) : string.Empty) + ".",
                };
                training.Bullets(lines);
                facts.Training = string.Join(" ", lines);
                facts.ClassImbalance = t.PositiveWeights is null ? "none (no positive weights)" : "per-finding positive weights in the loss";
            }

            var results = doc.Add("results", "Performance per finding");
            string level = (intervals.MacroAuroc.Level * 100).ToString("0.#", c);
            results.Paragraph(string.Format(c, "Per finding, on its observed test labels; {0}% percentile bootstrap intervals from {1} resamples of {2} (seeded). Sensitivity and specificity are at each finding's threshold, {3}.", level, intervals.MacroAuroc.Resamples, intervals.PatientLevel ? "whole patients" : "images", study.Thresholds is null ? "0.5 for every finding" : "chosen on validation (" + study.Thresholds.Rule + ")"));
            var perFinding = results.Table("finding", "n positive", "n negative", "prevalence", "AUROC (" + level + "% CI)", "AP (" + level + "% CI)", "threshold", "sensitivity", "specificity");
            for (int j = 0; j < report.PerFinding.Count; j++)
            {
                var r = report.PerFinding[j];
                var ci = intervals.PerFinding[j];
                perFinding.Row(r.Finding, r.Positives.ToString(c), r.Negatives.ToString(c), F(r.Prevalence), Text(ci.Auroc), Text(ci.AveragePrecision), F(r.Threshold), F(r.Sensitivity), F(r.Specificity));
            }

            var averages = results.Table("average", "AUROC", "average precision");
            averages.Row("macro (mean over findings)", Text(intervals.MacroAuroc), F(report.MacroAveragePrecision));
            averages.Row("weighted by positives", F(report.WeightedAuroc), F(report.WeightedAveragePrecision));
            averages.Row("micro (all labels pooled)", F(report.MicroAuroc), F(report.MicroAveragePrecision));
            results.Paragraph(string.Format(c, "On the {0} test images whose every label is observed: subset accuracy {1}, Hamming loss {2}, label-ranking average precision {3}.", report.FullyObservedImages, F(report.SubsetAccuracy), F(report.HammingLoss), F(report.LabelRankingAveragePrecision)));
            results.Figure(figures.Write("roc-findings.png", "ROC curve of every finding on its observed test labels, with AUROC and its bootstrap interval; the dashed line is chance.", p => FindingCharts.SaveRocGrid(study.Test, p, intervals)));
            facts.Metrics = "per finding: AUROC, average precision, sensitivity, specificity at validation-chosen thresholds; macro, weighted and micro averages; subset accuracy, Hamming loss, label-ranking average precision; Brier score and ECE per finding";
            facts.Uncertainty = string.Format(c, "{0}-resample percentile bootstrap intervals ({1}%) over {2}", intervals.MacroAuroc.Resamples, level, intervals.PatientLevel ? "patients" : "images");
            facts.Performance = "test set";
            facts.Accuracy = "mean AUROC " + Text(intervals.MacroAuroc) + "; " + string.Join("; ", intervals.PerFinding.Select(r => r.Finding + " " + Text(r.Auroc)));
            facts.Output = "sigmoid probability per finding" + (study.Temperatures is null ? string.Empty : " after per-finding temperature scaling") + "; a finding is called present at its threshold";

            var calibration = doc.Add("calibration", "Calibration per finding");
            calibration.Paragraph(study.Temperatures is null
                ? "The probabilities were not rescaled. Brier score and expected calibration error (10 equal-width bins) per finding, on its observed test labels."
                : "Each finding's probabilities were calibrated by its own temperature (Guo et al. 2017, one T per finding: sigmoid(logit / T)), fitted on the validation split by minimising that finding's binary cross-entropy over its observed labels. Scaling changes no ranking: the AUROCs are the same before and after.");
            bool both = study.Uncalibrated is not null;
            var table2 = calibration.Table(both
                ? new[] { "finding", "temperature", "Brier before", "Brier after", "ECE before", "ECE after" }
                : new[] { "finding", "temperature", "Brier", "ECE" });
            var briefs = new List<string>();
            for (int j = 0; j < report.PerFinding.Count; j++)
            {
                string finding = report.PerFinding[j].Finding;
                string temperature = study.Temperatures is { } s ? s.For(finding).ToString("0.###", c) : "-";
                var (brier, ece) = Calibration(study.Test, j);
                if (study.Uncalibrated is { } raw)
                {
                    var (brier0, ece0) = Calibration(raw, j);
                    table2.Row(finding, temperature, F(brier0, 4), F(brier, 4), F(ece0, 4), F(ece, 4));
                }
                else
                {
                    table2.Row(finding, temperature, F(brier, 4), F(ece, 4));
                }

                briefs.Add(string.Format(c, "{0} Brier {1:0.0000}, ECE {2:0.0000}", finding, brier, ece));
            }

            calibration.Figure(figures.Write("calibration-findings.png", "Reliability diagram of every finding (10 equal-width bins): observed fraction positive against mean predicted probability" + (both ? ", before and after temperature scaling" : string.Empty) + ", with the number of images per bin.", p => FindingCharts.SaveCalibrationGrid(study.Test, p, study.Uncalibrated)));
            facts.Calibration = string.Join("; ", briefs) + (study.Temperatures is null ? string.Empty : " after per-finding temperature scaling");

            if (extraFigures.Count > 0)
            {
                var more = doc.Add("figures", "Further figures");
                foreach (var (caption, path) in extraFigures)
                {
                    more.Figure(figures.Copy(path, caption));
                }

                facts.Explainability = "figures in 'Further figures' (validation of the explanations: for the author)";
            }

            ReproducibilitySection(doc, facts, null, time);
            ChecklistSection(doc, facts);
            return doc;
        }

        private static FindingMetrics Lowest(MultiLabelReport report) => report.PerFinding.Where(r => !double.IsNaN(r.Auroc)).DefaultIfEmpty(report.PerFinding[0]).MinBy(r => r.Auroc)!;

        private static FindingMetrics Highest(MultiLabelReport report) => report.PerFinding.Where(r => !double.IsNaN(r.Auroc)).DefaultIfEmpty(report.PerFinding[0]).MaxBy(r => r.Auroc)!;

        private static string Text(ConfidenceInterval ci) => double.IsNaN(ci.Lower) ? F(ci.Estimate) : string.Format(CultureInfo.InvariantCulture, "{0:0.000} ({1:0.000}-{2:0.000})", ci.Estimate, ci.Lower, ci.Upper);

        /// <summary>One finding's Brier score (scikit-learn's brier_score_loss) and equal-width ECE on its observed labels.</summary>
        private static (double Brier, double Ece) Calibration(MultiLabelPredictions predictions, int finding)
        {
            var (isPositive, scores) = predictions.Column(finding);
            if (isPositive.Length == 0)
            {
                return (double.NaN, double.NaN);
            }

            double brier = isPositive.Select((y, i) => Math.Pow(scores[i] - (y ? 1 : 0), 2)).Average();
            return (brier, CalibrationMetrics.Curve(isPositive, scores).ExpectedCalibrationError);
        }

        private sealed record FindingsStudy(MultiLabelPredictions Test, MultiLabelPredictions? Uncalibrated, MultiLabelReport Report, MultiLabelIntervals Intervals, FindingThresholds? Thresholds, FindingTemperatureScaling? Temperatures);
    }
}
