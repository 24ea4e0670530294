using System;
using System.Collections.Generic;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Models;
using MedicalTransfer.Studies;
using MedicalTransfer.Tests.Training;
using MedicalTransfer.Training;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Studies
{
    /// <summary>
    /// Multi-label phantoms (<see cref="SyntheticChestXRay.WriteFindingsTable"/>: four findings, uncertain and missing labels,
    /// 2 images per patient, patients from the table's paths): the train table's images are cross-validated and the valid
    /// table's (other patients) are the kept-apart test set; and ONE uninterrupted multi-label cross-validation of them (tiny
    /// ResNet, 3 folds, 2 epochs) shared by every test that only reads it. Made on first use; deleted when the process exits.
    /// </summary>
    internal static class FindingsStudyFixture
    {
        private static readonly Lazy<Shared> Value = new(() => new Shared(), LazyThreadSafetyMode.ExecutionAndPublication);

        public static Shared Instance => Value.Value;

        internal static TransferBuilder Builder() => TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
            .WithHead(Head.Mlp(16, inputDropout: 0.2, hiddenDropout: 0.1))
            .ForFindings(SyntheticChestXRay.PhantomFindings)
            .WithPreprocessing(new Preprocessing { ResizeSize = 36, CropSize = 32 })
            .OnDevice(CPU)
            .WithSeed(7);

        internal static CrossValidationOptions Options(string work, ListLogger? logger = null) => new()
        {
            Folds = new FoldOptions { Folds = 3, Seed = 4, ValidationFraction = 0.3 },
            WorkFolder = work,
            Training = new TrainingOptions { Epochs = 2, LearningRate = 3e-3, Seed = 11 },
            Loader = new LoaderOptions { BatchSize = 8, Workers = 1, Seed = 3 },

            // No flips or crops: left and right opacities are different findings.
            TrainingTransform = Transforms.ForEvaluation,
            Evaluation = new EvaluationOptions { Bootstrap = new BootstrapOptions { Resamples = 200, Seed = 1 } },
            Logger = logger ?? new ListLogger(),
        };

        internal sealed class Shared
        {
            private readonly TestSupport.TempFolder folder = new();
            private readonly Lazy<(MultiLabelCrossValidationResult, string, ListLogger, List<CrossValidationProgress>)> straight;

            public Shared()
            {
                var table = SyntheticChestXRay.WriteFindingsTable(folder.File("data"), new SyntheticChestXRayOptions { Count = 84, ImagesPerPatient = 2, Size = 40, Seed = 5 });
                Data = ImageTable.Load(table.TrainTable, SyntheticChestXRay.FindingsLayout, new ImageTableOptions { Root = table.Root });
                Test = ImageTable.Load(table.ValidationTable, SyntheticChestXRay.FindingsLayout, new ImageTableOptions { Root = table.Root });
                straight = new(RunStraight, LazyThreadSafetyMode.ExecutionAndPublication);
                AppDomain.CurrentDomain.ProcessExit += (_, _) => folder.Dispose();
            }

            public ImageDataset Data { get; }

            public ImageDataset Test { get; }

            public string Folder => folder.Path;

            /// <summary>The uninterrupted run with the test set kept apart, its work folder, logs and progress.</summary>
            public (MultiLabelCrossValidationResult Result, string Work, ListLogger Logger, List<CrossValidationProgress> Progress) Straight => straight.Value;

            private (MultiLabelCrossValidationResult, string, ListLogger, List<CrossValidationProgress>) RunStraight()
            {
                string work = folder.File("straight");
                var logger = new ListLogger();
                var progress = new List<CrossValidationProgress>();
                var options = Options(work, logger) with { Progress = new TrainingFixtures.SyncProgress<CrossValidationProgress>(progress.Add) };
                return (CrossValidation.RunFindings(Builder(), Data, options, new TestSet(Test)), work, logger, progress);
            }
        }
    }
}
