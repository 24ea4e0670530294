using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Models;
using MedicalTransfer.Prediction;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Prediction
{
    /// <summary>Predict's five-crop views are the one five-crop (CropBoxes, torchvision's) that evaluation uses.</summary>
    public sealed class PredictionCropTests
    {
        [Fact]
        public void Predict_FiveCropOddMargin_EqualsEvaluatorsTorchvisionFiveCrop()
        {
            // 67 -> 64: torchvision's center crop starts at round(1.5) = 2 (Fixtures/Data/crop_boxes.json); a floor gives 1.
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 4, Size = 80, PositiveFraction = 0.5, Seed = 5 });
            var dataset = ImageFolder.Load(folder.Path);
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
                .WithPreprocessing(new Preprocessing { ResizeSize = 67, CropSize = 64 })
                .ForClasses(dataset.Classes.ToArray()).OnDevice(CPU).WithSeed(3).Build();
            var augmentation = TestTimeAugmentation.FiveCrop;
            var reference = Evaluator.Predict(model, dataset, new PredictionOptions { Augmentation = augmentation, Loader = new LoaderOptions { Workers = 1 } });

            for (int i = 0; i < dataset.Count; i++)
            {
                var p = model.Predict(dataset.Samples[i].Path, new ImagePredictionOptions { Augmentation = augmentation });
                Assert.Equal(reference.Probability(i, 1), p.Probabilities[1], 1e-6);
            }
        }
    }
}
