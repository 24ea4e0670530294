using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Internal;
using MedicalTransfer.Studies;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;

namespace MedicalTransfer.Reporting
{
    /// <summary>The files <see cref="StudyReport.Save"/> wrote.</summary>
    /// <param name="Html">The self-contained HTML report (figures embedded): the file to mail or archive.</param>
    /// <param name="Markdown">The same report as Markdown.</param>
    /// <param name="Figures">The folder of the figures the Markdown shows.</param>
    public sealed record StudyReportFiles(string Html, string Markdown, string Figures);

    /// <summary>
    /// The report of a study, in one self-contained HTML file (every figure embedded, no external resource,
    /// print-friendly) and the same content as Markdown: data flow (images and patients per partition and class,
    /// exclusions with reasons), model, weights, freezing, training settings, metrics with confidence intervals,
    /// calibration before and after scaling, the decision curve, subgroups, external validation, model
    /// comparisons, software versions and seeds, and the CLAIM and TRIPOD+AI checklists with every item the run
    /// can answer filled in and the others listed for the author.
    /// <code>
    /// var files = new StudyReport("Pneumonia on chest X-rays: ResNet-18, 5-fold cross-validation")
    ///     .WithCrossValidation(result)
    ///     .WithModel(model, "ImageNet ResNet-18 (ML.NET ONNX)")
    ///     .WithSubgroups(bySex)
    ///     .Save("report");
    /// Console.WriteLine(files.Html);
    /// </code>
    /// </summary>
    public sealed partial class StudyReport
    {
        private static readonly double[] DecisionThresholds = { 0.05, 0.1, 0.2, 0.3, 0.4, 0.5 };
        private readonly string title;
        private readonly List<ExternalValidationReport> externals = new();
        private readonly List<SubgroupReport> subgroups = new();
        private readonly List<DeLongTest> delong = new();
        private readonly List<DecisionComparison> mcnemar = new();
        private readonly List<PairedBootstrapTest> bootstraps = new();
        private readonly List<(string Caption, string Path)> extraFigures = new();
        private readonly List<KeyValuePair<string, string>> seeds = new();
        private readonly List<string> notes = new();
        private CrossValidationResult? crossValidation;
        private EvaluationReport? evaluation;
        private Predictions? evaluationValidation;
        private Predictions? evaluationUncalibrated;
        private SplitReport? splits;
        private string? dataDescription;
        private string[]? modelLines;
        private ModelFacts? modelFacts;
        private TrainingOptions? trainingOptions;
        private IReadOnlyList<TrainingPhase>? trainingPhases;
        private TrainingHistory? history;
        private DateTimeOffset? generated;

        /// <summary>Starts a report.</summary>
        /// <param name="title">The study's title, for example <c>Pneumonia on chest X-rays: ResNet-18, 5-fold cross-validation</c>.</param>
        public StudyReport(string title)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(title);
            this.title = title;
        }

        /// <summary>Reports a cross-validation: data flow per fold, per-fold and pooled metrics, calibration, decision curve, the test set when one was kept apart, and the training settings.</summary>
        /// <param name="result">The result of <see cref="CrossValidation"/>.</param>
        /// <returns>This report.</returns>
        public StudyReport WithCrossValidation(CrossValidationResult result)
        {
            ArgumentNullException.ThrowIfNull(result);
            crossValidation = result;
            trainingOptions ??= result.Options.Training;
            trainingPhases ??= result.Options.Phases;
            AddSeed("fold assignment (FoldOptions.Seed)", result.Assignment.Options.Seed);
            AddSeed("training (TrainingOptions.Seed; also seeds each fold's model initialisation)", result.Options.Training.Seed ?? result.Assignment.Options.Seed);
            AddSeed("data order and augmentation (LoaderOptions.Seed)", result.Options.Loader.Seed);
            if (result.Options.Evaluation.Bootstrap is { } b)
            {
                AddSeed("bootstrap (BootstrapOptions.Seed)", b.Seed);
            }

            return this;
        }

        /// <summary>Reports a single train/validation/test run: the test report, calibration and decision curve.</summary>
        /// <param name="test">The test report (from <see cref="Evaluator.Evaluate(TransferModel, TestSet, EvaluationOptions?, Predictions?, PredictionOptions?, System.Threading.CancellationToken)"/>).</param>
        /// <param name="validation">The validation predictions that chose the operating point, if any.</param>
        /// <param name="uncalibratedTest">The test predictions before temperature scaling, for the before/after calibration table.</param>
        /// <param name="splitReport">How the data were split, for the data flow.</param>
        /// <returns>This report.</returns>
        public StudyReport WithEvaluation(EvaluationReport test, Predictions? validation = null, Predictions? uncalibratedTest = null, SplitReport? splitReport = null)
        {
            evaluation = test ?? throw new ArgumentNullException(nameof(test));
            evaluationValidation = validation;
            evaluationUncalibrated = uncalibratedTest;
            splits = splitReport;
            return this;
        }

        /// <summary>Describes the data in one sentence (source, dates, inclusion), shown at the top of the data section.</summary>
        /// <param name="description">For example <c>Kaggle chest X-ray (Kermany et al. 2018), pediatric, Guangzhou</c>.</param>
        /// <returns>This report.</returns>
        public StudyReport WithDataDescription(string description)
        {
            dataDescription = description;
            return this;
        }

        /// <summary>Describes the model (read now: the model may be disposed afterwards).</summary>
        /// <param name="model">A model as trained (for example one fold's, or the refit model).</param>
        /// <param name="weights">Where its initial weights came from, for example <c>ImageNet ResNet-18 (ML.NET ONNX package)</c>.</param>
        /// <returns>This report.</returns>
        public StudyReport WithModel(TransferModel model, string weights)
        {
            ArgumentNullException.ThrowIfNull(model);
            var summary = model.Summary();
            var c = CultureInfo.InvariantCulture;
            modelFacts = new ModelFacts(summary.Architecture, model.Head.Layout, model.Preprocessing.ToString(), model.FreezeSpec.ToString(), weights, model.WeightsReport?.ToString(), summary.TotalParameters, summary.TrainableParameters, string.Join(", ", model.ClassNames));
            var lines = new List<string>
            {
                "Architecture: " + summary.Architecture + "; classes " + string.Join(", ", model.ClassNames) + ".",
                "Initial weights: " + weights + ".",
                "Head: " + model.Head.Layout + ".",
                "Preprocessing (from the weights; every loader reads it from the model): " + model.Preprocessing + ".",
                "Freezing at the end of training: " + model.FreezeSpec + (model.TrainBatchNorm ? " (BatchNorm statistics of frozen stages updated)" : " (frozen stages' BatchNorm statistics fixed)") + ".",
                string.Format(c, "Parameters: {0:N0}, of which {1:N0} trainable at the end.", summary.TotalParameters, summary.TrainableParameters),
            };
            foreach (var stage in summary.Stages)
            {
                lines.Add(string.Format(c, "  {0}: {1:N0} parameters, {2}", stage.Stage, stage.Parameters, stage.State));
            }

            modelLines = lines.ToArray();
            return this;
        }

        /// <summary>The training settings (taken from the cross-validation's options when it is reported; give them here for a single run).</summary>
        /// <param name="options">The training options.</param>
        /// <param name="phases">Progressive phases, if any.</param>
        /// <param name="trainingHistory">The run's history (single runs), for its learning curve.</param>
        /// <returns>This report.</returns>
        public StudyReport WithTraining(TrainingOptions options, IReadOnlyList<TrainingPhase>? phases = null, TrainingHistory? trainingHistory = null)
        {
            trainingOptions = options ?? throw new ArgumentNullException(nameof(options));
            trainingPhases = phases;
            history = trainingHistory;
            if (options.Seed is long s)
            {
                AddSeed("training (TrainingOptions.Seed)", s);
            }

            return this;
        }

        /// <summary>Adds an external validation.</summary>
        /// <param name="report">The report of <see cref="ExternalValidationReport"/>.</param>
        /// <returns>This report.</returns>
        public StudyReport WithExternalValidation(ExternalValidationReport report)
        {
            externals.Add(report ?? throw new ArgumentNullException(nameof(report)));
            return this;
        }

        /// <summary>Adds a subgroup analysis.</summary>
        /// <param name="report">The report of <see cref="SubgroupReport"/>.</param>
        /// <returns>This report.</returns>
        public StudyReport WithSubgroups(SubgroupReport report)
        {
            subgroups.Add(report ?? throw new ArgumentNullException(nameof(report)));
            return this;
        }

        /// <summary>Adds DeLong tests of models compared on the same images.</summary>
        /// <param name="tests">The tests (for example <see cref="ModelComparison.PairwiseDeLong"/>).</param>
        /// <returns>This report.</returns>
        public StudyReport WithComparison(IEnumerable<DeLongTest> tests)
        {
            delong.AddRange(tests ?? throw new ArgumentNullException(nameof(tests)));
            return this;
        }

        /// <summary>Adds McNemar's tests of two models' decisions.</summary>
        /// <param name="comparison">The comparison.</param>
        /// <returns>This report.</returns>
        public StudyReport WithComparison(DecisionComparison comparison)
        {
            mcnemar.Add(comparison ?? throw new ArgumentNullException(nameof(comparison)));
            return this;
        }

        /// <summary>Adds a paired bootstrap of an AUC difference.</summary>
        /// <param name="test">The test.</param>
        /// <returns>This report.</returns>
        public StudyReport WithComparison(PairedBootstrapTest test)
        {
            bootstraps.Add(test ?? throw new ArgumentNullException(nameof(test)));
            return this;
        }

        /// <summary>Adds a figure of your own (for example a Grad-CAM grid), embedded like the others.</summary>
        /// <param name="caption">What the figure shows.</param>
        /// <param name="pngPath">A PNG file.</param>
        /// <returns>This report.</returns>
        public StudyReport WithFigure(string caption, string pngPath)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(caption);
            ArgumentException.ThrowIfNullOrWhiteSpace(pngPath);
            if (!File.Exists(pngPath))
            {
                throw new FileNotFoundException(string.Format(CultureInfo.InvariantCulture, "The figure '{0}' does not exist; write it before adding it to the report.", pngPath), pngPath);
            }

            extraFigures.Add((caption, pngPath));
            return this;
        }

        /// <summary>Records a seed the run used (fold assignment, training and bootstrap seeds are recorded from the cross-validation).</summary>
        /// <param name="what">What it seeds.</param>
        /// <param name="seed">The value.</param>
        /// <returns>This report.</returns>
        public StudyReport WithSeed(string what, long seed)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(what);
            AddSeed(what, seed);
            return this;
        }

        /// <summary>Adds a note (a limitation, a deviation from the protocol) to the summary.</summary>
        /// <param name="note">The note.</param>
        /// <returns>This report.</returns>
        public StudyReport WithNote(string note)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(note);
            notes.Add(note);
            return this;
        }

        /// <summary>Sets the time printed as the report's date (the default is the time of <see cref="Save"/>).</summary>
        /// <param name="time">The time.</param>
        /// <returns>This report.</returns>
        public StudyReport GeneratedAt(DateTimeOffset time)
        {
            generated = time;
            return this;
        }

        /// <summary>
        /// Writes <c>name.html</c> (self-contained), <c>name.md</c> and the figures in <c>name-figures/</c>, each file
        /// atomically (a failure never leaves a half-written report where a good one was).
        /// </summary>
        /// <param name="folder">The folder to write into (created if missing).</param>
        /// <param name="name">The files' base name.</param>
        /// <returns>The paths written.</returns>
        /// <exception cref="InvalidOperationException">No cross-validation, evaluation or multi-label evaluation was added.</exception>
        public StudyReportFiles Save(string folder, string name = "study-report")
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(folder);
            ArgumentException.ThrowIfNullOrWhiteSpace(name);
            if (crossValidation is null && evaluation is null && findings is null)
            {
                throw new InvalidOperationException("A study report needs results: call WithCrossValidation(result), WithEvaluation(report) or WithFindings(predictions) before Save.");
            }

            if (findings is not null && (crossValidation is not null || evaluation is not null))
            {
                throw new InvalidOperationException("A study report is of a single-label or of a multi-label study: WithFindings or WithCrossValidation(MultiLabelCrossValidationResult) was combined with WithCrossValidation(CrossValidationResult) or WithEvaluation. Write one report per study.");
            }

            if (findings is null && (findingSubgroups.Count > 0 || findingExternals.Count > 0))
            {
                throw new InvalidOperationException("A multi-label subgroup or external-validation report was added to a single-label study report: add it to the report of WithFindings or WithCrossValidation(MultiLabelCrossValidationResult), and SubgroupReport/ExternalValidationReport to single-label reports.");
            }

            if (findings is not null && (subgroups.Count > 0 || externals.Count > 0))
            {
                throw new InvalidOperationException("A single-label SubgroupReport or ExternalValidationReport was added to a multi-label study report: use MultiLabelSubgroupReport.Compute and MultiLabelExternalValidationReport.Create for multi-label predictions.");
            }

            folder = Path.GetFullPath(folder);
            string figures = Path.Combine(folder, name + "-figures");
            Directory.CreateDirectory(figures);
            var document = crossValidation is null && evaluation is null ? BuildFindings(figures) : Build(figures);
            string html = Path.Combine(folder, name + ".html");
            string markdown = Path.Combine(folder, name + ".md");
            Write(markdown, document.ToMarkdown(f => Path.GetFileName(figures) + "/" + f.FileName));
            Write(html, document.ToHtml());
            return new StudyReportFiles(html, markdown, figures);
        }

        private static void Write(string path, string text) => AtomicFile.WriteText(path, text);

        private void AddSeed(string what, long seed)
        {
            var value = seed.ToString(CultureInfo.InvariantCulture);
            if (!seeds.Any(s => s.Key == what))
            {
                seeds.Add(new KeyValuePair<string, string>(what, value));
            }
        }

        private StudyDocument Build(string figureFolder)
        {
            var c = CultureInfo.InvariantCulture;
            var facts = new StudyFacts();
            var doc = new StudyDocument(title);
            var figures = new FigureWriter(figureFolder);
            var time = generated ?? DateTimeOffset.UtcNow;
            doc.Subtitle.Add("Generated " + time.ToString("yyyy-MM-dd HH:mm 'UTC'", c) + " by MedicalTransfer " + Version(typeof(TransferModel)) + ".");
            var cv = crossValidation;
            string? positive = cv?.Options.Evaluation.PositiveClass ?? evaluation?.Binary?.PositiveClass;
            var finalPredictions = cv?.OutOfFold ?? evaluation!.Predictions;
            var finalReport = cv?.Pooled ?? evaluation!;
            var uncalibrated = cv is not null ? cv.OutOfFoldUncalibrated() : evaluationUncalibrated;

            // Summary
            var summary = doc.Add("summary", "Summary");
            summary.Paragraph(cv is not null
                ? string.Format(c, "{0} images of {1} patients, {2}-fold patient-level cross-validation{3}; every image predicted once by the model that never saw its patient.", cv.Assignment.Data.Count, cv.Assignment.GroupCount, cv.Assignment.Folds, cv.Assignment.Repeats > 1 ? string.Format(c, " repeated {0} times", cv.Assignment.Repeats) : string.Empty)
                : string.Format(c, "{0} test images evaluated once.", evaluation!.Predictions.Count));
            if (finalReport.Binary is { } headline)
            {
                summary.Paragraph(string.Format(c, "{0}: ROC AUC {1}; at the operating point ({2}{3}) sensitivity {4}, specificity {5}.", cv is not null ? "Pooled out-of-fold" : "Test", Ci(headline.RocAuc, headline.RocAucInterval), headline.OperatingPoint, double.IsNaN(headline.Threshold) ? string.Empty : string.Format(c, ", threshold {0:0.###}", headline.Threshold), Ci(headline.Sensitivity, headline.SensitivityInterval), Ci(headline.Specificity, headline.SpecificityInterval)));
            }
            else
            {
                summary.Paragraph(string.Format(c, "Accuracy {0}; one-vs-rest macro ROC AUC {1}.", Ci(finalReport.Classification.Accuracy, finalReport.AccuracyInterval), F(finalReport.MacroRocAuc)));
            }

            if (cv?.Test is { } testHeadline && testHeadline.Binary is { } tb)
            {
                summary.Paragraph(string.Format(c, "Kept-apart test set ({0} images), ensemble of the {1} fold models: ROC AUC {2}, sensitivity {3}, specificity {4}.", cv.TestImages, cv.Folds.Count, Ci(tb.RocAuc, tb.RocAucInterval), Ci(tb.Sensitivity, tb.SensitivityInterval), Ci(tb.Specificity, tb.SpecificityInterval)));
            }

            foreach (var external in externals)
            {
                summary.Paragraph(string.Format(c, "External validation on {0} ({1} images): ROC AUC {2}; the internal operating point gives sensitivity {3}, specificity {4} there.", external.Site, external.External.Predictions.Count, Ci(external.External.Binary!.RocAuc, external.External.Binary.RocAucInterval), Ci(external.External.Binary.Sensitivity, external.External.Binary.SensitivityInterval), Ci(external.External.Binary.Specificity, external.External.Binary.SpecificityInterval)));
            }

            foreach (var note in notes.Concat(cv?.Notes ?? Array.Empty<string>()))
            {
                summary.Note(note);
            }

            DataSection(doc, facts, cv);
            ModelSection(doc, facts);
            TrainingSection(doc, facts, cv);
            ResultsSection(doc, facts, figures, cv, positive);
            if (positive is not null)
            {
                CalibrationSection(doc, facts, figures, finalPredictions, uncalibrated, positive, cv);
                UsefulnessSection(doc, facts, figures, finalPredictions, positive);
            }

            SubgroupSection(doc, facts);
            ExternalSection(doc, facts, figures);
            ComparisonSection(doc);
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

        private void DataSection(StudyDocument doc, StudyFacts facts, CrossValidationResult? cv)
        {
            var c = CultureInfo.InvariantCulture;
            var data = doc.Add("data", "Data and partitions");
            if (dataDescription is not null)
            {
                data.Paragraph(dataDescription);
            }

            facts.ReferenceStandard = null;
            if (cv is not null)
            {
                var a = cv.Assignment;
                var classes = a.Data.Classes;
                string grouping = a.Options.GroupOf is not null ? "a caller-supplied patient key" : a.Options.GroupPattern is null ? (a.Data.Samples.Any(s => !string.IsNullOrEmpty(s.PatientId)) ? "the patient id (table column or DICOM Patient ID)" : "nothing (every image its own group: partitions are disjoint by image only)") : "the patient id in the file name (/" + a.Options.GroupPattern + "/)";
                data.Paragraph(string.Format(c, "Labels are the class folders ({0}). {1} images of {2} patients were dealt into {3} folds{4}, stratified by class and grouped by {5}, seed {6}; a patient's images are always in one fold. Inside each fold's training part, {7} of the patients were carved out the same way as a validation split, which alone chose the best epoch, the temperature and the operating point; the held-out fold chose nothing.", string.Join(", ", classes), a.Data.Count, a.GroupCount, a.Folds, a.Repeats > 1 ? string.Format(c, " ({0} repeats)", a.Repeats) : string.Empty, grouping, a.Options.Seed, (a.Options.ValidationFraction * 100).ToString("0.#", c) + "%"));
                var table = data.Table(new[] { "partition" }.Concat(classes).Concat(new[] { "images", "patients" }).ToArray());
                table.Row(new[] { "all cross-validated" }.Concat(a.Data.Statistics.Counts.Select(n => n.ToString(c))).Concat(new[] { a.Data.Count.ToString(c), a.GroupCount.ToString(c) }).ToArray());
                foreach (var fold in cv.Folds)
                {
                    var split = a.Split(fold.Fold, fold.Repeat);
                    string name = CrossValidation.FoldName(fold.Repeat, a.Repeats, fold.Fold, a.Folds);
                    table.Row(new[] { name + ": training part" }.Concat(split.Train.Statistics.Counts.Select(n => n.ToString(c))).Concat(new[] { split.Train.Count.ToString(c), fold.TrainPatients.ToString(c) }).ToArray());
                    table.Row(new[] { name + ": validation carve" }.Concat(split.Validation.Statistics.Counts.Select(n => n.ToString(c))).Concat(new[] { split.Validation.Count.ToString(c), fold.ValidationPatients.ToString(c) }).ToArray());
                    table.Row(new[] { name + ": held out" }.Concat(split.HeldOut.Statistics.Counts.Select(n => n.ToString(c))).Concat(new[] { split.HeldOut.Count.ToString(c), fold.HeldOutPatients.ToString(c) }).ToArray());
                }

                if (cv.Test is { } test)
                {
                    var counts = classes.Select((_, k) => test.Predictions.Labels.Count(l => l == k)).ToArray();
                    table.Row(new[] { "test set (kept apart)" }.Concat(counts.Select(n => n.ToString(c))).Concat(new[] { cv.TestImages.ToString(c), "-" }).ToArray());
                }

                var misses = a.Balance.Where(b => !b.WithinTarget).ToArray();
                data.Paragraph(misses.Length == 0
                    ? "Balance target met: every fold's count of every class is within max(2, 10%) of its ideal share."
                    : string.Format(c, "Balance target missed in {0} fold/class cells (patients too few or too uneven); for example {1}.", misses.Length, string.Join("; ", misses.Take(3).Select(m => string.Format(c, "fold {0} {1}: {2} images, ideal {3:0.#}", m.Fold + 1, m.ClassName, m.Count, m.Ideal)))));
                facts.SampleSize = string.Format(c, "{0} images of {1} patients ({2})", a.Data.Count, a.GroupCount, string.Join(", ", classes.Select((n, k) => n + " " + a.Data.Statistics.Counts[k].ToString(c))));
                facts.Partitions = string.Format(c, "{0}-fold cross-validation{1} stratified by class, seed {2}; validation carve {3} of each training part{4}", a.Folds, a.Repeats > 1 ? " x " + a.Repeats.ToString(c) : string.Empty, a.Options.Seed, (a.Options.ValidationFraction * 100).ToString("0.#", c) + "%", cv.Test is null ? string.Empty : "; a test set kept apart");
                facts.DisjointLevel = a.Options.GroupOf is null && a.Options.GroupPattern is null && !a.Data.Samples.Any(s => !string.IsNullOrEmpty(s.PatientId)) ? "image (no patient grouping was given)" : "patient";
                facts.Flow = "table 'Data and partitions' (images and patients per partition and class, exclusions)";
                facts.PartitionCharacteristics = "class counts per partition in 'Data and partitions'" + (subgroups.Count > 0 ? "; subgroups by " + string.Join(", ", subgroups.Select(s => s.Attribute)) : "; demographics: for the author");
                facts.Development = string.Format(c, "{0}-fold patient-level cross-validation; a fresh model per fold from the same description; best epoch on each fold's validation carve", a.Folds);
            }
            else if (splits is not null)
            {
                var table = data.Table(new[] { "class", "train", "validation", "test" });
                for (int k = 0; k < splits.Classes.Count; k++)
                {
                    table.Row(splits.Classes[k], splits.Train.Counts[k].ToString(c), splits.Validation.Counts[k].ToString(c), splits.Test.Counts[k].ToString(c));
                }

                table.Row("total", splits.Train.Total.ToString(c), splits.Validation.Total.ToString(c), splits.Test.Total.ToString(c));
                foreach (var note in splits.Notes)
                {
                    data.Note(note);
                }

                facts.SampleSize = string.Format(c, "{0} images", splits.Train.Total + splits.Validation.Total + splits.Test.Total);
                facts.Partitions = "train/validation/test split stratified by class (see 'Data and partitions')";
                facts.Flow = "table 'Data and partitions'";
                facts.PartitionCharacteristics = "class counts per partition";
            }

            var exclusions = cv?.Exclusions ?? Array.Empty<SkippedImage>();
            data.Heading3("Exclusions");
            if (exclusions.Count == 0)
            {
                data.Paragraph("No image was excluded: every file was readable and every image has a prediction.");
                facts.Missing = "no image was unreadable or excluded";
            }
            else
            {
                data.Paragraph(string.Format(c, "{0} images were skipped as unreadable (BadImagePolicy.Skip):", exclusions.Count));
                var t = data.Table("file", "reason");
                foreach (var s in exclusions.Take(100))
                {
                    t.Row(s.Path, s.Reason);
                }

                facts.Missing = string.Format(c, "{0} unreadable images excluded, each listed with its reason", exclusions.Count);
            }

            facts.Subsets = facts.Missing;
        }

        private void ModelSection(StudyDocument doc, StudyFacts facts)
        {
            var model = doc.Add("model", "Model");
            if (modelLines is null)
            {
                model.Note("No model was described: call WithModel(model, weights).");
                return;
            }

            model.Bullets(modelLines);
            var m = modelFacts!;
            facts.Model = m.Architecture + ", head " + m.Head + "; input: " + m.Preprocessing + "; output: one probability per class (" + m.Classes + ")";
            facts.Initialisation = m.Weights;
            facts.Preprocessing = m.Preprocessing;
            facts.Specification = "saved model files (safetensors with architecture, classes, preprocessing, head, freezing and calibration in the metadata); " + m.Architecture;
        }

        private void TrainingSection(StudyDocument doc, StudyFacts facts, CrossValidationResult? cv)
        {
            var c = CultureInfo.InvariantCulture;
            var training = doc.Add("training", "Training");
            if (trainingOptions is null)
            {
                training.Note("No training settings were given: call WithTraining(options).");
                return;
            }

            var t = trainingOptions;
            var lines = new List<string>
            {
                string.Format(c, "Optimizer {0}, learning rate {1:G4}, weight decay {2:G4}{3}, schedule {4}.", t.Optimizer, t.LearningRate, t.WeightDecay, t.Optimizer == OptimizerKind.AdamW ? string.Format(c, ", betas ({0}, {1})", t.Betas.Beta1, t.Betas.Beta2) : string.Format(c, ", momentum {0}", t.Momentum), t.Schedule),
                trainingPhases is null ? string.Format(c, "{0} epochs in one phase.", t.Epochs) : "Progressive phases: " + string.Join("; ", trainingPhases.Select((p, i) => string.Format(c, "{0}. {1}: freeze {2}, learning rate {3:G4}, {4} epochs", i + 1, p.Name, p.Freeze, p.LearningRate, p.Epochs))) + ".",
                "Loss: cross-entropy" + (t.ClassWeights is null ? " with equal class weights" : " with class weights " + string.Join(", ", t.ClassWeights.Select(w => w.ToString("0.###", c)))) + (t.LabelSmoothing > 0 ? string.Format(c, ", label smoothing {0}", t.LabelSmoothing) : string.Empty) + (t.GradientClipNorm is double g ? string.Format(c, ", gradients clipped to norm {0}", g) : string.Empty) + ".",
            };
            if (t.AutoFreeze is not null)
            {
                lines.Add("Automatic freezing: " + t.AutoFreeze + ".");
            }

            if (cv is not null)
            {
                var o = cv.Options;
                lines.Add(string.Format(c, "Batch size {0}; augmentation: {1}; the model of each fold is the epoch with the best {2} on its validation carve{3}.", o.Loader.BatchSize, o.TrainingTransform is null ? "the SDK's training transform for the model's preprocessing (random resized crop, flip, small rotation)" : "a custom transform", o.CheckpointMetric, o.Calibrate ? ", then calibrated by temperature scaling on the same carve" : string.Empty));
                facts.Selection = string.Format(c, "per fold, the epoch with the best {0} on the fold's validation carve (never the held-out fold)", o.CheckpointMetric);
                facts.Ensembling = cv.Test is null ? "the fold models can be combined by soft voting (not used for the reported metrics)" : "the kept-apart test set is predicted by the soft-voting ensemble of the fold models";
            }

            training.Bullets(lines);
            facts.Training = string.Join(" ", lines) + (cv is null ? string.Empty : string.Format(c, " {0} models trained (one per fold).", cv.Folds.Count));
            facts.ClassImbalance = t.ClassWeights is null ? "none (equal class weights); stratified folds" : "inverse-frequency class weights in the loss; folds stratified by class";
        }

        private void ResultsSection(StudyDocument doc, StudyFacts facts, FigureWriter figures, CrossValidationResult? cv, string? positive)
        {
            var c = CultureInfo.InvariantCulture;
            var results = doc.Add("results", "Performance");
            var report = cv?.Pooled ?? evaluation!;
            if (cv is not null)
            {
                results.Heading3("Per fold (held-out fold, calibrated model, operating point chosen on the fold's validation carve)");
                var table = results.Table("fold", "held out (patients)", "best epoch", "temperature", "threshold", "accuracy", "AUC", "sensitivity", "specificity", "Brier");
                foreach (var f in cv.Folds)
                {
                    var b = f.Report.Binary;
                    table.Row(
                        CrossValidation.FoldName(f.Repeat, cv.Assignment.Repeats, f.Fold, cv.Assignment.Folds),
                        string.Format(c, "{0} ({1})", f.HeldOutImages, f.HeldOutPatients),
                        f.BestEpoch.ToString(c),
                        f.Calibration is null ? "-" : f.Calibration.Temperature.ToString("0.###", c) + (f.Calibration.Temperature >= 99.99 || f.Calibration.Temperature <= 0.0501 ? " (at its bound)" : string.Empty),
                        double.IsNaN(f.Threshold) ? "argmax" : f.Threshold.ToString("0.###", c),
                        F(f.Report.Classification.Accuracy),
                        F(b?.RocAuc ?? f.Report.MacroRocAuc),
                        F(b?.Sensitivity ?? double.NaN),
                        F(b?.Specificity ?? double.NaN),
                        positive is null ? "-" : F(CalibrationMetrics.Compute(f.HeldOut, positive).Brier, 4));
                }

                results.Heading3("Across folds");
                var summary = results.Table("metric", "mean", "SD", "min", "max", "folds");
                foreach (var s in cv.Summary)
                {
                    summary.Row(s.Name, F(s.Mean), F(s.StandardDeviation), F(s.Minimum), F(s.Maximum), s.Folds.ToString(c));
                }

                results.Heading3("Pooled out-of-fold predictions (every image once)");
            }
            else
            {
                results.Heading3("Test set");
            }

            MetricsTable(results, report, positive, cv?.PatientLevel);
            facts.Metrics = report.Binary is null ? "accuracy, per-class precision/recall/F1, macro ROC AUC" : "ROC AUC, sensitivity, specificity, PPV, NPV, accuracy, average precision, Brier, log-loss, ECE, calibration slope, net benefit";
            facts.Uncertainty = report.Binary?.RocAucInterval is { } ci ? string.Format(c, "{0}-resample percentile bootstrap intervals ({1}%) over images, and over patients for the pooled metrics; DeLong intervals for AUCs; mean and SD across folds", ci.Resamples, (ci.Level * 100).ToString("0.#", c)) : "mean and SD across folds";
            facts.Performance = cv is null ? "test set" : "per fold, pooled out-of-fold" + (cv.Test is null ? string.Empty : ", kept-apart test set") + (externals.Count > 0 ? ", external data" : string.Empty);
            facts.Accuracy = report.Binary is { } rb ? string.Format(c, "AUC {0}, sensitivity {1}, specificity {2}", Ci(rb.RocAuc, rb.RocAucInterval), Ci(rb.Sensitivity, rb.SensitivityInterval), Ci(rb.Specificity, rb.SpecificityInterval)) : null;
            if (report.Binary is { } binary)
            {
                var curves = new List<CurveSeries> { new(cv is not null ? "pooled out-of-fold" : "test", binary.Roc) };
                if (cv is not null)
                {
                    curves.AddRange(cv.Folds.Where(f => f.Report.Binary is not null).Select(f => new CurveSeries(CrossValidation.FoldName(f.Repeat, cv.Assignment.Repeats, f.Fold, cv.Assignment.Folds), f.Report.Binary!.Roc)));
                }

                results.Figure(figures.Write("roc.png", string.Format(c, "ROC curves ({0} positive){1}.", binary.PositiveClass, cv is not null ? "; pooled out-of-fold and each fold's held-out images" : string.Empty), p => Charts.SaveRocCurves(curves, p, new ChartOptions { Width = 720, Height = 560, Title = "ROC curves" })));
                results.Figure(figures.Write("precision-recall.png", "Precision-recall curve with average precision; the dashed line is the prevalence.", p => Charts.SavePrecisionRecallCurve(binary, p)));
                facts.Output = string.Format(c, "calibrated probability per class; decision: {0}{1}, chosen on validation data", binary.OperatingPoint, double.IsNaN(binary.Threshold) ? string.Empty : string.Format(c, " (threshold {0:0.###})", binary.Threshold));
            }

            results.Figure(figures.Write("confusion-matrix.png", "Confusion matrix (most probable class).", p => Charts.SaveConfusionMatrix(report.ConfusionMatrix, p)));
            if (cv is not null)
            {
                results.Figure(figures.Write("learning-curves.png", "Validation (solid) and training (dotted) loss per epoch of every fold.", p => StudyCharts.SaveLearningCurves(cv.Folds.Select(f => new KeyValuePair<string, TrainingHistory>(CrossValidation.FoldName(f.Repeat, cv.Assignment.Repeats, f.Fold, cv.Assignment.Folds), f.History)).ToArray(), p)));
                if (cv.Test is { } test)
                {
                    results.Heading3(string.Format(c, "Kept-apart test set: ensemble of the {0} fold models (data-driven thresholds chosen on the pooled out-of-fold predictions)", cv.Folds.Count));
                    MetricsTable(results, test, positive);
                }
            }
            else if (history is { Epochs.Count: > 0 })
            {
                results.Figure(figures.Write("training-curves.png", "Loss and accuracy per epoch.", p => TrainingCharts.SaveTrainingCurves(history, p)));
            }
        }

        private static void MetricsTable(StudyDocument.Section section, EvaluationReport report, string? positive, PatientLevelIntervals? patients = null)
        {
            var c = CultureInfo.InvariantCulture;
            var table = patients is null
                ? section.Table("metric", "estimate", "95% CI (bootstrap)", "note")
                : section.Table("metric", "estimate", "95% CI (bootstrap over images)", "95% CI (bootstrap over patients)", "note");
            void Row(string metric, string estimate, string images, ConfidenceInterval? byPatient, string note)
            {
                if (patients is null)
                {
                    table.Row(metric, estimate, images, note);
                }
                else
                {
                    table.Row(metric, estimate, images, Range(byPatient), note);
                }
            }

            if (report.Binary is { } b)
            {
                string delong = string.Empty;
                try
                {
                    var d = ModelComparison.DeLongAuc(report.Predictions.RawLabels.Select(l => l == report.Predictions.ClassIndex(b.PositiveClass)).ToArray(), report.Predictions.Scores(report.Predictions.ClassIndex(b.PositiveClass)));
                    delong = string.Format(c, "DeLong 95% CI {0:0.000}-{1:0.000}", d.Lower, d.Upper);
                }
                catch (ArgumentException)
                {
                    delong = "DeLong CI needs 2 images of each class";
                }

                Row("ROC AUC (" + b.PositiveClass + ")", F(b.RocAuc), Range(b.RocAucInterval), patients?.Auc, delong);
                Row("sensitivity", F(b.Sensitivity), Range(b.SensitivityInterval), patients?.Sensitivity, string.Format(c, "TP {0}, FN {1}", b.TruePositives, b.FalseNegatives));
                Row("specificity", F(b.Specificity), Range(b.SpecificityInterval), patients?.Specificity, string.Format(c, "TN {0}, FP {1}", b.TrueNegatives, b.FalsePositives));
                Row("PPV", F(b.Ppv), "-", null, string.Empty);
                Row("NPV", F(b.Npv), "-", null, string.Empty);
                Row("accuracy at the operating point", F(b.Accuracy), Range(b.AccuracyInterval), patients?.Accuracy, b.OperatingPoint + (double.IsNaN(b.Threshold) ? string.Empty : string.Format(c, ", threshold {0:0.####}", b.Threshold)));
                Row("average precision", F(b.AveragePrecision), "-", null, string.Empty);
            }

            Row("accuracy (most probable class)", F(report.Classification.Accuracy), Range(report.AccuracyInterval), null, string.Format(c, "{0} images", report.Predictions.Count) + (patients is null ? string.Empty : string.Format(c, " of {0} patients", patients.Patients)));
            Row("macro ROC AUC (one-vs-rest)", F(report.MacroRocAuc), "-", null, string.Empty);
            foreach (var cls in report.Classification.Classes)
            {
                Row("  " + cls.Name + ": precision / recall / F1", string.Format(c, "{0:0.000} / {1:0.000} / {2:0.000}", cls.Precision, cls.Recall, cls.F1), "-", null, string.Format(c, "support {0}", cls.Support));
            }
        }

        private static void CalibrationSection(StudyDocument doc, StudyFacts facts, FigureWriter figures, Predictions calibrated, Predictions? uncalibrated, string positive, CrossValidationResult? cv)
        {
            var c = CultureInfo.InvariantCulture;
            var section = doc.Add("calibration", "Calibration");
            var after = CalibrationMetrics.Compute(calibrated, positive);
            var before = uncalibrated is null ? null : CalibrationMetrics.Compute(uncalibrated, positive);
            if (cv is not null && cv.Folds.Any(f => f.Calibration is not null))
            {
                section.Paragraph(string.Format(c, "Each fold's model was calibrated by temperature scaling (Guo et al. 2017) fitted on its validation carve by minimising the negative log-likelihood; temperatures {0}. The held-out predictions are reported before and after scaling (scaling changes no ranking: the AUC is the same).", string.Join(", ", cv.Folds.Select(f => f.Calibration?.Temperature.ToString("0.###", c) ?? "-"))));
            }

            var table = section.Table(before is null ? new[] { "metric", "value" } : new[] { "metric", "before scaling", "after scaling" });
            void Row(string name, Func<CalibrationMetrics, double> value, int digits = 4)
            {
                if (before is null)
                {
                    table.Row(name, F(value(after), digits));
                }
                else
                {
                    table.Row(name, F(value(before), digits), F(value(after), digits));
                }
            }

            Row("Brier score", m => m.Brier);
            Row("log-loss", m => m.LogLoss);
            Row("ECE, 10 equal-width bins", m => m.ExpectedCalibrationError);
            Row("ECE, 10 equal-mass bins", m => m.ExpectedCalibrationErrorEqualMass);
            Row("MCE, 10 equal-width bins", m => m.MaximumCalibrationError);
            Row("calibration slope", m => m.Slope, 3);
            Row("calibration-in-the-large (logit intercept)", m => m.InterceptInTheLarge, 3);
            Row("mean predicted " + positive, m => m.MeanPredicted, 3);
            Row("observed " + positive, m => m.ObservedRate, 3);
            var series = new List<CalibrationSeries>();
            if (before is not null)
            {
                series.Add(new CalibrationSeries("before scaling", before.EqualWidth));
            }

            series.Add(new CalibrationSeries(before is null ? "predictions" : "after scaling", after.EqualWidth));
            section.Figure(figures.Write("calibration.png", "Reliability diagram of " + positive + " (10 equal-width bins): observed fraction positive against mean predicted probability, with the number of images per bin.", p => StudyCharts.SaveCalibrationCurves(series, p)));
            facts.Calibration = string.Format(c, "Brier {0:0.0000}, ECE {1:0.0000}, slope {2:0.000}, calibration-in-the-large {3:+0.000;-0.000;0.000}{4}", after.Brier, after.ExpectedCalibrationError, after.Slope, after.InterceptInTheLarge, before is null ? string.Empty : " after temperature scaling (before: Brier " + before.Brier.ToString("0.0000", c) + ")");
        }

        private static void UsefulnessSection(StudyDocument doc, StudyFacts facts, FigureWriter figures, Predictions predictions, string positive)
        {
            var c = CultureInfo.InvariantCulture;
            var section = doc.Add("usefulness", "Clinical usefulness: decision curve");
            var curve = DecisionCurve.Compute(predictions, positive);
            section.Paragraph(string.Format(c, "Net benefit (Vickers and Elkin 2006) of acting on the model's {0} probability at each threshold, against treating everyone and no one. The model is useful where its curve lies above both: here at thresholds {1}.", positive, curve.UsefulRange()));
            var table = section.Table("threshold", "net benefit: model", "treat all", "treat none", "true positives", "false positives");
            foreach (double t in DecisionThresholds)
            {
                var p = curve.Points.OrderBy(x => Math.Abs(x.Threshold - t)).First();
                table.Row(p.Threshold.ToString("0.00", c), F(p.Model, 4), F(p.TreatAll, 4), F(p.TreatNone, 4), p.TruePositives.ToString(c), p.FalsePositives.ToString(c));
            }

            section.Figure(figures.Write("decision-curve.png", "Decision curve: net benefit over threshold probabilities.", p => StudyCharts.SaveDecisionCurves(new[] { new KeyValuePair<string, DecisionCurve>("model", curve) }, p)));
            facts.Usefulness = "decision curve, useful at thresholds " + curve.UsefulRange();
        }

        private void SubgroupSection(StudyDocument doc, StudyFacts facts)
        {
            if (subgroups.Count == 0)
            {
                return;
            }

            var c = CultureInfo.InvariantCulture;
            var section = doc.Add("subgroups", "Subgroups");
            foreach (var s in subgroups)
            {
                section.Heading3(string.Format(c, "By {0} (one threshold for all: {1})", s.Attribute, double.IsNaN(s.Threshold) ? "argmax" : s.Threshold.ToString("0.####", c)));
                var table = section.Table("group", "images", "positives", "negatives", "AUC (95% CI)", "sensitivity (95% CI)", "specificity (95% CI)", "flag");
                foreach (var g in s.Groups)
                {
                    table.Row(g.TooSmall, g.Group, g.Images.ToString(c), g.Positives.ToString(c), g.Negatives.ToString(c), SubgroupReport.Text(g.Auc, g.AucInterval), SubgroupReport.Text(g.Sensitivity, g.SensitivityInterval), SubgroupReport.Text(g.Specificity, g.SpecificityInterval), g.TooSmall ? string.Format(c, "too small (< {0} of a class): unstable", s.MinimumPerClass) : string.Empty);
                }
            }

            facts.Fairness = "subgroup metrics with intervals by " + string.Join(", ", subgroups.Select(s => s.Attribute));
            facts.Robustness = facts.Fairness;
        }

        private void ExternalSection(StudyDocument doc, StudyFacts facts, FigureWriter figures)
        {
            if (externals.Count == 0)
            {
                return;
            }

            var c = CultureInfo.InvariantCulture;
            var section = doc.Add("external", "External validation");
            section.Paragraph("The trained model was evaluated unchanged; the operating point chosen on internal validation data was applied as it is.");
            var table = section.Table("data", "images", "prevalence", "AUC (95% CI)", "sensitivity (95% CI)", "specificity (95% CI)", "calibration-in-the-large", "slope", "Brier");
            foreach (var e in externals)
            {
                if (e.Internal?.Binary is { } i)
                {
                    table.Row("internal test", e.Internal.Predictions.Count.ToString(c), F(e.InternalPrevalence, 3), SubgroupReport.Text(i.RocAuc, i.RocAucInterval), SubgroupReport.Text(i.Sensitivity, i.SensitivityInterval), SubgroupReport.Text(i.Specificity, i.SpecificityInterval), F(e.InternalCalibration!.InterceptInTheLarge, 3), F(e.InternalCalibration.Slope, 3), F(e.InternalCalibration.Brier, 4));
                }

                var b = e.External.Binary!;
                table.Row(e.Site, e.External.Predictions.Count.ToString(c), F(e.ExternalPrevalence, 3), SubgroupReport.Text(b.RocAuc, b.RocAucInterval), SubgroupReport.Text(b.Sensitivity, b.SensitivityInterval), SubgroupReport.Text(b.Specificity, b.SpecificityInterval), F(e.ExternalCalibration.InterceptInTheLarge, 3), F(e.ExternalCalibration.Slope, 3), F(e.ExternalCalibration.Brier, 4));
                section.Paragraph(string.Format(c, "{0}: prevalence {1:0.000} against {2:0.000} internally (shift {3:+0.000;-0.000;0.000}); {4}{5}.", e.Site, e.ExternalPrevalence, e.InternalPrevalence, e.ExternalPrevalence - e.InternalPrevalence, e.OperatingPoint, double.IsNaN(e.Threshold) ? string.Empty : string.Format(c, " (threshold {0:0.####})", e.Threshold)));
                section.Figure(figures.Write("external-calibration-" + figures.Count.ToString(c) + ".png", "Calibration at " + e.Site + " (10 equal-width bins).", p => StudyCharts.SaveCalibrationCurves(new[] { new CalibrationSeries(e.Site, e.ExternalCalibration.EqualWidth) }, p)));
            }

            facts.External = string.Join("; ", externals.Select(e => string.Format(c, "{0}: {1} images, AUC {2:0.000}", e.Site, e.External.Predictions.Count, e.External.Binary!.RocAuc)));
        }

        private void ComparisonSection(StudyDocument doc)
        {
            if (delong.Count == 0 && mcnemar.Count == 0 && bootstraps.Count == 0)
            {
                return;
            }

            var c = CultureInfo.InvariantCulture;
            var section = doc.Add("comparison", "Comparing models");
            if (delong.Count > 0)
            {
                section.Paragraph("DeLong's test of correlated AUCs on the same images (fast algorithm of Sun and Xu 2014); adjusted p-values use Holm's step-down correction over the pairs.");
                var table = section.Table("model A", "model B", "AUC A", "AUC B", "difference (95% CI)", "z", "p", "adjusted p");
                foreach (var t in delong)
                {
                    table.Row(t.ModelA, t.ModelB, F(t.AucA), F(t.AucB), string.Format(c, "{0:+0.000;-0.000;0.000} ({1:+0.000;-0.000;0.000} to {2:+0.000;-0.000;0.000})", t.Difference, t.DifferenceLower, t.DifferenceUpper), F(t.Z, 2), DeLongTest.FormatP(t.PValue), DeLongTest.FormatP(t.AdjustedPValue));
                }
            }

            if (bootstraps.Count > 0)
            {
                var table = section.Table("model A", "model B", "AUC difference (paired bootstrap 95% CI)", "p");
                foreach (var t in bootstraps)
                {
                    table.Row(t.ModelA, t.ModelB, t.Difference.ToString(), DeLongTest.FormatP(t.PValue));
                }
            }

            if (mcnemar.Count > 0)
            {
                section.Paragraph("McNemar's test of paired decisions at each model's operating point (exact binomial below 25 discordant pairs).");
                var table = section.Table("model A", "model B", "compared", "only A right", "only B right", "p", "method");
                foreach (var m in mcnemar)
                {
                    foreach (var t in new[] { m.Accuracy, m.Sensitivity, m.Specificity })
                    {
                        table.Row(m.ModelA, m.ModelB, t.What, t.OnlyA.ToString(c), t.OnlyB.ToString(c), DeLongTest.FormatP(t.PValue), t.Exact ? "exact" : "chi-square");
                    }
                }
            }
        }

        private void ReproducibilitySection(StudyDocument doc, StudyFacts facts, string? workFolder, DateTimeOffset time)
        {
            var c = CultureInfo.InvariantCulture;
            var section = doc.Add("reproducibility", "Software, seeds and files");
            var software = new List<string>
            {
                "MedicalTransfer " + Version(typeof(TransferModel)) + ", MedicalTransfer.Reporting " + Version(typeof(StudyReport)),
                "TorchSharp " + Version(typeof(TorchSharp.torch)),
                RuntimeInformation.FrameworkDescription + " on " + RuntimeInformation.OSDescription + " (" + RuntimeInformation.ProcessArchitecture + ")",
                "Processor: " + Processor() + string.Format(c, ", {0} logical cores", Environment.ProcessorCount),
            };
            section.Bullets(software);
            facts.Software = string.Join("; ", software.Take(3));
            if (seeds.Count > 0)
            {
                var table = section.Table("seed", "value");
                foreach (var s in seeds)
                {
                    table.Row(s.Key, s.Value);
                }
            }

            if (workFolder is not null)
            {
                section.Paragraph("Work folder (fold models, checkpoints and results; running the same cross-validation again continues or reuses it): " + workFolder);
            }

            section.Paragraph("Report generated " + time.ToString("O", c) + ".");
        }

        private static void ChecklistSection(StudyDocument doc, StudyFacts facts)
        {
            var section = doc.Add("checklists", "Reporting checklists");
            section.Paragraph("Items are paraphrased from CLAIM (Mongan, Moy and Kahn, Radiology: Artificial Intelligence 2020, 42 items; 2024 update) and TRIPOD+AI (Collins et al., BMJ 2024, 27 items). 'filled' items are answered from this run; the others are for the author. Check the official checklists' wording before submission.");
            foreach (var (name, items) in new[] { ("CLAIM", StudyChecklists.Claim), ("TRIPOD+AI", StudyChecklists.TripodAi) })
            {
                int filled = items.Count(i => i.Fill(facts) is not null);
                section.Heading3(string.Format(CultureInfo.InvariantCulture, "{0}: {1} of {2} items filled from the run", name, filled, items.Count));
                var table = section.StyledTable("checklist", "item", "topic", "requirement", "status");
                foreach (var item in items)
                {
                    string? answer = item.Fill(facts);
                    table.Row(item.Number, item.Section, item.Requirement, answer is null ? "for the author" : "filled: " + answer);
                }
            }
        }

        private static string Version(Type type)
        {
            var assembly = type.Assembly;
            var informational = (System.Reflection.AssemblyInformationalVersionAttribute?)Attribute.GetCustomAttribute(assembly, typeof(System.Reflection.AssemblyInformationalVersionAttribute));
            string? version = informational?.InformationalVersion ?? assembly.GetName().Version?.ToString();
            if (version is null)
            {
                return "unknown";
            }

            int plus = version.IndexOf('+', StringComparison.Ordinal);
            return plus > 0 ? version[..plus] : version;
        }

        private static string Processor()
        {
            try
            {
                if (File.Exists("/proc/cpuinfo"))
                {
                    var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
                    if (line is not null)
                    {
                        return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                    }
                }
            }
            catch (IOException)
            {
                // The processor's name is informative only.
            }

            return RuntimeInformation.ProcessArchitecture.ToString();
        }

        internal static string F(double value, int digits = 3) => double.IsNaN(value) ? "n/a" : value.ToString("0." + new string('0', digits), CultureInfo.InvariantCulture);

        private static string Ci(double value, ConfidenceInterval? interval) => SubgroupReport.Text(value, interval);

        private static string Range(ConfidenceInterval? interval) => interval is null || double.IsNaN(interval.Lower) ? "-" : string.Format(CultureInfo.InvariantCulture, "{0:0.000}-{1:0.000}", interval.Lower, interval.Upper);

        private sealed record ModelFacts(string Architecture, string Head, string Preprocessing, string Freeze, string Weights, string? WeightsReport, long Total, long Trainable, string Classes);

        /// <summary>Writes each figure once into the figures folder and keeps its bytes for the HTML.</summary>
        private sealed class FigureWriter
        {
            private readonly string folder;

            public FigureWriter(string folder) => this.folder = folder;

            public int Count { get; private set; }

            public StudyDocument.Figure Write(string fileName, string caption, Action<string> draw)
            {
                string path = Path.Combine(folder, fileName);
                draw(path);
                Count++;
                return new StudyDocument.Figure(fileName, caption, File.ReadAllBytes(path));
            }

            public StudyDocument.Figure Copy(string source, string caption)
            {
                Count++;
                string fileName = string.Format(CultureInfo.InvariantCulture, "figure-{0}-{1}", Count, Path.GetFileName(source));
                byte[] bytes = File.ReadAllBytes(source);
                AtomicFile.Write(Path.Combine(folder, fileName), bytes.Length, stream => stream.Write(bytes));
                return new StudyDocument.Figure(fileName, caption, bytes);
            }
        }
    }
}
