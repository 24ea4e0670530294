using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Explainability;
using MedicalTransfer.Export;
using MedicalTransfer.Models;
using MedicalTransfer.Onnx;
using MedicalTransfer.Prediction;
using MedicalTransfer.Weights.OnnxIr;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Prediction
{
    /// <summary>Prediction, ONNX export and Grad-CAM of a multi-label model: a sigmoid per finding, end to end.</summary>
    public sealed class MultiLabelPredictionTests : IDisposable
    {
        private static readonly string[] Findings = { "Left Opacity", "Right Opacity", "Cardiomegaly" };
        private readonly TestSupport.TempFolder folder = new();
        private readonly TransferModel model;
        private readonly string images;

        public MultiLabelPredictionTests()
        {
            images = Path.Combine(folder.Path, "images");
            SyntheticChestXRay.WriteImageFolder(images, new SyntheticChestXRayOptions { Count = 5, Size = 48, Seed = 4 });
            model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
                .WithPreprocessing(new Preprocessing { ResizeSize = 40, CropSize = 32 })
                .WithHead(Head.Mlp(16))
                .ForFindings(Findings)
                .OnDevice(CPU)
                .WithSeed(9)
                .Build();
            model.eval();
        }

        public void Dispose()
        {
            model.Dispose();
            folder.Dispose();
        }

        private static async Task<List<ImagePrediction>> Collect(IAsyncEnumerable<ImagePrediction> results)
        {
            var list = new List<ImagePrediction>();
            await foreach (var r in results)
            {
                list.Add(r);
            }

            return list;
        }

        [Fact]
        public async Task PredictFolder_MultiLabel_SigmoidPerFindingAndPresentFindingsByTheModelsThresholds()
        {
            model.UseFindingThresholds(FindingThresholds.Fixed(Findings, 0.5));
            var first = await Collect(model.PredictFolder(images));
            var thresholds = first[0].Probabilities.Select(p => p - 1e-4).ToArray(); // a margin over batch-size rounding

            // Logits from the model on the same prepared images, through the one evaluation path: sigmoid each, not softmax.
            var dataset = ImageFolder.Load(images);
            using (var scope = NewDisposeScope())
            using (var noGrad = no_grad())
            using (var loader = new DataLoader(dataset, Transforms.ForEvaluation(model.Preprocessing), new LoaderOptions { Sampling = SamplingMode.Sequential, Workers = 1, BatchSize = 8 }))
            {
                var batch = loader.GetBatches(0).Single();
                var expected = sigmoid(model.forward(batch.Images).to(ScalarType.Float64)).data<double>().ToArray();
                var bySource = first.ToDictionary(p => p.Source);
                for (int i = 0; i < batch.Count; i++)
                {
                    var p = bySource[dataset.Samples[batch.Indices[i]].Path];
                    Assert.Equal(expected.Skip(i * 3).Take(3), p.Probabilities, new Close(1e-6));
                }
            }

            Assert.All(first, p => Assert.True(p.IsMultiLabel));
            Assert.All(first, p => Assert.Equal(-1, p.PredictedIndex));
            Assert.All(first, p => Assert.Equal(Findings.Where((f, j) => p.Probabilities[j] >= 0.5), p.PresentFindings));

            // Thresholds just under the first image's probabilities: all three of its findings are present.
            model.UseFindingThresholds(FindingThresholds.Fixed(Findings, thresholds.Min()));
            var again = model.Predict(first[0].Source);
            Assert.Equal(Findings, again.PresentFindings);
            Assert.Contains("findings [Left Opacity, Right Opacity, Cardiomegaly]", again.ToString(), StringComparison.Ordinal);
        }

        [Fact]
        public async Task ExportOnnx_MultiLabel_SigmoidOutputAndTheOnnxClassifierEqualsPredictWithin1e5()
        {
            model.UseFindingThresholds(FindingThresholds.Fixed(Findings, 0.45));
            string path = folder.File("findings.onnx");
            model.ExportOnnx(path, new OnnxExportOptions { Output = OnnxOutput.Probabilities });
            var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            Assert.Contains(proto.Graph.Node, n => n.OpType == "Sigmoid");
            Assert.DoesNotContain(proto.Graph.Node, n => n.OpType == "Softmax");
            Assert.Equal("multi-label", proto.MetadataProps.Single(p => p.Key == "task").Value);

            using var classifier = OnnxImageClassifier.Load(path);
            Assert.Equal(TaskKind.MultiLabel, classifier.TaskKind);
            Assert.Equal(new[] { 0.45, 0.45, 0.45 }, classifier.FindingThresholds);
            var ours = await Collect(model.PredictFolder(images));
            var onnx = await Collect(classifier.PredictFolder(images));
            for (int i = 0; i < ours.Count; i++)
            {
                Assert.Equal(ours[i].Probabilities, onnx[i].Probabilities, new Close(1e-5));
                Assert.Equal(ours[i].PresentFindings, onnx[i].PresentFindings);
            }

            // Logit output: the classifier applies the sigmoid itself, from the file's task entry.
            string logits = folder.File("logits.onnx");
            model.ExportOnnx(logits, new OnnxExportOptions { Output = OnnxOutput.Logits });
            using var fromLogits = OnnxImageClassifier.Load(logits);
            var viaLogits = await Collect(fromLogits.PredictFolder(images));
            Assert.Equal(ours[0].Probabilities, viaLogits[0].Probabilities, new Close(1e-5));
        }

        [Fact]
        public void GradCam_PerFinding_ExplainsThatFindingsLogitWithSigmoidProbabilities()
        {
            var file = Directory.GetFiles(images, "*.png", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).First();
            var left = new GradCam().Explain(model, new[] { file }, "Left Opacity")[0];
            var heart = new GradCam().Explain(model, new[] { file }, "Cardiomegaly")[0];

            var predicted = model.Predict(file).Probabilities;
            Assert.Equal(predicted, left.Probabilities, new Close(1e-6));
            Assert.Equal("Left Opacity", left.TargetClassName);
            Assert.Equal(2, heart.TargetClass);
            Assert.NotEqual(left.LowResolution.Values, heart.LowResolution.Values);
        }

        private sealed class Close : IEqualityComparer<double>
        {
            private readonly double tolerance;

            public Close(double tolerance) => this.tolerance = tolerance;

            public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

            public int GetHashCode(double obj) => 0;
        }
    }
}
