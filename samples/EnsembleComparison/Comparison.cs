using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using MedicalTransfer;
using MedicalTransfer.Data;
using MedicalTransfer.Ensembles;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Freezing;
using MedicalTransfer.Models;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;
using TorchSharp;

namespace EnsembleComparison
{
    /// <summary>One run: data, the four members, the ensemble, the table.</summary>
    internal sealed class Comparison
    {
        private const string Positive = SyntheticChestXRay.PneumoniaClass;
        private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
        private readonly ComparisonSettings _settings;

        public Comparison(ComparisonSettings settings) => _settings = settings;

        /// <summary>How one member is built and trained.</summary>
        /// <param name="Name">Short name for the table.</param>
        /// <param name="Description">What differs: depth, initialisation, freezing, head.</param>
        /// <param name="Pretrained">Start from ImageNet weights (the ResNet-18 ONNX of Microsoft's NuGet package, or torchvision's DenseNet-121 checkpoint) instead of a random initialisation.</param>
        /// <param name="Depth">ResNet depth for a random initialisation; 121 with <paramref name="DenseNet"/>.</param>
        /// <param name="Freeze">What stays frozen.</param>
        /// <param name="Head">The classifier head.</param>
        /// <param name="LearningRate">AdamW learning rate.</param>
        /// <param name="EpochFactor">Epochs as a multiple of --epochs.</param>
        /// <param name="LinearProbe">Frozen backbone: train on cached features without augmentation.</param>
        /// <param name="DenseNet">A DenseNet (CheXNet's backbone) instead of a ResNet.</param>
        private sealed record MemberRecipe(string Name, string Description, bool Pretrained, int Depth, FreezeSpec Freeze, HeadSpec Head, double LearningRate, int EpochFactor, bool LinearProbe, bool DenseNet = false);

        /// <summary>One row of the comparison.</summary>
        internal sealed record Row(
            string Name,
            string Description,
            int Epochs,
            double TrainSeconds,
            double Accuracy,
            double Auc,
            double? AucLower,
            double? AucUpper,
            double Sensitivity,
            double Specificity,
            int TruePositives,
            int FalsePositives,
            int TrueNegatives,
            int FalseNegatives,
            double? AucDifferenceVsEnsemble = null,
            double? AucDifferenceLower = null,
            double? AucDifferenceUpper = null,
            double? DeLongP = null,
            double? DeLongPHolm = null,
            double? McNemarP = null,
            double? BootstrapP = null);

        // A random-init ResNet-34 (Pretrained: false, Depth: 34, Layers.None) also fits here, but measured on
        // 2 CPU cores it tripled the run time and was still at chance after 3 epochs: pretraining is what makes
        // a brief fine-tune work on 140 images.
        private static MemberRecipe[] Recipes() => new[]
        {
            new MemberRecipe("R18-frozen", "ResNet-18 ImageNet (ONNX), whole backbone frozen (Layers.All), linear head", true, 18, Layers.All, Head.Linear(), 3e-3, 5, true),
            new MemberRecipe("R18-upto2", "ResNet-18 ImageNet (ONNX), stem..layer2 frozen (Layers.UpTo(2)), layer3, layer4 and an MLP head fine-tuned", true, 18, Layers.UpTo(2), Head.Mlp(128), 1e-3, 1, false),
            new MemberRecipe("R18-frozen-mlp", "ResNet-18 ImageNet (ONNX), whole backbone frozen (Layers.All), MLP head (256 hidden units, dropout)", true, 18, Layers.All, Head.Mlp(256), 1e-3, 5, true),

            // CheXNet's backbone as a linear probe: its frozen features are computed once, so it adds seconds, not minutes.
            new MemberRecipe("D121-frozen", "DenseNet-121 ImageNet (torchvision), whole backbone frozen (Layers.All), linear head", true, 121, Layers.All, Head.Linear(), 3e-3, 5, true, DenseNet: true),
        };

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
            var members = new List<TransferModel>();
            try
            {
                var splits = LoadData();
                Console.WriteLine($"Data: {splits.Train.Count} train, {splits.Validation.Count} validation, {splits.Test.Count} test images ({splits.Test.Statistics}); device {device}");
                var prediction = new PredictionOptions { Loader = new LoaderOptions { BatchSize = 32, Device = device, Sampling = SamplingMode.Sequential } };
                var evaluation = new EvaluationOptions { PositiveClass = Positive, Bootstrap = new BootstrapOptions { Seed = _settings.Seed } };
                var rows = new List<Row>();
                var memberPredictions = new List<Predictions>();
                int index = 0;
                var recipes = Recipes();
                foreach (var planned in recipes)
                {
                    var (member, recipe) = Build(planned, splits.Train.Classes, device, _settings.Seed + index, cancellationToken);
                    members.Add(member);
                    int epochs = recipe.EpochFactor * _settings.Epochs;
                    Console.WriteLine($"[{index + 1}/{recipes.Length}] {recipe.Name}: {recipe.Description}; {epochs} epochs");
                    var trainWatch = Stopwatch.StartNew();
                    Train(member, recipe, splits, device, epochs, _settings.Seed + index, cancellationToken);
                    double seconds = trainWatch.Elapsed.TotalSeconds;
                    var report = Evaluator.Evaluate(member, splits.Test, evaluation, prediction: prediction, cancellationToken: cancellationToken);
                    rows.Add(ToRow(recipe.Name, recipe.Description, epochs, seconds, report));
                    memberPredictions.Add(report.Predictions);
                    index++;
                }

                var ensemble = Ensemble.Of(members.ToArray());
                var ensembleReport = Evaluator.Evaluate(ensemble, splits.Test, evaluation, prediction: prediction, cancellationToken: cancellationToken);
                rows.Add(ToRow("Ensemble", $"Soft voting (mean of the {members.Count} members' probabilities)", 0, rows.Sum(r => r.TrainSeconds), ensembleReport));
                rows = WithComparisons(rows, memberPredictions, ensembleReport.Predictions, _settings.Seed);

                string table = Table(rows);
                Console.WriteLine();
                Console.WriteLine(table);
                WriteFiles(rows, table, splits, watch.Elapsed.TotalSeconds);
                Console.WriteLine($"Done in {watch.Elapsed.TotalSeconds:F0} s. Saved {Path.Combine(_settings.Output, "comparison.md")} and comparison.json");
                return 0;
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine("Stopped.");
                return 130;
            }
            catch (MedicalTransferException ex)
            {
                Console.Error.WriteLine("error: " + ex.Message);
                return 1;
            }
            finally
            {
                foreach (var m in members)
                {
                    m.Dispose();
                }
            }
        }

        private DatasetSplits LoadData()
        {
            // Written once per (count, size, seed) and reused by later runs.
            int size = ResizeSize(_settings.ImageSize);
            string cache = Path.Combine(Path.GetTempPath(), "medicaltransfer-samples", string.Create(CultureInfo.InvariantCulture, $"ensemble-phantoms-{_settings.SyntheticImages}-{size}px-seed{_settings.Seed}"));
            if (!File.Exists(Path.Combine(cache, ".complete")))
            {
                Console.WriteLine($"Generating {_settings.SyntheticImages} synthetic chest X-ray phantoms in {cache} ...");
                string temp = cache + ".partial-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
                SyntheticChestXRay.WriteImageFolder(temp, new SyntheticChestXRayOptions { Count = _settings.SyntheticImages, Seed = _settings.Seed, Size = size });
                File.WriteAllText(Path.Combine(temp, ".complete"), "ok");
                if (Directory.Exists(cache))
                {
                    Directory.Delete(cache, recursive: true);
                }

                Directory.Move(temp, cache);
            }

            return ImageFolder.Load(cache).Split(new SplitOptions { Seed = _settings.Seed });
        }

        private static int ResizeSize(int cropSize) => cropSize * 256 / 224;

        private (TransferModel Model, MemberRecipe Recipe) Build(MemberRecipe recipe, IReadOnlyList<string> classes, torch.Device device, int seed, CancellationToken cancellationToken)
        {
            if (!recipe.DenseNet)
            {
                var builder = recipe.Pretrained ? TransferBuilder.FromPretrained(ResNetWeights.MLNetResNet18) : TransferBuilder.FromResNet(recipe.Depth);
                return (Configure(builder, recipe, recipe.Pretrained ? ResNetWeights.MLNetResNet18.Preprocessing : Preprocessing.ImageNet, classes, device, seed, cancellationToken), recipe);
            }

            // torchvision's DenseNet-121 checkpoint is downloaded once and cached; offline (MEDICALTRANSFER_OFFLINE=1, or
            // no network) without it in the cache, the member starts from a random initialisation and says so.
            try
            {
                var pretrained = TransferBuilder.FromDenseNet(recipe.Depth).WithPretrained(DenseNetWeights.ImageNet);
                return (Configure(pretrained, recipe, DenseNetWeights.ImageNet.Preprocessing, classes, device, seed, cancellationToken), recipe);
            }
            catch (WeightsUnavailableException ex)
            {
                Console.WriteLine($"  DenseNet-121 ImageNet weights unavailable ({ex.Message.Split(". ")[0]}); that member starts from a random initialisation.");
                var random = recipe with { Pretrained = false, Description = recipe.Description.Replace("ImageNet (torchvision)", "random initialisation (ImageNet weights unavailable offline)", StringComparison.Ordinal) };
                return (Configure(TransferBuilder.FromDenseNet(recipe.Depth), random, Preprocessing.ImageNet, classes, device, seed, cancellationToken), random);
            }
        }

        private TransferModel Configure(TransferBuilder builder, MemberRecipe recipe, Preprocessing basis, IReadOnlyList<string> classes, torch.Device device, int seed, CancellationToken cancellationToken)
        {
            // Each member keeps its weights' colour handling; all see the same crop size.
            var preprocessing = new Preprocessing
            {
                Mean = basis.Mean,
                Std = basis.Std,
                ChannelOrder = basis.ChannelOrder,
                PixelScale = basis.PixelScale,
                CropSize = _settings.ImageSize,
                ResizeSize = ResizeSize(_settings.ImageSize),
            };
            return builder
                .WithHead(recipe.Head)
                .Freeze(recipe.Freeze)
                .WithPreprocessing(preprocessing)
                .ForClasses(classes.ToArray())
                .OnDevice(device)
                .WithSeed(seed)
                .Build(cancellationToken);
        }

        private static void Train(TransferModel model, MemberRecipe recipe, DatasetSplits splits, torch.Device device, int epochs, int seed, CancellationToken cancellationToken)
        {
            var loader = new LoaderOptions { BatchSize = 16, Seed = seed, Device = device, CacheShorterSide = model.Preprocessing.ResizeSize };

            // The linear probe sees un-augmented images so that its frozen features can be computed once.
            using var train = recipe.LinearProbe
                ? new DataLoader(splits.Train, Transforms.ForEvaluation(model.Preprocessing), loader)
                : new DataLoader(splits.Train, Transforms.ForTraining(model.Preprocessing), loader with { DropLast = true });
            using var validation = new DataLoader(splits.Validation, Transforms.ForEvaluation(model.Preprocessing), loader with { Sampling = SamplingMode.Sequential });
            model.Fit(train, validation, new TrainingOptions
            {
                Epochs = epochs,
                LearningRate = recipe.LearningRate,
                ClassWeights = splits.Train.Statistics.InverseFrequencyWeights,
                Seed = seed,
                CacheFrozenFeatures = recipe.LinearProbe,
                Progress = new EpochLines(),
            }, cancellationToken);
        }

        private static Row ToRow(string name, string description, int epochs, double seconds, EvaluationReport report)
        {
            var b = report.Binary ?? throw new InvalidOperationException("A two-class evaluation with a positive class always has a binary report.");
            return new Row(name, description, epochs, Math.Round(seconds, 1), b.Accuracy, b.RocAuc, b.RocAucInterval?.Lower, b.RocAucInterval?.Upper, b.Sensitivity, b.Specificity, b.TruePositives, b.FalsePositives, b.TrueNegatives, b.FalseNegatives);
        }

        /// <summary>
        /// Each member against the ensemble on the same test images: DeLong's test of the AUC difference (p also
        /// Holm-adjusted over the members), McNemar's test of the argmax decisions and a paired bootstrap p.
        /// </summary>
        internal static List<Row> WithComparisons(List<Row> rows, IReadOnlyList<Predictions> members, Predictions ensemble, int seed)
        {
            var tests = members.Select(m => ModelComparison.DeLong(m, ensemble, Positive)).ToArray();
            var holm = ModelComparison.Adjust(tests.Select(t => t.PValue).ToArray(), PValueCorrection.Holm);
            var result = new List<Row>(rows);
            for (int i = 0; i < members.Count; i++)
            {
                var mcnemar = ModelComparison.McNemar(members[i], ensemble, Positive, double.NaN, double.NaN);
                var bootstrap = ModelComparison.PairedBootstrapAuc(members[i], ensemble, Positive, new BootstrapOptions { Seed = seed });
                result[i] = rows[i] with
                {
                    AucDifferenceVsEnsemble = tests[i].Difference,
                    AucDifferenceLower = tests[i].DifferenceLower,
                    AucDifferenceUpper = tests[i].DifferenceUpper,
                    DeLongP = tests[i].PValue,
                    DeLongPHolm = holm[i],
                    McNemarP = mcnemar.Accuracy.PValue,
                    BootstrapP = bootstrap.PValue,
                };
            }

            return result;
        }

        internal static string Table(IReadOnlyList<Row> rows)
        {
            var text = new StringBuilder();
            text.AppendLine("| Model | Epochs | Train s | Accuracy | ROC AUC (95% CI) | Sensitivity | Specificity | AUC - ensemble (95% CI) | DeLong p (Holm) | McNemar p | Bootstrap p |");
            text.AppendLine("|---|---:|---:|---:|---|---:|---:|---|---:|---:|---:|");
            foreach (var r in rows)
            {
                string auc = r.AucLower is double lo && r.AucUpper is double hi
                    ? string.Create(CultureInfo.InvariantCulture, $"{r.Auc:0.000} ({lo:0.000}-{hi:0.000})")
                    : r.Auc.ToString("0.000", CultureInfo.InvariantCulture);
                string epochs = r.Epochs == 0 ? "-" : r.Epochs.ToString(CultureInfo.InvariantCulture);
                text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {r.Name} | {epochs} | {r.TrainSeconds:0} | {r.Accuracy:0.000} | {auc} | {r.Sensitivity:0.000} | {r.Specificity:0.000} | {Comparisons(r)}"));
            }

            return text.ToString().TrimEnd();
        }

        private static string Comparisons(Row r) => r.AucDifferenceVsEnsemble is double d
            ? string.Create(CultureInfo.InvariantCulture, $"{d:+0.000;-0.000;0.000} ({r.AucDifferenceLower:+0.000;-0.000;0.000} to {r.AucDifferenceUpper:+0.000;-0.000;0.000}) | {P(r.DeLongP)} ({P(r.DeLongPHolm)}) | {P(r.McNemarP)} | {P(r.BootstrapP)} |")
            : "- | - | - | - |";

        private static string P(double? p) => p switch
        {
            null => "-",
            < 0.0001 => "<0.0001",
            double v => v.ToString("0.0000", CultureInfo.InvariantCulture),
        };

        private void WriteFiles(IReadOnlyList<Row> rows, string table, DatasetSplits splits, double seconds)
        {
            var md = new StringBuilder();
            md.AppendLine("# Members against their soft-voting ensemble");
            md.AppendLine();
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Synthetic chest phantoms ({_settings.SyntheticImages} images, seed {_settings.Seed}), {_settings.ImageSize} px crops; {splits.Train.Count} train, {splits.Validation.Count} validation, {splits.Test.Count} test images ({splits.Test.Statistics}). Every row is evaluated on the same test split, which no member saw in training. Sensitivity and specificity are for {Positive} at the argmax operating point; the AUC interval is a {new BootstrapOptions().Resamples}-resample bootstrap. Each member is compared with the ensemble on the same images: the AUC difference with its DeLong interval, DeLong's p (Holm-adjusted over the members in brackets), McNemar's p for the argmax decisions (exact below 25 discordant pairs) and a paired-bootstrap p. Total run time {seconds:0} s."));
            md.AppendLine();
            md.AppendLine(table);
            md.AppendLine();
            foreach (var r in rows)
            {
                md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"- **{r.Name}**: {r.Description} (TP {r.TruePositives}, FP {r.FalsePositives}, TN {r.TrueNegatives}, FN {r.FalseNegatives})."));
            }

            MedicalTransfer.Samples.SampleFiles.WriteAllText(Path.Combine(_settings.Output, "comparison.md"), md.ToString());
            var json = new
            {
                settings = _settings,
                positiveClass = Positive,
                trainImages = splits.Train.Count,
                validationImages = splits.Validation.Count,
                testImages = splits.Test.Count,
                seconds = Math.Round(seconds, 1),
                rows,
            };
            MedicalTransfer.Samples.SampleFiles.WriteAllText(Path.Combine(_settings.Output, "comparison.json"), JsonSerializer.Serialize(json, Indented));
        }

        /// <summary>One plain line per epoch.</summary>
        private sealed class EpochLines : IProgress<TrainingProgress>
        {
            public void Report(TrainingProgress value)
            {
                if (value.Kind == TrainingProgressKind.Epoch && value.EpochRecord is { } e)
                {
                    Console.WriteLine(FormattableString.Invariant(
                        $"  epoch {value.Epoch}/{value.TotalEpochs}: train loss {e.TrainLoss:F3} acc {e.TrainAccuracy:P0} | val loss {e.ValidationLoss:F3} acc {e.ValidationAccuracy:P0} auc {e.ValidationAuc:F3} | {e.Seconds:F1} s"));
                }
            }
        }
    }
}
