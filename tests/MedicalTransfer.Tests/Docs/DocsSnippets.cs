// The C# blocks of README.md and docs/*.md, verbatim, so that the compiler checks them.
// DocsSnippetsTests fails when a block in the docs is not found here. Free variables of a block
// (a model, a data split, ...) are the parameters of its method. These methods are compiled, not run; every builder chain
// of the docs is also run through Build() by DocsBuilderChainsTests.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer;
using MedicalTransfer.Data;
using MedicalTransfer.Data.Dicom;
using MedicalTransfer.Ensembles;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Explainability;
using MedicalTransfer.Freezing;
using MedicalTransfer.Models;
using MedicalTransfer.Reporting;
using MedicalTransfer.Studies;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

#pragma warning disable CA1303, CA1822, CA2000, CA1031, CS0168, CS0219, IDE0059 // snippets print literals and keep locals for the reader

namespace MedicalTransfer.Tests.Docs
{
    internal static class ReadmeSnippets
    {
        public static void QuickStart()
        {
            using var model = TransferBuilder.FromResNet(50)
                .WithPretrained(ResNetWeights.ImageNet)      // torchvision's checkpoint, downloaded once and verified
                .Freeze(Layers.UpTo(2))                      // stem, layer1 and layer2 frozen (BatchNorm included)
                .WithHead(Head.Mlp(512))                     // the article's head: Dropout, Linear 512, ReLU, BN, Dropout, Linear
                .ForClasses("NORMAL", "PNEUMONIA")
                .Build();                                    // CUDA when available, else CPU

            Console.WriteLine(model.Summary());              // per-stage parameters, trainable or frozen
            model.Save("pneumonia-resnet50.safetensors");    // one self-describing file; TransferModel.Load reads it back
        }
    }

    internal static class GettingStartedSnippets
    {
        public static void FirstModel()
        {
            using var model = TransferBuilder.FromResNet(50)        // 18, 34, 50, 101 or 152
                .WithPretrained(ResNetWeights.ImageNet)             // or .WithWeights("resnet50.pth"), a safetensors file, a saved model
                .Freeze(Layers.UpTo(2))                             // Layers.None, Layers.All, Layers.From(3), Layers.Only("layer4.0"), ...
                .WithHead(Head.Mlp(512))                            // Head.Linear() is the default; Head.Custom(...) takes your own module
                .ForClasses("NORMAL", "PNEUMONIA")
                .Build();

            Console.WriteLine(model.Summary());
        }
    }

    internal static class CookbookSnippets
    {
        public static void Section1()
        {
            var splits = ImageFolder.LoadSplits("chest_xray", new SplitOptions { Seed = 42 });
            var statistics = splits.Train.Statistics;
            Console.WriteLine(statistics);                          // counts per class and the imbalance ratio
            IReadOnlyList<float> classWeights = statistics.InverseFrequencyWeights;
        }

        public static void Section2()
        {
            using var basic = new BasicBlock(inChannels: 64, channels: 128, stride: 2);    // 3x3, 3x3, 1x1 projection shortcut
            using var bottleneck = new Bottleneck(inChannels: 256, channels: 64);           // 1x1, 3x3, 1x1 (x4), identity shortcut
            foreach (int depth in ResNetArchitecture.SupportedDepths)
            {
                using var resnet = new ResNet(ResNetArchitecture.ForDepth(depth), numClasses: 1000);
                long parameters = resnet.parameters().Sum(p => p.numel());
                Console.WriteLine($"ResNet-{depth}: {parameters / 1e6:0.0}M parameters");   // 11.7, 21.8, 25.6, 44.5, 60.2
            }
        }

        public static void Section3Layered(TransferModel model)
        {
            FreezeSpec all = Layers.All;                           // 'all': the whole backbone, the head trains
            FreezeSpec partial = Layers.UpTo(2);                   // section 3.1's 'partial': stem, layer1, layer2
            FreezeSpec allButLayer4 = Layers.AllExcept("layer4");  // section 4.2's 'partial': everything but layer4
            FreezeSpec none = Layers.None;                         // 'none'
            Console.WriteLine(partial);                            // Layers.UpTo(2) [the stem and the 2 stage(s) after it]
Console.WriteLine(partial.For(model.Architecture));    // Layers.UpTo(2) [stem, layer1, layer2] for a ResNet
        }

        public static void Section3Adaptive(TransferModel model, DataLoader validationLoader)
        {
            LayerImportanceReport ranking = model.RankLayerImportance(validationLoader);
            Console.WriteLine(ranking);                    // stages from most to least important for this task
            model.Freeze(ranking.FreezeLeastImportant(2));
        }

        public static void Section4(DatasetSplits splits)
        {
            var mean = new[] { 0.485f, 0.456f, 0.406f };
            var std = new[] { 0.229f, 0.224f, 0.225f };
            ImageTransform trainTransform = Transforms.Compose(
                Transforms.RandomResizedCrop(224),
                Transforms.RandomHorizontalFlip(),
                Transforms.RandomRotation(10),
                Transforms.ColorJitter(brightness: 0.2, contrast: 0.2),
                Transforms.ToTensor(),
                Transforms.Normalize(mean, std));
            ImageTransform testTransform = Transforms.Compose(
                Transforms.Resize(256),
                Transforms.CenterCrop(224),
                Transforms.ToTensor(),
                Transforms.Normalize(mean, std));

            using var model = TransferBuilder.FromResNet(50)
                .WithPretrained(ResNetWeights.ImageNet)
                .WithHead(Head.Mlp(512))                           // Dropout 0.5, Linear 512, ReLU, BatchNorm1d, Dropout 0.3, Linear
                .ForClasses(splits.Train.Classes.ToArray())
                .Build();

            var loader = new LoaderOptions { BatchSize = 32, Seed = 42 };
            var train = model.CreateLoader(splits.Train, trainTransform, loader with { DropLast = true });       // checked against the
            var validation = model.CreateLoader(splits.Validation, testTransform, loader with { Sampling = SamplingMode.Sequential }); // model's normalisation

            TrainingResult result = model.Fit(train, validation, new TrainingOptions
            {
                Epochs = 30,
                Optimizer = OptimizerKind.AdamW,
                LearningRate = 1e-4,
                WeightDecay = 1e-4,
                Schedule = LearningRateSchedule.ReduceOnPlateau(factor: 0.5, patience: 3),
                ClassWeights = splits.Train.Statistics.InverseFrequencyWeights,
                Callbacks = new ITrainingCallback[] { new BestCheckpoint("best_model.safetensors") },
            });
            result.History.SaveCsv("history.csv");
        }

        public static void Section5Progressive(TransferModel model, DataLoader train, DataLoader validation)
        {
            IReadOnlyList<TrainingPhase> phases = TrainingPhases.Article(headEpochs: 5, partialEpochs: 10, fullEpochs: 5);
            TrainingResult progressive = model.FitProgressive(train, validation, phases, new TrainingOptions
            {
                Callbacks = new ITrainingCallback[] { new BestCheckpoint("best_progressive.safetensors") },
            });
        }

        public static void Section5Ensemble()
        {
            using var resnet18 = TransferModel.Load("resnet18-frozen.safetensors");
            using var resnet50 = TransferModel.Load("resnet50-partial.safetensors");
            using var resnet101 = TransferModel.Load("resnet101-full.safetensors");
            Ensemble hard = Ensemble.Of(resnet18, resnet50, resnet101).WithVoting(Voting.Hard);
            Ensemble soft = Ensemble.Of(resnet18, resnet50, resnet101);   // soft voting (mean probability) by default
        }

        public static void Section6(TransferModel model, DatasetSplits splits)
        {
            Predictions validationPredictions = Evaluator.Predict(model, splits.Validation);
            EvaluationReport report = Evaluator.Evaluate(model, splits.Test,
                new EvaluationOptions { PositiveClass = "PNEUMONIA", OperatingPoint = OperatingPoint.TargetSensitivity(0.95) },
                validationPredictions);
            Console.WriteLine(report);                                   // scikit-learn's layout, sensitivity, specificity, AUC with 95% CIs
            Charts.SaveConfusionMatrix(report.ConfusionMatrix, "confusion_matrix.png");
            Charts.SaveRocCurve(report.Binary!, "roc.png");

            var gradCam = new GradCam(Stages.Layer4);
            string[] images = splits.Test.Samples.Take(4).Select(s => s.Path).ToArray();
            IReadOnlyList<Explanation> explanations = gradCam.Explain(model, images);
            for (int i = 0; i < images.Length; i++)
            {
                HeatmapOverlay.Save(images[i], explanations[i], model.Preprocessing, $"gradcam-{i}.png");
            }
        }
    }

    internal static class PretrainedWeightsSnippets
    {
        public static void Catalogue()
        {
            // torchvision's ImageNet ResNet-50 (IMAGENET1K_V2): downloaded once, verified, cached.
            var model = TransferBuilder.FromResNet(50)
                .WithPretrained(ResNetWeights.ImageNet)
                .ForClasses("NORMAL", "PNEUMONIA")
                .Build();

            // Offline, from the ML.NET package (basic blocks, stages [2, 2, 2, 3]).
            var offline = TransferBuilder.FromPretrained(ResNetWeights.MLNetResNet18).ForClasses("NORMAL", "PNEUMONIA").Build();
        }
    }

    internal static class DataSnippets
    {
        public static void ArticlePipelines(TransferModel model, TorchSharp.Modules.CrossEntropyLoss criterion)
        {
            // train/ and test/ are read as they are; val/ has 8 images per class, fewer than
            // MinimumValidationPerClass (20), so train+val are pooled and split 85/15, stratified, by patient.
            DatasetSplits splits = ImageFolder.LoadSplits("chest_xray", new SplitOptions
            {
                ValidationFraction = 0.15,
                GroupPattern = @"^(person\d+)_",   // person12_bacteria_45.jpeg: all of person12 in one split
                Seed = 42,
            });
            Console.WriteLine(splits.Report);       // per-class counts per split, re-split and group-leak notes

            // transforms.Compose([...]) of the article, line by line
            ImageTransform train = Transforms.Compose(
                Transforms.RandomResizedCrop(224),
                Transforms.RandomHorizontalFlip(),
                Transforms.RandomRotation(10),
                Transforms.ColorJitter(brightness: 0.2, contrast: 0.2),
                Transforms.ToTensor(),
                Transforms.Normalize(new[] { 0.485f, 0.456f, 0.406f }, new[] { 0.229f, 0.224f, 0.225f }));
            ImageTransform test = Transforms.Compose(
                Transforms.Resize(256),
                Transforms.CenterCrop(224),
                Transforms.ToTensor(),
                Transforms.Normalize(new[] { 0.485f, 0.456f, 0.406f }, new[] { 0.229f, 0.224f, 0.225f }));

            // The same two pipelines, built from the weights' own preprocessing:
            ImageTransform train2 = Transforms.ForTraining(Preprocessing.ImageNet);
            ImageTransform test2 = Transforms.ForEvaluation(Preprocessing.ImageNet);

            var loader = new DataLoader(splits.Train, train, new LoaderOptions { BatchSize = 32, Seed = 42 });
            for (int epoch = 0; epoch < 30; epoch++)
            {
                foreach (Batch batch in loader.GetBatches(epoch))
                {
                    using var scope = torch.NewDisposeScope();   // frees the batch's tensors too
                    Tensor logits = model.forward(batch.Images);  // [32, 3, 224, 224] float32
                    Tensor loss = criterion.forward(logits, batch.Labels); // [32] int64
                    // ...
                }
            }
        }
    }

    internal static class GettingStartedDataSnippets
    {
        public static void Loaders(TransferModel model)
        {
            var splits = ImageFolder.LoadSplits("chest_xray");
            var train = model.CreateLoader(splits.Train, training: true);        // the article's augmentation + the model's normalisation
            var validation = model.CreateLoader(splits.Validation, training: false);
            TrainingResult result = model.Fit(train, validation, new TrainingOptions { Epochs = 10 });
            EvaluationReport report = model.Evaluate(splits.Test, new EvaluationOptions { PositiveClass = "PNEUMONIA" });
            Console.WriteLine(report);                                           // accuracy, confusion matrix, ROC AUC, per-class metrics
        }
    }

    internal static class TrainingSnippets
    {
        public static void Fit()
        {
            // Console logging: dotnet add package Microsoft.Extensions.Logging.Console --version 8.0.0
            using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true));

            var splits = ImageFolder.LoadSplits("chest_xray");   // chest_xray/train/<class>/*.png and chest_xray/test/<class>/*.png
            using var model = TransferBuilder.FromResNet(50).WithPretrained(ResNetWeights.ImageNet)
                .WithHead(Head.Mlp(512))               // Dropout 0.5, Linear 512, ReLU, BatchNorm1d, Dropout 0.3, Linear
                .Freeze(Layers.AllExcept("layer4"))    // the article's section 4.2 "partial"
                .ForClasses(splits.Train.Classes)
                .Build();

            // The loaders take the preprocessing the weights expect from the model (augmented for training).
            var train = model.CreateLoader(splits.Train, training: true, new LoaderOptions { BatchSize = 32 });
            var validation = model.CreateLoader(splits.Validation, training: false, new LoaderOptions { BatchSize = 32 });

            var best = new BestCheckpoint("best_model.safetensors");            // on validation loss, not test accuracy
            var result = model.Fit(train, validation, new TrainingOptions
            {
                Epochs = 30,                                                     // AdamW 1e-4, weight decay 1e-4,
                ClassWeights = splits.Train.Statistics.InverseFrequencyWeights,  // ReduceLROnPlateau(0.5, 3) are the defaults
                CheckpointPath = "run.ckpt",                                     // resumable after every epoch
                Callbacks = new ITrainingCallback[] { best, new EarlyStopping(new EarlyStoppingOptions { Patience = 7 }) },
                Progress = new Progress<TrainingProgress>(p => Console.Write($"\repoch {p.Epoch}/{p.TotalEpochs} batch {p.Batch}/{p.BatchesPerEpoch} loss {p.Loss:F4}")),
                Logger = loggerFactory.CreateLogger("training"),
            });

            result.History.SaveCsv("history.csv");   // or SaveJson; one row per epoch
            using var trained = TransferModel.Load(best.Path);

            // The held-out test split, once, with the best validation epoch's weights.
            EvaluationReport report = trained.Evaluate(splits.Test, new EvaluationOptions { PositiveClass = "PNEUMONIA" });
            Console.WriteLine(report);               // accuracy, per-class precision/recall/F1, confusion matrix, ROC AUC
        }

        public static void FindLearningRate(TransferModel model, DataLoader train)
        {
            LearningRateFinderResult found = model.FindLearningRate(train, new LearningRateFinderOptions { MaxBatches = 100 });
            Console.WriteLine(found);                                      // ... suggested 0.0014 (valley), steepest descent at 0.00014
            LearningRateFinderChart.Save(found, "lr_find.png");            // package MedicalTransfer.Reporting: the curve, both suggestions marked
            var options = new TrainingOptions { LearningRate = found.Valley };
        }

        public static void FlatFolder()
        {
            DatasetSplits splits = ImageFolder.Load("images")   // images/NORMAL/*.png, images/PNEUMONIA/*.png
                .Split(new SplitOptions { Seed = 42 });         // 70% train, 15% validation, 15% test by default
        }

        public static void Resume(TransferModel model, DataLoader train, DataLoader validation, CancellationToken token, TransferBuilder builder)
        {
            var options = new TrainingOptions { Epochs = 30, CheckpointPath = "run.ckpt", Seed = 1 };
            try { model.Fit(train, validation, options, token); }         // cancelled in epoch 12: OperationCanceledException
            catch (OperationCanceledException) { }
            using var fresh = /* the same TransferBuilder description */ builder.Build();
            fresh.Fit(train, validation, options with { ResumeFrom = "run.ckpt" });   // runs epochs 12..30
        }

        public static void Progressive(TransferModel model, DataLoader train, DataLoader validation)
        {
            var result = model.FitProgressive(train, validation, TrainingPhases.Article(headEpochs: 5, partialEpochs: 10, fullEpochs: 5),
                new TrainingOptions { Callbacks = new[] { new BestCheckpoint("best.safetensors") } });
        }

        public static void CustomPhases()
        {
            var phases = new[]
            {
                new TrainingPhase("probe", Layers.All, 1e-3, epochs: 3),
                new TrainingPhase("top", Layers.UpTo(2), 1e-4, epochs: 10)
                {
                    StageLearningRates = StageLearningRates.Discriminative(),
                    Schedule = LearningRateSchedule.CosineWithWarmup(),
                    EarlyStopping = new EarlyStoppingOptions { Patience = 3 },   // ends this phase only
                },
            };
        }

        public static void Importance(TransferModel model, DataLoader validation)
        {
            LayerImportanceReport report = model.RankLayerImportance(validation, ImportanceGranularity.Stages);
            Console.WriteLine(report);                 // stages by how much the validation loss rises when zeroed
            model.Freeze(report.FreezeLeastImportant(2));   // or report.KeepMostImportant(3)
        }

        public static void AutoFreeze()
        {
            var options = new TrainingOptions
            {
                Epochs = 20,
                AutoFreeze = new AutoFreezeOptions { Threshold = 0.1, WarmupEpochs = 2, LastFreezableStage = Stages.Layer3 },
            };
        }
    }

    internal static class EvaluationSnippets
    {
        public static void Evaluate(TransferModel model, TrainingResult trainingResult)
        {
            var splits = ImageFolder.Load("chest_xray").Split();
            // ... build and train `model` on splits.Train / splits.Validation ...

            // 1. Predict the validation split; 2. evaluate the test split with a threshold chosen on validation.
            Predictions validation = Evaluator.Predict(model, splits.Validation);
            EvaluationReport report = Evaluator.Evaluate(model, splits.Test,
                new EvaluationOptions
                {
                    PositiveClass = "PNEUMONIA",
                    OperatingPoint = OperatingPoint.TargetSensitivity(0.90),   // or Argmax (default), Threshold(0.5), YoudenJ
                    Bootstrap = new BootstrapOptions { Resamples = 1000, Level = 0.95, Seed = 0 },  // the default
                },
                validation);

            Console.WriteLine(report);                      // scikit-learn's layout, matrix, AUC, calibration, clinical metrics
            File.WriteAllText("report.json", report.ToJson());

            Charts.SaveConfusionMatrix(report.ConfusionMatrix, "confusion-matrix.png");
            Charts.SaveRocCurve(report.Binary!, "roc.png");
            Charts.SavePrecisionRecallCurve(report.Binary!, "precision-recall.png");
            Charts.SaveReliabilityDiagram(report.Calibration, "reliability.png");
            TrainingCharts.SaveTrainingCurves(trainingResult.History, "training-curves.png");
        }

        public static void WithTestTimeAugmentation(TransferModel model, DatasetSplits splits, EvaluationOptions options, Predictions validation)
        {
            var tta = new PredictionOptions { Augmentation = TestTimeAugmentation.HorizontalFlip | TestTimeAugmentation.FiveCrop };
            var report = Evaluator.Evaluate(model, splits.Test, options, validation, tta);
        }

        public static void Ensembles(TransferModel resnet18, TransferModel resnet34, DatasetSplits splits, EvaluationOptions options)
        {
            var ensemble = Ensemble.Of(resnet18, resnet34);            // soft voting: mean probability
            var hard = ensemble.WithVoting(Voting.Hard);              // majority of the members' argmax
            var weighted = ensemble.WithWeights(0.7, 0.3);            // weighted mean probability (normalised)
            EvaluationReport r = Evaluator.Evaluate(ensemble, splits.Test, options, Evaluator.Predict(ensemble, splits.Validation));
        }
    }

    internal static class ExplainabilitySnippets
    {
        public static void Explain(TransferModel model, IReadOnlyList<string> imagePaths, IReadOnlyList<string> trueClasses)
        {
            var cam = new GradCam();                       // the model's default stage (layer4, denseblock4, conv_head); new GradCam("layer3"), new GradCamPlusPlus("layer4.1")
            IReadOnlyList<Explanation> maps = cam.Explain(model, imagePaths);              // predicted class of each image
            IReadOnlyList<Explanation> forPneumonia = cam.Explain(model, imagePaths, "PNEUMONIA");

            HeatmapOverlay.Save(imagePaths[0], maps[0], model.Preprocessing, "overlay.png");   // on the ORIGINAL image
            ExplanationGrid.Save(imagePaths, maps, model.Preprocessing, "grid.png", trueClasses);  // MedicalTransfer.Reporting
            ExplanationPanel.Save(imagePaths[0], maps[0], model.Preprocessing, "panel.png", trueClasses[0]);  // title, original, overlay, colour bar
        }

        public static void ExplainEnsemble(Ensemble ensemble, IReadOnlyList<string> imagePaths)
        {
            IReadOnlyList<EnsembleExplanation> e = new GradCam().Explain(ensemble, imagePaths);
            HeatmapOverlay.SaveImageFrame(imagePaths[0], e[0].Mean, "ensemble-mean.png");
        }
    }

    internal static class DataDicomSnippets
    {
        public static void ValueModes()
        {
            // The default: what a radiologist's viewer shows (the file's own VOI LUT or window, MONOCHROME1 inverted).
            var viewer = new LoaderOptions { Decoding = new ImageLoadOptions { Dicom = new DicomLoadOptions { Values = DicomValues.FileWindow } } };

            // Hounsfield units, windowed by the pipeline: a lung window on CT.
            ImageTransform lung = Transforms.Compose(Transforms.Window(-600, 1500), Transforms.Resize(256), Transforms.CenterCrop(224), Transforms.Normalize(new[] { 0.485f, 0.456f, 0.406f }, new[] { 0.229f, 0.224f, 0.225f }));
            var hounsfield = new ImageLoadOptions { Dicom = new DicomLoadOptions { Values = DicomValues.ModalityValues } };

            // The file's second window (files often carry a soft-tissue and a lung window), the third frame of a multi-frame file.
            var second = new ImageLoadOptions { Dicom = new DicomLoadOptions { WindowIndex = 1, Frame = 2 } };
        }

        public static void Tables()
        {
            // CheXpert: train.csv and valid.csv, paths like CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg.
            DatasetSplits chexpert = ImageTable.LoadSplits("/data/CheXpert-v1.0-small/train.csv", "/data/CheXpert-v1.0-small/valid.csv", testTable: null,
                ImageTableLayouts.CheXpert, new SplitOptions { TestFraction = 0.1, Seed = 42 }, new ImageTableOptions { Root = "/data" });

            // NIH ChestX-ray14: file names found anywhere under the root (images_001/images ... images_012/images).
            ImageDataset nih = ImageTable.Load("/data/nih/Data_Entry_2017.csv", ImageTableLayouts.NihChestXray14);

            // Your own single-label table: path,diagnosis; splits, training and evaluation as for a folder.
            ImageDataset mine = ImageTable.Load("labels.csv", ImageTableLayouts.ForClasses("path", "diagnosis"), new ImageTableOptions { MissingFiles = BadImagePolicy.Skip });

            // One finding of a multi-label table as a binary task, on PA images only.
            ImageDataset pneumonia = chexpert.Train.WithViews("PA").ForFinding("Pneumonia", "NORMAL", "PNEUMONIA");
        }

        public static void Preflight(ILogger logger)
        {
            DatasetSplits checkedSplits = ImageFolder.Load("chest_xray").Split(new SplitOptions { Seed = 42 })
                .Verify(new ImageLoadOptions { BadImages = BadImagePolicy.Skip }, logger);
        }
    }
}

namespace MedicalTransfer.Tests.Docs.Deployment
{
    using System.Threading.Tasks;
    using MedicalTransfer.Export;
    using MedicalTransfer.Onnx;
    using MedicalTransfer.Prediction;

    internal static class ReadmeDeploymentSnippets
    {
        public static void PredictAndDeploy(TransferModel model)
        {
            ImagePrediction p = model.Predict("patient-0042.png");          // or model.PredictFolder("archive") (streamed)
            model.ExportOnnx("pneumonia.onnx");                              // opset 17, dynamic batch, checked with ONNX Runtime
            using var onnx = OnnxImageClassifier.Load("pneumonia.onnx");     // package MedicalTransfer.Onnx: no libtorch needed
            Console.WriteLine(onnx.Predict("patient-0042.png").PredictedClass);
        }
    }

    internal static class GettingStartedDeploymentSnippets
    {
        public static void PredictAndExport(TransferModel model)
        {
            ImagePrediction prediction = model.Predict("patient-0042.png");   // the model's own decoding and preprocessing
            Console.WriteLine(prediction);                                     // path: class (NORMAL 0.1234, PNEUMONIA 0.8766)
            model.ExportOnnx("pneumonia.onnx");                                // for ONNX Runtime, ML.NET, Triton
        }
    }

    internal static class DeploymentSnippets
    {
        public static async Task Predict(TransferModel model, DatasetSplits splits, CancellationToken cancellationToken)
        {
            ImagePrediction one = model.Predict("patient-0042.png");           // also a Stream or an ImageSharp Image
            Console.WriteLine($"{one.PredictedClass}: {one.Probability("PNEUMONIA"):P1}");

            // A decision threshold chosen on VALIDATION predictions; prediction, Save and ExportOnnx keep it.
            var validation = Evaluator.Predict(model, splits.Validation);
            model.UseOperatingPoint(OperatingPoint.TargetSensitivity(0.95), validation, "PNEUMONIA");

            var options = new ImagePredictionOptions { BatchSize = 32, Augmentation = TestTimeAugmentation.HorizontalFlip };
            await foreach (ImagePrediction p in model.PredictFolder("archive/2024", options, cancellationToken))
            {
                Console.WriteLine(p.Succeeded ? $"{p.Source},{p.PredictedClass}" : $"{p.Source}: {p.Error}");
            }
        }

        public static void Export(TransferModel model)
        {
            OnnxExportResult exported = model.ExportOnnx("pneumonia.onnx");   // opset 17, dynamic batch, probabilities
            model.ExportOnnx("pneumonia-logits.onnx", new OnnxExportOptions
            {
                Opset = 13,                       // 13 to 17
                Output = OnnxOutput.Logits,       // or OnnxOutput.Probabilities (softmax), the default
                DynamicBatch = false,             // batch dimension fixed to 1
                FoldBatchNorm = false,            // keep BatchNormalization nodes (default: folded into the convolutions)
                InputSize = 256,                  // default: the model's crop size
            });
        }

        public static async Task OnnxRuntime()
        {
            using var classifier = OnnxImageClassifier.Load("pneumonia.onnx", new OnnxClassifierOptions { Threads = 2 });
            ImagePrediction p = classifier.Predict("patient-0042.png");
            await foreach (var r in classifier.PredictFolder("archive/2024", new ImagePredictionOptions { BatchSize = 32 }))
            {
                Console.WriteLine(r);
            }
        }

        public static void Triton(TransferModel model)
        {
            string config = model.ExportTritonRepository("models", "pneumonia", maxBatchSize: 32);
            // models/pneumonia/config.pbtxt and models/pneumonia/1/model.onnx
        }
    }
}

namespace MedicalTransfer.Tests.Docs.MlNet
{
    using Microsoft.ML;
    using Microsoft.ML.Data;

    internal sealed class XrayInput
    {
        [ColumnName("input")]
        public float[] Input { get; set; } = Array.Empty<float>();
    }

    internal static class DeploymentMlNetSnippets
    {
        public static void ApplyOnnxModel(IEnumerable<XrayInput> inputs)
        {
            var ml = new MLContext();
            var schema = SchemaDefinition.Create(typeof(XrayInput));
            schema[nameof(XrayInput.Input)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, 224, 224);
            var data = ml.Data.LoadFromEnumerable(inputs, schema);
            var scored = ml.Transforms.ApplyOnnxModel(new[] { "probabilities" }, new[] { "input" }, "pneumonia.onnx").Fit(data).Transform(data);
            float[][] probabilities = scored.GetColumn<float[]>("probabilities").ToArray();
        }
    }

    internal static class StudySnippets
    {
        public static void Folds()
        {

            var data = ImageFolder.Load("chest_xray/train");
            var folds = FoldAssignment.Create(data, new FoldOptions
            {
                Folds = 5,                          // the default
                Seed = 1,
                GroupPattern = @"^(person\d+)_",    // Kaggle's person12_bacteria_45.jpeg -> person12
            });
            Console.WriteLine(folds);               // per fold and class: images (ideal share), patients
            Console.WriteLine(folds.MeetsBalanceTarget);
            FoldSplit first = folds.Split(0);       // Train, Validation (carved from the training part), HeldOut
        }

        public static void Run()
        {
            var result = CrossValidation.Run(
                TransferBuilder.FromPretrained(ResNetWeights.MLNetResNet18)
                    .WithHead(Head.Mlp(256))
                    .Freeze(Layers.UpTo(2))
                    .ForClasses("NORMAL", "PNEUMONIA")
                    .WithSeed(42),
                ImageFolder.LoadSplits("chest_xray", new SplitOptions { GroupPattern = @"^(person\d+)_" }),  // train+val cross-validated, test kept apart
                new CrossValidationOptions
                {
                    Folds = new FoldOptions { Folds = 5, Seed = 42, GroupPattern = @"^(person\d+)_" },
                    WorkFolder = "runs/cv5",                                   // checkpoints, fold models, results: resumable
                    Training = new TrainingOptions { Epochs = 10, LearningRate = 3e-4, Seed = 42 },
                    Callbacks = fold => new ITrainingCallback[] { new EarlyStopping() },   // new ones per fold
                    Loader = new LoaderOptions { BatchSize = 16, Seed = 42 },
                    Evaluation = new EvaluationOptions { PositiveClass = "PNEUMONIA", OperatingPoint = OperatingPoint.TargetSensitivity(0.9) },
                });
            Console.WriteLine(result);
        }

        public static void EnsembleAndRefit(CrossValidationResult result, ImageDataset data, CrossValidationOptions options, TransferBuilder builder)
        {
            Ensemble ensemble = result.LoadEnsemble();                          // the fold models, soft voting; dispose the members when done
            var folds = FoldAssignment.Create(data, options.Folds);
            using var final = CrossValidation.Refit(builder, folds, options);   // one model trained on all the images
            final.Save("pneumonia-final.safetensors");                          // carries its temperature
        }

        public static void Calibrate(TransferModel model, DatasetSplits splits)
        {
            TemperatureScaling scaling = model.Calibrate(splits.Validation);   // fits T on validation and attaches it
            Console.WriteLine(scaling);                                        // temperature 1.84 (fitted on 60 validation images: NLL ...)
            model.Save("calibrated.safetensors");                              // "calibration" in the file's metadata
            var after = CalibrationMetrics.Compute(Evaluator.Predict(model, splits.Test), "PNEUMONIA");
            var before = CalibrationMetrics.Compute(scaling.Remove(Evaluator.Predict(model, splits.Test)), "PNEUMONIA");
            Console.WriteLine(before);
            Console.WriteLine(after);
        }

        public static void Compare(Predictions resnet18Test, Predictions resnet50Test, Predictions ensembleTest, double threshold18, double threshold50)
        {
            var models = new[]
            {
                new KeyValuePair<string, Predictions>("ResNet-18", resnet18Test),
                new KeyValuePair<string, Predictions>("ResNet-50", resnet50Test),
                new KeyValuePair<string, Predictions>("ensemble", ensembleTest),
            };
            IReadOnlyList<DeLongTest> pairs = ModelComparison.PairwiseDeLong(models, "PNEUMONIA", PValueCorrection.Holm);
            DecisionComparison decisions = ModelComparison.McNemar(resnet18Test, resnet50Test, "PNEUMONIA", threshold18, threshold50, "ResNet-18", "ResNet-50");
            PairedBootstrapTest second = ModelComparison.PairedBootstrapAuc(resnet18Test, resnet50Test, "PNEUMONIA");
        }

        public static void ExternalAndSubgroups(TransferModel model, Predictions validationPredictions, Predictions testPredictions, DatasetSplits splits)
        {
            var external = ExternalValidationReport.Evaluate(model, ImageFolder.Load("site-b"), validationPredictions,
                new EvaluationOptions { PositiveClass = "PNEUMONIA", OperatingPoint = OperatingPoint.TargetSensitivity(0.9) }, "site B");
            Console.WriteLine(external);   // prevalence shift, the internal threshold's sensitivity/specificity there, calibration-in-the-large

            var sexOf = File.ReadLines("patients.csv").Skip(1).Select(l => l.Split(',')).ToDictionary(c => c[0], c => c[1]);
            var bySex = SubgroupReport.Compute(testPredictions, splits.Test.Samples, s => sexOf.GetValueOrDefault(Path.GetFileName(s.Path)), "sex",
                new EvaluationOptions { PositiveClass = "PNEUMONIA", OperatingPoint = OperatingPoint.YoudenJ }, validationPredictions);
        }

        public static void DecisionCurves(CrossValidationResult result)
        {
            var curve = DecisionCurve.Compute(result.OutOfFold, "PNEUMONIA");   // thresholds 0.01..0.99
            File.WriteAllText("decision-curve.csv", curve.ToCsv());
            Console.WriteLine(curve.UsefulRange());                             // where the model beats treat-all and treat-none
            StudyCharts.SaveDecisionCurves(new[] { new KeyValuePair<string, DecisionCurve>("ResNet-18", curve) }, "decision-curve.png");
        }

        public static void Report(CrossValidationResult result, TransferModel model, ExternalValidationReport external, SubgroupReport bySex, IReadOnlyList<DeLongTest> pairs)
        {
            var files = new StudyReport("Pneumonia on chest X-rays: ResNet-18, 5-fold cross-validation")
                .WithDataDescription("Kaggle chest X-ray (Kermany et al. 2018): pediatric, one centre.")
                .WithCrossValidation(result)
                .WithModel(model, "ImageNet ResNet-18 (ML.NET ONNX)")
                .WithExternalValidation(external)
                .WithSubgroups(bySex)
                .WithComparison(pairs)
                .Save("runs/cv5", "study-report");
            Console.WriteLine(files.Html);
        }
    }
}

namespace MedicalTransfer.Tests.Docs.Architectures
{
    internal static class ArchitectureSnippets
    {
        public static void ThreeBackbones()
        {
            using var resnet = TransferBuilder.FromResNet(50).WithPretrained(ResNetWeights.ImageNet).ForClasses("NORMAL", "PNEUMONIA").Build();
            using var chexnet = TransferBuilder.FromDenseNet(121).WithPretrained(DenseNetWeights.ImageNet).ForClasses("NORMAL", "PNEUMONIA").Build();
            using var efficient = TransferBuilder.FromEfficientNet(0).WithPretrained(EfficientNetWeights.ImageNet).ForClasses("NORMAL", "PNEUMONIA").Build();
        }

        public static void GrayInput(DatasetSplits splits)
        {
            using var gray = TransferBuilder.FromDenseNet(121)
                .WithPretrained(DenseNetWeights.ImageNet)
                .WithInputChannels(1)                                  // conv0 takes one channel: the RGB weights, summed
                .ForClasses("NORMAL", "PNEUMONIA")
                .Build();
            var loader = new DataLoader(splits.Train, Transforms.ForTraining(gray.Preprocessing));   // [N, 1, 224, 224]
        }

        public static void CheXNet(DatasetSplits splits)
        {
            using var chexnet = TransferBuilder.FromDenseNet(121)
                .WithPretrained(DenseNetWeights.ImageNet)         // torchvision's densenet121-a639ec97.pth, downloaded once and verified
                .ForClasses("NORMAL", "PNEUMONIA")                // single-label for now: one softmax over the classes
                .Build();

            var train = new DataLoader(splits.Train, Transforms.Compose(
                Transforms.Resize(224, 224),
                Transforms.RandomHorizontalFlip(),
                Transforms.Normalize(chexnet.Preprocessing.Mean, chexnet.Preprocessing.Std)));
            var validation = new DataLoader(splits.Validation, Transforms.ForEvaluation(chexnet.Preprocessing), new LoaderOptions { Sampling = SamplingMode.Sequential });
            TrainingResult chexnetRun = chexnet.Fit(train, validation, new TrainingOptions
            {
                Epochs = 20,
                LearningRate = 1e-3,
                Schedule = LearningRateSchedule.ReduceOnPlateau(factor: 0.1, patience: 1),
                Callbacks = new ITrainingCallback[] { new BestCheckpoint("chexnet.safetensors") },
            });
            IReadOnlyList<Explanation> maps = new GradCam().Explain(chexnet, splits.Test.Samples.Take(4).Select(s => s.Path).ToArray());  // denseblock4
        }
    }
}

namespace MedicalTransfer.Tests.Docs.MultiLabel
{
    internal static class MultiLabelSnippets
    {
        public static void CheXpert()
        {
            var dataset = ImageTable.Load("CheXpert-v1.0-small/train.csv", ImageTableLayouts.CheXpert, new ImageTableOptions { Root = "/data" });
            var splits = dataset.Split(new SplitOptions { ValidationFraction = 0.1, TestFraction = 0.1, Seed = 42 });

            using var model = TransferBuilder.FromDenseNet(121).WithPretrained(DenseNetWeights.ImageNet)
                .ForFindings(dataset.Findings)                      // one logit per finding, a sigmoid each
                .Build();

            var policy = UncertaintyPolicy.Zeros.With("Atelectasis", UncertainLabel.Ones).With("Edema", UncertainLabel.Ones);
            var options = new LoaderOptions { BatchSize = 16, Uncertainty = policy };
            using var train = new DataLoader(splits.Train, Transforms.ForTraining(model.Preprocessing), options);
            using var validation = model.CreateLoader(splits.Validation, training: false, options);

            model.Fit(train, validation, new TrainingOptions
            {
                Epochs = 10,
                PositiveWeights = train.PositiveWeights(),          // negatives / positives per finding, training split
                Callbacks = new ITrainingCallback[] { new BestCheckpoint("best.safetensors", TrainingMetric.ValidationAuc) },
            });

            using var best = TransferModel.Load("best.safetensors");
            best.UseFindingThresholds(FindingThresholds.Choose(best.PredictFindings(splits.Validation), FindingThresholdRule.YoudenJ));
            best.Save("best.safetensors");                          // thresholds travel with the model
            Console.WriteLine(best.EvaluateFindings(splits.Test).ToTable());
        }
    }

    internal static class MultiLabelStudySnippets
    {
        public static void CalibrateFindings(TransferModel model, DatasetSplits splits)
        {
            FindingTemperatureScaling scaling = model.CalibrateFindings(splits.Validation);   // fits T per finding and attaches them
            Console.WriteLine(scaling);                      // Left Opacity T 1.62 (41 labels: BCE 0.4120 -> 0.3710); ...
            model.Save("calibrated.safetensors");            // "finding_calibration" in the file's metadata
            var test = model.PredictFindings(splits.Test);   // sigmoid(logit / T) per finding
            var raw = scaling.Remove(test);                  // the same predictions before scaling
        }

        public static void Intervals(TransferModel model, DatasetSplits splits, FindingTemperatureScaling scaling)
        {
            var test = model.PredictFindings(splits.Test);
            var intervals = MultiLabelIntervals.Compute(test, new BootstrapOptions { Resamples = 2000, Seed = 1 });
            Console.WriteLine(intervals.ToTable());          // finding, n positive, AUROC (CI), AP (CI); "... 212 patients resampled"
            FindingCharts.SaveRocGrid(test, "roc-findings.png", intervals);
            FindingCharts.SaveCalibrationGrid(test, "calibration-findings.png", scaling.Remove(test));
        }

        public static void RunFindings(TransferBuilder builder)
        {
            var splits = ImageTable.Load("chexpert/train.csv", ImageTableLayouts.CheXpert, new ImageTableOptions { Root = "/data" })
                .Split(new SplitOptions { ValidationFraction = 0.1, TestFraction = 0.2, Seed = 1 });    // train+validation cross-validated, test kept apart
            var result = CrossValidation.RunFindings(
                builder,                                                             // ...ForFindings(splits.Train.Findings)
                splits,
                new CrossValidationOptions
                {
                    Folds = new FoldOptions { Folds = 5, Seed = 1 },                 // grouped by the table's patient, stratified per finding
                    WorkFolder = "runs/cv5-findings",                                // checkpoints, fold models, results: resumable
                    Training = new TrainingOptions { Epochs = 10, LearningRate = 3e-4, Seed = 1 },
                    Loader = new LoaderOptions { BatchSize = 16, Seed = 1 },         // Uncertainty: U-Ignore unless you set it
                    TrainingTransform = Transforms.ForEvaluation,                    // no flips: left and right findings differ
                    FindingThresholdRule = FindingThresholdRule.YoudenJ,             // the default
                });
            Console.WriteLine(result.ToTable());   // AUROC per fold and finding, mean and SD, pooled out-of-fold with patient-level intervals, test
            new StudyReport("Four findings on chest X-rays: 5-fold cross-validation").WithCrossValidation(result).Save("report");
        }

        public static void Folds(TransferBuilder builder)
        {
            var dataset = ImageTable.Load("chexpert/train.csv", ImageTableLayouts.CheXpert, new ImageTableOptions { Root = "/data" });
            var folds = FoldAssignment.Create(dataset, new FoldOptions { Folds = 5, Seed = 1 });   // grouped by patient, stratified per finding
            Console.WriteLine(folds);                                                 // positives of each finding per fold vs the ideal share
            for (int k = 0; k < folds.Folds; k++)
            {
                var split = folds.Split(k);                                           // Train, Validation (carved from Train), HeldOut
                using var model = builder.Build();                                    // builder: ...ForFindings(dataset.Findings)
                var options = new LoaderOptions { BatchSize = 16 };
                using var train = new DataLoader(split.Train, Transforms.ForTraining(model.Preprocessing), options);
                using var validation = model.CreateLoader(split.Validation, training: false, options);
                model.Fit(train, validation, new TrainingOptions { Epochs = 10, PositiveWeights = train.PositiveWeights() });
                model.CalibrateFindings(split.Validation);                            // one temperature per finding, on the carve only
                model.UseFindingThresholds(FindingThresholds.Choose(model.PredictFindings(split.Validation), FindingThresholdRule.YoudenJ));
                var heldOut = model.PredictFindings(split.HeldOut);                   // calibrated, knows its patients
                Console.WriteLine(MultiLabelIntervals.Compute(heldOut, new BootstrapOptions { Seed = 1 }).ToTable());
            }
        }

        public static void Report(TransferModel model, DatasetSplits splits)
        {
            FindingTemperatureScaling scaling = model.CalibrateFindings(splits.Validation);
            var test = model.PredictFindings(splits.Test);
            new StudyReport("Four findings on chest X-rays: DenseNet-121")
                .WithFindings(test, scaling.Remove(test), model.FindingThresholds, scaling, new BootstrapOptions { Resamples = 2000, Seed = 1 }, splits.Report)
                .WithModel(model, "ImageNet DenseNet-121 (torchvision)")
                .Save("report");
        }

        public static void UsefulnessSubgroupsExternal(TransferModel model, DatasetSplits splits)
        {
            var test = model.PredictFindings(splits.Test);                             // calibrated, at the model's thresholds
            var effusion = DecisionCurve.Compute(test, "Effusion");                    // net benefit on Effusion's observed labels only
            Console.WriteLine(effusion.UsefulRange());
            FindingCharts.SaveDecisionCurveGrid(test, "decision-findings.png");        // one panel per finding
            var bySex = MultiLabelSubgroupReport.Compute(test, splits.Test.Samples, s => s.Metadata?.GetValueOrDefault("Sex"), "sex", model.FindingThresholds);
            var siteB = MultiLabelExternalValidationReport.Evaluate(model, ImageTable.Load("site-b/train.csv", ImageTableLayouts.CheXpert), test, "site B");
            Console.WriteLine(siteB);   // per finding: prevalence shift, AUROC both sites, the internal threshold's sensitivity/specificity there
            new StudyReport("Four findings on chest X-rays: DenseNet-121")
                .WithFindings(test, null, model.FindingThresholds)
                .WithSubgroups(bySex)
                .WithExternalValidation(siteB)
                .Save("report");
        }
    }
}

namespace MedicalTransfer.Tests.Docs.MultiLabelModels
{
    using System.Collections.Generic;
    using MedicalTransfer.Data;
    using MedicalTransfer.Ensembles;
    using MedicalTransfer.Evaluation;
    using MedicalTransfer.Explainability;
    using MedicalTransfer.Reporting;

    internal static class MultiLabelEnsembleSnippets
    {
        public static void EnsembleAndTta(TransferModel densenet, TransferModel resnet, DatasetSplits splits)
        {
            var ensemble = Ensemble.Of(densenet, resnet);                 // members share the findings, in the same order
            var thresholds = FindingThresholds.Choose(ensemble.PredictFindings(splits.Validation), FindingThresholdRule.YoudenJ);
            MultiLabelReport report = ensemble.EvaluateFindings(splits.Test, thresholds,
                new PredictionOptions { Augmentation = TestTimeAugmentation.FiveCrop | TestTimeAugmentation.HorizontalFlip });
        }

        public static void TopFindings(TransferModel model)
        {
            var gradCam = new GradCam();
            IReadOnlyList<Explanation> top = gradCam.ExplainTopFindings(model, "patient-0042.png", 3);   // most probable first
            ExplanationGrid.SaveTopFindings("patient-0042.png", top, model.Preprocessing, "top3.png", model.FindingThresholds);
        }
    }
}
