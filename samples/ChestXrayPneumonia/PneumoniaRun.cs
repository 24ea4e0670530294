using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using MedicalTransfer;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Explainability;
using MedicalTransfer.Freezing;
using MedicalTransfer.Reporting;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging;
using TorchSharp;

namespace ChestXrayPneumonia
{
    /// <summary>One run of the sample: data, model, training, evaluation and the report folder.</summary>
    internal sealed class PneumoniaRun
    {
        private const string Positive = "PNEUMONIA";
        private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
        private readonly RunSettings _settings;
        private readonly ConsoleUi _ui = new();

        public PneumoniaRun(RunSettings settings) => _settings = settings;

        private string Out(string name) => Path.Combine(_settings.Output, name);

        public int Execute(CancellationToken cancellationToken)
        {
            var watch = Stopwatch.StartNew();
            Directory.CreateDirectory(_settings.Output);
            var device = _settings.Device switch
            {
                "cpu" => torch.CPU,
                "cuda" => torch.CUDA,
                _ => torch.cuda.is_available() ? torch.CUDA : torch.CPU,
            };
            var folder = new RunFolder(_settings);
            folder.Started(device);
            using var loggerFactory = _ui.CreateLoggerFactory();
            var logger = loggerFactory.CreateLogger("ChestXrayPneumonia");
            try
            {
                int code = _settings.Folds > 0
                    ? new CrossValidationRun(_settings, this, _ui).Execute(device, logger, cancellationToken)
                    : ExecuteSingle(device, logger, cancellationToken);
                if (code == 0)
                {
                    // The training checkpoint (optimizer state, 187 MB for ResNet-18) is only needed to
                    // continue an interrupted run: once the run is complete, model.safetensors is the result.
                    if (!_settings.KeepCheckpoint)
                    {
                        folder.DeleteCheckpoint();
                    }

                    folder.Completed(watch.Elapsed.TotalSeconds);
                    _ui.Line($"Done in {watch.Elapsed.TotalSeconds:F0} s. Report: {_settings.Output}");
                }

                return code;
            }
            catch (OperationCanceledException)
            {
                folder.Stopped(watch.Elapsed.TotalSeconds);
                _ui.Line($"Stopped. {folder.ResumeHint()}");
                return 130;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Every failure leaves the folder marked (run.json status "failed", FAILED.txt), so that a
                // half-written report folder is never mistaken for a result.
                folder.Failed(ex, watch.Elapsed.TotalSeconds);
                // Domain and file errors say what to do in their message; anything else is a defect: show where.
                Console.Error.WriteLine("error: " + (ex is MedicalTransferException or IOException or UnauthorizedAccessException ? ex.Message : ex.ToString()));
                Console.Error.WriteLine("hint: " + folder.ResumeHint());
                return 1;
            }
        }

        private int ExecuteSingle(torch.Device device, ILogger logger, CancellationToken cancellationToken)
        {
            var splits = LoadData(logger);
            _ui.Line($"Data: {splits.Train.Count} train, {splits.Validation.Count} validation, {splits.Test.Count} test images; classes {string.Join(", ", splits.Train.Classes)}");
            _ui.Line(splits.Report.ToString());

            using var model = BuildModel(splits.Train.Classes, device, logger, cancellationToken);
            _ui.Line(model.Summary().ToString());

            var loaderOptions = new LoaderOptions { BatchSize = _settings.BatchSize, Seed = _settings.Seed, Device = device, Logger = logger, CacheShorterSide = model.Preprocessing.ResizeSize, Decoding = Decoding };
            using var train = new DataLoader(splits.Train, Transforms.ForTraining(model.Preprocessing), loaderOptions with { DropLast = true });
            using var validation = new DataLoader(splits.Validation, Transforms.ForEvaluation(model.Preprocessing), loaderOptions with { Sampling = SamplingMode.Sequential });

            ApplyAdaptiveFreezing(model, validation, logger, cancellationToken);
            var result = Train(model, splits.Train, train, validation, logger, cancellationToken);
            if (result is null)
            {
                throw new OperationCanceledException();
            }

            result.History.SaveJson(Out("history.json"));
            result.History.SaveCsv(Out("history.csv"));
            TrainingCharts.SaveTrainingCurves(result.History, Out("training_curves.png"));

            using var best = TransferModel.Load(Out("model.safetensors"), device);
            Evaluate(best, splits, loaderOptions, result, cancellationToken);
            return 0;
        }

        private ImageLoadOptions Decoding => new() { BadImages = _settings.SkipBadImages ? BadImagePolicy.Skip : BadImagePolicy.Throw };

        internal DatasetSplits LoadData(ILogger logger)
        {
            DatasetSplits splits = LoadSplits(logger);
            if (_settings.View is string view)
            {
                splits = splits.WithViews(view);
            }

            // The pre-flight check: every file's header is read now, so that a corrupt test image
            // stops the run (or is left out, with --skip-bad-images) before training, not after it.
            var watch = Stopwatch.StartNew();
            DatasetSplits verified = splits.Verify(Decoding, logger);
            int left = splits.Train.Count + splits.Validation.Count + splits.Test.Count - verified.Train.Count - verified.Validation.Count - verified.Test.Count;
            _ui.Line(left == 0
                ? $"Pre-flight check: all {splits.Train.Count + splits.Validation.Count + splits.Test.Count} images readable ({watch.Elapsed.TotalSeconds:F1} s)."
                : $"Pre-flight check: left out {left} unreadable images: " + string.Join("; ", verified.Train.LeftOut.Concat(verified.Validation.LeftOut).Concat(verified.Test.LeftOut).Select(l => l.Path)));
            return verified;
        }

        private DatasetSplits LoadSplits(ILogger logger)
        {
            var split = new SplitOptions { Seed = _settings.Seed, GroupPattern = _settings.GroupPattern };
            if (_settings.Data is string table && RunSettings.IsTable(table))
            {
                return LoadTable(table, split, logger);
            }

            if (_settings.Data is string data)
            {
                return Directory.Exists(Path.Combine(data, "train")) && Directory.Exists(Path.Combine(data, "test"))
                    ? ImageFolder.LoadSplits(data, split, logger)
                    : ImageFolder.Load(data, logger).Split(split);
            }

            // The embedded default: synthetic chest phantoms, written once per (count, seed) and reused.
            string cache = Path.Combine(Path.GetTempPath(), "medicaltransfer-samples", string.Create(CultureInfo.InvariantCulture, $"chest-phantoms-{_settings.SyntheticImages}-seed{_settings.Seed}"));
            if (!File.Exists(Path.Combine(cache, ".complete")))
            {
                string temp = cache + ".partial-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
                _ui.Line($"Generating {_settings.SyntheticImages} synthetic chest X-ray phantoms in {cache} (once; later runs reuse them).");
                _ui.RunCounting(
                    "Generating phantoms",
                    _settings.SyntheticImages,
                    () => new[] { SyntheticChestXRay.NormalClass, SyntheticChestXRay.PneumoniaClass }.Sum(c => Directory.Exists(Path.Combine(temp, c)) ? Directory.EnumerateFiles(Path.Combine(temp, c)).Count() : 0),
                    () => SyntheticChestXRay.WriteImageFolder(temp, new SyntheticChestXRayOptions { Count = _settings.SyntheticImages, Seed = _settings.Seed, Size = 224 }));
                File.WriteAllText(Path.Combine(temp, ".complete"), "ok");
                if (Directory.Exists(cache))
                {
                    Directory.Delete(cache, recursive: true);
                }

                Directory.Move(temp, cache);
            }

            return ImageFolder.Load(cache, logger).Split(split);
        }

        /// <summary>
        /// A label table: CheXpert (and its valid.csv beside train.csv), NIH ChestX-ray14, or a
        /// single-label table of Path and Label columns; a multi-label table becomes the binary
        /// task of --finding (positive PNEUMONIA, negative NORMAL).
        /// </summary>
        private DatasetSplits LoadTable(string table, SplitOptions split, ILogger logger)
        {
            string header = File.ReadLines(table).FirstOrDefault() ?? string.Empty;
            var options = new ImageTableOptions { Root = _settings.DataRoot, Logger = logger, MissingFiles = Decoding.BadImages };
            ImageTableLayout layout = header.Contains("Finding Labels", StringComparison.Ordinal) ? ImageTableLayouts.NihChestXray14
                : ImageTableLayouts.CheXpertObservations.All(o => header.Contains(o, StringComparison.Ordinal)) ? ImageTableLayouts.CheXpert
                : ImageTableLayouts.ForClasses("Path", "Label");
            string valid = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(table))!, "valid.csv");
            DatasetSplits splits = layout == ImageTableLayouts.CheXpert && File.Exists(valid) && !string.Equals(Path.GetFullPath(table), valid, StringComparison.Ordinal)
                ? ImageTable.LoadSplits(table, valid, null, layout, split, options)
                : ImageTable.Load(table, layout, options).Split(split);
            return layout.ClassColumn is null ? splits.ForFinding(_settings.Finding, "NORMAL", Positive) : splits;
        }

        private TransferModel BuildModel(IReadOnlyList<string> classes, torch.Device device, ILogger logger, CancellationToken cancellationToken) =>
            CreateBuilder(classes, device, logger).Build(cancellationToken);

        /// <summary>The model description; cross-validation builds one model per fold from it.</summary>
        internal TransferBuilder CreateBuilder(IReadOnlyList<string> classes, torch.Device device, ILogger logger)
        {
            var builder = _settings.Weights switch
            {
                "onnx" => TransferBuilder.FromPretrained(ResNetWeights.MLNetResNet18),
                "imagenet" => TransferBuilder.FromResNet(_settings.Depth).WithPretrained(ResNetWeights.ImageNet),
                string file => TransferBuilder.FromResNet(_settings.Depth).WithWeights(file),
            };
            var weightsPreprocessing = _settings.Weights switch
            {
                "onnx" => ResNetWeights.MLNetResNet18.Preprocessing,
                "imagenet" => ResNetWeights.ImageNet.Preprocessing,
                _ => Preprocessing.ImageNet,
            };

            // Scale the weights' own resize/crop to the requested image size, keeping their colour handling.
            int size = _settings.ImageSize;
            var preprocessing = new Preprocessing
            {
                Mean = weightsPreprocessing.Mean,
                Std = weightsPreprocessing.Std,
                ChannelOrder = weightsPreprocessing.ChannelOrder,
                PixelScale = weightsPreprocessing.PixelScale,
                CropSize = size,
                ResizeSize = size * weightsPreprocessing.ResizeSize / weightsPreprocessing.CropSize,
            };

            FreezeSpec freeze = _settings.Freeze switch
            {
                "none" or "adaptive" => Layers.None,
                "all" => Layers.All,
                string upTo => Layers.UpTo(int.Parse(upTo.AsSpan(5), NumberStyles.Integer, CultureInfo.InvariantCulture)),
            };

            return builder
                .WithHead(Head.Mlp(256))
                .Freeze(freeze)
                .WithPreprocessing(preprocessing)
                .ForClasses(classes.ToArray())
                .OnDevice(device)
                .WithSeed(_settings.Seed)
                .WithLogger(logger);
        }

        private void ApplyAdaptiveFreezing(TransferModel model, DataLoader validation, ILogger logger, CancellationToken cancellationToken)
        {
            if (_settings.Freeze != "adaptive" || _settings.Resumed)
            {
                return;
            }

            var ranking = model.RankLayerImportance(validation, logger: logger, cancellationToken: cancellationToken);
            _ui.Line(ranking.ToString());
            var spec = ranking.FreezeLeastImportant(2);
            model.Freeze(spec);
            _ui.Line("Adaptive freezing: " + spec);
        }

        private TrainingResult? Train(TransferModel model, ImageDataset trainSet, DataLoader train, DataLoader validation, ILogger logger, CancellationToken cancellationToken)
        {
            var options = new TrainingOptions
            {
                Epochs = _settings.Epochs,
                LearningRate = 3e-4,
                ClassWeights = trainSet.Statistics.InverseFrequencyWeights,
                Seed = _settings.Seed,
                CheckpointPath = Out(RunFolder.Checkpoint),
                ResumeFrom = _settings.Resumed && File.Exists(Out(RunFolder.Checkpoint)) ? Out(RunFolder.Checkpoint) : null,
                Callbacks = new ITrainingCallback[] { new BestCheckpoint(Out("model.safetensors"), TrainingMetric.ValidationLoss) },
                Logger = ConsoleUi.ForTraining(logger),
            };

            return _ui.RunWithProgress(progress =>
            {
                var withProgress = options with { Progress = progress };
                if (!_settings.Progressive)
                {
                    return model.Fit(train, validation, withProgress, cancellationToken);
                }

                // The article's phases, scaled to the epoch budget: head, then layer3+layer4+head, then all.
                int head = Math.Max(1, _settings.Epochs / 4);
                int full = Math.Max(1, _settings.Epochs / 4);
                var phases = TrainingPhases.Article(head, _settings.Epochs - head - full, full);
                return model.FitProgressive(train, validation, phases, withProgress, cancellationToken);
            });
        }

        private void Evaluate(TransferModel model, DatasetSplits splits, LoaderOptions loaderOptions, TrainingResult training, CancellationToken cancellationToken)
        {
            var prediction = new PredictionOptions { Loader = loaderOptions };

            // The operating point is chosen on validation predictions (90% sensitivity) and applied unchanged to the test set.
            var validationPredictions = Evaluator.Predict(model, splits.Validation, prediction, cancellationToken);
            var options = new EvaluationOptions { PositiveClass = Positive, OperatingPoint = OperatingPoint.TargetSensitivity(0.9) };
            var report = Evaluator.Evaluate(model, splits.Test, options, validationPredictions, prediction, cancellationToken);

            MedicalTransfer.Samples.SampleFiles.WriteAllText(Out("metrics.json"), report.ToJson());
            MedicalTransfer.Samples.SampleFiles.WriteAllText(Out("classification_report.txt"), report.Classification.ToString());
            // One headline rule: confusion_matrix.png is the operating point's matrix; the argmax one is labelled as such.
            if (report.Binary is { } binary)
            {
                int n = report.Predictions.Count;
                Charts.SaveConfusionMatrix(ResultsText.AtOperatingPoint(report, binary), Out("confusion_matrix.png"), new ChartOptions
                {
                    Title = double.IsNaN(binary.Threshold)
                        ? string.Create(CultureInfo.InvariantCulture, $"Argmax (n = {n})")
                        : string.Create(CultureInfo.InvariantCulture, $"Operating point: {Positive} if P >= {binary.Threshold:0.###} (n = {n})"),
                });
                Charts.SaveConfusionMatrix(report.ConfusionMatrix, Out("confusion_matrix_argmax.png"), new ChartOptions { Title = string.Create(CultureInfo.InvariantCulture, $"Argmax, for reference (n = {n})") });
                Charts.SaveRocCurve(binary, Out("roc.png"));
                Charts.SavePrecisionRecallCurve(binary, Out("pr.png"));
            }
            else
            {
                Charts.SaveConfusionMatrix(report.ConfusionMatrix, Out("confusion_matrix.png"));
            }

            Charts.SaveReliabilityDiagram(report.Calibration, Out("reliability.png"));
            string results = ResultsText.Compose(report, training.BestEpoch, training.History.Epochs.Count);
            MedicalTransfer.Samples.SampleFiles.WriteAllText(Out("results.txt"), results);
            _ui.Line(results);
            ExplainSomeTestImages(model, splits.Test, report.Predictions);
        }

        private void ExplainSomeTestImages(TransferModel model, TestSet test, Predictions predictions)
        {
            // Two correct images of each class and up to four wrong ones, with the heatmap of the predicted class.
            var indices = Enumerable.Range(0, test.Count).ToArray();
            var correct = indices.Where(i => predictions.PredictedLabels[i] == predictions.Labels[i])
                .GroupBy(i => predictions.Labels[i]).SelectMany(g => g.Take(2));
            var wrong = indices.Where(i => predictions.PredictedLabels[i] != predictions.Labels[i]).Take(4);
            string folder = Out("gradcam");
            Directory.CreateDirectory(folder);
            var gradCam = new GradCam();
            foreach (var (group, chosen) in new[] { ("correct", correct.ToArray()), ("wrong", wrong.ToArray()) })
            {
                if (chosen.Length == 0)
                {
                    continue;
                }

                var paths = chosen.Select(i => test.Samples[i].Path).ToArray();
                var explanations = gradCam.Explain(model, paths);
                for (int k = 0; k < paths.Length; k++)
                {
                    var e = explanations[k];
                    string trueClass = test.Classes[predictions.Labels[chosen[k]]];
                    string name = string.Create(CultureInfo.InvariantCulture, $"{group}-{k + 1}-true-{trueClass}-pred-{e.PredictedClassName}-{e.TargetProbability:0.00}.png");
                    // A panel: title (true, predicted, probability, stage), the original, the overlay and a colour bar.
                    ExplanationPanel.Save(paths[k], e, model.Preprocessing, Path.Combine(folder, name), trueClass);
                }
            }
        }
    }
}
