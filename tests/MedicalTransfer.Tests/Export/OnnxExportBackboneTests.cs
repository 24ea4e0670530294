using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using MedicalTransfer.Data;
using MedicalTransfer.Export;
using MedicalTransfer.Models;
using MedicalTransfer.Onnx;
using MedicalTransfer.Prediction;
using MedicalTransfer.Weights;
using Microsoft.ML.OnnxRuntime;
using Xunit;
using Xunit.Abstractions;

namespace MedicalTransfer.Tests.Export
{
    /// <summary>
    /// ONNX export of the DenseNet and EfficientNet backbones: ONNX Runtime's logits on the exported file against
    /// the model's eval-mode logits (relative error at most 1e-5) for DenseNet-121 and EfficientNet-B0 at full depth,
    /// a small custom DenseNet layout, gray (one-channel) models, batch 1 and 3, BatchNorm folded and not; the ONNX
    /// checker; the ONNX Runtime classifier against the model's own Predict on image files; Triton's repository.
    /// The weights are seeded and every BatchNorm's statistics and affine parameters are far from identity
    /// (<see cref="OnnxExportTests.Model(string)"/>), so a BatchNorm folded into the wrong convolution shows.
    /// </summary>
    public sealed class OnnxExportBackboneTests
    {
        private readonly ITestOutputHelper _output;

        public OnnxExportBackboneTests(ITestOutputHelper output) => _output = output;

        public static TheoryData<string, int, int, bool> ParityCases => new()
        {
            { "densenet121", 3, 1, true },
            { "densenet121", 3, 3, true },
            { "densenet121", 3, 3, false },
            { "efficientnet-b0", 3, 1, true },
            { "efficientnet-b0", 3, 3, true },
            { "efficientnet-b0", 3, 1, false },
            { "densenet-small", 3, 3, true },
            { "densenet-small", 1, 1, true },
            { "densenet-small", 1, 3, false },
            { "densenet-small-mlp", 3, 3, true },
            { "efficientnet-b0", 1, 3, true },
            { "efficientnet-b0", 1, 1, false },
            { "efficientnet-b0-mlp", 3, 3, false },
        };

        [Theory]
        [MemberData(nameof(ParityCases))]
        public void ExportOnnx_DenseNetAndEfficientNet_OnnxRuntimeEqualsEvalLogitsWithin1e5(string kind, int channels, int batch, bool fold)
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Model(kind, channels);
            string path = folder.File(kind + ".onnx");

            var exported = model.ExportOnnx(path, new OnnxExportOptions { Output = OnnxOutput.Logits, InputSize = 64, FoldBatchNorm = fold });

            double relative = OnnxExportTests.Parity(model, path, batch, 64, probabilities: false);
            _output.WriteLine($"{kind}, {channels} channel(s), batch {batch}, folded {fold}: relative error {relative:E2}");
            Assert.Equal(new long[] { -1, channels, 64, 64 }, exported.InputShape);
            Assert.True(relative <= 1e-5, $"relative error {relative:E3} exceeds 1e-5");
        }

        [Theory]
        [InlineData("densenet121")]
        [InlineData("efficientnet-b0")]
        public void ExportOnnx_FullSizeDefaultOptions_ProbabilitiesAt224MatchSoftmax(string kind)
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Model(kind, 3);
            string path = folder.File(kind + ".onnx");

            string logitsPath = folder.File(kind + ".logits.onnx");

            var exported = model.ExportOnnx(path);
            model.ExportOnnx(logitsPath, new OnnxExportOptions { Output = OnnxOutput.Logits });

            Assert.Equal(new long[] { -1, 3, 224, 224 }, exported.InputShape);
            double logits = OnnxExportTests.Parity(model, logitsPath, 2, 224, probabilities: false);
            double probabilities = OnnxExportTests.Parity(model, path, 2, 224, probabilities: true);
            _output.WriteLine($"{kind} at 224: logits relative error {logits:E2}, probabilities {probabilities:E2}");
            Assert.True(logits <= 1e-5, $"logits: relative error {logits:E3} exceeds 1e-5");
            Assert.True(probabilities <= 1e-5, $"probabilities: relative error {probabilities:E3} exceeds 1e-5");
        }

        [Fact]
        public void ExportOnnx_DenseNet121_WritesTheDenseConnectivityAndFoldsEveryBatchNormThatFollowsAConvolution()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Model("densenet121", 3);
            var (folded, unfolded) = NodeCounts(model, folder);

            // 58 dense layers (6 + 12 + 24 + 16): conv0+norm0 and each layer's conv1+norm2 fold; each layer's norm1,
            // the three transitions' norm and norm5 follow a concatenation or a block, so they stay.
            Assert.Equal(58 + 3 + 1, folded["BatchNormalization"]);
            Assert.Equal(1 + (2 * 58) + 3 + 1, unfolded["BatchNormalization"]);
            Assert.Equal(1 + (2 * 58) + 3, folded["Conv"]);
            Assert.Equal(folded["Conv"], unfolded["Conv"]);
            Assert.Equal(58, folded["Concat"]); // each layer but a block's first reads a Concat, and each block's output is one
            Assert.Equal(3, folded["AveragePool"]);
            Assert.Equal(1, folded["MaxPool"]);
            Assert.Equal((2 * 58) + 3 + 2, folded["Relu"]);
        }

        [Fact]
        public void ExportOnnx_EfficientNetB0_WritesDepthwiseConvolutionsSqueezeExcitationAndResidualsWithEveryBatchNormFolded()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Model("efficientnet-b0", 3);
            var (folded, unfolded) = NodeCounts(model, folder);

            // 16 MBConv blocks, the first without expansion; 9 of them keep stride and width and add their input back.
            Assert.False(folded.ContainsKey("BatchNormalization"));
            Assert.Equal(1 + 2 + (15 * 3) + 1, unfolded["BatchNormalization"]);
            Assert.Equal(1 + 2 + (15 * 3) + 1 + (16 * 2), folded["Conv"]); // and each squeeze-and-excitation's fc1, fc2
            Assert.Equal(9, folded["Add"]);
            Assert.Equal(16 + 1, folded["GlobalAveragePool"]);

            // SiLU is Sigmoid then Mul: stem, head conv, each expansion and depthwise conv, each SE's fc1; SE's own gate is a Sigmoid and a Mul.
            int silu = 1 + 1 + 1 + (15 * 2) + 16;
            Assert.Equal(silu + 16, folded["Sigmoid"]);
            Assert.Equal(silu + 16, folded["Mul"]);
            var depthwise = OnnxModelFile.Read(folder.File("folded.onnx")).Graph.Node
                .Where(n => n.OpType == "Conv" && n.Attribute.Single(a => a.Name == "group").I > 1).ToList();
            Assert.Equal(16, depthwise.Count);
        }

        [Fact]
        public void ExportOnnx_OnnxChecker_AcceptsDenseNetAndEfficientNetExports()
        {
            using var folder = new TestSupport.TempFolder();
            var files = new List<string>();
            foreach (var (kind, channels) in new[] { ("densenet121", 3), ("efficientnet-b0", 3), ("densenet-small", 1), ("efficientnet-b0-mlp", 1) })
            {
                using var model = Model(kind, channels);
                foreach (var (opset, fold, dynamic) in new[] { (17, true, true), (13, false, false) })
                {
                    string path = folder.File($"{kind}-{channels}-opset{opset}-{(fold ? "folded" : "unfolded")}.onnx");
                    model.ExportOnnx(path, new OnnxExportOptions { Opset = opset, FoldBatchNorm = fold, DynamicBatch = dynamic, InputSize = 64 });
                    files.Add(path);
                }
            }

            var (exitCode, output) = OnnxExportTests.RunChecker(files);

            _output.WriteLine(output);
            Assert.True(exitCode == 0, output);
            Assert.Equal(files.Count, output.Split('\n').Count(l => l.StartsWith("OK ", StringComparison.Ordinal)));
            Assert.Contains("densenet-small-1-opset13-unfolded.onnx ir=8 opset=13", output, StringComparison.Ordinal);
            Assert.Contains("output=[batch,2]", output, StringComparison.Ordinal);
            Assert.Contains("output=[1,2]", output, StringComparison.Ordinal);
        }

        [Theory]
        [InlineData("densenet121", 3)]
        [InlineData("efficientnet-b0", 3)]
        [InlineData("densenet-small", 1)]
        [InlineData("efficientnet-b0", 1)]
        public async Task OnnxImageClassifier_DenseNetAndEfficientNetExports_PredictAsTheModelOnFiles(string kind, int channels)
        {
            using var folder = new TestSupport.TempFolder();
            string images = folder.File("images");
            SyntheticChestXRay.WriteImageFolder(images, new SyntheticChestXRayOptions { Count = 4, Size = 96, PositiveFraction = 0.5, Format = SyntheticImageFormat.Png16, Seed = 4 });
            var files = Directory.GetFiles(images, "*.png", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            using var model = Model(kind, channels);
            string path = folder.File("model.onnx");
            model.ExportOnnx(path);
            using var classifier = OnnxImageClassifier.Load(path);
            var options = new ImagePredictionOptions { BatchSize = 3 };

            var viaOnnx = new List<ImagePrediction>();
            await foreach (var p in classifier.PredictFolder(files, options))
            {
                viaOnnx.Add(p);
            }

            Assert.Equal(files.Length, viaOnnx.Count);
            double worst = 0, spread = 0;
            for (int i = 0; i < files.Length; i++)
            {
                var ours = model.Predict(files[i]);
                var single = classifier.Predict(files[i]);
                Assert.Equal(files[i], viaOnnx[i].Source);
                Assert.Equal(ours.PredictedIndex, viaOnnx[i].PredictedIndex);
                Assert.Equal(ours.PredictedIndex, single.PredictedIndex);
                worst = Math.Max(worst, ours.Probabilities.Zip(viaOnnx[i].Probabilities).Concat(ours.Probabilities.Zip(single.Probabilities)).Max(p => Math.Abs(p.First - p.Second)));
                spread = Math.Max(spread, Math.Abs(ours.Probabilities[0] - 0.5));
            }

            _output.WriteLine($"{kind}, {channels} channel(s): largest probability difference {worst:E2}; largest |p - 0.5| {spread:F4}");
            Assert.True(worst <= 1e-5, $"largest probability difference {worst:E2}");
            Assert.True(spread < 0.5 - 1e-3, "the probabilities saturated at 0 or 1, so the comparison would show nothing");
        }

        [Theory]
        [InlineData("densenet-small", 1)]
        [InlineData("efficientnet-b0", 3)]
        public void ExportTritonRepository_DenseNetAndEfficientNet_WriteAConfigAndAModelThatRunsAnyBatch(string kind, int channels)
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Model(kind, channels);

            string config = model.ExportTritonRepository(folder.File("models"), "chest", maxBatchSize: 8, new OnnxExportOptions { InputSize = 64, DynamicBatch = false });

            string text = File.ReadAllText(config);
            Assert.Contains($"    name: \"input\"\n    data_type: TYPE_FP32\n    dims: [ {channels}, 64, 64 ]\n", text, StringComparison.Ordinal);
            Assert.Contains("    name: \"probabilities\"\n    data_type: TYPE_FP32\n    dims: [ 2 ]\n", text, StringComparison.Ordinal);
            Assert.Contains("max_batch_size: 8\n", text, StringComparison.Ordinal);
            string onnx = folder.File("models/chest/1/model.onnx");
            using (var session = new InferenceSession(onnx))
            {
                Assert.Equal(new[] { -1, channels, 64, 64 }, session.InputMetadata["input"].Dimensions);
            }

            Assert.True(OnnxExportTests.Parity(model, onnx, 3, 64, probabilities: true) <= 1e-5);
        }

        private static TransferModel Model(string kind, int channels) => channels == 3
            ? OnnxExportTests.Model(kind)
            : kind switch
            {
                "densenet-small" => OnnxExportTests.Model(DenseNetArchitecture.Custom(8, 16, 2, 3, 1, 2), Head.Linear(), channels),
                "efficientnet-b0" => OnnxExportTests.Model(EfficientNetArchitecture.ForWidth(0), Head.Linear(), channels),
                "efficientnet-b0-mlp" => OnnxExportTests.Model(EfficientNetArchitecture.ForWidth(0), Head.Mlp(32), channels),
                _ => throw new ArgumentException(kind, nameof(kind)),
            };

        private static (Dictionary<string, int> Folded, Dictionary<string, int> Unfolded) NodeCounts(TransferModel model, TestSupport.TempFolder folder)
        {
            string folded = folder.File("folded.onnx"), unfolded = folder.File("unfolded.onnx");
            model.ExportOnnx(folded, new OnnxExportOptions { InputSize = 64, Output = OnnxOutput.Logits });
            model.ExportOnnx(unfolded, new OnnxExportOptions { InputSize = 64, Output = OnnxOutput.Logits, FoldBatchNorm = false });
            static Dictionary<string, int> Count(string path) => OnnxModelFile.Read(path).Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
            return (Count(folded), Count(unfolded));
        }
    }
}
