using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Studies;

namespace MedicalTransfer.Reporting
{
    /// <summary>The multi-label form of the study report: per-finding metrics with bootstrap intervals, a ROC grid and per-finding calibration.</summary>
    public sealed partial class StudyReport
    {
        private static readonly double[] FindingDecisionThresholds = { 0.1, 0.2, 0.3, 0.5 };
        private readonly List<MultiLabelSubgroupReport> findingSubgroups = new();
        private readonly List<MultiLabelExternalValidationReport> findingExternals = new();
        private FindingsStudy? findings;
        private MultiLabelCrossValidationResult? findingsCrossValidation;

        /// <summary>Adds a multi-label subgroup analysis (a table of every finding's metrics per group) to a multi-label report.</summary>
        /// <param name="report">The report of <see cref="MultiLabelSubgroupReport"/>.</param>
        /// <returns>This report.</returns>
        public StudyReport WithSubgroups(MultiLabelSubgroupReport report)
        {
            findingSubgroups.Add(report ?? throw new ArgumentNullException(nameof(report)));
            return this;
        }

        /// <summary>Adds a multi-label external validation (every finding at the new site, internal thresholds applied as is) to a multi-label report.</summary>
        /// <param name="report">The report of <see cref="MultiLabelExternalValidationReport.Create"/>.</param>
        /// <returns>This report.</returns>
        public StudyReport WithExternalValidation(MultiLabelExternalValidationReport report)
        {
            findingExternals.Add(report ?? throw new ArgumentNullException(nameof(report)));
            return this;
        }

        /// <summary>
        /// Reports a multi-label cross-validation: the data flow per fold (positives of each finding, images and patients per
        /// training part, validation carve and held-out fold), each fold's held-out AUROC per finding with its best epoch, the
        /// mean and standard deviation across folds, the pooled out-of-fold per-finding table with patient-level bootstrap
        /// intervals, the ROC and reliability grids of the pooled out-of-fold predictions, the folds' temperatures, the
        /// kept-apart test set when one was given, the training settings and the checklists.
        /// <code>
        /// var result = CrossValidation.RunFindings(builder, data, options, test);
        /// new StudyReport("Four findings on chest X-rays: 5-fold cross-validation").WithCrossValidation(result).Save("report");
        /// </code>
        /// </summary>
        /// <param name="result">The result of <see cref="CrossValidation.RunFindings(TransferBuilder, ImageDataset, CrossValidationOptions, TestSet?, System.Threading.CancellationToken)"/>.</param>
        /// <returns>This report.</returns>
        public StudyReport WithCrossValidation(MultiLabelCrossValidationResult result)
        {
            ArgumentNullException.ThrowIfNull(result);
            var bootstrap = result.Options.Evaluation.Bootstrap ?? new BootstrapOptions();
            findingsCrossValidation = result;
            findings = new FindingsStudy(result.OutOfFold, result.Options.Calibrate ? result.OutOfFoldUncalibrated() : null, result.Pooled, result.Intervals ?? MultiLabelIntervals.Compute(result.OutOfFold, bootstrap), result.PooledThresholds, null);
            trainingOptions ??= result.Options.Training;
            trainingPhases ??= result.Options.Phases;
            AddSeed("fold assignment (FoldOptions.Seed)", result.Assignment.Options.Seed);
            AddSeed("training (TrainingOptions.Seed; also seeds each fold's model initialisation)", result.Options.Training.Seed ?? result.Assignment.Options.Seed);
            AddSeed("data order and augmentation (LoaderOptions.Seed)", result.Options.Loader.Seed);
            AddSeed("bootstrap (BootstrapOptions.Seed)", bootstrap.Seed);
            return this;
        }

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

            var cv = findingsCrossValidation;
            var summary = doc.Add("summary", "Summary");
            if (cv is null)
            {
                summary.Paragraph(string.Format(c, "Multi-label model of {0} findings ({1}), {2} test images{3} evaluated once. Mean AUROC over findings {4}; per finding from {5} ({6}) to {7} ({8}).", report.PerFinding.Count, string.Join(", ", report.PerFinding.Select(r => r.Finding)), study.Test.Count, intervals.PatientLevel ? string.Format(c, " of {0} patients", intervals.Units) : string.Empty, Text(intervals.MacroAuroc), Lowest(report).Finding, F(Lowest(report).Auroc), Highest(report).Finding, F(Highest(report).Auroc)));
            }
            else
            {
                var a = cv.Assignment;
                var macro = cv.Summary.First(s => s.Name == "mean AUROC");
                summary.Paragraph(string.Format(c, "Multi-label model of {0} findings ({1}). {2} images of {3} patients, {4}-fold patient-level cross-validation{5} stratified per finding; every image predicted once by the model that never saw its patient.", report.PerFinding.Count, string.Join(", ", report.PerFinding.Select(r => r.Finding)), a.Data.Count, a.GroupCount, a.Folds, a.Repeats > 1 ? string.Format(c, " repeated {0} times", a.Repeats) : string.Empty));
                summary.Paragraph(string.Format(c, "Pooled out-of-fold mean AUROC over findings {0}; per finding from {1} ({2}) to {3} ({4}). Across folds: mean AUROC {5} +/- {6} (SD).", Text(intervals.MacroAuroc), Lowest(report).Finding, F(Lowest(report).Auroc), Highest(report).Finding, F(Highest(report).Auroc), F(macro.Mean), F(macro.StandardDeviation)));
                if (cv.Test is not null && cv.TestIntervals is { } testIntervals)
                {
                    summary.Paragraph(string.Format(c, "Kept-apart test set ({0} images), ensemble of the {1} fold models: mean AUROC {2}.", cv.TestImages, cv.Folds.Count, Text(testIntervals.MacroAuroc)));
                }
                else if (cv.Test is { } bare)
                {
                    summary.Paragraph(string.Format(c, "Kept-apart test set ({0} images), ensemble of the {1} fold models: mean AUROC {2}.", cv.TestImages, cv.Folds.Count, F(bare.MacroAuroc)));
                }
            }

            foreach (var external in findingExternals)
            {
                summary.Paragraph(string.Format(c, "External validation on {0} ({1} images), each finding at its internal threshold: AUROC {2}.", external.Site, external.External.Count, string.Join("; ", external.PerFinding.Select(r => r.External.Binary!.PositiveClass + " " + Ci(r.External.Binary.RocAuc, r.External.Binary.RocAucInterval)))));
            }

            foreach (var note in notes.Concat(cv?.Notes ?? Array.Empty<string>()))
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
            if (cv is not null)
            {
                FoldsData(data, facts, cv);
            }

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
                bool foldWeights = cv is not null && t.PositiveWeights is null && cv.Options.WeightFindingPositives;
                if (cv is not null)
                {
                    var o = cv.Options;
                    if (foldWeights)
                    {
                        lines[1] = lines[1].TrimEnd('.') + " with per-finding positive weights (negatives / positives of each fold's training part).";
                    }

                    if (trainingPhases is not null)
                    {
                        lines.Add("Progressive phases: " + string.Join("; ", trainingPhases.Select((p, i) => string.Format(c, "{0}. {1}: freeze {2}, learning rate {3:G4}, {4} epochs", i + 1, p.Name, p.Freeze, p.LearningRate, p.Epochs))) + ".");
                    }

                    lines.Add(string.Format(c, "Batch size {0}; uncertain labels {1}; augmentation: {2}; the model of each fold is the epoch with the best {3} on its validation carve{4}, and each finding's threshold is chosen there by {5}.", o.Loader.BatchSize, o.Loader.Uncertainty, o.TrainingTransform is null ? "the SDK's training transform for the model's preprocessing (random resized crop, flip, small rotation)" : "a custom transform", o.CheckpointMetric, o.Calibrate ? ", then calibrated there by one temperature per finding" : string.Empty, o.FindingThresholdRule));
                    facts.Selection = string.Format(c, "per fold, the epoch with the best {0} on the fold's validation carve (never the held-out fold); per-finding thresholds{1} chosen on the same carve", o.CheckpointMetric, o.Calibrate ? " and temperatures" : string.Empty);
                    facts.Ensembling = cv.Test is null ? "the fold models can be combined by soft voting (not used for the reported metrics)" : "the kept-apart test set is predicted by the soft-voting ensemble of the fold models (mean calibrated probability per finding)";
                }

                training.Bullets(lines);
                facts.Training = string.Join(" ", lines) + (cv is null ? string.Empty : string.Format(c, " {0} models trained (one per fold).", cv.Folds.Count));
                facts.ClassImbalance = t.PositiveWeights is null && !foldWeights ? "none (no positive weights)" + (cv is null ? string.Empty : "; folds stratified per finding") : "per-finding positive weights in the loss" + (cv is null ? string.Empty : "; folds stratified per finding");
            }

            var results = doc.Add("results", "Performance per finding");
            string level = (intervals.MacroAuroc.Level * 100).ToString("0.#", c);
            if (cv is not null)
            {
                FoldsResults(results, cv);
                results.Heading3("Pooled out-of-fold predictions (every image once)");
            }

            results.Paragraph(string.Format(c, "Per finding, on its observed {0} labels; {1}% percentile bootstrap intervals from {2} resamples of {3} (seeded). Sensitivity and specificity are at each finding's threshold, {4}.", cv is null ? "test" : "out-of-fold", level, intervals.MacroAuroc.Resamples, intervals.PatientLevel ? "whole patients" : "images", study.Thresholds is null ? "0.5 for every finding" : cv is null ? "chosen on validation (" + study.Thresholds.Rule + ")" : "chosen on all folds' validation carves (" + study.Thresholds.Rule + ")"));
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
            results.Paragraph(string.Format(c, "On the {0} {1} images whose every label is observed: subset accuracy {2}, Hamming loss {3}, label-ranking average precision {4}.", report.FullyObservedImages, cv is null ? "test" : "cross-validated", F(report.SubsetAccuracy), F(report.HammingLoss), F(report.LabelRankingAveragePrecision)));
            results.Figure(figures.Write("roc-findings.png", "ROC curve of every finding on its observed " + (cv is null ? "test" : "out-of-fold") + " labels, with AUROC and its bootstrap interval; the dashed line is chance.", p => FindingCharts.SaveRocGrid(study.Test, p, intervals)));
            if (cv?.Test is { } cvTest)
            {
                TestResults(results, cv, cvTest, level);
            }

            facts.Metrics = "per finding: AUROC, average precision, sensitivity, specificity at validation-chosen thresholds; macro, weighted and micro averages; subset accuracy, Hamming loss, label-ranking average precision; Brier score and ECE per finding";
            facts.Uncertainty = string.Format(c, "{0}-resample percentile bootstrap intervals ({1}%) over {2}", intervals.MacroAuroc.Resamples, level, intervals.PatientLevel ? "patients" : "images") + (cv is null ? string.Empty : "; mean and SD of each finding's AUROC across folds");
            facts.Performance = cv is null ? "test set" : "pooled out-of-fold predictions of the cross-validation (each image predicted by the model that never saw its patient)" + (cv.Test is null ? string.Empty : "; kept-apart test set predicted by the fold models' ensemble");
            facts.Accuracy = (cv is null ? string.Empty : "pooled out-of-fold: ") + "mean AUROC " + Text(intervals.MacroAuroc) + "; " + string.Join("; ", intervals.PerFinding.Select(r => r.Finding + " " + Text(r.Auroc)));
            facts.Output = "sigmoid probability per finding" + (study.Temperatures is null ? string.Empty : " after per-finding temperature scaling") + "; a finding is called present at its threshold";

            var calibration = doc.Add("calibration", "Calibration per finding");
            bool calibrated = study.Temperatures is not null || cv?.Options.Calibrate == true;
            calibration.Paragraph(!calibrated
                ? "The probabilities were not rescaled. Brier score and expected calibration error (10 equal-width bins) per finding, on its observed " + (cv is null ? "test" : "out-of-fold") + " labels."
                : cv is null
                ? "Each finding's probabilities were calibrated by its own temperature (Guo et al. 2017, one T per finding: sigmoid(logit / T)), fitted on the validation split by minimising that finding's binary cross-entropy over its observed labels. Scaling changes no ranking: the AUROCs are the same before and after."
                : "Each fold model's probabilities were calibrated by one temperature per finding (Guo et al. 2017: sigmoid(logit / T)), fitted on the fold's validation carve by minimising that finding's binary cross-entropy over its observed labels; the table gives the folds' median temperature (and range), and Brier score and ECE of the pooled out-of-fold predictions. Scaling changes no fold's ranking.");
            bool both = study.Uncalibrated is not null;
            var table2 = calibration.Table(both
                ? new[] { "finding", "temperature", "Brier before", "Brier after", "ECE before", "ECE after" }
                : new[] { "finding", "temperature", "Brier", "ECE" });
            var briefs = new List<string>();
            for (int j = 0; j < report.PerFinding.Count; j++)
            {
                string finding = report.PerFinding[j].Finding;
                string temperature = study.Temperatures is { } s ? s.For(finding).ToString("0.###", c) : cv is not null && calibrated ? FoldTemperatures(cv, j) : "-";
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
            facts.Calibration = string.Join("; ", briefs) + (!calibrated ? string.Empty : cv is null ? " after per-finding temperature scaling" : " (pooled out-of-fold) after per-finding temperature scaling in each fold");

            FindingsUsefulnessSection(doc, facts, figures, study.Test, cv is null ? "test" : "out-of-fold");
            FindingsSubgroupSection(doc, facts, study.Test.Findings);
            FindingsExternalSection(doc, facts, figures, study.Test.Findings);
            if (extraFigures.Count > 0)
            {
                var more = doc.Add("figures", "Further figures");
                foreach (var (caption, path) in extraFigures)
                {
                    more.Figure(figures.Copy(path, caption));
                }

                facts.Explainability = "figures in 'Further figures' (validation of the explanations: for the author)";
            }

            ReproducibilitySection(doc, facts, cv?.WorkFolder, time);

            ChecklistSection(doc, facts);
            return doc;
        }

        /// <summary>Each finding's decision curve (net benefit against treat-all and treat-none) on its observed labels: a table at a few thresholds and a grid.</summary>
        private static void FindingsUsefulnessSection(StudyDocument doc, StudyFacts facts, FigureWriter figures, MultiLabelPredictions predictions, string which)
        {
            var c = CultureInfo.InvariantCulture;
            var section = doc.Add("usefulness", "Clinical usefulness: decision curve per finding");
            section.Paragraph("Net benefit (Vickers and Elkin 2006) of acting on each finding's probability at a threshold p_t: TP/n - FP/n * p_t / (1 - p_t), on the finding's observed " + which + " labels, against treating every patient (prevalence - (1 - prevalence) * p_t / (1 - p_t)) and treating none (0). A finding's model is useful where its curve lies above both.");
            var table = section.Table(new[] { "finding", "labels", "prevalence", "useful at thresholds" }.Concat(FindingDecisionThresholds.Select(t => "net benefit at " + t.ToString("0.0#", c) + ": model / treat all")).ToArray());
            var briefs = new List<string>();
            for (int j = 0; j < predictions.Findings.Count; j++)
            {
                string finding = predictions.Findings[j];
                if (!predictions.Column(j).IsPositive.Any())
                {
                    table.Row(new[] { finding, "0", "-", "no observed labels" }.Concat(FindingDecisionThresholds.Select(_ => "-")).ToArray());
                    continue;
                }

                var curve = DecisionCurve.Compute(predictions, finding);
                var cells = new List<string> { finding, curve.Count.ToString(c), F(curve.Prevalence), curve.UsefulRange() };
                foreach (double t in FindingDecisionThresholds)
                {
                    var p = curve.Points.OrderBy(x => Math.Abs(x.Threshold - t)).First();
                    cells.Add(F(p.Model, 4) + " / " + F(p.TreatAll, 4));
                }

                table.Row(cells.ToArray());
                briefs.Add(finding + " " + curve.UsefulRange());
            }

            section.Figure(figures.Write("decision-findings.png", "Decision curve of every finding on its observed " + which + " labels: net benefit of the model (blue), treat all (grey) and treat none (dashed) over threshold probabilities.", p => FindingCharts.SaveDecisionCurveGrid(predictions, p)));
            facts.Usefulness = "decision curve per finding, useful at thresholds: " + string.Join("; ", briefs);
        }

        /// <summary>Every finding's metrics per group of each subgroup analysis, in one table per attribute.</summary>
        private void FindingsSubgroupSection(StudyDocument doc, StudyFacts facts, IReadOnlyList<string> names)
        {
            if (findingSubgroups.Count == 0)
            {
                return;
            }

            var c = CultureInfo.InvariantCulture;
            var section = doc.Add("subgroups", "Subgroups per finding");
            section.Paragraph("Each finding on its observed labels, decided in every group at the finding's one threshold (the one of the per-finding table); percentile bootstrap intervals resample the group's images.");
            foreach (var s in findingSubgroups)
            {
                CheckFindings(s.Findings, names, "subgroup analysis by " + s.Attribute);
                section.Heading3("By " + s.Attribute);
                string level = Level(s.PerFinding.SelectMany(r => r.Groups).Select(g => g.AucInterval));
                var table = section.Table("finding (threshold)", "group", "images", "positives", "prevalence", "AUROC (" + level + ")", "sensitivity (" + level + ")", "specificity (" + level + ")", "flag");
                foreach (var r in s.PerFinding)
                {
                    foreach (var g in r.Groups)
                    {
                        table.Row(g.TooSmall, string.Format(c, "{0} ({1:0.000})", r.PositiveClass, r.Threshold), g.Group, g.Images.ToString(c), g.Positives.ToString(c), F(g.Images == 0 ? double.NaN : g.Positives / (double)g.Images), Short(g.Auc, g.AucInterval), Short(g.Sensitivity, g.SensitivityInterval), Short(g.Specificity, g.SpecificityInterval), g.TooSmall ? "too small" : string.Empty);
                    }
                }

                section.Paragraph(string.Format(c, "Flagged rows (too small) have fewer than {0} positives or negatives of the finding: their estimates are unstable.", s.MinimumPerClass));
            }

            facts.Fairness = "per-finding subgroup metrics with intervals by " + string.Join(", ", findingSubgroups.Select(s => s.Attribute));
            facts.Robustness = facts.Fairness;
        }

        /// <summary>Every finding at each external site: prevalence shift, AUROC internal and external, the internal threshold's sensitivity and specificity there, calibration.</summary>
        private void FindingsExternalSection(StudyDocument doc, StudyFacts facts, FigureWriter figures, IReadOnlyList<string> names)
        {
            if (findingExternals.Count == 0)
            {
                return;
            }

            var c = CultureInfo.InvariantCulture;
            var section = doc.Add("external", "External validation per finding");
            section.Paragraph("The trained model was evaluated unchanged on each finding's observed labels at the new site; each finding's threshold, chosen on internal validation data, was applied as it is. Internal numbers are of the internal predictions the report was given; intervals resample images.");
            foreach (var e in findingExternals)
            {
                CheckFindings(e.External.Findings, names, "external validation on " + e.Site);
                section.Heading3(string.Format(c, "{0} ({1} images)", e.Site, e.External.Count));
                string level = Level(e.PerFinding.Select(r => r.External.Binary!.RocAucInterval));
                var table = section.Table("finding", "labels internal / external", "prevalence internal / external (shift)", "internal threshold", "AUROC internal (" + level + ")", "AUROC external (" + level + ")");
                var decisions = section.Table("finding", "sensitivity external (" + level + ")", "specificity external (" + level + ")", "sensitivity / specificity internal", "calibration-in-the-large external", "Brier external");
                foreach (var r in e.PerFinding)
                {
                    var b = r.External.Binary!;
                    var i = r.Internal?.Binary;
                    table.Row(b.PositiveClass, string.Format(c, "{0} / {1}", r.Internal?.Predictions.Count, r.External.Predictions.Count), string.Format(c, "{0:0.000} / {1:0.000} ({2:+0.000;-0.000;0.000})", r.InternalPrevalence, r.ExternalPrevalence, r.ExternalPrevalence - r.InternalPrevalence), F(r.Threshold), i is null ? "-" : Short(i.RocAuc, i.RocAucInterval), Short(b.RocAuc, b.RocAucInterval));
                    decisions.Row(b.PositiveClass, Short(b.Sensitivity, b.SensitivityInterval), Short(b.Specificity, b.SpecificityInterval), i is null ? "-" : F(i.Sensitivity) + " / " + F(i.Specificity), F(r.ExternalCalibration.InterceptInTheLarge), F(r.ExternalCalibration.Brier, 4));
                }

                section.Figure(figures.Write("external-calibration-findings-" + figures.Count.ToString(c) + ".png", "Reliability diagram of every finding at " + e.Site + " (10 equal-width bins), the model unchanged.", p => FindingCharts.SaveCalibrationGrid(e.External, p)));
            }

            facts.External = string.Join("; ", findingExternals.Select(e => string.Format(c, "{0}: {1} images, AUROC per finding {2}", e.Site, e.External.Count, string.Join(", ", e.PerFinding.Select(r => r.External.Binary!.PositiveClass + " " + F(r.External.Binary.RocAuc))))));
        }

        /// <summary>A value and its interval in a narrow cell: <c>0.905 (0.739-0.996)</c>.</summary>
        private static string Short(double value, ConfidenceInterval? interval) =>
            double.IsNaN(value) ? "n/a" : interval is null || double.IsNaN(interval.Lower) ? F(value) : string.Format(CultureInfo.InvariantCulture, "{0:0.000} ({1:0.000}-{2:0.000})", value, interval.Lower, interval.Upper);

        /// <summary>The intervals' level for a column header, for example <c>95% CI</c>.</summary>
        private static string Level(IEnumerable<ConfidenceInterval?> intervals) =>
            intervals.FirstOrDefault(i => i is not null) is { } first ? (first.Level * 100).ToString("0.#", CultureInfo.InvariantCulture) + "% CI" : "CI";

        private static void CheckFindings(IReadOnlyList<string> given, IReadOnlyList<string> study, string what)
        {
            if (!given.SequenceEqual(study, StringComparer.Ordinal))
            {
                throw new InvalidOperationException("The " + what + " is of findings " + string.Join(", ", given) + ", the study's are " + string.Join(", ", study) + ": compute it from the same model's predictions.");
            }
        }

        /// <summary>The data flow of a multi-label cross-validation: positives of each finding, images and patients per fold part.</summary>
        private static void FoldsData(StudyDocument.Section data, StudyFacts facts, MultiLabelCrossValidationResult cv)
        {
            var c = CultureInfo.InvariantCulture;
            var a = cv.Assignment;
            var findingNames = a.Data.Findings;
            string grouping = a.Options.GroupOf is not null ? "a caller-supplied patient key" : a.Options.GroupPattern is null ? (a.Data.Samples.Any(s => !string.IsNullOrEmpty(s.PatientId)) ? "the patient id (table column or DICOM Patient ID)" : "nothing (every image its own group: partitions are disjoint by image only)") : "the patient id in the file name (/" + a.Options.GroupPattern + "/)";
            data.Paragraph(string.Format(c, "{0} images of {1} patients were dealt into {2} folds{3}, stratified per finding (each finding's positives, and the images with none, near each fold's share) and grouped by {4}, seed {5}; a patient's images are always in one fold. Inside each fold's training part, {6} of the patients were carved out the same way as a validation split, which alone chose the best epoch, the temperatures and the thresholds; the held-out fold chose nothing. Counts are observed positive labels.", a.Data.Count, a.GroupCount, a.Folds, a.Repeats > 1 ? string.Format(c, " ({0} repeats)", a.Repeats) : string.Empty, grouping, a.Options.Seed, (a.Options.ValidationFraction * 100).ToString("0.#", c) + "%"));
            var table = data.Table(new[] { "partition (positives)" }.Concat(findingNames).Concat(new[] { "images", "patients" }).ToArray());
            string[] Counts(ImageDataset part) => part.Statistics.Counts.Select(n => n.ToString(c)).ToArray();
            table.Row(new[] { "all cross-validated" }.Concat(Counts(a.Data)).Concat(new[] { a.Data.Count.ToString(c), a.GroupCount.ToString(c) }).ToArray());
            foreach (var fold in cv.Folds)
            {
                var split = a.Split(fold.Fold, fold.Repeat);
                table.Row(new[] { fold.Name + ": training part" }.Concat(Counts(split.Train)).Concat(new[] { split.Train.Count.ToString(c), fold.TrainPatients.ToString(c) }).ToArray());
                table.Row(new[] { fold.Name + ": validation carve" }.Concat(Counts(split.Validation)).Concat(new[] { split.Validation.Count.ToString(c), fold.ValidationPatients.ToString(c) }).ToArray());
                table.Row(new[] { fold.Name + ": held out" }.Concat(Counts(split.HeldOut.Images)).Concat(new[] { split.HeldOut.Count.ToString(c), fold.HeldOutPatients.ToString(c) }).ToArray());
            }

            if (cv.TestPredictions is { } test)
            {
                var positives = Enumerable.Range(0, findingNames.Count).Select(j => Enumerable.Range(0, test.Count).Count(i => test.IsObserved(i, j) && test.IsPositive(i, j)).ToString(c));
                table.Row(new[] { "test set (kept apart)" }.Concat(positives).Concat(new[] { cv.TestImages.ToString(c), test.Patients is { } p ? p.Distinct(StringComparer.Ordinal).Count().ToString(c) : "-" }).ToArray());
            }

            var misses = a.Balance.Where(b => !b.WithinTarget).ToArray();
            data.Paragraph(misses.Length == 0
                ? "Balance target met: every fold's count of every finding's positives (and of the images with none) is within max(2, 10%) of its ideal share."
                : string.Format(c, "Balance target missed in {0} fold/finding cells (patients too few or too uneven); for example {1}.", misses.Length, string.Join("; ", misses.Take(3).Select(m => string.Format(c, "fold {0} {1}: {2} images, ideal {3:0.#}", m.Fold + 1, m.ClassName, m.Count, m.Ideal)))));
            var exclusions = cv.Exclusions;
            data.Heading3("Exclusions");
            if (exclusions.Count == 0)
            {
                data.Paragraph("No image was excluded: every file was readable and every image has an out-of-fold prediction.");
            }
            else
            {
                data.Paragraph(string.Format(c, "{0} images were skipped as unreadable (BadImagePolicy.Skip):", exclusions.Count));
                var t = data.Table("file", "reason");
                foreach (var s in exclusions.Take(100))
                {
                    t.Row(s.Path, s.Reason);
                }
            }

            facts.SampleSize = string.Format(c, "{0} images of {1} patients ({2})", a.Data.Count, a.GroupCount, string.Join(", ", findingNames.Select((n, j) => n + " " + a.Data.Statistics.Counts[j].ToString(c) + " positive")));
            facts.Partitions = string.Format(c, "{0}-fold cross-validation{1} stratified per finding, seed {2}; validation carve {3} of each training part{4}", a.Folds, a.Repeats > 1 ? " x " + a.Repeats.ToString(c) : string.Empty, a.Options.Seed, (a.Options.ValidationFraction * 100).ToString("0.#", c) + "%", cv.Test is null ? string.Empty : "; a test set kept apart");
            facts.DisjointLevel = a.Options.GroupOf is null && a.Options.GroupPattern is null && !a.Data.Samples.Any(s => !string.IsNullOrEmpty(s.PatientId)) ? "image (no patient grouping was given)" : "patient";
            facts.Flow = "table 'Data and partitions' (positives per finding, images and patients per partition, exclusions)";
            facts.PartitionCharacteristics = "positives of each finding per partition in 'Data and partitions'; demographics: for the author";
            facts.Development = string.Format(c, "{0}-fold patient-level cross-validation; a fresh model per fold from the same description; best epoch, temperatures and thresholds on each fold's validation carve", a.Folds);
            facts.Missing = exclusions.Count == 0 ? "uncertain and missing labels are left out of their finding; no image was unreadable" : string.Format(c, "uncertain and missing labels are left out of their finding; {0} unreadable images excluded, each listed with its reason", exclusions.Count);
            facts.Subsets = facts.Missing;
        }

        /// <summary>Each fold's held-out AUROC per finding, and the mean and SD across folds.</summary>
        private static void FoldsResults(StudyDocument.Section results, MultiLabelCrossValidationResult cv)
        {
            var c = CultureInfo.InvariantCulture;
            var names = cv.Findings;
            results.Heading3("Per fold (held-out fold; temperatures and thresholds chosen on the fold's validation carve)");
            results.Paragraph("Each fold model's AUROC per finding on its held-out fold, with the mean AUROC and mean average precision over findings.");
            var table = results.Table(new[] { "fold", "held out (patients)", "best epoch" }.Concat(names).Concat(new[] { "mean AUROC", "mean AP" }).ToArray());
            foreach (var f in cv.Folds)
            {
                table.Row(new[] { f.Name, string.Format(c, "{0} ({1})", f.HeldOutImages, f.HeldOutPatients), f.BestEpoch.ToString(c) }.Concat(f.Report.PerFinding.Select(r => F(r.Auroc))).Concat(new[] { F(f.Report.MacroAuroc), F(f.Report.MacroAveragePrecision) }).ToArray());
            }

            results.Heading3("Across folds");
            var summary = results.Table("metric", "mean", "SD", "min", "max", "folds");
            foreach (var s in cv.Summary)
            {
                summary.Row(s.Name, F(s.Mean), F(s.StandardDeviation), F(s.Minimum), F(s.Maximum), s.Folds.ToString(c));
            }
        }

        /// <summary>The kept-apart test set, predicted by the fold models' ensemble at thresholds chosen on the pooled out-of-fold predictions.</summary>
        private static void TestResults(StudyDocument.Section results, MultiLabelCrossValidationResult cv, MultiLabelReport test, string level)
        {
            var c = CultureInfo.InvariantCulture;
            results.Heading3(string.Format(c, "Kept-apart test set ({0} images): ensemble of the {1} fold models", cv.TestImages, cv.Folds.Count));
            results.Paragraph("The test images are in no fold. Each is predicted once by the mean of the fold models' calibrated probabilities; each finding's threshold was chosen on the pooled out-of-fold predictions (" + cv.TestThresholds!.Rule + "), never on the test set.");
            var table = results.Table("finding", "n positive", "n negative", "AUROC (" + level + "% CI)", "AP (" + level + "% CI)", "threshold", "sensitivity", "specificity");
            for (int j = 0; j < test.PerFinding.Count; j++)
            {
                var r = test.PerFinding[j];
                var ci = cv.TestIntervals?.PerFinding[j];
                table.Row(r.Finding, r.Positives.ToString(c), r.Negatives.ToString(c), ci is null ? F(r.Auroc) : Text(ci.Auroc), ci is null ? F(r.AveragePrecision) : Text(ci.AveragePrecision), F(r.Threshold), F(r.Sensitivity), F(r.Specificity));
            }

            table.Row("mean", string.Empty, string.Empty, cv.TestIntervals is { } i ? Text(i.MacroAuroc) : F(test.MacroAuroc), F(test.MacroAveragePrecision), string.Empty, string.Empty, string.Empty);
        }

        /// <summary>
        /// A finding's temperature over the folds: the median and the range, and how many folds' temperatures stopped at a
        /// bound (0.05 or 100: the carve's probabilities carried almost no information about the finding, or were perfectly separated).
        /// </summary>
        private static string FoldTemperatures(MultiLabelCrossValidationResult cv, int finding)
        {
            var values = cv.Folds.Where(f => f.Calibration is not null).Select(f => f.Calibration!.Temperatures[finding]).OrderBy(v => v).ToArray();
            if (values.Length == 0)
            {
                return "-";
            }

            double median = values.Length % 2 == 1 ? values[values.Length / 2] : (values[(values.Length / 2) - 1] + values[values.Length / 2]) / 2;
            int bound = values.Count(v => v >= 99.99 || v <= 0.0501);
            return string.Format(CultureInfo.InvariantCulture, "{0:0.###} ({1:0.###}-{2:0.###}){3}", median, values[0], values[^1], bound == 0 ? string.Empty : string.Format(CultureInfo.InvariantCulture, "; {0} of {1} folds at a bound", bound, values.Length));
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
