using System;
using System.Globalization;
using System.IO;
using System.Linq;
using MedicalTransfer;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Explainability;
using MedicalTransfer.Models;
using MedicalTransfer.Reporting;
using MedicalTransfer.Studies;
using MedicalTransfer.Training;
using Microsoft.Extensions.Logging;
using TorchSharp;

namespace ChestXrayFindings
{
    /// <summary>
    /// Trains a multi-label model on a CheXpert-style table (or synthetic phantoms), chooses per-finding thresholds on
    /// validation, and writes the per-finding report of the test split; with <c>--folds N</c> it cross-validates the train and
    /// validation images instead (patient-level, stratified per finding, resumable) and writes the study report. Usage:
    /// <c>ChestXrayFindings [--data TABLE.csv] [--folds N] [--epochs N] [--image-size N] [--synthetic-images N] [--uncertainty ignore|zeros|ones] [--out FOLDER]</c>.
    /// </summary>
    internal static class Program
    {
        private const string Usage = "Usage: ChestXrayFindings [--data TABLE.csv (CheXpert layout; default: synthetic phantoms)] [--folds N (2 to 20: patient-level cross-validation and the study report; default 0, one train/validation/test run)] [--epochs N (default 6)] [--image-size N (default 64)] [--synthetic-images N (default 320)] [--uncertainty ignore|zeros|ones (default ignore)] [--out FOLDER (default findings-report)]";

        public static int Main(string[] args)
        {
            string? data = null, output = "findings-report";
            int epochs = 6, size = 64, folds = 0, synthetic = 320;
            var policy = UncertaintyPolicy.Ignore;
            try
            {
                for (int i = 0; i < args.Length; i++)
                {
                    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException(args[i] + " needs a value.");
                    switch (args[i])
                    {
                        case "--data": data = Value(); break;
                        case "--out": output = Value(); break;
                        case "--epochs": epochs = Positive("--epochs", Value()); break;
                        case "--image-size": size = Positive("--image-size", Value()); break;
                        case "--synthetic-images": synthetic = Positive("--synthetic-images", Value()); break;
                        case "--folds":
                            folds = int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k >= 2 && k <= 20 ? k : throw new ArgumentException("--folds must be from 2 to 20; found '" + args[i] + "'.");
                            break;
                        case "--uncertainty":
                            policy = Value() switch
                            {
                                "ignore" => UncertaintyPolicy.Ignore,
                                "zeros" => UncertaintyPolicy.Zeros,
                                "ones" => UncertaintyPolicy.Ones,
                                var other => throw new ArgumentException("--uncertainty must be ignore, zeros or ones; found '" + other + "'."),
                            };
                            break;
                        default: throw new ArgumentException("unknown option '" + args[i] + "'.");
                    }
                }

                if (data is not null && !File.Exists(data))
                {
                    throw new ArgumentException("the table '" + data + "' does not exist.");
                }
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine("error: " + e.Message);
                Console.WriteLine(Usage);
                return 2;
            }

            Directory.CreateDirectory(output);
            torch.random.manual_seed(1);
            ImageTableLayout layout = ImageTableLayouts.CheXpert;
            ImageTableOptions? tableOptions = null;
            if (data is null)
            {
                string phantoms = Path.Combine(output, "phantoms");
                if (Directory.Exists(phantoms))
                {
                    Directory.Delete(phantoms, recursive: true);
                }

                // Two images per patient when cross-validating, so that the folds are grouped by patient for a reason.
                var written = SyntheticChestXRay.WriteFindingsTable(phantoms, new SyntheticChestXRayOptions { Count = synthetic, Size = Math.Max(32, size), Seed = 13, ImagesPerPatient = folds > 0 ? 2 : 1 });
                data = written.TrainTable;
                layout = SyntheticChestXRay.FindingsLayout;
                tableOptions = new ImageTableOptions { Root = written.Root };
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "Wrote {0} synthetic multi-label phantoms ({1}) to {2}", synthetic, string.Join(", ", SyntheticChestXRay.PhantomFindings), phantoms));
            }

            var splits = ImageTable.Load(data, layout, tableOptions).Split(new SplitOptions { ValidationFraction = 0.2, TestFraction = 0.25, Seed = 42 });
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "train {0}, validation {1}, test {2} images; findings {3}", splits.Train.Count, splits.Validation.Count, splits.Test.Count, string.Join(", ", splits.Train.Findings)));

            var preprocessing = new Preprocessing { ResizeSize = size, CropSize = size };
            var builder = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
                .WithPreprocessing(preprocessing)
                .WithHead(Head.Mlp(64))
                .ForFindings(splits.Train.Findings)
                .OnDevice(torch.CPU)
                .WithSeed(7);
            var loaderOptions = new LoaderOptions { BatchSize = 16, Seed = 3, Uncertainty = policy, CacheShorterSide = size };
            if (folds > 0)
            {
                return CrossValidate(builder, splits, loaderOptions, folds, epochs, output);
            }

            using var model = builder.Build();
            // No flips or crops: left and right opacities are different findings.
            using var train = new DataLoader(splits.Train, Transforms.ForEvaluation(model.Preprocessing), loaderOptions);
            using var validation = model.CreateLoader(splits.Validation, training: false, loaderOptions);
            string best = Path.Combine(output, "model.safetensors");
            var result = model.Fit(train, validation, new TrainingOptions
            {
                Epochs = epochs,
                LearningRate = 3e-3,
                Seed = 5,
                PositiveWeights = train.PositiveWeights(),
                Schedule = LearningRateSchedule.CosineWithWarmup(),
                Callbacks = new ITrainingCallback[] { new BestCheckpoint(best, TrainingMetric.ValidationAuc) },
                Progress = new Progress(),
            });
            result.History.SaveCsv(Path.Combine(output, "history.csv"));
            Console.WriteLine(result.History.Events.First(e => e.Kind == "task").Message);

            using var chosen = TransferModel.Load(best, torch.CPU);
            var thresholds = FindingThresholds.Choose(chosen.PredictFindings(splits.Validation), FindingThresholdRule.YoudenJ);
            chosen.UseFindingThresholds(thresholds);
            chosen.Save(best);
            MultiLabelReport report = chosen.EvaluateFindings(splits.Test);
            MedicalTransfer.Samples.SampleFiles.WriteAllText(Path.Combine(output, "findings.txt"), report.ToTable());
            Console.WriteLine("Per-finding test metrics (thresholds: " + thresholds.Rule + "):");
            Console.Write(report.ToTable());
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "mean AUROC {0:0.0000}", report.MacroAuroc));

            // Grad-CAM of each finding's logit on the test image with the most positive findings: where the model looks for each.
            var shown = splits.Test.Samples.OrderByDescending(s => s.Findings?.Count(f => f == FindingState.Positive) ?? 0).First();
            Console.WriteLine("Grad-CAM of " + shown.Path + " (labelled " + string.Join(", ", chosen.Findings.Where((f, j) => shown.Findings?[j] == FindingState.Positive)) + "):");
            // layer3: at the sample's 48-64 pixel inputs the default layer4 map is 2 x 2, too coarse to tell a lung from the heart.
            var gradCam = new GradCam("layer3");
            foreach (var finding in chosen.Findings)
            {
                var explanation = gradCam.Explain(chosen, new[] { shown.Path }, finding)[0];
                string png = Path.Combine(output, "gradcam-" + finding.ToLowerInvariant().Replace(' ', '-') + ".png");
                // One captioned panel (title, p and decision, colour bar) at a legible size; HeatmapOverlay.Save would write the phantom's 64 pixels.
                ExplanationGrid.SaveTopFindings(shown.Path, new[] { explanation }, chosen.Preprocessing, png, chosen.FindingThresholds);
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "Grad-CAM {0}: p = {1:0.000}, peak at {2} -> {3}", finding, explanation.TargetProbability, Peak(explanation.LowResolution), png));
            }

            // The three most probable findings of that image, one panel each, in one grid.
            string grid = Path.Combine(output, "gradcam-top3.png");
            ExplanationGrid.SaveTopFindings(shown.Path, gradCam.ExplainTopFindings(chosen, shown.Path, 3), chosen.Preprocessing, grid, chosen.FindingThresholds);
            Console.WriteLine("Wrote " + best + ", history.csv, findings.txt, gradcam-*.png and " + Path.GetFileName(grid) + " to " + output);
            return 0;
        }

        /// <summary>
        /// Cross-validates the train and validation images (the test split stays apart, predicted once by the fold models'
        /// ensemble), prints and writes the tables, and writes the study report. Started again with the same arguments, it
        /// continues at the fold and epoch it reached.
        /// </summary>
        private static int CrossValidate(TransferBuilder builder, DatasetSplits splits, LoaderOptions loaderOptions, int folds, int epochs, string output)
        {
            var options = new CrossValidationOptions
            {
                Folds = new FoldOptions { Folds = folds, Seed = 42 },
                WorkFolder = Path.Combine(output, "cross-validation"),
                Training = new TrainingOptions { Epochs = epochs, LearningRate = 3e-3, Seed = 5, Schedule = LearningRateSchedule.CosineWithWarmup() },
                CheckpointMetric = TrainingMetric.ValidationAuc,
                Loader = loaderOptions,

                // No flips or crops: left and right opacities are different findings.
                TrainingTransform = Transforms.ForEvaluation,
                Evaluation = new EvaluationOptions { Bootstrap = new BootstrapOptions { Resamples = 1000, Seed = 1 } },
                Logger = new ConsoleLog(),
            };
            var result = CrossValidation.RunFindings(builder, splits, options);
            string table = result.ToTable();
            MedicalTransfer.Samples.SampleFiles.WriteAllText(Path.Combine(output, "cross_validation.txt"), table);
            Console.Write(table);
            using var first = TransferModel.Load(result.Folds[0].ModelPath, torch.CPU);
            var report = new StudyReport(string.Format(CultureInfo.InvariantCulture, "Multi-label chest X-ray findings: {0}-fold patient-level cross-validation", folds))
                .WithCrossValidation(result)
                .WithModel(first, "random initialisation (seed 7)");

            // Every finding by sex (the phantoms' table and CheXpert's have a Sex column), at the pooled out-of-fold thresholds.
            var samples = result.Assignment.Data.Samples;
            var sex = result.OutOfFoldIndices().Select(i => samples[i].Metadata is { } m && m.TryGetValue("Sex", out var v) ? v : null).ToArray();
            if (sex.Any(v => v is not null))
            {
                report.WithSubgroups(MultiLabelSubgroupReport.Compute(result.OutOfFold, sex, "sex", result.PooledThresholds, options.Evaluation.Bootstrap));
            }

            var files = report.Save(output, "study-report");
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "pooled out-of-fold mean AUROC {0:0.0000}", result.Pooled.MacroAuroc));
            Console.WriteLine("Study report: " + files.Html);
            return 0;
        }

        private static string Peak(Heatmap map)
        {
            int best = 0;
            for (int i = 1; i < map.Values.Count; i++)
            {
                if (map.Values[i] > map.Values[best])
                {
                    best = i;
                }
            }

            return string.Format(CultureInfo.InvariantCulture, "({0}, {1}) of {2}x{3}", best % map.Width, best / map.Width, map.Width, map.Height);
        }

        private static int Positive(string name, string value) =>
            int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : throw new ArgumentException(name + " must be a positive integer; found '" + value + "'.");

        /// <summary>The cross-validation's messages on the console (each fold's training messages carry the fold's name).</summary>
        private sealed class ConsoleLog : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    Console.WriteLine(formatter(state, exception));
                }
            }
        }

        private sealed class Progress : IProgress<TrainingProgress>
        {
            public void Report(TrainingProgress value)
            {
                if (value.Kind == TrainingProgressKind.Epoch && value.EpochRecord is { } record)
                {
                    Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "epoch {0}/{1}: train loss {2:0.0000}, validation loss {3:0.0000}, mean validation AUROC {4:0.0000}", record.Epoch, value.TotalEpochs, record.TrainLoss, record.ValidationLoss, record.ValidationAuc ?? double.NaN));
                }
            }
        }
    }
}
