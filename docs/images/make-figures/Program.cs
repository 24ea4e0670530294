using System;
using System.Diagnostics;
using System.IO;
using System.Collections.Generic;
using System.Linq;
using MedicalTransfer;
using MedicalTransfer.Data;
using MedicalTransfer.Ensembles;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Explainability;
using MedicalTransfer.Reporting;
using MedicalTransfer.Training;
using MedicalTransfer.Models;
using static TorchSharp.torch;

// Makes the figures of docs/evaluation.md and docs/explainability.md (75 s on an idle 2-core AMD EPYC; much longer when the cores are shared):
//   dotnet run --project docs/images/make-figures -c Release -- docs/images
// Data: synthetic chest X-rays; weights: the ImageNet ResNet-18 of NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18.
string outDir = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "medicaltransfer-figures");
Directory.CreateDirectory(outDir);
string data = Path.Combine(Path.GetTempPath(), "mt-figures-data");
if (!Directory.Exists(data))
{
    SyntheticChestXRay.WriteImageFolder(data, new SyntheticChestXRayOptions { Count = 480, Size = 128, Seed = 1 });
}

var splits = ImageFolder.Load(data).Split(new SplitOptions { ValidationFraction = 0.2, TestFraction = 0.25, Seed = 1 });
Console.WriteLine(splits.Report);
var sw = Stopwatch.StartNew();

TransferModel Train(string name, Preprocessing pre, HeadSpec head, bool fineTune, int seed, out TrainingResult result)
{
    var model = TransferBuilder.FromPretrained(MedicalTransfer.Weights.ResNetWeights.MLNetResNet18).ForClasses("NORMAL", "PNEUMONIA")
        .OnDevice(CPU).WithSeed(seed).WithPreprocessing(pre).WithHead(head).Build();
    var loader = new LoaderOptions { BatchSize = 32, Workers = 2, Seed = seed, CacheShorterSide = 128 };
    using var train = new DataLoader(splits.Train, Transforms.ForEvaluation(pre), loader);
    using var val = new DataLoader(splits.Validation, Transforms.ForEvaluation(pre), loader with { Sampling = SamplingMode.Sequential });
    var phases = new List<TrainingPhase> { new("head (backbone frozen)", Layers.All, 1e-3, 6) };
    if (fineTune)
    {
        phases.Add(new("layer4 + head", Layers.UpTo(3), 2e-4, 4));
    }

    result = model.FitProgressive(train, val, phases, new TrainingOptions { Seed = seed, CacheFrozenFeatures = true });
    Console.WriteLine($"trained {name} in {sw.Elapsed.TotalSeconds:0}s");
    return model;
}

Preprocessing Mlnet(int resize, int crop) => new()
{
    ResizeSize = resize, CropSize = crop, ChannelOrder = ChannelOrder.Bgr, PixelScale = 255f,
    Mean = new[] { 103.062624f, 115.902882f, 123.151631f }, Std = new[] { 1f, 1f, 1f },
};

using var a = Train("A", Mlnet(128, 112), Head.Linear(), true, 1, out var resultA);
TrainingCharts.SaveTrainingCurves(resultA.History, Path.Combine(outDir, "training-curves.png"));
resultA.History.SaveJson(Path.Combine(outDir, "training-history.json"));

var validation = Evaluator.Predict(a, splits.Validation);
var options = new EvaluationOptions { PositiveClass = "PNEUMONIA", OperatingPoint = OperatingPoint.TargetSensitivity(0.9) };
var report = Evaluator.Evaluate(a, splits.Test, options, validation);
Console.WriteLine(report);
File.WriteAllText(Path.Combine(outDir, "report.txt"), report.ToString());
File.WriteAllText(Path.Combine(outDir, "report.json"), report.ToJson());
Charts.SaveConfusionMatrix(report.ConfusionMatrix, Path.Combine(outDir, "confusion-matrix.png"));
Charts.SaveRocCurve(report.Binary!, Path.Combine(outDir, "roc.png"));
Charts.SavePrecisionRecallCurve(report.Binary!, Path.Combine(outDir, "precision-recall.png"));
Charts.SaveReliabilityDiagram(report.Calibration, Path.Combine(outDir, "reliability.png"));

var tta = Evaluator.Evaluate(a, splits.Test, options with { Bootstrap = null }, validation, new PredictionOptions { Augmentation = TestTimeAugmentation.HorizontalFlip | TestTimeAugmentation.FiveCrop });
Console.WriteLine($"TTA: AUC {tta.Binary!.RocAuc:0.000} vs {report.Binary!.RocAuc:0.000}; acc {tta.Classification.Accuracy:0.000} vs {report.Classification.Accuracy:0.000}");

using var b = Train("B", Mlnet(112, 96), Head.Mlp(64), false, 2, out _);
var ensemble = Ensemble.Of(a, b);
var ensembleValidation = Evaluator.Predict(ensemble, splits.Validation);
var ensembleReport = Evaluator.Evaluate(ensemble, splits.Test, options with { Bootstrap = null }, ensembleValidation);
var reportB = Evaluator.Evaluate(b, splits.Test, options with { Bootstrap = null }, Evaluator.Predict(b, splits.Validation));
var hard = Evaluator.Evaluate(ensemble.WithVoting(Voting.Hard), splits.Test, new EvaluationOptions { PositiveClass = "PNEUMONIA", Bootstrap = null });
Console.WriteLine($"ensemble AUC {ensembleReport.Binary!.RocAuc:0.000} (A {report.Binary.RocAuc:0.000}, B {reportB.Binary!.RocAuc:0.000}); hard-vote acc {hard.Classification.Accuracy:0.000}");
Charts.SaveRocCurves(new[]
{
    new CurveSeries("ResNet-18 A (crop 112)", report.Binary.Roc),
    new CurveSeries("ResNet-18 B (MLP head, crop 96)", reportB.Binary.Roc),
    new CurveSeries("soft-voting ensemble", ensembleReport.Binary.Roc),
}, Path.Combine(outDir, "roc-ensemble.png"), new ChartOptions { Title = "ROC: members and ensemble" });

// Grad-CAM grid on 8 test images (4 per class).
var samples = splits.Test.Samples.Where(s => s.Label == 0).Take(4).Concat(splits.Test.Samples.Where(s => s.Label == 1).Take(4)).ToArray();
var paths = samples.Select(s => s.Path).ToArray();
var truth = samples.Select(s => splits.Test.Classes[s.Label]).ToArray();
var cam = new GradCam();
var explanations = cam.Explain(a, paths);
ExplanationGrid.Save(paths, explanations, a.Preprocessing, Path.Combine(outDir, "gradcam-grid.png"), truth, columns: 4, tileSize: 160);
HeatmapOverlay.Save(paths[5], explanations[5], a.Preprocessing, Path.Combine(outDir, "gradcam-overlay.png"));
var layer3 = new GradCam("layer3").Explain(a, paths);
var pp = new GradCamPlusPlus().Explain(a, paths);

// Faithfulness per layer on the crops the model saw.
using (var scope = NewDisposeScope())
{
    var batch = new DataLoader(SubsetFolder(splits.Test, samples), Transforms.ForEvaluation(a.Preprocessing), new LoaderOptions { Sampling = SamplingMode.Sequential, BatchSize = 8, Workers = 1 }).GetBatches(0).Single();
    foreach (var (name, ex) in new[] { ("layer4 Grad-CAM", explanations), ("layer3 Grad-CAM", layer3), ("layer4 Grad-CAM++", pp) })
    {
        Console.WriteLine($"faithfulness {name}: mean drop {Faithfulness.ProbabilityDrop(a, batch.Images, ex, 0.2).Average():0.000}");
    }
}

var ensembleExplanations = cam.Explain(ensemble, paths.Skip(4).Take(2).ToArray());
var tiles = ensembleExplanations.SelectMany((e, i) => e.MemberMaps.Select((m, k) => new GridTile(OverlayPng(paths[4 + i], m), new[] { k == 0 ? "member A (crop 112)" : "member B (crop 96)", $"p({e.TargetClassName}) {e.Members[k].TargetProbability:0.00}" }))
    .Append(new GridTile(OverlayPng(paths[4 + i], e.Mean), new[] { "ensemble mean", $"p({e.TargetClassName}) {e.TargetProbability:0.00}" }))).ToArray();
ExplanationGrid.Save(tiles, Path.Combine(outDir, "gradcam-ensemble.png"), columns: 3, tileSize: 160);
Console.WriteLine($"done in {sw.Elapsed.TotalSeconds:0}s");

byte[] OverlayPng(string imagePath, Heatmap frame)
{
    string tmp = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".png");
    HeatmapOverlay.SaveImageFrame(imagePath, frame, tmp);
    var bytes = File.ReadAllBytes(tmp);
    File.Delete(tmp);
    return bytes;
}

// The chosen test files, copied into a fresh image folder so that the public ImageFolder.Load reads them in order.
static ImageDataset SubsetFolder(TestSet test, ImageSample[] samples)
{
    string root = Path.Combine(Path.GetTempPath(), "mt-figures-subset-" + Guid.NewGuid().ToString("N"));
    foreach (var s in samples)
    {
        string dir = Path.Combine(root, test.Classes[s.Label]);
        Directory.CreateDirectory(dir);
        File.Copy(s.Path, Path.Combine(dir, Path.GetFileName(s.Path)));
    }

    return ImageFolder.Load(root);
}
