using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Evaluation;
using SkiaSharp;
using Xunit;

namespace MedicalTransfer.Reporting.Tests
{
    /// <summary>Runs alone: SkiaSharp's handle table is process-wide, so tests drawing in parallel change it.</summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class SkiaHandleTableCollection
    {
        /// <summary>The collection's name.</summary>
        public const string Name = "SkiaSharp handle table";
    }

    /// <summary>
    /// Drawing a figure again must leave no native Skia object alive that it created. Compared as sets of objects,
    /// not counts: a finalizer freeing an earlier test's object meanwhile must not hide (or fake) a leak.
    /// </summary>
    [Collection(SkiaHandleTableCollection.Name)]
    public sealed class SkiaLeakTests : IDisposable
    {
        private readonly string folder = Path.Combine(Path.GetTempPath(), "mt-skia-leak-" + Guid.NewGuid().ToString("N"));

        public SkiaLeakTests() => Directory.CreateDirectory(folder);

        public void Dispose() => Directory.Delete(folder, recursive: true);

        [Fact]
        public void SaveTrainingCurves_Repeatedly_LeavesNoNativeSkiaObjectBehind()
        {
            // SkiaSharp registers every live native object (image, surface, bitmap, paint) until it is disposed; an
            // undisposed ScottPlot image stays registered until a finalizer happens to run.
            string path = Path.Combine(folder, "training.png");
            TrainingCharts.SaveTrainingCurves(ChartsTests.TwoPhaseHistory(), path); // fonts and typefaces are cached once
            var before = LiveSkiaObjects();
            for (int i = 0; i < 3; i++)
            {
                TrainingCharts.SaveTrainingCurves(ChartsTests.TwoPhaseHistory(), path);
            }

            AssertNoneCreatedSince(before);
        }

        [Fact]
        public void Charts_Repeatedly_LeaveNoNativeSkiaObjectBehind()
        {
            var report = BinaryReport.Compute(ChartsTests.Binary(), "PNEUMONIA");
            var matrix = ConfusionMatrix.Compute(new[] { "A", "B" }, new[] { 0, 1, 1 }, new[] { 0, 1, 0 });
            void DrawAll()
            {
                Charts.SaveConfusionMatrix(matrix, Path.Combine(folder, "cm.png"));
                Charts.SaveRocCurve(report, Path.Combine(folder, "roc.png"));
                Charts.SavePrecisionRecallCurve(report, Path.Combine(folder, "pr.png"));
                Charts.SaveReliabilityDiagram(CalibrationReport.Compute(ChartsTests.Binary()), Path.Combine(folder, "rel.png"));
            }

            DrawAll();
            var before = LiveSkiaObjects();
            DrawAll();
            DrawAll();

            AssertNoneCreatedSince(before);
        }

        [Fact]
        public void ExplanationPanel_Repeatedly_LeavesNoNativeSkiaObjectBehind()
        {
            string image = ExplanationPanelTests.GrayImage(folder), path = Path.Combine(folder, "panel.png");
            ExplanationPanel.Save(image, ExplanationPanelTests.Explanation(), ExplanationPanelTests.Crop80, path);
            var before = LiveSkiaObjects();
            for (int i = 0; i < 3; i++)
            {
                ExplanationPanel.Save(image, ExplanationPanelTests.Explanation(), ExplanationPanelTests.Crop80, path, "NORMAL");
            }

            AssertNoneCreatedSince(before);
        }

        private static void AssertNoneCreatedSince(HashSet<SKObject> before)
        {
            var left = LiveSkiaObjects().Where(o => !before.Contains(o)).Select(o => o.GetType().Name).ToList();
            Assert.True(left.Count == 0, "native Skia objects created and never disposed: " + string.Join(", ", left));
        }

        /// <summary>
        /// Native objects SkiaSharp tracks as alive (its handle table; an entry goes when the object is disposed),
        /// except path effects: ScottPlot 5.1.59 makes one per dashed line per render and never disposes it (the
        /// garbage collector does), which no caller can prevent.
        /// </summary>
        private static HashSet<SKObject> LiveSkiaObjects()
        {
            var table = typeof(SKObject).Assembly.GetType("SkiaSharp.HandleDictionary")?.GetField("instances", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)?.GetValue(null) as System.Collections.IDictionary;
            Assert.True(table is not null, "SkiaSharp's handle table (HandleDictionary.instances) was not found; this SkiaSharp version tracks objects differently: update the test.");
            return table!.Values.Cast<WeakReference>().Select(w => w.Target).OfType<SKObject>().Where(o => o is not SKPathEffect).ToHashSet<SKObject>(ReferenceEqualityComparer.Instance);
        }
    }
}
