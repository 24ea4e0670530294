using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Studies;

namespace MedicalTransfer.Tests.Studies
{
    /// <summary>
    /// 48 synthetic phantoms of 24 patients (2 images each) and 12 more as a test set, and ONE uninterrupted
    /// cross-validation of them (tiny ResNet, 3 folds, 2 epochs), shared by every test that only reads it: the
    /// cross-validation tests and the study report tests. Made on first use; deleted when the test process exits.
    /// </summary>
    internal static class StudyFixture
    {
        private static readonly Lazy<Shared> Value = new(() => new Shared(), LazyThreadSafetyMode.ExecutionAndPublication);

        public static Shared Instance => Value.Value;

        internal sealed class Shared
        {
            private readonly TestSupport.TempFolder folder = new();
            private readonly Lazy<(CrossValidationResult, string, ListLogger, List<CrossValidationProgress>)> straight;

            public Shared()
            {
                SyntheticChestXRay.WriteImageFolder(folder.File("data"), new SyntheticChestXRayOptions { Count = 48, ImagesPerPatient = 2, PositiveFraction = 0.5, Size = 40, Seed = 5 });
                SyntheticChestXRay.WriteImageFolder(folder.File("test"), new SyntheticChestXRayOptions { Count = 12, ImagesPerPatient = 1, PositiveFraction = 0.5, Size = 40, Seed = 99 });
                Data = ImageFolder.Load(folder.File("data"));
                Test = ImageFolder.Load(folder.File("test"));
                straight = new(RunStraight, LazyThreadSafetyMode.ExecutionAndPublication);
                AppDomain.CurrentDomain.ProcessExit += (_, _) => folder.Dispose();
            }

            public ImageDataset Data { get; }

            public ImageDataset Test { get; }

            public string Folder => folder.Path;

            /// <summary>The uninterrupted run with the test set kept apart, its work folder, logs and progress.</summary>
            public (CrossValidationResult Result, string Work, ListLogger Logger, List<CrossValidationProgress> Progress) Straight => straight.Value;

            private (CrossValidationResult, string, ListLogger, List<CrossValidationProgress>) RunStraight()
            {
                string work = folder.File("straight");
                var logger = new ListLogger();
                var progress = new List<CrossValidationProgress>();
                var options = CrossValidationTests.Options(work, logger) with { Progress = new Training.TrainingFixtures.SyncProgress<CrossValidationProgress>(progress.Add) };
                return (CrossValidation.Run(CrossValidationTests.Builder(), Data, options, new TestSet(Test)), work, logger, progress);
            }
        }
    }
}
