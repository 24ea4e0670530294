using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Data;
using MedicalTransfer.Explainability;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Explainability
{
    /// <summary>
    /// Grad-CAM and Grad-CAM++ against a PyTorch reference written from the definitions
    /// (Fixtures/Explainability/make_gradcam_parity.py, run with /usr/bin/python3): the same formula
    /// weights and input, tolerance 1e-4 on maps normalised to [0, 1].
    /// </summary>
    public sealed class GradCamTests
    {
        private const double Tolerance = 1e-4;

        private static JsonElement Fixture()
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(TestSupport.FixturePath("Explainability", "gradcam_parity.json")));
            return doc.RootElement.Clone();
        }

        internal static TransferModel FormulaModel(out Tensor input)
        {
            var keys = Fixture().GetProperty("keys").EnumerateArray().Select(e => e.GetString()!).ToArray();
            var model = TransferBuilder.FromResNet(18).ForClasses("A", "B", "C").OnDevice(CPU).WithSeed(1).Build();
            TestSupport.FillWithFormula(model, keys);
            input = TestSupport.FormulaInput(2, 128);
            return model;
        }

        public static IEnumerable<object[]> Cases() => Enumerable.Range(0, 6).Select(i => new object[] { i });

        [Theory]
        [MemberData(nameof(Cases))]
        public void Explain_FormulaWeights_MatchesPyTorchReference(int index)
        {
            var c = Fixture().GetProperty("cases")[index];
            string layer = c.GetProperty("layer").GetString()!;
            ClassActivationMap cam = c.GetProperty("method").GetString() == "gradcam" ? new GradCam(layer) : new GradCamPlusPlus(layer);
            var targets = c.GetProperty("targets").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            using var model = FormulaModel(out var input);
            using var scope = NewDisposeScope();
            // The predicted-class cases pass no targets: the explainer must pick the argmax itself.
            bool predicted = index is 0 or 2 or 3 or 4;
            var explanations = cam.Explain(model, input, predicted ? null : targets);
            Assert.Equal(2, explanations.Count);
            int stride = c.GetProperty("up_stride").GetInt32();
            for (int i = 0; i < 2; i++)
            {
                var e = explanations[i];
                Assert.Equal(targets[i], e.TargetClass);
                Assert.Equal(layer, e.Layer);
                var probabilities = c.GetProperty("probabilities")[i].EnumerateArray().Select(v => v.GetDouble()).ToArray();
                for (int k = 0; k < 3; k++)
                {
                    Assert.Equal(probabilities[k], e.Probabilities[k], 1e-5);
                }

                var low = c.GetProperty("low")[i].EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
                Assert.Equal(low.Length, e.LowResolution.Height);
                Assert.Equal(low[0].Length, e.LowResolution.Width);
                for (int y = 0; y < low.Length; y++)
                {
                    for (int x = 0; x < low[y].Length; x++)
                    {
                        Assert.True(Math.Abs(low[y][x] - e.LowResolution[x, y]) <= Tolerance, $"image {i} low ({x},{y}): expected {low[y][x]}, found {e.LowResolution[x, y]}");
                    }
                }

                var up = c.GetProperty("up")[i].EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
                Assert.Equal((128, 128), (e.Upsampled.Width, e.Upsampled.Height));
                for (int y = 0; y < up.Length; y++)
                {
                    for (int x = 0; x < up[y].Length; x++)
                    {
                        Assert.True(Math.Abs(up[y][x] - e.Upsampled[x * stride, y * stride]) <= Tolerance, $"image {i} up ({x * stride},{y * stride}): expected {up[y][x]}, found {e.Upsampled[x * stride, y * stride]}");
                    }
                }
            }
        }

        [Fact]
        public void Explain_NoPositiveEvidence_MapIsZeroNotNaN()
        {
            // Case 1 explains class 0 for image 0, whose weighted sum is negative everywhere.
            using var model = FormulaModel(out var input);
            using var scope = NewDisposeScope();
            var e = new GradCam().Explain(model, input, new[] { 0, 1 })[0];
            Assert.All(e.LowResolution.Values, v => Assert.Equal(0f, v));
            Assert.All(e.Upsampled.Values, v => Assert.Equal(0f, v));
        }

        [Fact]
        public void Explain_FrozenModelUnderNoGradInTrainMode_SameMapsAndModelUntouched()
        {
            using var model = FormulaModel(out var input);
            using var scope = NewDisposeScope();
            var expected = new GradCam().Explain(model, input);

            model.Freeze(Layers.All);
            model.train();
            foreach (var p in model.parameters())
            {
                p.requires_grad = false; // frozen head too: nothing in the model requires grad
            }

            var before = TestSupport.CloneState(model);
            IReadOnlyList<Explanation> actual;
            using (no_grad())
            {
                actual = new GradCam().Explain(model, input);
                Assert.False(is_grad_enabled());
            }

            Assert.True(model.training, "the explainer must restore training mode");
            Assert.True(TestSupport.StatesEqual(before, model), "explaining must not change weights or BatchNorm statistics");
            Assert.All(model.parameters(), p => Assert.Null(p.grad));
            for (int i = 0; i < 2; i++)
            {
                Assert.Equal(expected[i].LowResolution.Values, actual[i].LowResolution.Values);
            }
        }

        [Fact]
        public void Constructor_UnknownLayer_ThrowsListingLayers()
        {
            var ex = Assert.Throws<ArgumentException>(() => new GradCam("pooling"));
            Assert.Contains("stem, layer1, layer2, layer3, layer4", ex.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => new GradCam("layer4.x"));
        }

        [Fact]
        public void Explain_BlockBeyondStage_ThrowsNamingBlockCount()
        {
            using var model = FormulaModel(out var input);
            using var scope = NewDisposeScope();
            var ex = Assert.Throws<ArgumentException>(() => new GradCam("layer4.2").Explain(model, input));
            Assert.Contains("layer4 of this ResNet-18 has 2 blocks (0 to 1)", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Faithfulness_GradCamMaps_DropIsTheTargetProbabilityLostWhenTheTopPixelsAreBlurred()
        {
            // Reference built independently of Faithfulness: the top 30% of each map's pixels (ties included, zeros
            // never), a 31 x 31 box blur from an integral image (the window clipped at the borders), the model's
            // softmax before and after.
            using var model = FormulaModel(out var input);
            using var scope = NewDisposeScope();
            var explanations = new GradCam().Explain(model, input);

            var drops = Faithfulness.ProbabilityDrop(model, input, explanations, 0.3);

            var expected = ReferenceDrops(model, input, explanations.Select(e => Top(e.Upsampled.Values.ToArray(), 0.3)).ToArray(), explanations.Select(e => e.TargetClass).ToArray());
            Assert.Equal(2, drops.Count);
            for (int i = 0; i < 2; i++)
            {
                Assert.Equal(expected[i], drops[i], 1e-5);
            }

            Assert.Contains(drops, d => Math.Abs(d) > 1e-3);
        }

        [Fact]
        public void Faithfulness_EmptyAndFullMaps_BlurNothingOrEverything()
        {
            using var model = FormulaModel(out var input);
            using var scope = NewDisposeScope();
            int n = 128 * 128;
            Explanation Map(float value) => new("layer4", 1, "B", new[] { 0.2, 0.5, 0.3 }, 1, "B", new Heatmap(1, 1, new[] { value }), new Heatmap(128, 128, Enumerable.Repeat(value, n).ToArray()));

            var empty = Faithfulness.ProbabilityDrop(model, input, new[] { Map(0), Map(0) });
            var full = Faithfulness.ProbabilityDrop(model, input, new[] { Map(1), Map(1) });

            Assert.All(empty, d => Assert.Equal(0.0, d));
            var everything = ReferenceDrops(model, input, new[] { Enumerable.Repeat(true, n).ToArray(), Enumerable.Repeat(true, n).ToArray() }, new[] { 1, 1 });
            Assert.Equal(everything[0], full[0], 1e-5);
            Assert.Equal(everything[1], full[1], 1e-5);
            Assert.True(Math.Abs(full[0]) > 1e-3, "blurring the whole image changes the prediction");
        }

        private static bool[] Top(float[] map, double fraction)
        {
            var sorted = map.OrderBy(v => v).ToArray();
            float cut = sorted[Math.Min(sorted.Length - 1, (int)Math.Floor((1 - fraction) * sorted.Length))];
            return map.Select(v => v >= cut && v > 0).ToArray();
        }

        /// <summary>p(target | x) - p(target | x with the masked pixels replaced by their 31 x 31 box-blurred values).</summary>
        private static double[] ReferenceDrops(TransferModel model, Tensor input, bool[][] masks, int[] targets)
        {
            int n = (int)input.shape[0], h = (int)input.shape[2], w = (int)input.shape[3];
            float[] x = input.contiguous().data<float>().ToArray();
            float[] perturbed = (float[])x.Clone();
            for (int i = 0; i < n; i++)
            {
                for (int c = 0; c < 3; c++)
                {
                    int offset = ((i * 3) + c) * h * w;
                    var integral = new double[(h + 1) * (w + 1)];
                    for (int y = 0; y < h; y++)
                    {
                        for (int xx = 0; xx < w; xx++)
                        {
                            integral[((y + 1) * (w + 1)) + xx + 1] = x[offset + (y * w) + xx] + integral[(y * (w + 1)) + xx + 1] + integral[((y + 1) * (w + 1)) + xx] - integral[(y * (w + 1)) + xx];
                        }
                    }

                    for (int y = 0; y < h; y++)
                    {
                        for (int xx = 0; xx < w; xx++)
                        {
                            if (!masks[i][(y * w) + xx])
                            {
                                continue;
                            }

                            int y0 = Math.Max(0, y - 15), y1 = Math.Min(h, y + 16), x0 = Math.Max(0, xx - 15), x1 = Math.Min(w, xx + 16);
                            double sum = integral[(y1 * (w + 1)) + x1] - integral[(y0 * (w + 1)) + x1] - integral[(y1 * (w + 1)) + x0] + integral[(y0 * (w + 1)) + x0];
                            perturbed[offset + (y * w) + xx] = (float)(sum / ((y1 - y0) * (x1 - x0)));
                        }
                    }
                }
            }

            model.eval();
            using var noGrad = no_grad();
            var before = nn.functional.softmax(model.call(input).to(ScalarType.Float64), 1).data<double>().ToArray();
            var after = nn.functional.softmax(model.call(tensor(perturbed, input.shape)).to(ScalarType.Float64), 1).data<double>().ToArray();
            int k = model.ClassNames.Count;
            return Enumerable.Range(0, n).Select(i => before[(i * k) + targets[i]] - after[(i * k) + targets[i]]).ToArray();
        }

        [Fact]
        public void Overlay_GrayscaleOriginal_ColourPngOfOriginalSizeWithHotspotInCrop()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("xray.png");
            using (var gray = new Image<L8>(300, 200))
            {
                gray.SaveAsPng(path);
            }

            // A map whose only hot cell is the top-left of a 2x2 crop map.
            var map = new Heatmap(2, 2, new[] { 1f, 0f, 0f, 0f });
            var preprocessing = new Preprocessing { ResizeSize = 100, CropSize = 80 };
            string output = folder.File("overlay.png");
            HeatmapOverlay.Save(path, map, preprocessing, output, new OverlayOptions { Alpha = 1 });
            using var result = Image.Load<Rgb24>(output);
            Assert.Equal((300, 200), (result.Width, result.Height));
            // Resize 300x200 -> 150x100, crop 80 at (35, 10) -> original box x 70..230, y 20..180.
            var hot = HeatmapOverlay.Color(1, Colormap.Turbo);
            var cold = HeatmapOverlay.Color(0, Colormap.Turbo);
            Assert.Equal(new Rgb24(hot.R, hot.G, hot.B), result[75, 25]);
            Assert.Equal(new Rgb24(cold.R, cold.G, cold.B), result[225, 175]);
            Assert.Equal(new Rgb24(0, 0, 0), result[10, 100]); // outside the crop, dimmed black stays black
        }

        [Fact]
        public void ToImageFrame_CenterCrop_ZeroOutsideAndMapInside()
        {
            var map = new Heatmap(1, 1, new[] { 0.5f });
            var frame = HeatmapOverlay.ToImageFrame(map, new Preprocessing { ResizeSize = 100, CropSize = 80 }, 300, 200);
            Assert.Equal(0f, frame[10, 100]);
            Assert.Equal(0.5f, frame[150, 100]);
            Assert.Equal(0f, frame[150, 5]);
        }

        [Fact]
        public void Color_Turbo_EndsAreDarkBlueAndDarkRed()
        {
            var low = HeatmapOverlay.Color(0.1, Colormap.Turbo);
            var high = HeatmapOverlay.Color(1, Colormap.Turbo);
            Assert.True(low.B > low.R && low.B > low.G);
            Assert.True(high.R > high.G && high.R > high.B);
            Assert.Equal(((byte)0, (byte)0, (byte)128), HeatmapOverlay.Color(0, Colormap.Jet));
        }

        [Fact]
        public void Explain_ImageFiles_UsesModelPreprocessingAndReturnsCropSizedMaps()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 3, Size = 64 });
            var files = Directory.GetFiles(folder.Path, "*.png", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            using var model = TransferBuilder.FromResNet(18).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(3)
                .WithPreprocessing(new Preprocessing { ResizeSize = 72, CropSize = 64 }).Build();
            var explanations = new GradCamPlusPlus().Explain(model, files, "PNEUMONIA");
            Assert.Equal(3, explanations.Count);
            Assert.All(explanations, e =>
            {
                Assert.Equal("PNEUMONIA", e.TargetClassName);
                Assert.Equal((2, 2), (e.LowResolution.Width, e.LowResolution.Height));
                Assert.Equal((64, 64), (e.Upsampled.Width, e.Upsampled.Height));
                Assert.Equal(1.0, e.Probabilities.Sum(), 9);
            });
        }
    }
}
