using System;
using System.Collections.Generic;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Ensembles;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Models;
using MedicalTransfer.Prediction;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Ensembles
{
    /// <summary>Ensembles and test-time augmentation of multi-label models: sigmoid probabilities averaged per finding.</summary>
    public sealed class MultiLabelEnsembleTests : IDisposable
    {
        private static readonly IReadOnlyList<string> Findings = SyntheticChestXRay.PhantomFindings;
        private readonly TestSupport.TempFolder folder = new();
        private readonly ImageDataset dataset;
        private readonly TransferModel a;
        private readonly TransferModel b;

        public MultiLabelEnsembleTests()
        {
            var table = SyntheticChestXRay.WriteFindingsTable(folder.Path, new SyntheticChestXRayOptions { Count = 7, Size = 48, Seed = 21 });
            dataset = ImageTable.Load(table.TrainTable, SyntheticChestXRay.FindingsLayout, new ImageTableOptions { Root = table.Root });

            // Members differ in seed, head and preprocessing (each is fed the image its own way); both crop with a margin of 8.
            a = Member(new Preprocessing { ResizeSize = 40, CropSize = 32 }, Head.Mlp(16), seed: 9);
            b = Member(new Preprocessing { ResizeSize = 36, CropSize = 28 }, Head.Linear(), seed: 4);
        }

        public void Dispose()
        {
            a.Dispose();
            b.Dispose();
            folder.Dispose();
        }

        private static TransferModel Member(Preprocessing preprocessing, HeadSpec head, int seed, IReadOnlyList<string>? findings = null) =>
            TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1))
                .WithPreprocessing(preprocessing)
                .WithHead(head)
                .ForFindings(findings ?? Findings)
                .OnDevice(CPU)
                .WithSeed(seed)
                .Build();

        private static PredictionOptions Options(TestTimeAugmentation augmentation = TestTimeAugmentation.None) =>
            new() { Augmentation = augmentation, Loader = new LoaderOptions { Workers = 1, BatchSize = 4 } };

        [Fact]
        public void PredictFindings_SoftVoting_EqualsTheMeanOfTheMembersPredictOutputs()
        {
            var ensemble = Ensemble.Of(a, b);

            var combined = ensemble.PredictFindings(dataset, Options());

            Assert.True(ensemble.IsMultiLabel);
            Assert.Equal(Findings, combined.Findings);
            Assert.Equal(dataset.Count, combined.Count);
            var labels = a.PredictFindings(dataset, Options());
            for (int i = 0; i < dataset.Count; i++)
            {
                // Each member's own prediction verb on the file, averaged by hand.
                var pa = a.Predict(dataset.Samples[i].Path).Probabilities;
                var pb = b.Predict(dataset.Samples[i].Path).Probabilities;
                for (int j = 0; j < Findings.Count; j++)
                {
                    Assert.Equal((pa[j] + pb[j]) / 2, combined.Probability(i, j), 1e-6);
                    Assert.Equal(labels.IsObserved(i, j), combined.IsObserved(i, j));
                    Assert.Equal(labels.IsPositive(i, j), combined.IsPositive(i, j));
                }
            }

            // The members really differ, so a mean that ignored one of them would fail above.
            Assert.Contains(Enumerable.Range(0, dataset.Count), i => Math.Abs(a.Predict(dataset.Samples[i].Path).Probabilities[0] - b.Predict(dataset.Samples[i].Path).Probabilities[0]) > 1e-3);
        }

        [Fact]
        public void PredictFindings_WeightedSoft_IsTheWeightedMeanPerFinding()
        {
            var ensemble = Ensemble.Of(a, b).WithWeights(3, 1);
            var pa = a.PredictFindings(dataset, Options());
            var pb = b.PredictFindings(dataset, Options());

            var combined = ensemble.PredictFindings(dataset, Options());

            for (int i = 0; i < dataset.Count; i++)
            {
                for (int j = 0; j < Findings.Count; j++)
                {
                    Assert.Equal((0.75 * pa.Probability(i, j)) + (0.25 * pb.Probability(i, j)), combined.Probability(i, j), 1e-12);
                }
            }

            var report = ensemble.EvaluateFindings(new TestSet(dataset), FindingThresholds.Fixed(Findings, 0.4), Options());
            var expected = MultiLabelReport.Compute(combined, FindingThresholds.Fixed(Findings, 0.4));
            Assert.Equal(expected.ToTable(), report.ToTable());
        }

        [Fact]
        public void PredictFindings_FiveCropAndFlip_EqualsTheMeanOverTenViewsOfEachMemberComputedIndependently()
        {
            var ensemble = Ensemble.Of(a, b);
            var tta = TestTimeAugmentation.FiveCrop | TestTimeAugmentation.HorizontalFlip;

            var combined = ensemble.PredictFindings(dataset, Options(tta));
            var memberA = a.PredictFindings(dataset, Options(tta));
            var plain = ensemble.PredictFindings(dataset, Options());

            // Independently, per member: Resize(R), CenterCrop(R), normalise; torchvision's five_crop (margin 8: corners and
            // centre (4, 4)) and the mirror of each view; the mean of the ten sigmoid outputs, per finding.
            var expectedA = TenViewMean(a, 40, 32);
            var expectedB = TenViewMean(b, 36, 28);
            for (int i = 0; i < dataset.Count; i++)
            {
                for (int j = 0; j < Findings.Count; j++)
                {
                    int k = (i * Findings.Count) + j;
                    Assert.Equal(expectedA[k], memberA.Probability(i, j), 1e-5);
                    Assert.Equal((expectedA[k] + expectedB[k]) / 2, combined.Probability(i, j), 1e-5);
                }
            }

            Assert.Contains(Enumerable.Range(0, dataset.Count), i => Math.Abs(plain.Probability(i, 1) - combined.Probability(i, 1)) > 1e-4);
        }

        private double[] TenViewMean(TransferModel model, int resize, int crop)
        {
            model.eval();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var square = Transforms.Compose(Transforms.Resize(resize), Transforms.CenterCrop(resize), Transforms.Normalize(Preprocessing.ImageNet.Mean, Preprocessing.ImageNet.Std));
            using var loader = new DataLoader(dataset, square, new LoaderOptions { Sampling = SamplingMode.Sequential, BatchSize = 16, Workers = 1 });
            var images = loader.GetBatches(0).Single().Images;
            int m = resize - crop;
            Tensor sum = zeros(dataset.Count, Findings.Count, dtype: ScalarType.Float64);
            foreach (var (top, left) in new[] { (0, 0), (0, m), (m, 0), (m, m), (m / 2, m / 2) })
            {
                var view = images[.., .., top..(top + crop), left..(left + crop)];
                sum = sum + sigmoid(model.call(view).to(ScalarType.Float64)) + sigmoid(model.call(view.flip(3)).to(ScalarType.Float64));
            }

            return (sum / 10).data<double>().ToArray();
        }

        [Fact]
        public void Of_MembersWithDifferentFindings_ThrowsNamingTheMemberAndBothLists()
        {
            using var other = Member(new Preprocessing { ResizeSize = 40, CropSize = 32 }, Head.Linear(), seed: 1, findings: new[] { "Left Opacity", "Cardiomegaly", "Right Opacity", "Pleural Effusion" });

            var ex = Assert.Throws<ArgumentException>(() => Ensemble.Of(a, other));

            Assert.Equal("models", ex.ParamName);
            Assert.StartsWith(
                "Member 1 (ResNet (basic, 1-1-1-1)) has findings [Left Opacity, Cardiomegaly, Right Opacity, Pleural Effusion] but member 0 (ResNet (basic, 1-1-1-1)) has [Left Opacity, Right Opacity, Cardiomegaly, Pleural Effusion]; members must share findings in the same order",
                ex.Message,
                StringComparison.Ordinal);
        }

        [Fact]
        public void Of_MultiLabelAndSingleLabelMembers_ThrowsNamingBoth()
        {
            using var single = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).Build();

            var ex = Assert.Throws<ArgumentException>(() => Ensemble.Of(single, a));

            Assert.StartsWith("Member 1 (ResNet (basic, 1-1-1-1)) is multi-label with findings [Left Opacity, Right Opacity, Cardiomegaly, Pleural Effusion] but member 0 (ResNet (basic, 1-1-1-1)) is single-label with classes [NORMAL, PNEUMONIA]", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void EvaluatorPredict_MultiLabelEnsemble_PointsToPredictFindings()
        {
            var ensemble = Ensemble.Of(a, b);

            var ex = Assert.Throws<ArgumentException>(() => Evaluator.Predict(ensemble, dataset));
            var hard = Assert.Throws<InvalidOperationException>(() => ensemble.WithVoting(Voting.Hard).PredictFindings(dataset));

            Assert.Contains("Use ensemble.PredictFindings(dataset)", ex.Message, StringComparison.Ordinal);
            Assert.StartsWith("Hard voting is not defined for a multi-label ensemble", hard.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void CombineFindings_PredictionsOfOtherImages_Throws()
        {
            var ensemble = Ensemble.Of(a, b);
            var pa = a.PredictFindings(dataset, Options());
            var fewer = new MultiLabelPredictions(Findings, new double[Findings.Count], new bool[Findings.Count]);

            var ex = Assert.Throws<ArgumentException>(() => ensemble.CombineFindings(new[] { pa, fewer }));

            Assert.StartsWith("Predictions of member 1 are not of the same images", ex.Message, StringComparison.Ordinal);
        }
    }
}
