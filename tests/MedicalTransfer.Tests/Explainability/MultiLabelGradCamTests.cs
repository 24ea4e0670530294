using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Explainability;
using MedicalTransfer.Models;
using MedicalTransfer.Prediction;
using MedicalTransfer.Reporting;
using SkiaSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Explainability
{
    /// <summary>Grad-CAM of a multi-label model's top findings, and their grid.</summary>
    public sealed class MultiLabelGradCamTests : IDisposable
    {
        private static readonly string[] Findings = { "Left Opacity", "Right Opacity", "Cardiomegaly", "Pleural Effusion" };
        private readonly TestSupport.TempFolder folder = new();
        private readonly TransferModel model;
        private readonly string[] files;

        public MultiLabelGradCamTests()
        {
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 3, Size = 48, Seed = 5 });
            files = Directory.GetFiles(folder.Path, "*.png", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
                .WithPreprocessing(new Preprocessing { ResizeSize = 40, CropSize = 32 })
                .WithHead(Head.Mlp(16))
                .ForFindings(Findings)
                .OnDevice(CPU)
                .WithSeed(11)
                .Build();
        }

        public void Dispose()
        {
            model.Dispose();
            folder.Dispose();
        }

        [Fact]
        public void ExplainTopFindings_ThreeOfFour_AreTheMostProbableInOrderAndEachIsThatFindingsOwnExplanation()
        {
            var gradCam = new GradCam("layer2"); // 4 x 4 maps of a 32-pixel crop (layer4's are 1 x 1)
            foreach (var file in files)
            {
                var probabilities = model.Predict(file).Probabilities;
                var expected = Enumerable.Range(0, Findings.Length).OrderByDescending(j => probabilities[j]).Take(3).ToArray();

                var top = gradCam.ExplainTopFindings(model, file, 3);

                Assert.Equal(expected, top.Select(e => e.TargetClass));
                Assert.Equal(expected.Select(j => Findings[j]), top.Select(e => e.TargetClassName));
                foreach (var e in top)
                {
                    var alone = gradCam.Explain(model, new[] { file }, e.TargetClassName)[0];
                    Assert.Equal(probabilities[e.TargetClass], e.TargetProbability, 1e-6);
                    Assert.Equal(alone.LowResolution.Values.Count, e.LowResolution.Values.Count);
                    Assert.True(alone.LowResolution.Values.Zip(e.LowResolution.Values).All(p => Math.Abs(p.First - p.Second) <= 1e-5), "the panel of " + e.TargetClassName + " is not that finding's own map");
                }

                // Different findings' logits give different maps (a batch that explained one target for every copy would not).
                Assert.NotEqual(top[0].LowResolution.Values, top[1].LowResolution.Values);
            }
        }

        [Fact]
        public void ExplainTopFindings_SingleLabelModelOrKOutOfRange_Throws()
        {
            using var single = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).Build();
            var gradCam = new GradCam();

            var ex = Assert.Throws<ArgumentException>(() => gradCam.ExplainTopFindings(single, files[0]));
            Assert.StartsWith("The model is single-label (classes NORMAL, PNEUMONIA)", ex.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentOutOfRangeException>(() => gradCam.ExplainTopFindings(model, files[0], 5));
            Assert.Throws<ArgumentOutOfRangeException>(() => gradCam.ExplainTopFindings(model, files[0], 0));
            Assert.Equal(3, gradCam.ExplainTopFindings(model, files[0]).Count);
        }

        [Fact]
        public void SaveTopFindings_ThreePanels_OneRowWithTitleCaptionsAndColourBar()
        {
            var top = new GradCam("layer2").ExplainTopFindings(model, files[0], 3);
            int captionLines = top.Any(e => e.LowResolution.Values.All(v => v == 0)) ? 3 : 2; // an all-zero map adds a line
            var thresholds = FindingThresholds.Fixed(Findings, top[1].TargetProbability);
            string path = folder.File("top3.png");

            ExplanationGrid.SaveTopFindings(files[0], top, model.Preprocessing, path, thresholds, columns: 4, tileSize: 128);

            using var bitmap = SKBitmap.Decode(path);
            // 3 cells of 128 + 4 gaps of 8; title (ceil(11 * 1.3) = 15 + 8) + gap + cell 128 + caption lines (15 each + 8) + gap + bar (3 * 15 + 8).
            Assert.True(bitmap.Width >= (3 * 136) + 8, "width " + bitmap.Width); // wider when the title needs it
            Assert.Equal(23 + 8 + 128 + (15 * captionLines) + 8 + 8 + 53, bitmap.Height);
            // The colour bar starts with Turbo's 0 (dark blue) and ends with its 1 (dark red), under the grid.
            var (r0, g0, b0) = HeatmapOverlay.Color(0, Colormap.Turbo);
            var low = bitmap.GetPixel(8, bitmap.Height - 53 + 2);
            Assert.Equal(new SKColor(r0, g0, b0), low);
            var (r1, g1, b1) = HeatmapOverlay.Color(1, Colormap.Turbo);
            Assert.Equal(new SKColor(r1, g1, b1), bitmap.GetPixel(8 + 359, bitmap.Height - 53 + 2));
        }

        [Fact]
        public void SaveTopFindings_AllZeroMap_SaysSoInAThirdCaptionLineAndTitlesTheSinglePanel()
        {
            // ReLU can remove every channel sum: such a panel is dark everywhere and must say why.
            var probabilities = new[] { 0.1, 0.2, 0.7, 0.4 };
            var zero = new Explanation("layer4", 0, "Left Opacity", probabilities, 2, "Cardiomegaly", new Heatmap(2, 2, new float[4]), new Heatmap(32, 32, new float[32 * 32]));
            string path = folder.File("zero.png");

            ExplanationGrid.SaveTopFindings(files[0], new[] { zero }, model.Preprocessing, path, tileSize: 128);

            using var bitmap = SKBitmap.Decode(path);
            // Title 23 + gap + cell 128 + three caption lines (45 + 8) + gap + bar 53.
            Assert.Equal(23 + 8 + 128 + 53 + 8 + 53, bitmap.Height);
        }

        [Fact]
        public void SaveTopFindings_ExplanationsOfTwoImages_ThrowsNamingThem()
        {
            var gradCam = new GradCam();
            var a = gradCam.ExplainTopFindings(model, files[0], 2);
            var b = gradCam.ExplainTopFindings(model, files[1], 2);

            var ex = Assert.Throws<ArgumentException>(() => ExplanationGrid.SaveTopFindings(files[0], new[] { a[0], b[1] }, model.Preprocessing, folder.File("x.png")));

            Assert.Contains("the grid shows the findings of ONE image", ex.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(folder.File("x.png")));
        }
    }
}
