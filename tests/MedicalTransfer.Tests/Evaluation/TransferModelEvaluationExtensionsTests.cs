using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Evaluation;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Evaluation
{
    public sealed class TransferModelEvaluationExtensionsTests
    {
        [Fact]
        public void Evaluate_FromTheModel_GivesTheReportOfEvaluatorEvaluate()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 10, Size = 48 });
            var test = new TestSet(ImageFolder.Load(folder.Path));
            using var model = TransferBuilder.FromResNet(18).ForClasses(test.Classes).OnDevice(CPU).WithSeed(5)
                .WithPreprocessing(new Preprocessing { ResizeSize = 40, CropSize = 32 }).Build();
            var options = new EvaluationOptions { PositiveClass = "PNEUMONIA", Bootstrap = new BootstrapOptions { Resamples = 20 } };
            var loader = new PredictionOptions { Loader = new LoaderOptions { Workers = 1 } };

            var fromModel = model.Evaluate(test, options, prediction: loader);
            var fromEvaluator = Evaluator.Evaluate(model, test, options, prediction: loader);

            Assert.Equal(10, fromModel.ConfusionMatrix.Total);
            Assert.Equal(fromEvaluator.Classification.Accuracy, fromModel.Classification.Accuracy);
            Assert.Equal(fromEvaluator.MacroRocAuc, fromModel.MacroRocAuc);
            Assert.Equal(fromEvaluator.Predictions.Labels, fromModel.Predictions.Labels);
            Assert.All(Enumerable.Range(0, 10), i => Assert.Equal(fromEvaluator.Predictions.Probability(i, 1), fromModel.Predictions.Probability(i, 1)));
        }
    }
}
