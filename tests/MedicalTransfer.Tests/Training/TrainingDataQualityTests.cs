using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Training;
using TorchSharp;
using Xunit;

namespace MedicalTransfer.Tests.Training
{
    public class TrainingDataQualityTests
    {
        [Fact]
        public void Fit_SkipPolicyWithCorruptTrainingImage_ResultCarriesTheSkippedFile()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 24, Size = 40, Seed = 3 });
            string bad = Path.Combine(folder.Path, SyntheticChestXRay.NormalClass, "zz-truncated.png");
            File.WriteAllBytes(bad, File.ReadAllBytes(Directory.GetFiles(Path.Combine(folder.Path, SyntheticChestXRay.NormalClass), "*.png")[0]).Take(60).ToArray());
            var dataset = ImageFolder.Load(folder.Path);

            using var model = TransferBuilder.FromResNet(18)
                .ForClasses(dataset.Classes.ToArray())
                .WithPreprocessing(new Preprocessing { ResizeSize = 32, CropSize = 32 })
                .OnDevice(torch.CPU)
                .WithSeed(1)
                .Build();
            var options = new LoaderOptions { BatchSize = 8, Seed = 1, Workers = 1, Decoding = new ImageLoadOptions { BadImages = BadImagePolicy.Skip } };
            var train = new DataLoader(dataset, Transforms.ForEvaluation(model.Preprocessing), options);
            var validation = new DataLoader(dataset, Transforms.ForEvaluation(model.Preprocessing), options with { Sampling = SamplingMode.Sequential });

            var result = model.Fit(train, validation, new TrainingOptions { Epochs = 1, Seed = 1 });

            var skipped = Assert.Single(result.TrainingDataQuality.Skipped);
            Assert.Equal(bad, skipped.Path);
            Assert.False(string.IsNullOrWhiteSpace(skipped.Reason));
            Assert.Equal(1, result.ValidationDataQuality.SkippedCount);
        }
    }
}
