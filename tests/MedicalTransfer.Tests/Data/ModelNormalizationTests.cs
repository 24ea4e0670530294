using System;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Tests.Training;
using MedicalTransfer.Training;
using MedicalTransfer.Weights;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Data
{
    /// <summary>
    /// The model owns its preprocessing: loaders built from the model match it, and model verbs refuse a loader whose
    /// normalisation differs (issue 11's reproduction: the offline ML.NET ResNet-18 expects BGR 0..255, docs built the
    /// loaders with Preprocessing.ImageNet, nothing warned, and every test image came out PNEUMONIA).
    /// </summary>
    [Collection(TrainingCollection.Name)]
    public sealed class ModelNormalizationTests
    {
        [Fact]
        public void Fit_MlNetWeightsWithImageNetLoaders_ThrowsNamingBothNormalisationsAndTheRemedy()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 8, Size = 32, PositiveFraction = 0.5, Seed = 1 });
            var dataset = ImageFolder.Load(folder.Path);
            using var model = TransferBuilder.FromPretrained(ResNetWeights.MLNetResNet18).ForClasses(dataset.Classes.ToArray()).OnDevice(CPU).Build();
            var before = model.state_dict()["fc.weight"].clone();

            // docs/training.md as it was: loaders from Preprocessing.ImageNet, whatever the weights.
            var train = new DataLoader(dataset, Transforms.ForTraining(Preprocessing.ImageNet), new LoaderOptions { BatchSize = 4, Workers = 1 });
            var validation = new DataLoader(dataset, Transforms.ForEvaluation(Preprocessing.ImageNet), new LoaderOptions { BatchSize = 4, Workers = 1 });

            var ex = Assert.Throws<ArgumentException>(() => model.Fit(train, validation, new TrainingOptions { Epochs = 1 }));

            Assert.Equal("train", ex.ParamName);
            Assert.StartsWith(
                "The training loader normalises RGB pixels in [0, 1] with ImageNet mean/std (Preprocessing.ImageNet, torchvision's ImageNet weights); the model's weights expect BGR pixels in 0..255 with mean (103.0626, 115.9029, 123.1516) and std (1, 1, 1) (ResNetWeights.MLNetResNet18).",
                ex.Message,
                StringComparison.Ordinal);
            Assert.Contains("model.CreateLoader(dataset, training: true)", ex.Message, StringComparison.Ordinal);
            Assert.Contains("LoaderOptions.SkipNormalizationCheck = true", ex.Message, StringComparison.Ordinal);
            Assert.True(before.Equals(model.state_dict()["fc.weight"]), "nothing may train before the check");

            // The safe form: loaders from the model.
            Assert.True(model.CreateLoader(dataset, training: true).Normalization.SameAs(InputNormalization.From(model.Preprocessing)));
            Assert.True(model.CreateLoader(dataset, training: false).Normalization.SameAs(InputNormalization.From(ResNetWeights.MLNetResNet18.Preprocessing)));
        }

        [Fact]
        public void Fit_ValidationLoaderWithoutNormalize_ThrowsForValidation()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 8, Size = 32, PositiveFraction = 0.5, Seed = 1 });
            var dataset = ImageFolder.Load(folder.Path);
            using var model = TrainingFixtures.TinyModel(classes: dataset.Classes.ToArray());
            var train = model.CreateLoader(dataset, training: true, new LoaderOptions { BatchSize = 4, Workers = 1 });
            var validation = new DataLoader(dataset, Transforms.Compose(Transforms.Resize(32), Transforms.CenterCrop(32), Transforms.ToTensor()), new LoaderOptions { BatchSize = 4, Workers = 1 });

            var ex = Assert.Throws<ArgumentException>(() => model.Fit(train, validation, new TrainingOptions { Epochs = 1 }));

            Assert.Equal("validation", ex.ParamName);
            Assert.StartsWith("The validation loader normalises RGB pixels in [0, 1] with no mean subtracted and no std divided by (no Normalize step); the model's weights expect RGB pixels in [0, 1] with ImageNet mean/std (Preprocessing.ImageNet", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Transforms.ForEvaluation(model.Preprocessing)", ex.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => model.RankLayerImportance(validation));
        }

        [Fact]
        public void Fit_SkipNormalizationCheck_TrainsOnTheLoaderAsGiven()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 8, Size = 32, PositiveFraction = 0.5, Seed = 1 });
            var dataset = ImageFolder.Load(folder.Path);
            using var model = TrainingFixtures.TinyModel(classes: dataset.Classes.ToArray());
            var raw = Transforms.Compose(Transforms.Resize(32), Transforms.CenterCrop(32), Transforms.ToTensor());
            var options = new LoaderOptions { BatchSize = 4, Workers = 1, SkipNormalizationCheck = true };

            var result = model.Fit(new DataLoader(dataset, raw, options), new DataLoader(dataset, raw, options with { Sampling = SamplingMode.Sequential }), new TrainingOptions { Epochs = 1 });

            Assert.Single(result.History.Epochs);
        }

        [Fact]
        public void CreateLoader_OwnSteps_AppendsTheModelsNormalisationAndGivesItsTensors()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 4, Size = 48, PositiveFraction = 0.5, Seed = 2 });
            var dataset = ImageFolder.Load(folder.Path);
            using var model = TransferBuilder.FromResNet(MedicalTransfer.Models.ResNetArchitecture.Custom(MedicalTransfer.Models.BlockKind.Basic, 1, 1, 1, 1)).WithPreprocessing(ResNetWeights.MLNetResNet18.Preprocessing).ForClasses(dataset.Classes.ToArray()).OnDevice(CPU).Build();
            var p = model.Preprocessing;
            var options = new LoaderOptions { BatchSize = 4, Workers = 1, Sampling = SamplingMode.Sequential };

            var ours = model.CreateLoader(dataset, Transforms.Compose(Transforms.Resize(p.ResizeSize), Transforms.CenterCrop(p.CropSize)), options);
            var reference = new DataLoader(dataset, Transforms.ForEvaluation(p), options);
            var evaluation = model.CreateLoader(dataset, training: false, options with { Sampling = SamplingMode.Shuffle });

            using var a = ours.GetBatches(0).Single();
            using var b = reference.GetBatches(0).Single();
            using var c = evaluation.GetBatches(0).Single();
            Assert.True(a.Images.Equals(b.Images));
            Assert.True(c.Images.Equals(b.Images), "an evaluation loader is sequential and uses the model's evaluation pipeline");
            Assert.True(a.Images.max().item<float>() > 50f, "BGR 0..255 minus the means: values far above ImageNet's range");
        }

        [Fact]
        public void CreateLoader_TransformThatNormalisesOtherwise_ThrowsNamingBoth()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 4, Size = 32, PositiveFraction = 0.5, Seed = 2 });
            var dataset = ImageFolder.Load(folder.Path);
            using var model = TrainingFixtures.TinyModel(classes: dataset.Classes.ToArray());

            var ex = Assert.Throws<ArgumentException>(() => model.CreateLoader(dataset, Transforms.Compose(Transforms.CenterCrop(32), Transforms.Normalize(new[] { 0.5f, 0.5f, 0.5f }, new[] { 0.5f, 0.5f, 0.5f }))));

            Assert.Equal("transform", ex.ParamName);
            Assert.StartsWith("The transform normalises RGB pixels in [0, 1] with mean (0.5, 0.5, 0.5) and std (0.5, 0.5, 0.5); the model's weights expect RGB pixels in [0, 1] with ImageNet mean/std", ex.Message, StringComparison.Ordinal);
            var same = model.CreateLoader(dataset, Transforms.Compose(Transforms.CenterCrop(32), Transforms.Normalize(Preprocessing.ImageNet.Mean, Preprocessing.ImageNet.Std)));
            Assert.True(same.Normalization.SameAs(InputNormalization.From(model.Preprocessing)));
        }

        [Fact]
        public void SameAs_SameMapWrittenWithOtherNumbers_IsTheSame()
        {
            var unit = new InputNormalization(ChannelOrder.Rgb, 1f, new[] { 0.5f, 0.4f, 0.3f }, new[] { 0.25f, 0.2f, 0.1f });
            var bytes = new InputNormalization(ChannelOrder.Rgb, 255f, new[] { 127.5f, 102f, 76.5f }, new[] { 63.75f, 51f, 25.5f });
            var bgr = new InputNormalization(ChannelOrder.Bgr, 1f, new[] { 0.5f, 0.4f, 0.3f }, new[] { 0.25f, 0.2f, 0.1f });
            var gray = new InputNormalization(ChannelOrder.Bgr, 1f, new[] { 0.5f, 0.5f, 0.5f }, new[] { 0.2f, 0.2f, 0.2f });

            Assert.True(unit.SameAs(bytes));
            Assert.False(unit.SameAs(bgr));
            Assert.True(gray.SameAs(new InputNormalization(ChannelOrder.Rgb, 1f, gray.Mean, gray.Std)), "channel order does not matter when every channel is normalised alike");
        }
    }
}
