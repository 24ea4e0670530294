using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Training;
using SkiaSharp;
using Xunit;

namespace MedicalTransfer.Reporting.Tests
{
    /// <summary>
    /// Figures replace an existing file atomically (through AtomicFile): a reader that had the previous file open
    /// still reads it whole, the new file is a complete PNG, and no temporary file is left. A write in place fails
    /// this (it truncates the file the reader holds, or is refused while it is held).
    /// </summary>
    public sealed class AtomicWriteTests : IDisposable
    {
        private static readonly byte[] Previous = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray();
        private readonly string folder = Path.Combine(Path.GetTempPath(), "mt-reporting-atomic-" + Guid.NewGuid().ToString("N"));

        public AtomicWriteTests() => Directory.CreateDirectory(folder);

        public void Dispose() => Directory.Delete(folder, recursive: true);

        [Fact]
        public void SaveConfusionMatrix_OverAnOpenFile_ReplacesItAtomically() =>
            AssertReplacedAtomically("matrix.png", path => Charts.SaveConfusionMatrix(ConfusionMatrix.Compute(new[] { "A", "B" }, new[] { 0, 1, 1 }, new[] { 0, 1, 0 }), path));

        [Fact]
        public void SaveTrainingCurves_OverAnOpenFile_ReplacesItAtomically()
        {
            const string Epoch = """{"Epoch":1,"Phase":1,"PhaseName":"head","PhaseEpoch":1,"TrainLoss":0.7,"TrainAccuracy":0.5,"ValidationLoss":0.8,"ValidationAccuracy":0.5,"ValidationAuc":0.6,"LearningRates":[0.001],"Seconds":1,"ImagesPerSecond":10,"Frozen":[]}""";
            var history = TrainingHistory.FromJson("{\"Epochs\":[" + Epoch + "," + Epoch.Replace("\"Epoch\":1", "\"Epoch\":2", StringComparison.Ordinal) + "],\"Events\":[]}");
            AssertReplacedAtomically("training.png", path => TrainingCharts.SaveTrainingCurves(history, path));
        }

        [Fact]
        public void ExplanationGridSave_OverAnOpenFile_ReplacesItAtomically()
        {
            byte[] png = TestImages.SolidPng(30, 20, SKColors.Teal);
            AssertReplacedAtomically("grid.png", path => ExplanationGrid.Save(new[] { new GridTile(png, new[] { "NORMAL" }) }, path, columns: 1, tileSize: 64));
        }

        private void AssertReplacedAtomically(string name, Action<string> save)
        {
            string path = Path.Combine(folder, name);
            File.WriteAllBytes(path, Previous);
            using (var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                save(path);

                using var seen = new MemoryStream();
                reader.CopyTo(seen);
                Assert.Equal(Previous, seen.ToArray());
            }

            byte[] written = File.ReadAllBytes(path);
            Assert.True(written.AsSpan().StartsWith(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }), name + " is not a PNG");
            using (var bitmap = SKBitmap.Decode(path))
            {
                Assert.NotNull(bitmap);
            }

            Assert.Empty(Directory.GetFiles(folder, "." + name + ".*"));
        }
    }
}
