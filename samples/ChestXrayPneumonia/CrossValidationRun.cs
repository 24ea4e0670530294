using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using MedicalTransfer;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Reporting;
using MedicalTransfer.Studies;
using MedicalTransfer.Training;
using Microsoft.Extensions.Logging;
using TorchSharp;

namespace ChestXrayPneumonia
{
    /// <summary>
    /// <c>--folds k</c>: patient-level k-fold cross-validation of the train and validation images together, the
    /// test split kept apart, then the study report (HTML and Markdown). Resumable: <c>--resume</c> continues at the
    /// fold and epoch a stopped run reached.
    /// </summary>
    internal sealed class CrossValidationRun
    {
        private const string Positive = "PNEUMONIA";
        private readonly RunSettings _settings;
        private readonly PneumoniaRun _run;
        private readonly ConsoleUi _ui;

        public CrossValidationRun(RunSettings settings, PneumoniaRun run, ConsoleUi ui)
        {
            _settings = settings;
            _run = run;
            _ui = ui;
        }

        private string Out(string name) => Path.Combine(_settings.Output, name);

        public int Execute(torch.Device device, ILogger logger, CancellationToken cancellationToken)
        {
            var splits = _run.LoadData(logger);
            var classes = splits.Train.Classes;
            var builder = _run.CreateBuilder(classes, device, logger);
            int pooled = splits.Train.Count + splits.Validation.Count;
            _ui.Line($"Cross-validation: {pooled} train+val images in {_settings.Folds} folds (patients grouped by {_settings.GroupPattern ?? "image"}), {splits.Test.Count} test images kept apart");
            var weights = splits.Train.Samples.Concat(splits.Validation.Samples).GroupBy(s => s.Label).OrderBy(g => g.Key).Select(g => (float)(pooled / (classes.Count * (double)g.Count()))).ToArray();
            var options = new CrossValidationOptions
            {
                Folds = new FoldOptions { Folds = _settings.Folds, Seed = _settings.Seed, GroupPattern = _settings.GroupPattern },
                WorkFolder = Out("cross-validation"),
                Training = new TrainingOptions { Epochs = _settings.Epochs, LearningRate = 3e-4, ClassWeights = weights, Seed = _settings.Seed },
                Phases = _settings.Progressive ? Phases() : null,
                Loader = new LoaderOptions { BatchSize = _settings.BatchSize, Seed = _settings.Seed, Device = device, Logger = logger, DropLast = true },
                Evaluation = new EvaluationOptions { PositiveClass = Positive, OperatingPoint = OperatingPoint.TargetSensitivity(0.9) },
                Progress = new FoldLines(_ui),
                Logger = logger,
            };

            var result = CrossValidation.Run(builder, splits, options, cancellationToken);
            MedicalTransfer.Samples.SampleFiles.WriteAllText(Out("cross_validation.txt"), result.ToString());
            MedicalTransfer.Samples.SampleFiles.WriteAllText(Out("out_of_fold_predictions.csv"), OutOfFoldCsv(result));
            MedicalTransfer.Samples.SampleFiles.WriteAllText(Out("metrics.json"), result.Pooled.ToJson());
            _ui.Line(result.ToString());

            using var model = TransferModel.Load(result.Folds[0].ModelPath, device);
            var report = new StudyReport($"Pneumonia on chest X-rays: ResNet-{_settings.Depth}, {_settings.Folds}-fold patient-level cross-validation")
                .WithDataDescription(_settings.Data is null
                    ? string.Create(CultureInfo.InvariantCulture, $"Synthetic chest X-ray phantoms (SyntheticChestXRay, {_settings.SyntheticImages} images, seed {_settings.Seed}): a demonstration, not patients.")
                    : "Images from " + _settings.Data + " (class folders).")
                .WithCrossValidation(result)
                .WithModel(model, _settings.Weights switch
                {
                    "onnx" => "ImageNet ResNet-18 (ML.NET's ONNX file, NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18)",
                    "imagenet" => "torchvision ImageNet weights",
                    string file => file,
                })
                .WithSeed("model initialisation (TransferBuilder.WithSeed)", _settings.Seed);
            var files = report.Save(_settings.Output, "study-report");
            _ui.Line($"Study report: {files.Html} (and {Path.GetFileName(files.Markdown)})");
            return 0;
        }

        private System.Collections.Generic.IReadOnlyList<TrainingPhase> Phases()
        {
            int head = Math.Max(1, _settings.Epochs / 4);
            int full = Math.Max(1, _settings.Epochs / 4);
            return TrainingPhases.Article(head, _settings.Epochs - head - full, full);
        }

        private static string OutOfFoldCsv(CrossValidationResult result)
        {
            var c = CultureInfo.InvariantCulture;
            var data = result.Assignment.Data;
            var sb = new StringBuilder("path,patient,fold,label," + string.Join(",", data.Classes.Select(n => "p_" + n)) + "\n");
            var indices = result.OutOfFoldIndices();
            for (int k = 0; k < indices.Count; k++)
            {
                int i = indices[k];
                sb.Append('"').Append(data.Samples[i].Path.Replace("\"", "\"\"", StringComparison.Ordinal)).Append("\",")
                    .Append(result.Assignment.GroupOf(i)).Append(',')
                    .Append((result.Assignment.FoldOf(i) + 1).ToString(c)).Append(',')
                    .Append(data.Classes[data.Samples[i].Label]);
                for (int cls = 0; cls < data.Classes.Count; cls++)
                {
                    sb.Append(',').Append(result.OutOfFold.Probability(k, cls).ToString("R", c));
                }

                sb.Append('\n');
            }

            return sb.ToString();
        }

        /// <summary>One line per fold epoch and per fold, naming the fold.</summary>
        private sealed class FoldLines : IProgress<CrossValidationProgress>
        {
            private readonly ConsoleUi _ui;

            public FoldLines(ConsoleUi ui) => _ui = ui;

            public void Report(CrossValidationProgress value)
            {
                if (value.Training is { Kind: TrainingProgressKind.Epoch, EpochRecord: { } e } t)
                {
                    _ui.Line(FormattableString.Invariant(
                        $"{value.FoldName} epoch {t.Epoch}/{t.TotalEpochs} [{t.PhaseName}] train loss {e.TrainLoss:F4} acc {e.TrainAccuracy:P1} | val loss {e.ValidationLoss:F4} acc {e.ValidationAccuracy:P1} auc {e.ValidationAuc:F3}"));
                }
                else if (value.Stage is CrossValidationStage.FoldCompleted or CrossValidationStage.FoldSkipped)
                {
                    _ui.Line(value.FoldName + (value.Stage == CrossValidationStage.FoldSkipped ? ": already complete, not trained again" : ": done"));
                }
            }
        }
    }
}
