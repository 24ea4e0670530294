using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Models;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>
    /// ONNX ResNet import: the real ImageNet ResNet-18 of NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18
    /// (copied to the test output by the package), compared with ONNX Runtime on the same file, and
    /// synthetic graphs written by <see cref="SyntheticResNet"/> for the other layouts and the refusals.
    /// </summary>
    public sealed class OnnxTests
    {
        private static readonly ResNetArchitecture MlNetArchitecture = ResNetArchitecture.Custom(BlockKind.Basic, 2, 2, 2, 3);
        private readonly ITestOutputHelper _output;

        public OnnxTests(ITestOutputHelper output) => _output = output;

        private static string MlNetModelPath => Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");

        private static string MlNetPreprocessPath => Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx");

        [Fact]
        public void Import_MlNetResNet18_InfersBasicBlocksWithStages2223AndTorchvisionKeys()
        {
            using var imported = OnnxResNetImporter.Import(MlNetModelPath, NullLogger.Instance);

            Assert.Equal(BlockKind.Basic, imported.Architecture.Block);
            Assert.Equal(new[] { 2, 2, 2, 3 }, imported.Architecture.StageDepths);
            Assert.False(imported.HasClassifier);
            Assert.Equal("Input247", imported.InputName);
            Assert.Equal("Pooling395_Output_0", imported.OutputName);
            Assert.Equal(132, imported.StateDict.Count); // 22 convolutions, 22 batch norms of 5 tensors

            // Against the SDK's own module of that layout (not the importer's shape table): every key and shape.
            using var module = new ResNet(MlNetArchitecture);
            var expected = module.state_dict().Where(kv => !kv.Key.StartsWith("fc.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value.shape);
            Assert.Equal(expected.Keys.OrderBy(k => k, StringComparer.Ordinal), imported.StateDict.Keys.OrderBy(k => k, StringComparer.Ordinal));
            foreach (var (key, shape) in expected)
            {
                Assert.True(shape.SequenceEqual(imported.StateDict[key].shape), $"{key}: the module has [{string.Join(", ", shape)}], the import [{string.Join(", ", imported.StateDict[key].shape)}]");
            }

            // And against the graph itself, in its order (shared/notes: 64x3x7x7; 4 x 64x64x3x3; 128x64x1x1, 128x64x3x3, 3 x 128x128x3x3; ...).
            var convolutions = imported.StateDict.Where(kv => kv.Key.EndsWith("conv1.weight", StringComparison.Ordinal) || kv.Key.EndsWith("conv2.weight", StringComparison.Ordinal) || kv.Key.EndsWith("downsample.0.weight", StringComparison.Ordinal)).ToList();
            Assert.Equal(22, convolutions.Count);
            Assert.Equal(7, convolutions.Count(kv => kv.Value.shape[0] == 512));
            Assert.Equal(5, convolutions.Count(kv => kv.Value.shape.SequenceEqual(new long[] { 512, 512, 3, 3 })));
            Assert.Equal(4, convolutions.Count(kv => kv.Value.shape.SequenceEqual(new long[] { 64, 64, 3, 3 })));

            Assert.Equal(new long[] { 512, 256, 1, 1 }, imported.StateDict["layer4.0.downsample.0.weight"].shape);
            Assert.Equal(new long[] { 512, 512, 3, 3 }, imported.StateDict["layer4.2.conv2.weight"].shape);
            Assert.True(imported.StateDict["bn1.running_var"].min().item<float>() > 0);
        }

        [Fact]
        public void Import_MlNetResNet18_KeysMatchTheModelsStateDict()
        {
            using var imported = OnnxResNetImporter.Import(MlNetModelPath, NullLogger.Instance);
            using var model = new ResNet(MlNetArchitecture);

            var modelKeys = model.state_dict().Keys.Where(k => !k.StartsWith("fc.", StringComparison.Ordinal)).OrderBy(k => k, StringComparer.Ordinal);

            Assert.Equal(modelKeys, imported.StateDict.Keys.OrderBy(k => k, StringComparer.Ordinal));
        }

        [Fact]
        public void Parity_MlNetResNet18_PooledFeaturesMatchOnnxRuntime()
        {
            using var scope = NewDisposeScope();
            using var resolved = ResNetWeights.MLNetResNet18.Resolve(MlNetArchitecture, new PretrainedWeightsOptions(), NullLogger.Instance, CancellationToken.None);
            using var model = new ResNet(MlNetArchitecture);
            WeightLoader.Apply(model, resolved.StateDict, resolved.Source);
            model.eval();

            // Preprocessed input as the package's pipeline produces it: BGR, 0..255 minus the mean, range about +-130.
            var input = TestSupport.FormulaInput(1, 224) * 85f;
            float[] reference = RunOnnxRuntime(MlNetModelPath, "Input247", input);
            float[] ours;
            using (no_grad())
            {
                ours = model.ForwardTo(input, Stages.Pooling).data<float>().ToArray();
            }

            Assert.Equal(512, reference.Length);
            Assert.Equal(512, ours.Length);
            double relative = MaxAbsDifference(ours, reference) / reference.Max(v => Math.Abs(v));
            _output.WriteLine($"ML.NET ResNet-18 pooled features: max |ours - ORT| / max |ORT| = {relative:E2} (max |ORT| = {reference.Max(Math.Abs):F3})");
            Assert.True(relative <= 1e-4, $"relative error {relative:E3} exceeds 1e-4");
            Assert.True(reference.Max(Math.Abs) > 0.1f, "the reference features are degenerate");
        }

        [Fact]
        public void MLNetResNet18_Preprocessing_IsBgr255MinusTheMeanImagesChannelMeans()
        {
            var prep = ResNetWeights.MLNetResNet18.Preprocessing;
            var model = OnnxModelFile.Read(MlNetPreprocessPath);
            var meanImage = OnnxTensorData.ReadFloats(model.Graph.Initializer.Single(t => t.Name == "MeanImage"), MlNetPreprocessPath, "test");
            int plane = 224 * 224;
            var channelMeans = Enumerable.Range(0, 3).Select(c => meanImage.Skip(c * plane).Take(plane).Average(v => (double)v)).ToArray();

            // The graph splits RGB input and concatenates B, G, R before subtracting the mean image.
            Assert.Equal(new[] { "BInp", "GInp", "RInp" }, model.Graph.Node[1].Input);
            Assert.Equal(ChannelOrder.Bgr, prep.ChannelOrder);
            Assert.Equal(255f, prep.PixelScale);
            Assert.Equal(new[] { 1f, 1f, 1f }, prep.Std);
            Assert.Equal((224, 224), (prep.ResizeSize, prep.CropSize));
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(channelMeans[c], prep.Mean[c], 4);
            }

            Assert.Equal(new[] { 103.06, 115.90, 123.15 }, prep.Mean.Select(m => Math.Round(m, 2)).ToArray());
        }

        [Fact]
        public void Resolve_MlNetResNet18WithResNet18Architecture_ThrowsMismatchNamingTheLayout()
        {
            var ex = Assert.Throws<WeightsMismatchException>(() => ResNetWeights.MLNetResNet18.Resolve(ResNetArchitecture.ForDepth(18), new PretrainedWeightsOptions(), NullLogger.Instance, CancellationToken.None));

            Assert.Contains("stages [2, 2, 2, 3]", ex.Message, StringComparison.Ordinal);
            Assert.Contains("ResNetArchitecture.Custom(BlockKind.Basic, 2, 2, 2, 3)", ex.Message, StringComparison.Ordinal);
            Assert.Equal(MlNetArchitecture, ResNetWeights.MLNetResNet18.Architecture);
        }

        [Fact]
        public void Locate_NoCandidateExists_ListsWhereItLookedAndThePackage()
        {
            var candidates = new[] { "/nonexistent/a/ResNet18.onnx", "/nonexistent/b/ResNet18.onnx" };

            var ex = Assert.Throws<WeightsUnavailableException>(() => OnnxMlNetLocator.Locate(candidates));

            Assert.Contains("  /nonexistent/a/ResNet18.onnx", ex.Message, StringComparison.Ordinal);
            Assert.Contains("  /nonexistent/b/ResNet18.onnx", ex.Message, StringComparison.Ordinal);
            Assert.Contains("<PackageReference Include=\"Microsoft.ML.DnnImageFeaturizer.ResNet18\" Version=\"0.23.1\" />", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Candidates_OutputFolderFirstThenNuGetCache()
        {
            var candidates = OnnxMlNetLocator.Candidates(name => name == "NUGET_PACKAGES" ? "/cache/nuget" : null);

            Assert.Equal(MlNetModelPath, candidates[0]);
            Assert.Equal("/cache/nuget/microsoft.ml.dnnimagefeaturizer.resnet18/0.23.1/tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx", candidates[2]);
            Assert.Equal(MlNetModelPath, OnnxMlNetLocator.Locate(candidates));
        }

        [Fact]
        public void Import_SyntheticBasicResNet_CopiesEveryWeightToItsTorchvisionKey()
        {
            using var folder = new TestSupport.TempFolder();
            var architecture = ResNetArchitecture.Custom(BlockKind.Basic, 1, 2, 1, 1);
            var (bytes, expected, _, _) = SyntheticResNet.Build(architecture, new SyntheticOptions());
            File.WriteAllBytes(folder.File("basic.onnx"), bytes);

            using var imported = OnnxResNetImporter.Import(folder.File("basic.onnx"), NullLogger.Instance);

            Assert.Equal(architecture, imported.Architecture);
            AssertValues(expected, imported.StateDict);
        }

        [Fact]
        public void Import_SyntheticBottleneckWithClassifier_MatchesOnnxRuntimeLogits()
        {
            using var folder = new TestSupport.TempFolder();
            var architecture = ResNetArchitecture.Custom(BlockKind.Bottleneck, 1, 1, 2, 1);
            var (bytes, expected, output, _) = SyntheticResNet.Build(architecture, new SyntheticOptions { Classes = 5, Epsilon = 1e-3f });
            string path = folder.File("bottleneck.onnx");
            File.WriteAllBytes(path, bytes);

            using var imported = OnnxResNetImporter.Import(path, NullLogger.Instance);
            Assert.Equal(architecture, imported.Architecture);
            Assert.True(imported.HasClassifier);
            Assert.Equal(output, imported.OutputName);
            AssertValues(expected, imported.StateDict);

            using var scope = NewDisposeScope();
            using var model = new ResNet(architecture, 5);
            WeightLoader.Apply(model, imported.StateDict, path);
            model.eval();
            var input = TestSupport.FormulaInput(1, 64);
            float[] reference = RunOnnxRuntime(path, "image", input);
            float[] ours;
            using (no_grad())
            {
                ours = model.forward(input).data<float>().ToArray();
            }

            double relative = MaxAbsDifference(ours, reference) / reference.Max(v => Math.Abs(v));
            _output.WriteLine($"synthetic bottleneck logits: relative error {relative:E2}");
            Assert.Equal(5, ours.Length);
            Assert.True(relative <= 1e-4, $"relative error {relative:E3} exceeds 1e-4");
        }

        [Fact]
        public void Import_BatchNormFoldedIntoConvolutions_ImportsIdentityBatchNormsMatchingOnnxRuntime()
        {
            using var folder = new TestSupport.TempFolder();
            var architecture = ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1);
            var (bytes, expected, _, _) = SyntheticResNet.Build(architecture, new SyntheticOptions { FoldedBatchNorm = true, Classes = 3 });
            string path = folder.File("folded.onnx");
            File.WriteAllBytes(path, bytes);
            var logger = new ListLogger();

            using var imported = OnnxResNetImporter.Import(path, logger);

            Assert.True(imported.FoldedBatchNorm);
            AssertValues(expected, imported.StateDict);
            Assert.Contains(logger.Entries, e => e.Id.Id == 4011 && e.Level == Microsoft.Extensions.Logging.LogLevel.Warning);
            double relative = OursVersusOnnxRuntime(path, architecture, 3, imported);
            _output.WriteLine($"folded batch norm logits: relative error {relative:E2}");
            Assert.True(relative <= 1e-4, $"relative error {relative:E3} exceeds 1e-4");
        }

        [Fact]
        public void Import_ConvolutionBiasBeforeBatchNorm_IsFoldedIntoTheRunningMean()
        {
            using var folder = new TestSupport.TempFolder();
            var architecture = ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1);
            var (bytes, expected, _, _) = SyntheticResNet.Build(architecture, new SyntheticOptions { ConvolutionBias = true, Classes = 3 });
            string path = folder.File("bias.onnx");
            File.WriteAllBytes(path, bytes);

            using var imported = OnnxResNetImporter.Import(path, NullLogger.Instance);

            Assert.False(imported.FoldedBatchNorm);
            AssertValues(expected, imported.StateDict);
            double relative = OursVersusOnnxRuntime(path, architecture, 3, imported);
            Assert.True(relative <= 1e-4, $"relative error {relative:E3} exceeds 1e-4");
        }

        [Fact]
        public void Import_AveragePoolOverTheLastMap_IsGlobalPooling()
        {
            using var folder = new TestSupport.TempFolder();
            var architecture = ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1);
            File.WriteAllBytes(folder.File("avg.onnx"), SyntheticResNet.Build(architecture, new SyntheticOptions { AveragePool = true }).Model);

            using var imported = OnnxResNetImporter.Import(folder.File("avg.onnx"), NullLogger.Instance);

            Assert.Equal(architecture, imported.Architecture);
        }

        [Fact]
        public void Import_NodeOutsideResNetTopology_ThrowsNamingThatNode()
        {
            using var folder = new TestSupport.TempFolder();
            var (bytes, _, _, _) = SyntheticResNet.Build(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1), new SyntheticOptions { SigmoidAfterLayer1 = true });
            File.WriteAllBytes(folder.File("sigmoid.onnx"), bytes);

            var ex = Assert.Throws<WeightsFormatException>(() => OnnxResNetImporter.Import(folder.File("sigmoid.onnx"), NullLogger.Instance));
            _output.WriteLine(ex.Message);

            Assert.Contains("the first node that could not be mapped is node #", ex.Message, StringComparison.Ordinal);
            Assert.Matches("node #\\d+ 'Sigmoid\\d+' \\(Sigmoid\\)", ex.Message);
            Assert.Contains(folder.File("sigmoid.onnx"), ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Import_StrideOnFirstBottleneckConvolution_ThrowsNamingThatConvolution()
        {
            using var folder = new TestSupport.TempFolder();
            var (bytes, _, _, _) = SyntheticResNet.Build(ResNetArchitecture.Custom(BlockKind.Bottleneck, 1, 1, 1, 1), new SyntheticOptions { StrideOnFirstConv = true });
            File.WriteAllBytes(folder.File("v1.onnx"), bytes);

            var ex = Assert.Throws<WeightsFormatException>(() => OnnxResNetImporter.Import(folder.File("v1.onnx"), NullLogger.Instance));

            Assert.Matches("first node that could not be mapped is node #\\d+ 'Conv\\d+' \\(Conv\\): expected stride 1", ex.Message);
            Assert.Contains("found strides [2, 2]", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Import_ExternalDataInsideTheModelsFolder_IsRead()
        {
            using var folder = new TestSupport.TempFolder();
            var architecture = ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1);
            var (bytes, expected, _, external) = SyntheticResNet.Build(architecture, new SyntheticOptions { ExternalLocation = "weights/conv1.bin" });
            Directory.CreateDirectory(folder.File("weights"));
            File.WriteAllBytes(folder.File("weights/conv1.bin"), external!);
            File.WriteAllBytes(folder.File("external.onnx"), bytes);

            using var imported = OnnxResNetImporter.Import(folder.File("external.onnx"), NullLogger.Instance);

            AssertValues(expected, imported.StateDict);
        }

        [Theory]
        [InlineData("../outside.bin")]
        [InlineData("/etc/passwd")]
        public void Import_ExternalDataOutsideTheModelsFolder_IsRefused(string location)
        {
            using var folder = new TestSupport.TempFolder();
            Directory.CreateDirectory(folder.File("model"));
            var (bytes, _, _, external) = SyntheticResNet.Build(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1), new SyntheticOptions { ExternalLocation = location });
            File.WriteAllBytes(folder.File("outside.bin"), external!);
            File.WriteAllBytes(folder.File("model/m.onnx"), bytes);

            var ex = Assert.Throws<WeightsFormatException>(() => OnnxResNetImporter.Import(folder.File("model/m.onnx"), NullLogger.Instance));

            Assert.Contains("'" + location + "', which is outside the model's folder", ex.Message, StringComparison.Ordinal);
            Assert.Contains("was refused", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Import_ExternalDataThroughALinkedFolder_IsRefused()
        {
            using var folder = new TestSupport.TempFolder();
            using var elsewhere = new TestSupport.TempFolder();
            Directory.CreateDirectory(folder.File("model"));
            var (bytes, _, _, external) = SyntheticResNet.Build(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1), new SyntheticOptions { ExternalLocation = "data/conv1.bin" });
            File.WriteAllBytes(elsewhere.File("conv1.bin"), external!);
            Directory.CreateSymbolicLink(folder.File("model/data"), elsewhere.Path);
            File.WriteAllBytes(folder.File("model/m.onnx"), bytes);

            var ex = Assert.Throws<WeightsFormatException>(() => OnnxResNetImporter.Import(folder.File("model/m.onnx"), NullLogger.Instance));

            Assert.Contains("'data/conv1.bin', which is outside the model's folder", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Import_TruncatedFile_ThrowsFormatErrorNamingTheFile()
        {
            using var folder = new TestSupport.TempFolder();
            var (bytes, _, _, _) = SyntheticResNet.Build(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1), new SyntheticOptions());
            File.WriteAllBytes(folder.File("cut.onnx"), bytes.AsSpan(0, bytes.Length / 2).ToArray());

            var ex = Assert.Throws<WeightsFormatException>(() => OnnxResNetImporter.Import(folder.File("cut.onnx"), NullLogger.Instance));

            Assert.StartsWith("'" + folder.File("cut.onnx") + "' is not a readable ONNX model", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void FromOnnx_SyntheticModel_ResolvesWithTheGivenPreprocessing()
        {
            using var folder = new TestSupport.TempFolder();
            var architecture = ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1);
            File.WriteAllBytes(folder.File("m.onnx"), SyntheticResNet.Build(architecture, new SyntheticOptions()).Model);
            var prep = new Preprocessing { ResizeSize = 64, CropSize = 64 };
            var weights = ResNetWeights.FromOnnx(folder.File("m.onnx"), prep);

            using var resolved = weights.Resolve(architecture, new PretrainedWeightsOptions(), NullLogger.Instance, CancellationToken.None);

            Assert.Same(prep, resolved.Preprocessing);
            Assert.Same(prep, weights.Preprocessing);
            Assert.Equal(folder.File("m.onnx"), resolved.Source);
            Assert.Null(weights.Architecture);
        }

        private static void AssertValues(Dictionary<string, float[]> expected, Dictionary<string, Tensor> actual)
        {
            Assert.Equal(expected.Keys.OrderBy(k => k, StringComparer.Ordinal), actual.Keys.Where(k => !k.EndsWith("num_batches_tracked", StringComparison.Ordinal)).OrderBy(k => k, StringComparer.Ordinal));
            foreach (var (key, values) in expected)
            {
                var got = actual[key].data<float>().ToArray();
                Assert.True(values.Length == got.Length, key);
                Assert.True(values.Zip(got).All(p => Math.Abs(p.First - p.Second) <= 1e-7f * Math.Max(1f, Math.Abs(p.First))), key);
            }
        }

        private static double OursVersusOnnxRuntime(string path, ResNetArchitecture architecture, int classes, OnnxImportResult imported)
        {
            using var scope = NewDisposeScope();
            using var model = new ResNet(architecture, classes);
            WeightLoader.Apply(model, imported.StateDict, path);
            model.eval();
            var input = TestSupport.FormulaInput(1, 64);
            float[] reference = RunOnnxRuntime(path, "image", input);
            float[] ours;
            using (no_grad())
            {
                ours = model.forward(input).data<float>().ToArray();
            }

            Assert.Equal(classes, ours.Length);
            return MaxAbsDifference(ours, reference) / reference.Max(v => Math.Abs(v));
        }

        private static float[] RunOnnxRuntime(string path, string inputName, Tensor input)
        {
            using var session = new InferenceSession(path);
            float[] data = input.contiguous().data<float>().ToArray();
            using var value = OrtValue.CreateTensorValueFromMemory(data, input.shape);
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, new[] { inputName }, new[] { value }, session.OutputNames);
            return results[0].GetTensorDataAsSpan<float>().ToArray();
        }

        private static double MaxAbsDifference(float[] a, float[] b) => a.Zip(b).Max(p => Math.Abs((double)p.First - p.Second));
    }
}
