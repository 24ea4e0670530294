using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Export;
using MedicalTransfer.Models;
using MedicalTransfer.Onnx;
using MedicalTransfer.Prediction;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Export
{
    /// <summary>
    /// What the one model shape (backbone + head) and calibration mean for prediction and export: a calibrated
    /// model predicts softmax(logits / T) through TorchSharp and through its ONNX export; a gray (one-channel)
    /// ResNet exports a one-channel graph that ONNX Runtime runs with the SDK's logits (DenseNet and EfficientNet
    /// exports: <see cref="OnnxExportBackboneTests"/>).
    /// </summary>
    public sealed class OnnxExportModelShapeTests
    {
        [Fact]
        public void Predict_CalibratedModel_GivesSoftmaxOfLogitsOverTheTemperature_AndSoDoesItsOnnxExport()
        {
            using var folder = new TestSupport.TempFolder();
            string image = folder.File("x.png");
            WriteImage(image, 3);
            using var model = OnnxExportTests.Model("basic-1-1-1-1");
            var raw = model.Predict(image).Probabilities.ToArray();

            const double temperature = 2.5;
            model.Calibration = new TemperatureScaling(temperature);
            var calibrated = model.Predict(image).Probabilities.ToArray();

            // log p differs from the logits by a per-image constant, which the softmax ignores.
            var expected = Softmax(raw.Select(p => Math.Log(p) / temperature).ToArray());
            Assert.True(Math.Abs(raw[0] - calibrated[0]) > 1e-4, $"the temperature changed nothing: {raw[0]} vs {calibrated[0]}");
            for (int c = 0; c < expected.Length; c++)
            {
                Assert.Equal(expected[c], calibrated[c], 1e-9);
            }

            string onnx = folder.File("calibrated.onnx");
            model.ExportOnnx(onnx);
            using var classifier = OnnxImageClassifier.Load(onnx);
            Assert.Equal("2.5", classifier.Metadata["temperature"]);
            var fromOnnx = classifier.Predict(image).Probabilities.ToArray();
            for (int c = 0; c < expected.Length; c++)
            {
                Assert.Equal(expected[c], fromOnnx[c], 1e-5);
            }
        }

        [Fact]
        public void ExportOnnx_GrayResNet_OneChannelGraphEqualsTheModelsLogits_AndPredictsLikeTheModel()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
                .WithInputChannels(1).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(3).Build();
            model.eval();
            string path = folder.File("gray.onnx");

            var exported = model.ExportOnnx(path, new OnnxExportOptions { Output = OnnxOutput.Logits, InputSize = 64 });

            Assert.Equal(new long[] { -1, 1, 64, 64 }, exported.InputShape);
            using var scope = NewDisposeScope();
            var input = TestSupport.FormulaInput(2, 64).narrow(1, 0, 1).contiguous();
            float[] ours;
            using (no_grad())
            {
                ours = model.forward(input).data<float>().ToArray();
            }

            float[] reference = OnnxExportTests.RunOnnxRuntime(path, input);
            double relative = ours.Zip(reference).Max(p => Math.Abs((double)p.First - p.Second)) / ours.Max(v => Math.Abs((double)v));
            Assert.True(relative <= 1e-5, $"relative error {relative:E3} exceeds 1e-5");

            string image = folder.File("gray.png");
            WriteImage(image, 5);
            string probabilities = folder.File("gray-p.onnx");
            model.ExportOnnx(probabilities);
            using var classifier = OnnxImageClassifier.Load(probabilities);
            var viaTorch = model.Predict(image).Probabilities;
            var viaOnnx = classifier.Predict(image).Probabilities;
            for (int c = 0; c < viaTorch.Count; c++)
            {
                Assert.Equal(viaTorch[c], viaOnnx[c], 1e-5);
            }
        }

        private static void WriteImage(string path, int seed)
        {
            var random = new Random(seed);
            using var image = new Image<L16>(80, 72);
            for (int y = 0; y < image.Height; y++)
            {
                for (int x = 0; x < image.Width; x++)
                {
                    image[x, y] = new L16((ushort)((x * 700) + (y * 300) + random.Next(4000)));
                }
            }

            image.SaveAsPng(path);
        }

        private static double[] Softmax(double[] z)
        {
            double max = z.Max();
            var e = z.Select(v => Math.Exp(v - max)).ToArray();
            double sum = e.Sum();
            return e.Select(v => v / sum).ToArray();
        }
    }
}
