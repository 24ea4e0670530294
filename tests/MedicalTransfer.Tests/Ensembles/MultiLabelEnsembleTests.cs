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
            Assert.StartsWith("A hard-voting multi-label ensemble has no probabilities of its own", hard.Message, StringComparison.Ordinal);
            Assert.Contains("VoteFindings", hard.Message, StringComparison.Ordinal);
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

        // Member predictions with chosen probabilities for image 0 (image 1 all 0.5), same labels for every member.
        private static MultiLabelPredictions Probabilities(params double[] image0)
        {
            var p = new double[2 * Findings.Count];
            Array.Fill(p, 0.5);
            image0.CopyTo(p, 0);
            return new MultiLabelPredictions(Findings, p, new bool[2 * Findings.Count]);
        }

        private static FindingThresholds Thresholds(params double[] values) => FindingThresholds.Parse(
            System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object> { ["rule"] = "fixed", ["findings"] = Findings, ["thresholds"] = values }), Findings);

        [Fact]
        public void VoteFindings_ThreeMembers_MajorityPerFindingAtEachMembersOwnThreshold()
        {
            using var c = Member(new Preprocessing { ResizeSize = 40, CropSize = 32 }, Head.Linear(), seed: 2);
            var ensemble = Ensemble.Of(a, b, c).WithVoting(Voting.Hard);
            var members = new[] { Probabilities(0.6, 0.6, 0.3, 0.1), Probabilities(0.4, 0.4, 0.3, 0.1), Probabilities(0.7, 0.45, 0.3, 0.9) };
            var thresholds = new[] { Thresholds(0.5, 0.5, 0.2, 0.5), Thresholds(0.5, 0.5, 0.25, 0.5), Thresholds(0.5, 0.5, 0.5, 0.5) };

            FindingVotes votes = ensemble.VoteFindings(members, thresholds);

            Assert.Equal((3, 2), (votes.Members, votes.Count));
            Assert.Equal(new[] { 2, 1, 2, 1 }, Enumerable.Range(0, 4).Select(j => votes.VotesFor(0, j)));
            // Finding 2: every probability is 0.3, below the mean threshold, yet two members call it present at their own.
            Assert.Equal(new[] { true, false, true, false }, Enumerable.Range(0, 4).Select(j => votes.IsPresent(0, j)));
            Assert.All(Enumerable.Range(0, 4), j => Assert.True(votes.IsPresent(1, j), "0.5 at threshold 0.5 is a vote for present"));
        }

        [Fact]
        public void VoteFindings_TwoMembersSplit_TieGoesToTheMeanProbabilityAgainstTheMeanThreshold()
        {
            var ensemble = Ensemble.Of(a, b);
            // Default thresholds: the members have none of their own, so 0.5 each.
            var members = new[] { Probabilities(0.7, 0.9, 0.6, 0.2), Probabilities(0.2, 0.2, 0.5, 0.6) };

            FindingVotes votes = ensemble.VoteFindings(members);

            Assert.Equal(new[] { 1, 1, 2, 1 }, Enumerable.Range(0, 4).Select(j => votes.VotesFor(0, j)));
            // Means 0.45 (absent), 0.55 (present), 0.55 with both votes (present), 0.40 (absent).
            Assert.Equal(new[] { false, true, true, false }, Enumerable.Range(0, 4).Select(j => votes.IsPresent(0, j)));
        }

        [Fact]
        public void VoteFindings_ThresholdsForOneMemberOnly_ThrowsNamingTheCounts()
        {
            var ensemble = Ensemble.Of(a, b);
            var members = new[] { Probabilities(0.5), Probabilities(0.5) };

            var ex = Assert.Throws<ArgumentException>(() => ensemble.VoteFindings(members, new[] { Thresholds(0.5, 0.5, 0.5, 0.5) }));

            Assert.Contains("Expected thresholds of each of the 2 members; found 1", ex.Message, StringComparison.Ordinal);
        }
    }
}
