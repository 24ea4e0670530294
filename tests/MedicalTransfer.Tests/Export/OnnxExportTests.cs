using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Data;
using MedicalTransfer.Export;
using MedicalTransfer.Models;
using MedicalTransfer.Prediction;
using MedicalTransfer.Weights;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Export
{
    /// <summary>
    /// ONNX export: ONNX Runtime's output on the exported file against the SDK's eval-mode output (relative error
    /// at most 1e-5), the ONNX project's own checker with shape inference (Debian's python3-onnx 1.12), metadata,
    /// refusals and the atomic write.
    /// </summary>
    public sealed class OnnxExportTests
    {
        private readonly ITestOutputHelper _output;

        public OnnxExportTests(ITestOutputHelper output) => _output = output;

        public static TheoryData<string, int> ParityCases => new()
        {
            { "resnet18", 1 },
            { "resnet18", 3 },
            { "resnet50", 1 },
            { "resnet50", 3 },
            { "basic-1-2-1-1", 1 },
            { "basic-1-2-1-1", 3 },
            { "mlp", 1 },
            { "mlp", 3 },
        };

        [Theory]
        [MemberData(nameof(ParityCases))]
        public void ExportOnnx_OnnxRuntime_EqualsEvalLogitsWithin1e5(string kind, int batch)
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Model(kind);
            string path = folder.File(kind + ".onnx");
            var exported = model.ExportOnnx(path, new OnnxExportOptions { Output = OnnxOutput.Logits, InputSize = 64 });

            double relative = Parity(model, path, batch, 64, probabilities: false);

            _output.WriteLine($"{kind}, batch {batch}: relative error {relative:E2}");
            Assert.Equal(new long[] { -1, 3, 64, 64 }, exported.InputShape);
            Assert.Equal("logits", exported.OutputName);
            Assert.True(relative <= 1e-5, $"relative error {relative:E3} exceeds 1e-5");
        }

        [Fact]
        public void ExportOnnx_DefaultOptions_ProbabilitiesAtTheModelsCropSizeMatchSoftmax()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Model("resnet18");
            string path = folder.File("default.onnx");

            var exported = model.ExportOnnx(path);

            Assert.Equal((17, OnnxOutput.Probabilities, "probabilities"), (exported.Opset, exported.Output, exported.OutputName));
            Assert.Equal(new long[] { -1, 3, 224, 224 }, exported.InputShape);
            double relative = Parity(model, path, 2, 224, probabilities: true);
            Assert.True(relative <= 1e-5, $"relative error {relative:E3} exceeds 1e-5");
        }

        [Fact]
        public void ExportOnnx_BatchNormNotFolded_KeepsBatchNormalizationNodesAndParity()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Model("mlp");
            string folded = folder.File("folded.onnx"), unfolded = folder.File("unfolded.onnx");
            model.ExportOnnx(folded, new OnnxExportOptions { InputSize = 64, Output = OnnxOutput.Logits });
            model.ExportOnnx(unfolded, new OnnxExportOptions { InputSize = 64, Output = OnnxOutput.Logits, FoldBatchNorm = false });

            var a = OnnxModelFile.Read(folded).Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
            var b = OnnxModelFile.Read(unfolded).Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());

            Assert.Equal(1, a["BatchNormalization"]); // the head's BatchNorm1d follows a ReLU: nothing to fold it into
            Assert.Equal(15, b["BatchNormalization"]); // stem 1 + 5 basic blocks x 2 + 3 projections + the head's BatchNorm1d
            Assert.Equal(a["Conv"], b["Conv"]);
            Assert.False(a.ContainsKey("Dropout"));
            Assert.True(Parity(model, unfolded, 3, 64, probabilities: false) <= 1e-5);
        }

        [Fact]
        public void ExportOnnx_EveryOpsetAndFixedBatch_RunInOnnxRuntime()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Model("basic-1-2-1-1");
            for (int opset = OnnxExportOptions.MinimumOpset; opset <= OnnxExportOptions.MaximumOpset; opset++)
            {
                string path = folder.File($"opset{opset}.onnx");
                model.ExportOnnx(path, new OnnxExportOptions { Opset = opset, InputSize = 64, DynamicBatch = opset != 13 });
                Assert.Equal(opset, OnnxModelFile.DefaultOpset(OnnxModelFile.Read(path)));
                Assert.True(Parity(model, path, 1, 64, probabilities: true) <= 1e-5, $"opset {opset}");
            }

            using var fixedBatch = new InferenceSession(folder.File("opset13.onnx"));
            Assert.Equal(new[] { 1, 3, 64, 64 }, fixedBatch.InputMetadata["input"].Dimensions);
        }

        [Fact]
        public void ExportOnnx_OnnxChecker_AcceptsEveryKindOfExport()
        {
            using var folder = new TestSupport.TempFolder();
            var files = new List<string>();
            foreach (var kind in new[] { "resnet18", "resnet50", "basic-1-2-1-1", "mlp", "bottleneck-1-1-2-1" })
            {
                using var model = Model(kind);
                string path = folder.File(kind + ".onnx");
                model.ExportOnnx(path, new OnnxExportOptions { InputSize = 64 });
                files.Add(path);
            }

            using (var model = Model("mlp"))
            {
                foreach (int opset in new[] { 13, 15 })
                {
                    string path = folder.File($"mlp-unfolded-opset{opset}.onnx");
                    model.ExportOnnx(path, new OnnxExportOptions { Opset = opset, FoldBatchNorm = false, DynamicBatch = false, Output = OnnxOutput.Logits, InputSize = 96 });
                    files.Add(path);
                }
            }

            var (exitCode, output) = RunChecker(files);

            _output.WriteLine(output);
            Assert.True(exitCode == 0, output);
            Assert.Equal(files.Count, output.Split('\n').Count(l => l.StartsWith("OK ", StringComparison.Ordinal)));
            Assert.Contains("mlp-unfolded-opset13.onnx ir=8 opset=13", output, StringComparison.Ordinal);
            Assert.Contains("output=[batch,2]", output, StringComparison.Ordinal);
            Assert.Contains("output=[1,2]", output, StringComparison.Ordinal);
        }

        [Fact]
        public void OnnxChecker_BrokenGraph_IsReported()
        {
            // The checker test must be able to fail: a graph whose Add reads a value nothing produces.
            using var folder = new TestSupport.TempFolder();
            using var model = Model("basic-1-1-1-1");
            string path = folder.File("broken.onnx");
            model.ExportOnnx(path, new OnnxExportOptions { InputSize = 64 });
            var proto = OnnxModelFile.Read(path);
            proto.Graph.Node.First(n => n.OpType == "Add").Input[1] = "nothing_makes_this";
            File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(proto));

            var (exitCode, output) = RunChecker(new[] { path });

            Assert.Equal(1, exitCode);
            Assert.StartsWith("FAIL " + path, output, StringComparison.Ordinal);
        }

        [Fact]
        public void ExportOnnx_Metadata_CarriesClassesPreprocessingArchitectureHeadVersionAndThreshold()
        {
            using var folder = new TestSupport.TempFolder();
            var preprocessing = ResNetWeights.MLNetResNet18.Preprocessing;
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).WithHead(Head.Mlp(16))
                .WithPreprocessing(preprocessing).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(3).Build();
            model.DecisionThreshold = new DecisionThreshold("PNEUMONIA", 0.37, "target sensitivity 0.95 (validation)");
            string path = folder.File("meta.onnx");

            model.ExportOnnx(path);

            using var session = new InferenceSession(path);
            var meta = session.ModelMetadata.CustomMetadataMap;
            Assert.Equal("medicaltransfer.onnx", meta["medicaltransfer.format"]);
            Assert.Equal("[\"NORMAL\",\"PNEUMONIA\"]", meta["classes"]);
            Assert.Equal("BGR", meta["channel_order"]);
            Assert.Equal("255", meta["pixel_scale"]);
            Assert.Equal(preprocessing.Mean.ToArray(), JsonSerializer.Deserialize<float[]>(meta["mean"]));
            Assert.Equal(new[] { 1f, 1f, 1f }, JsonSerializer.Deserialize<float[]>(meta["std"]));
            Assert.Equal(("224", "224", "224"), (meta["resize"], meta["crop"], meta["input_size"]));
            Assert.Equal(preprocessing, PreprocessingJson.Parse(meta["preprocessing"]));
            Assert.Equal("ResNet (basic, 1-1-1-1)", meta["architecture"]);
            Assert.Equal("basic:1,1,1,1", meta["architecture_layout"]);
            Assert.Equal("mlp:16:0.5:0.3:bn", meta["head"]);
            Assert.Equal(typeof(TransferModel).Assembly.GetName().Version!.ToString(), meta["sdk_version"]);
            Assert.Equal(new DecisionThreshold("PNEUMONIA", 0.37, "target sensitivity 0.95 (validation)"), DecisionThreshold.Parse(meta["decision_threshold"]));
            Assert.Equal("MedicalTransfer", session.ModelMetadata.ProducerName);
        }

        [Fact]
        public void ExportOnnx_CustomHead_ThrowsNamingItsTypeAndKeepsTheExistingFile()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
                .WithHead(Head.Custom("gelu", (features, classes) => nn.Sequential(nn.Linear(features, 8), new GeluHead(), nn.Linear(8, classes))))
                .ForClasses("A", "B").OnDevice(CPU).Build();
            string path = folder.File("model.onnx");
            File.WriteAllText(path, "a good earlier export");

            var ex = Assert.Throws<NotSupportedException>(() => model.ExportOnnx(path));

            Assert.Contains("The module 'fc.1' is a MedicalTransfer.Tests.Export.OnnxExportTests+GeluHead", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Linear", ex.Message, StringComparison.Ordinal);
            Assert.Equal("a good earlier export", File.ReadAllText(path));
            Assert.Single(Directory.GetFiles(folder.Path));
        }

        [Fact]
        public void ExportOnnx_UnfoldedLinearHead_ImportsBackWithTheSameWeights()
        {
            using var folder = new TestSupport.TempFolder();
            var architecture = ResNetArchitecture.Custom(BlockKind.Bottleneck, 1, 1, 2, 1);
            using var model = Model("bottleneck-1-1-2-1");
            string path = folder.File("roundtrip.onnx");
            model.ExportOnnx(path, new OnnxExportOptions { FoldBatchNorm = false, Output = OnnxOutput.Logits, InputSize = 64 });

            using var imported = OnnxResNetImporter.Import(path, NullLogger.Instance);

            Assert.Equal(architecture, imported.Architecture);
            Assert.True(imported.HasClassifier);
            foreach (var (key, value) in model.state_dict().Where(kv => !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)))
            {
                Assert.True(value.allclose(imported.StateDict[key], 0, 0), key);
            }
        }

        [Fact]
        public void ExportTritonRepository_WritesModelAndConfigWithNamesDimsAndDynamicBatching()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Model("basic-1-1-1-1");

            string config = model.ExportTritonRepository(folder.File("models"), "pneumonia", maxBatchSize: 16, new OnnxExportOptions { InputSize = 64, DynamicBatch = false });

            Assert.Equal(folder.File("models/pneumonia/config.pbtxt"), config);
            string text = File.ReadAllText(config);
            Assert.Equal(
                "name: \"pneumonia\"\nplatform: \"onnxruntime_onnx\"\nmax_batch_size: 16\n" +
                "input [\n  {\n    name: \"input\"\n    data_type: TYPE_FP32\n    dims: [ 3, 64, 64 ]\n  }\n]\n" +
                "output [\n  {\n    name: \"probabilities\"\n    data_type: TYPE_FP32\n    dims: [ 2 ]\n  }\n]\n" +
                "dynamic_batching {\n  max_queue_delay_microseconds: 100\n}\n" +
                "instance_group [\n  {\n    kind: KIND_CPU\n    count: 1\n  }\n]\n",
                text);
            using var session = new InferenceSession(folder.File("models/pneumonia/1/model.onnx"));
            Assert.Equal(new[] { -1, 3, 64, 64 }, session.InputMetadata["input"].Dimensions);
            Assert.Throws<ArgumentException>(() => model.ExportTritonRepository(folder.File("models"), "../escape"));
        }

        [Fact]
        public void ExportOnnx_BadOptions_AreRefusedBeforeWriting()
        {
            using var folder = new TestSupport.TempFolder();
            using var model = Model("basic-1-1-1-1");

            Assert.Throws<ArgumentOutOfRangeException>(() => model.ExportOnnx(folder.File("a.onnx"), new OnnxExportOptions { Opset = 12 }));
            Assert.Throws<ArgumentOutOfRangeException>(() => model.ExportOnnx(folder.File("a.onnx"), new OnnxExportOptions { Opset = 18 }));
            Assert.Throws<ArgumentOutOfRangeException>(() => model.ExportOnnx(folder.File("a.onnx"), new OnnxExportOptions { InputSize = 16 }));
            Assert.Throws<DirectoryNotFoundException>(() => model.ExportOnnx(folder.File("missing/a.onnx")));
            Assert.Empty(Directory.GetFileSystemEntries(folder.Path));
        }

        /// <summary>Models with seeded weights and BatchNorm statistics far from identity, so folding is exercised.</summary>
        internal static TransferModel Model(string kind)
        {
            var (architecture, head) = kind switch
            {
                "densenet121" => (DenseNetArchitecture.ForDepth(121), Head.Linear()),
                "densenet-small" => (DenseNetArchitecture.Custom(8, 16, 2, 3, 1, 2), Head.Linear()),
                "densenet-small-mlp" => (DenseNetArchitecture.Custom(8, 16, 2, 3, 1, 2), Head.Mlp(32)),
                "efficientnet-b0" => (EfficientNetArchitecture.ForWidth(0), Head.Linear()),
                "efficientnet-b0-mlp" => ((BackboneArchitecture)EfficientNetArchitecture.ForWidth(0), Head.Mlp(32)),
                "resnet18" => ((BackboneArchitecture)ResNetArchitecture.ForDepth(18), Head.Linear()),
                "resnet50" => (ResNetArchitecture.ForDepth(50), Head.Linear()),
                "mlp" => (ResNetArchitecture.Custom(BlockKind.Basic, 1, 2, 1, 1), Head.Mlp(32)),
                "basic-1-2-1-1" => (ResNetArchitecture.Custom(BlockKind.Basic, 1, 2, 1, 1), Head.Linear()),
                "basic-1-1-1-1" => (ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1), Head.Linear()),
                "bottleneck-1-1-2-1" => (ResNetArchitecture.Custom(BlockKind.Bottleneck, 1, 1, 2, 1), Head.Linear()),
                _ => throw new ArgumentException(kind),
            };
            return Model(architecture, head, channels: 3);
        }

        /// <summary>A model of any backbone with seeded weights and BatchNorm statistics far from identity.</summary>
        internal static TransferModel Model(BackboneArchitecture architecture, HeadSpec head, int channels)
        {
            var builder = TransferBuilder.From(architecture).WithHead(head).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(11);
            var model = (channels == 3 ? builder : builder.WithInputChannels(channels)).Build();
            var generator = new Generator(5);
            using (no_grad())
            {
                foreach (var (_, module) in model.named_modules())
                {
                    if (module is BatchNorm bn)
                    {
                        bn.running_mean!.copy_(randn(bn.running_mean.shape, generator: generator) * 0.2);
                        bn.running_var!.copy_(rand(bn.running_var.shape, generator: generator) + 0.5);
                        bn.weight!.copy_(rand(bn.weight.shape, generator: generator) + 0.5);
                        bn.bias!.copy_(randn(bn.bias.shape, generator: generator) * 0.2);
                    }
                }
            }

            model.eval();
            return model;
        }

        /// <summary>max |ORT - ours| / max |ours| on the formula input (its first channel for a gray model).</summary>
        internal static double Parity(TransferModel model, string path, int batch, int size, bool probabilities)
        {
            using var scope = NewDisposeScope();
            var input = TestSupport.FormulaInput(batch, size).narrow(1, 0, model.InputChannels).contiguous();
            float[] ours;
            using (no_grad())
            {
                var logits = model.forward(input);
                ours = (probabilities ? nn.functional.softmax(logits, 1) : logits).data<float>().ToArray();
            }

            float[] reference = RunOnnxRuntime(path, input);
            Assert.Equal(ours.Length, reference.Length);
            return ours.Zip(reference).Max(p => Math.Abs((double)p.First - p.Second)) / ours.Max(v => Math.Abs((double)v));
        }

        internal static float[] RunOnnxRuntime(string path, Tensor input)
        {
            using var session = new InferenceSession(path);
            float[] data = input.contiguous().data<float>().ToArray();
            using var value = OrtValue.CreateTensorValueFromMemory(data, input.shape);
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, new[] { "input" }, new[] { value }, session.OutputNames);
            return results[0].GetTensorDataAsSpan<float>().ToArray();
        }

        internal static (int ExitCode, string Output) RunChecker(IEnumerable<string> files)
        {
            var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Export", "check_onnx.py"));
            foreach (var f in files)
            {
                start.ArgumentList.Add(f);
            }

            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEndAsync();
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output + error.Result);
        }

        private sealed class GeluHead : nn.Module<Tensor, Tensor>
        {
            public GeluHead() : base(nameof(GeluHead)) { }

            public override Tensor forward(Tensor input) => nn.functional.gelu(input);
        }
    }
}
