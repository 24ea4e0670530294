using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Models;
using MedicalTransfer.Weights;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Models
{
    /// <summary>
    /// Backbones built for gray images (TransferBuilder.WithInputChannels(1)): the first convolution's RGB weights are
    /// summed over the input channels, so the gray model computes what the RGB model computes on three copies of the
    /// normalised gray plane, and the loader delivers one channel.
    /// </summary>
    public class SingleChannelInputTests
    {
        public static IEnumerable<object[]> Backbones() => new[]
        {
            new object[] { "basic:2,2,2,2" },
            new object[] { "densenet:8:16:2,2,2,2" },
            new object[] { "efficientnet:b0" },
        };

        private static (TransferModel Rgb, TransferModel Gray) Pair(string layout, TestSupport.TempFolder folder)
        {
            var architecture = BackboneCatalog.Parse(layout);
            var sizes = new Preprocessing { ResizeSize = 72, CropSize = 64 };
            var rgb = TransferBuilder.From(architecture).WithHead(Head.Mlp(16)).WithPreprocessing(sizes).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(9).Build();
            // Formula weights (as the parity tests use): a randomly initialised EfficientNet's logits hardly depend on its input.
            TestSupport.FillWithBackboneFormula(rgb, rgb.state_dict().Keys.ToArray(), architecture is EfficientNetArchitecture ? 4 : 1);
            rgb.eval();
            string path = folder.File("rgb.safetensors");
            StateDictFile.WriteSafetensors(path, rgb.state_dict().ToList(), null);
            var gray = TransferBuilder.From(architecture).WithHead(Head.Mlp(16)).WithInputChannels(1).WithPreprocessing(sizes).WithWeights(path).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).Build();
            gray.eval();
            return (rgb, gray);
        }

        private static Tensor LoadBatch(string folder, Preprocessing preprocessing)
        {
            var data = ImageFolder.Load(folder);
            var loader = new DataLoader(data, Transforms.ForEvaluation(preprocessing), new LoaderOptions { BatchSize = 3, Workers = 1, Sampling = SamplingMode.Sequential });
            using var batch = loader.GetBatches(0).First();
            return batch.Images.clone();
        }

        [Theory]
        [MemberData(nameof(Backbones))]
        public void Forward_GrayImage_EqualsTheRgbModelOnTheReplicatedNormalisedImage(string layout)
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.File("images"), new SyntheticChestXRayOptions { Count = 3, Size = 72, Seed = 4 });
            var (rgb, gray) = Pair(layout, folder);
            using (rgb)
            using (gray)
            {
                Assert.Equal(1, gray.InputChannels);
                Assert.Equal(new[] { "features.0.0.weight", "features.conv0.weight", "conv1.weight" }.Intersect(gray.state_dict().Keys).ToArray(), gray.WeightsReport!.AdaptedKeys);
                using var scope = NewDisposeScope();
                var x = LoadBatch(folder.File("images"), gray.Preprocessing);
                Assert.Equal(new long[] { 3, 1, 64, 64 }, x.shape);

                var grayLogits = gray.call(x);
                var rgbLogits = rgb.call(x.expand(-1, 3, -1, -1).contiguous());

                double error = TestSupport.RelativeError(grayLogits, rgbLogits);
                Assert.True(error <= 1e-5, $"relative error {error:E2} between the gray model and the RGB model on the replicated plane");
                double sensitivity = TestSupport.RelativeError(gray.call(x.flip(3)), grayLogits);
                Assert.True(sensitivity > 1e-4, $"the logits must depend on the input, or the comparison proves nothing (mirroring the images changed them by {sensitivity:E2})");
            }
        }

        [Fact]
        public void Forward_GrayImage_DiffersFromTheRgbModelOnTheRgbPipelinesInputByThePerChannelNormalisation()
        {
            // Replicating the gray image BEFORE ImageNet's per-channel normalisation gives three different planes: the
            // RGB model then computes something else. This is why the equality above is stated for the normalised plane.
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.File("images"), new SyntheticChestXRayOptions { Count = 3, Size = 72, Seed = 4 });
            var (rgb, gray) = Pair("basic:2,2,2,2", folder);
            using (rgb)
            using (gray)
            {
                using var scope = NewDisposeScope();
                var grayLogits = gray.call(LoadBatch(folder.File("images"), gray.Preprocessing));
                var rgbInput = LoadBatch(folder.File("images"), rgb.Preprocessing);
                Assert.Equal(new long[] { 3, 3, 64, 64 }, rgbInput.shape);
                Assert.False(rgbInput.select(1, 0).Equals(rgbInput.select(1, 2)), "ImageNet's normalisation makes the three planes of a gray image differ");
                double error = TestSupport.RelativeError(grayLogits, rgb.call(rgbInput));
                Assert.True(error > 1e-4, $"relative difference {error:E2}");
            }
        }

        [Fact]
        public void PredictAndExplain_GrayModel_ReadFilesThroughItsOneChannelPipeline()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.File("images"), new SyntheticChestXRayOptions { Count = 3, Size = 72, Seed = 4 });
            var (rgb, gray) = Pair("densenet:8:16:2,2,2,2", folder);
            using (rgb)
            using (gray)
            {
                var data = ImageFolder.Load(folder.File("images"));
                var options = new MedicalTransfer.Evaluation.PredictionOptions { Loader = new LoaderOptions { Workers = 1, BatchSize = 3 } };
                var predictions = MedicalTransfer.Evaluation.Evaluator.Predict(gray, data, options);
                using var scope = NewDisposeScope();
                var expected = nn.functional.softmax(rgb.call(LoadBatch(folder.File("images"), gray.Preprocessing).expand(-1, 3, -1, -1).contiguous()).to(ScalarType.Float64), 1);
                for (int i = 0; i < 3; i++)
                {
                    Assert.Equal(expected[i, 1].item<double>(), predictions.Probability(i, 1), 5);
                }

                var maps = new MedicalTransfer.Explainability.GradCam().Explain(gray, data.Samples.Select(s => s.Path).ToArray());
                Assert.All(maps, m => Assert.Equal("denseblock4", m.Layer));
                Assert.All(maps, m => Assert.Equal((64, 64), (m.Upsampled.Width, m.Upsampled.Height)));
            }
        }

        [Fact]
        public void Build_GrayInput_PreprocessingAveragesTheWeightsMeansAndStandardDeviations()
        {
            using var model = TransferBuilder.FromResNet(18).WithInputChannels(1).ForClasses("A", "B").OnDevice(CPU).Build();
            Assert.Equal(1, model.Preprocessing.Channels);
            Assert.Equal((0.485f + 0.456f + 0.406f) / 3, model.Preprocessing.Mean[0], 6);
            Assert.Equal((0.229f + 0.224f + 0.225f) / 3, model.Preprocessing.Std[0], 6);
            Assert.Equal((256, 224), (model.Preprocessing.ResizeSize, model.Preprocessing.CropSize));
            Assert.Equal(new long[] { 64, 1, 7, 7 }, model.state_dict()["conv1.weight"].shape);
            using var scope = NewDisposeScope();
            var ex = Assert.Throws<ArgumentException>(() => model.call(torch.randn(1, 3, 64, 64)));
            Assert.Contains("ResNet-18 takes images [N, 1, H, W]; found [1, 3, 64, 64]", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void SaveLoad_GrayModel_KeepsOneChannelAndItsPreprocessing()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("gray.safetensors");
            using var model = TransferBuilder.FromDenseNet(DenseNetArchitecture.Custom(8, 16, 2, 2, 2, 2)).WithInputChannels(1).ForClasses("A", "B").OnDevice(CPU).WithSeed(2).Build();
            model.eval();
            model.Save(path);
            Assert.Equal("1", StateDictFile.ReadSafetensorsMetadata(path)["input_channels"]);
            using var loaded = TransferModel.Load(path, CPU);
            Assert.Equal(1, loaded.InputChannels);
            Assert.Equal(model.Preprocessing, loaded.Preprocessing);
            using var scope = NewDisposeScope();
            var x = torch.randn(2, 1, 64, 64);
            Assert.True(model.call(x).Equals(loaded.call(x)));

            // The gray model's own file builds a gray model again, without saying so.
            using var rebuilt = TransferBuilder.FromDenseNet(DenseNetArchitecture.Custom(8, 16, 2, 2, 2, 2)).WithWeights(path).ForClasses("A", "B").OnDevice(CPU).Build();
            Assert.Equal(1, rebuilt.InputChannels);
            Assert.Empty(rebuilt.WeightsReport!.AdaptedKeys);
        }

        [Fact]
        public void WithWeights_GrayFileIntoAnRgbModel_ThrowsSayingToBuildForGrayInput()
        {
            using var folder = new TestSupport.TempFolder();
            string path = folder.File("gray.safetensors");
            using (var gray = TransferBuilder.FromResNet(18).WithInputChannels(1).ForClasses("A", "B").OnDevice(CPU).Build())
            {
                StateDictFile.WriteSafetensors(path, gray.state_dict().ToList(), null);
            }

            var ex = Assert.Throws<WeightsMismatchException>(() => TransferBuilder.FromResNet(18).WithWeights(path).ForClasses("A", "B").OnDevice(CPU).Build());
            Assert.Contains("conv1.weight: model expects [64, 3, 7, 7], file has [64, 1, 7, 7] (the file is a model for gray images: build with WithInputChannels(1))", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void WithInputChannels_NeitherOneNorThree_ThrowsAtOnce()
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => TransferBuilder.FromResNet(18).WithInputChannels(2));
        }
    }
}
