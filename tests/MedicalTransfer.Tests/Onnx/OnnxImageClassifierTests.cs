using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading.Tasks;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Export;
using MedicalTransfer.Models;
using MedicalTransfer.Onnx;
using MedicalTransfer.Prediction;
using MedicalTransfer.Tests.Export;
using MedicalTransfer.Weights;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Onnx
{
    /// <summary>
    /// The ONNX Runtime classifier of package MedicalTransfer.Onnx against the TorchSharp model it was exported from:
    /// same files, same probabilities within 1e-5; it runs in a process without TorchSharp's native libraries; and the
    /// same file runs in ML.NET.
    /// </summary>
    public sealed class OnnxImageClassifierTests : IDisposable
    {
        private readonly TestSupport.TempFolder _folder = new();
        private readonly TransferModel _model;
        private readonly string _images;

        public OnnxImageClassifierTests()
        {
            _images = Path.Combine(_folder.Path, "images");
            SyntheticChestXRay.WriteImageFolder(_images, new SyntheticChestXRayOptions { Count = 6, Size = 90, PositiveFraction = 0.5, Format = SyntheticImageFormat.Png16, Seed = 8 });
            File.Copy(Directory.GetFiles(Path.Combine(_images, "NORMAL"))[0], Path.Combine(_images, "colour.jpg.png")); // a name the ordinal sort puts first
            _model = OnnxExportTests.Model("mlp");
        }

        public void Dispose()
        {
            _model.Dispose();
            _folder.Dispose();
        }

        [Theory]
        [InlineData(OnnxOutput.Probabilities, TestTimeAugmentation.None)]
        [InlineData(OnnxOutput.Logits, TestTimeAugmentation.None)]
        [InlineData(OnnxOutput.Probabilities, TestTimeAugmentation.FiveCrop | TestTimeAugmentation.HorizontalFlip)]
        public async Task PredictFolder_ExportedModel_EqualsTheTorchSharpModelWithin1e5(OnnxOutput output, TestTimeAugmentation augmentation)
        {
            string path = _folder.File("model.onnx");
            _model.ExportOnnx(path, new OnnxExportOptions { Output = output });
            using var classifier = OnnxImageClassifier.Load(path);
            var options = new ImagePredictionOptions { Augmentation = augmentation, BatchSize = 4 };

            var ours = await Collect(_model.PredictFolder(_images, options));
            var onnx = await Collect(classifier.PredictFolder(_images, options));

            Assert.Equal(7, onnx.Count);
            Assert.Equal(ours.Select(p => p.Source), onnx.Select(p => p.Source));
            double worst = 0;
            for (int i = 0; i < ours.Count; i++)
            {
                worst = Math.Max(worst, ours[i].Probabilities.Zip(onnx[i].Probabilities).Max(p => Math.Abs(p.First - p.Second)));
                Assert.Equal(ours[i].PredictedIndex, onnx[i].PredictedIndex);
            }

            Assert.True(worst <= 1e-5, $"largest probability difference {worst:E2}");
            var single = classifier.Predict(ours[0].Source, options);
            Assert.True(single.Probabilities.Zip(ours[0].Probabilities).All(p => Math.Abs(p.First - p.Second) <= 1e-5));
        }

        [Fact]
        public void Load_ReadsClassesPreprocessingAndThresholdFromTheFile()
        {
            _model.DecisionThreshold = new DecisionThreshold("PNEUMONIA", 0.2, "threshold 0.2");
            string path = _folder.File("threshold.onnx");
            _model.ExportOnnx(path, new OnnxExportOptions { DynamicBatch = false });

            using var classifier = OnnxImageClassifier.Load(path);

            Assert.Equal(_model.ClassNames, classifier.ClassNames);
            Assert.Equal(_model.Preprocessing, classifier.Preprocessing);
            Assert.Equal(_model.DecisionThreshold, classifier.DecisionThreshold);
            Assert.Equal(224, classifier.FixedInputSize);
            Assert.Equal("basic:1,2,1,1", classifier.Metadata["architecture_layout"]);
            string image = Directory.GetFiles(Path.Combine(_images, "NORMAL")).First();
            var p = classifier.Predict(image);
            var q = _model.Predict(image);
            Assert.Equal(p.Probabilities[1] >= 0.2 ? 1 : 0, p.PredictedIndex);
            Assert.Equal(q.PredictedIndex, p.PredictedIndex);
        }

        [Fact]
        public void Load_ForeignOrMissingFile_ThrowsNamingIt()
        {
            string mlnet = Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");
            var foreign = Assert.Throws<WeightsFormatException>(() => OnnxImageClassifier.Load(mlnet));
            Assert.Contains("is an ONNX model but not a MedicalTransfer export", foreign.Message, StringComparison.Ordinal);

            File.WriteAllText(_folder.File("text.onnx"), "not protobuf");
            var damaged = Assert.Throws<WeightsFormatException>(() => OnnxImageClassifier.Load(_folder.File("text.onnx")));
            Assert.Contains(_folder.File("text.onnx"), damaged.Message, StringComparison.Ordinal);
            Assert.Throws<FileNotFoundException>(() => OnnxImageClassifier.Load(_folder.File("missing.onnx")));
        }

        [Fact]
        public async Task ChildProcess_WithoutTorchSharpNativeLibraries_PredictsTheSameProbabilities()
        {
            string path = _folder.File("probe.onnx");
            _model.ExportOnnx(path);
            string output = typeof(OnnxImageClassifierTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "OnnxProbeOutput").Value!;
            Assert.True(File.Exists(Path.Combine(output, "OnnxProbe.dll")), "OnnxProbe is built with the test project: " + output);
            using var app = new TestSupport.TempFolder();
            var removed = new List<string>();
            foreach (string file in Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(output, file);
                string name = Path.GetFileName(file);
                if (name.Contains("torch", StringComparison.OrdinalIgnoreCase) && !name.EndsWith(".dll", StringComparison.Ordinal))
                {
                    removed.Add(relative); // libLibTorchSharp.so (and any libtorch): absent in the copy
                    continue;
                }

                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(app.Path, relative))!);
                File.Copy(file, Path.Combine(app.Path, relative));
            }

            Assert.DoesNotContain(Directory.EnumerateFiles(app.Path, "*", SearchOption.AllDirectories), f => Path.GetFileName(f).StartsWith("libtorch", StringComparison.Ordinal) || f.EndsWith("libLibTorchSharp.so", StringComparison.Ordinal));
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = app.Path };
            foreach (var a in new[] { "exec", "--runtimeconfig", Path.Combine(app.Path, "OnnxProbe.runtimeconfig.json"), "--depsfile", Path.Combine(app.Path, "OnnxProbe.deps.json"), Path.Combine(app.Path, "OnnxProbe.dll"), path, _images })
            {
                start.ArgumentList.Add(a);
            }

            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            Assert.True(process.WaitForExit(180_000), "the probe did not finish in 3 minutes");
            string errors = await stderr;
            Assert.True(process.ExitCode == 0, stdout + errors);

            Assert.Contains("TORCH_NATIVE_MAPPED=none", stdout, StringComparison.Ordinal);
            Assert.Contains("ONNXRUNTIME_MAPPED=True", stdout, StringComparison.Ordinal);
            var lines = stdout.Split('\n').Where(l => l.Contains('\t', StringComparison.Ordinal)).Select(l => l.Split('\t')).ToArray();
            Assert.Equal(7, lines.Length);
            foreach (var fields in lines)
            {
                var ours = _model.Predict(fields[0]);
                for (int c = 0; c < 2; c++)
                {
                    Assert.Equal(ours.Probabilities[c], double.Parse(fields[1 + c], CultureInfo.InvariantCulture), 1e-5);
                }

                Assert.Equal(ours.PredictedClass, fields[3]);
            }
        }

        [Fact]
        public void MlNet_ApplyOnnxModel_GivesTheSameProbabilitiesAsOnnxRuntimeAndTheModel()
        {
            string path = _folder.File("mlnet.onnx");
            _model.ExportOnnx(path, new OnnxExportOptions { InputSize = 64 });
            var input = TestSupport.FormulaInput(3, 64);
            float[] pixels = input.contiguous().data<float>().ToArray();
            float[] ours;
            using (no_grad())
            {
                ours = nn.functional.softmax(_model.forward(input), 1).data<float>().ToArray();
            }

            var ml = new MLContext(seed: 1);
            var rows = Enumerable.Range(0, 3).Select(i => new ImageRow { Input = pixels.AsSpan(i * 3 * 64 * 64, 3 * 64 * 64).ToArray() }).ToArray();
            var data = ml.Data.LoadFromEnumerable(rows, SchemaDefinition.Create(typeof(ImageRow)).WithVectorShape(nameof(ImageRow.Input), 3, 64, 64));
            var pipeline = ml.Transforms.ApplyOnnxModel(new[] { "probabilities" }, new[] { "input" }, path);
            var transformed = pipeline.Fit(data).Transform(data);
            var mlnet = transformed.GetColumn<float[]>("probabilities").SelectMany(v => v).ToArray();
            float[] ort = OnnxExportTests.RunOnnxRuntime(path, input);

            Assert.Equal(6, mlnet.Length);
            Assert.Equal(ort, mlnet);
            Assert.True(ours.Zip(mlnet).All(p => Math.Abs(p.First - p.Second) <= 1e-5), "ML.NET against the TorchSharp model");
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

        private sealed class ImageRow
        {
            [ColumnName("input")]
            public float[] Input { get; set; } = Array.Empty<float>();
        }
    }

    internal static class SchemaDefinitionExtensions
    {
        public static SchemaDefinition WithVectorShape(this SchemaDefinition schema, string member, params int[] dims)
        {
            var column = schema.First(c => c.MemberName == member);
            column.ColumnType = new VectorDataViewType(NumberDataViewType.Single, dims);
            return schema;
        }
    }
}
