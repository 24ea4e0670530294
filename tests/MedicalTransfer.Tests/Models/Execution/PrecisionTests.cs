using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Models;
using MedicalTransfer.Prediction;
using MedicalTransfer.Tests.Training;
using MedicalTransfer.Training;
using Microsoft.Extensions.Logging;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Models.Execution
{
    /// <summary>
    /// bfloat16 is an explicit choice: close to float32 within a documented tolerance, announced when emulated, refused
    /// where the backbone cannot run it, and Float32 is bit-identical to not choosing.
    /// </summary>
    public class PrecisionTests
    {
        private readonly ITestOutputHelper output;

        public PrecisionTests(ITestOutputHelper output) => this.output = output;

        [Fact]
        public void ReadFlags_CpuinfoWithAvx512Bf16_NativeBFloat16()
        {
            using var folder = new TestSupport.TempFolder();
            string path = Path.Combine(folder.Path, "cpuinfo");
            File.WriteAllText(path, "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n");
            var flags = CpuCapabilities.ReadFlags(path);
            Assert.True(CpuCapabilities.HasNativeBFloat16In(flags));
            Assert.StartsWith("native bfloat16", CpuCapabilities.Describe(flags), StringComparison.Ordinal);

            File.WriteAllText(path, "flags\t\t: fpu sse2 avx2 amx_tile amx_bf16\n");
            Assert.True(CpuCapabilities.HasNativeBFloat16In(CpuCapabilities.ReadFlags(path)));

            File.WriteAllText(path, "flags\t\t: fpu sse2 avx2 fma\n");
            Assert.False(CpuCapabilities.HasNativeBFloat16In(CpuCapabilities.ReadFlags(path)));
            Assert.Empty(CpuCapabilities.ReadFlags(Path.Combine(folder.Path, "missing")));
        }

        [Fact]
        public void HasNativeBFloat16_ThisMachine_AgreesWithProcCpuinfo()
        {
            string flags = File.Exists("/proc/cpuinfo") ? File.ReadAllText("/proc/cpuinfo") : string.Empty;
            bool expected = flags.Contains(" avx512_bf16", StringComparison.Ordinal) || flags.Contains(" amx_bf16", StringComparison.Ordinal);
            output.WriteLine(CpuCapabilities.Describe());
            Assert.Equal(expected, CpuCapabilities.HasNativeBFloat16);
        }

        [Theory]
        [InlineData(18)]
        [InlineData(50)]
        public void InferencePrecision_BFloat16_LogitsCloseToFloat32ButNotEqual(int depth)
        {
            using var model = TestSupport.SmallModel(depth);
            ExecutionFixtures.RandomiseBatchNorm(model);
            model.eval();
            using var noGrad = no_grad();
            using var input = ExecutionFixtures.Input(4, 4);
            using var expected = model.call(input);
            Tensor actual;
            using (PrecisionChoice.ForInference(model, ComputePrecision.BFloat16, "test", logger: null))
            {
                actual = model.call(input);
            }

            using (actual)
            {
                Assert.Equal(ScalarType.Float32, actual.dtype);
                double error = TestSupport.RelativeError(actual, expected);
                output.WriteLine($"ResNet-{depth}: bfloat16 logits differ from float32 by {error:E2} of the largest logit");
                Assert.True(error <= ExecutionFixtures.BFloat16Tolerance, $"bfloat16 logits differ by {error:E2} relative");
                Assert.True(error > 0, "bfloat16 gave float32's logits exactly: it did not run");
            }

            Assert.Equal(ComputePrecision.Float32, model.InferencePrecision);
        }

        [Fact]
        public void Predict_PrecisionFloat32_BitIdenticalToDefaultOptions_BFloat16Differs()
        {
            using var model = TestSupport.SmallModel(18);
            var images = Enumerable.Range(0, 2).Select(i => TestSupport.FormulaInput(1, 224).squeeze(0) + i).ToArray();
            var classifier = model.AsClassifier();
            float[] pixels = images.SelectMany(t => t.contiguous().data<float>().ToArray()).ToArray();
            double[] Run(ComputePrecision precision)
            {
                ((TorchClassifier)classifier).Precision = precision;
                var p = new double[4];
                classifier.Classify(pixels, 2, 224, p);
                return p;
            }

            var byDefault = Run(new ImagePredictionOptions().Precision);
            Assert.Equal(byDefault, Run(ComputePrecision.Float32));
            var reduced = Run(ComputePrecision.BFloat16);
            Assert.NotEqual(byDefault, reduced);
            Assert.All(byDefault.Zip(reduced), pair => Assert.True(Math.Abs(pair.First - pair.Second) < 0.05, $"{pair.First} vs {pair.Second}"));
        }

        [Fact]
        public void PredictFindings_PrecisionBFloat16_CloseToFloat32ButNotEqual_Float32AsTheDefault()
        {
            using var folder = new TestSupport.TempFolder();
            var table = SyntheticChestXRay.WriteFindingsTable(folder.File("phantoms"), new SyntheticChestXRayOptions { Count = 8, Size = 32, Seed = 5 });
            var dataset = ImageTable.Load(table.TrainTable, SyntheticChestXRay.FindingsLayout, new ImageTableOptions { Root = table.Root });
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
                .WithPreprocessing(new Preprocessing { ResizeSize = 36, CropSize = 32 })
                .ForFindings(dataset.Findings)
                .OnDevice(CPU)
                .WithSeed(11)
                .Build();
            double[] Run(PredictionOptions? options)
            {
                var p = model.PredictFindings(dataset, options);
                return Enumerable.Range(0, p.Count).SelectMany(i => Enumerable.Range(0, p.Findings.Count).Select(j => p.Probability(i, j))).ToArray();
            }

            var byDefault = Run(null);
            Assert.Equal(byDefault, Run(new PredictionOptions { Precision = ComputePrecision.Float32 }));
            // The option was ignored by PredictFindings once: bfloat16 must change the numbers, a little.
            var reduced = Run(new PredictionOptions { Precision = ComputePrecision.BFloat16 });
            Assert.NotEqual(byDefault, reduced);
            Assert.All(byDefault.Zip(reduced), pair => Assert.True(Math.Abs(pair.First - pair.Second) < 0.05, $"{pair.First} vs {pair.Second}"));
            Assert.Equal(ComputePrecision.Float32, model.InferencePrecision);
        }

        [Fact]
        public void Fit_FrozenPrefixBFloat16_TrainsTheHeadLogsEmulationAndLeavesFloat32Weights()
        {
            using var model = TrainingFixtures.TinyModel();
            model.Freeze(Layers.All);
            var logger = new ListLogger();
            var options = new TrainingOptions { Epochs = 1, LearningRate = 1e-3, Seed = 1, Logger = logger, FrozenPrefixPrecision = ComputePrecision.BFloat16 };
            var result = TrainingFixtures.Fit(model, TrainingFixtures.Source(8, batchSize: 4), TrainingFixtures.Source(4, batchSize: 4, shuffle: false), options);
            Assert.True(double.IsFinite(result.History.Epochs[^1].TrainLoss));
            Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
            Assert.Equal(ComputePrecision.Float32, model.FrozenPrefixPrecision);
            bool warned = logger.Entries.Any(e => e.Level == LogLevel.Warning && e.Id.Id == 1800);
            Assert.Equal(!CpuCapabilities.HasNativeBFloat16, warned);
        }

        [Fact]
        public void Fit_FrozenPrefixFloat32_BitIdenticalToTheDefault()
        {
            float[] Train(TrainingOptions options)
            {
                using var model = TrainingFixtures.TinyModel();
                model.Freeze(Layers.UpTo(2));
                TrainingFixtures.Fit(model, TrainingFixtures.Source(8, batchSize: 4), TrainingFixtures.Source(4, batchSize: 4, shuffle: false), options);
                return model.parameters().SelectMany(p => p.detach().contiguous().data<float>().ToArray()).ToArray();
            }

            var baseline = new TrainingOptions { Epochs = 1, LearningRate = 1e-3, Seed = 1 };
            Assert.Equal(Train(baseline), Train(baseline with { FrozenPrefixPrecision = ComputePrecision.Float32 }));
        }
    }
}
