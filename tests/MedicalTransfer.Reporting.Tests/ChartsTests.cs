using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Training;
using SkiaSharp;
using Xunit;

namespace MedicalTransfer.Reporting.Tests
{
    /// <summary>Every figure must decode as a PNG of the requested size and not be blank.</summary>
    public sealed class ChartsTests : IDisposable
    {
        private readonly string folder = Path.Combine(Path.GetTempPath(), "mt-reporting-" + Guid.NewGuid().ToString("N"));

        public ChartsTests() => Directory.CreateDirectory(folder);

        public void Dispose() => Directory.Delete(folder, recursive: true);

        private static Predictions Binary()
        {
            // 40 images, scores that separate the classes imperfectly.
            var labels = Enumerable.Range(0, 40).Select(i => i % 3 == 0 ? 0 : 1).ToArray();
            var rows = labels.Select((l, i) =>
            {
                double p = Math.Clamp((l == 1 ? 0.62 : 0.35) + (0.3 * Math.Sin(i * 1.7)), 0.01, 0.99);
                return (IReadOnlyList<double>)new[] { 1 - p, p };
            }).ToArray();
            return new Predictions(new[] { "NORMAL", "PNEUMONIA" }, labels, rows);
        }

        /// <summary>Decodes the PNG and returns (width, height, distinct colours in a sample).</summary>
        private static (int Width, int Height, int Colours) Inspect(string path)
        {
            Assert.True(File.Exists(path), path + " was not written");
            using var codec = SKCodec.Create(path);
            Assert.NotNull(codec);
            Assert.Equal(SKEncodedImageFormat.Png, codec.EncodedFormat);
            using var bitmap = SKBitmap.Decode(path);
            var colours = new HashSet<SKColor>();
            for (int y = 0; y < bitmap.Height; y += 7)
            {
                for (int x = 0; x < bitmap.Width; x += 7)
                {
                    colours.Add(bitmap.GetPixel(x, y));
                }
            }

            return (bitmap.Width, bitmap.Height, colours.Count);
        }

        [Fact]
        public void SaveConfusionMatrix_ThreeClasses_PngOfRequestedSize()
        {
            var matrix = ConfusionMatrix.Compute(new[] { "COVID", "NORMAL", "VIRAL" }, new[] { 0, 0, 1, 1, 2, 2, 2 }, new[] { 0, 1, 1, 1, 2, 0, 2 });
            string path = Path.Combine(folder, "cm.png");
            Charts.SaveConfusionMatrix(matrix, path, new ChartOptions { Width = 500, Height = 420 });
            var (w, h, colours) = Inspect(path);
            Assert.Equal((500, 420), (w, h));
            Assert.True(colours > 10, "a heatmap with text has many colours");
        }

        [Fact]
        public void SaveRocCurve_WithInterval_PngOfDefaultSize()
        {
            var report = BinaryReport.Compute(Binary(), "PNEUMONIA", bootstrap: new BootstrapOptions { Resamples = 100 });
            string path = Path.Combine(folder, "roc.png");
            Charts.SaveRocCurve(report, path);
            var (w, h, _) = Inspect(path);
            Assert.Equal((640, 520), (w, h));
        }

        [Fact]
        public void SaveRocCurves_Several_PngOfRequestedSize()
        {
            var p = Binary();
            var isPositive = p.Labels.Select(l => l == 1).ToArray();
            string path = Path.Combine(folder, "rocs.png");
            Charts.SaveRocCurves(new[] { new CurveSeries("model A", RocCurve.Compute(isPositive, p.Scores(1))), new CurveSeries("model B", RocCurve.Compute(isPositive, p.Scores(0))) }, path, new ChartOptions { Width = 300, Height = 300 });
            var (w, h, _) = Inspect(path);
            Assert.Equal((300, 300), (w, h));
        }

        [Fact]
        public void SavePrecisionRecallCurve_Binary_PngOfDefaultSize()
        {
            string path = Path.Combine(folder, "pr.png");
            Charts.SavePrecisionRecallCurve(BinaryReport.Compute(Binary(), "PNEUMONIA"), path);
            var (w, h, _) = Inspect(path);
            Assert.Equal((640, 520), (w, h));
        }

        [Fact]
        public void SaveReliabilityDiagram_Binary_PngOfDefaultSize()
        {
            string path = Path.Combine(folder, "rel.png");
            Charts.SaveReliabilityDiagram(CalibrationReport.Compute(Binary()), path);
            var (w, h, _) = Inspect(path);
            Assert.Equal((640, 520), (w, h));
        }

        [Fact]
        public void SaveTrainingCurves_TwoPhases_PngOfRequestedSize()
        {
            string Epoch(int e, int phase, string name) => $$"""{"Epoch":{{e}},"Phase":{{phase}},"PhaseName":"{{name}}","PhaseEpoch":1,"TrainLoss":{{1.0 / e}},"TrainAccuracy":{{0.5 + (0.04 * e)}},"ValidationLoss":{{1.2 / e}},"ValidationAccuracy":{{0.5 + (0.03 * e)}},"ValidationAuc":{{0.6 + (0.03 * e)}},"LearningRates":[0.001],"Seconds":1,"ImagesPerSecond":10,"Frozen":[]}""";
            string json = "{\"Epochs\":[" + string.Join(",", Enumerable.Range(1, 8).Select(e => Epoch(e, e <= 3 ? 1 : 2, e <= 3 ? "head" : "fine-tune"))) + "],\"Events\":[]}";
            var history = TrainingHistory.FromJson(json);
            string path = Path.Combine(folder, "training.png");
            TrainingCharts.SaveTrainingCurves(history, path, new ChartOptions { Width = 1000, Height = 400 });
            var (w, h, _) = Inspect(path);
            Assert.Equal((1000, 400), (w, h));
        }

        [Fact]
        public void SaveTrainingCurves_NoEpochs_ThrowsSayingWhatToDo()
        {
            var history = TrainingHistory.FromJson("{\"Epochs\":[],\"Events\":[]}");
            var ex = Assert.Throws<ArgumentException>(() => TrainingCharts.SaveTrainingCurves(history, Path.Combine(folder, "x.png")));
            Assert.Contains("train at least one epoch", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void ExplanationGrid_FiveTiles_TwoRowsOfThree()
        {
            byte[] png;
            using (var surface = SKSurface.Create(new SKImageInfo(60, 40)))
            {
                surface.Canvas.Clear(SKColors.Orange);
                using var image = surface.Snapshot();
                using var data = image.Encode(SKEncodedImageFormat.Png, 100);
                png = data.ToArray();
            }

            var tiles = Enumerable.Range(0, 5).Select(i => new GridTile(png, new[] { "true: NORMAL", "pred: PNEUMONIA (0.81)" }, i % 2 == 0)).ToArray();
            string path = Path.Combine(folder, "grid.png");
            ExplanationGrid.Save(tiles, path, columns: 3, tileSize: 128);
            var (w, h, _) = Inspect(path);
            // 3 columns of 128 + 4 gaps of 8; 2 rows of (128 + caption 2 lines of ceil(11 * 1.3) = 15 + 8) + 3 gaps.
            Assert.Equal((3 * 136) + 8, w);
            Assert.Equal((2 * (128 + 38 + 8)) + 8, h);
            using var bitmap = SKBitmap.Decode(path);
            Assert.Equal(SKColors.Orange, bitmap.GetPixel(8 + 64, 8 + 64));
            // Caption text is drawn: some non-white pixel in the first caption strip.
            bool text = false;
            for (int x = 8; x < 136 && !text; x++)
            {
                for (int y = 8 + 128; y < 8 + 128 + 30 && !text; y++)
                {
                    text = bitmap.GetPixel(x, y) != SKColors.White;
                }
            }

            Assert.True(text, "the caption must be rendered (a font must be installed: fonts-dejavu-core)");
        }

        [Fact]
        public void ExplanationGrid_LongCaption_StaysInsideItsCell()
        {
            byte[] png;
            using (var surface = SKSurface.Create(new SKImageInfo(32, 32)))
            {
                surface.Canvas.Clear(SKColors.Gray);
                using var image = surface.Snapshot();
                using var data = image.Encode(SKEncodedImageFormat.Png, 100);
                png = data.ToArray();
            }

            var caption = new[] { new string('W', 80) };
            string path = Path.Combine(folder, "long.png");
            ExplanationGrid.Save(new[] { new GridTile(png, caption), new GridTile(png, caption) }, path, columns: 2, tileSize: 64);
            using var bitmap = SKBitmap.Decode(path);
            // The 8-pixel gap between the two cells (x 72..79) stays white in the caption strip.
            for (int y = 8 + 64; y < bitmap.Height; y++)
            {
                for (int x = 8 + 64 + 1; x < 8 + 64 + 8 - 1; x++)
                {
                    Assert.Equal(SKColors.White, bitmap.GetPixel(x, y));
                }
            }
        }

        [Fact]
        public void SaveConfusionMatrix_MissingFolder_ThrowsNamingFolder()
        {
            var matrix = ConfusionMatrix.Compute(new[] { "A", "B" }, new[] { 0, 1 }, new[] { 0, 1 });
            var ex = Assert.Throws<DirectoryNotFoundException>(() => Charts.SaveConfusionMatrix(matrix, Path.Combine(folder, "missing", "cm.png")));
            Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
        }
    }
}
