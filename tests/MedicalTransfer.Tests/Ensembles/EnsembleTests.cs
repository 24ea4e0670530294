using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Ensembles;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Explainability;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Ensembles
{
    public sealed class EnsembleTests
    {
        private static readonly string[] Classes = { "A", "B", "C" };

        private static Predictions Of(params double[][] rows) => new(Classes, rows.Select(_ => 0).ToArray(), rows.Select(r => (IReadOnlyList<double>)r).ToArray());

        private static TransferModel Model(int depth, Preprocessing? preprocessing = null, params string[] classes) =>
            TransferBuilder.FromResNet(depth).ForClasses(classes.Length == 0 ? new[] { "NORMAL", "PNEUMONIA" } : classes).OnDevice(CPU).WithSeed(depth)
                .WithPreprocessing(preprocessing ?? new Preprocessing { ResizeSize = 40, CropSize = 32 }).Build();

        [Fact]
        public void Of_ClassNamesInDifferentOrder_ThrowsNamingMember()
        {
            using var a = Model(18);
            using var b = Model(18, null, "PNEUMONIA", "NORMAL");
            var ex = Assert.Throws<ArgumentException>(() => Ensemble.Of(a, b));
            Assert.Contains("Member 1 (ResNet-18) has classes [PNEUMONIA, NORMAL] but member 0 (ResNet-18) has [NORMAL, PNEUMONIA]", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Of_OneModel_Throws()
        {
            using var a = Model(18);
            Assert.Throws<ArgumentException>(() => Ensemble.Of(a));
        }

        [Fact]
        public void Combine_HardVotingTie_GoesToHighestMeanProbabilityNotFirstClass()
        {
            using var m1 = Model(18, null, Classes);
            using var m2 = Model(18, null, Classes);
            var ensemble = Ensemble.Of(m1, m2).WithVoting(Voting.Hard);
            // Member 1 votes A (0.5), member 2 votes C (0.9): a 1-1 tie; mean A 0.3, C 0.5 -> C.
            var p1 = Of(new[] { 0.5, 0.4, 0.1 });
            var p2 = Of(new[] { 0.1, 0.0, 0.9 });
            var combined = ensemble.Combine(new[] { p1, p2 });
            Assert.Equal(2, combined.PredictedLabels[0]);
            Assert.Equal(0.3, combined.Probability(0, 0), 12);
            // Reversed member order: still C.
            Assert.Equal(2, ensemble.Combine(new[] { p2, p1 }).PredictedLabels[0]);
        }

        [Fact]
        public void Combine_HardVotingMajority_BeatsHigherMeanProbability()
        {
            using var m1 = Model(18, null, Classes);
            using var m2 = Model(18, null, Classes);
            using var m3 = Model(18, null, Classes);
            var ensemble = Ensemble.Of(m1, m2, m3).WithVoting(Voting.Hard);
            var combined = ensemble.Combine(new[] { Of(new[] { 0.5, 0.45, 0.05 }), Of(new[] { 0.5, 0.45, 0.05 }), Of(new[] { 0.0, 1.0, 0.0 }) });
            // Mean: A 0.333, B 0.633; but two of three vote A.
            Assert.Equal(0, combined.PredictedLabels[0]);
            Assert.Equal(1, Ensemble.Of(m1, m2, m3).Combine(new[] { Of(new[] { 0.5, 0.45, 0.05 }), Of(new[] { 0.5, 0.45, 0.05 }), Of(new[] { 0.0, 1.0, 0.0 }) }).PredictedLabels[0]);
        }

        [Fact]
        public void Combine_WeightedSoft_NormalisesWeights()
        {
            using var m1 = Model(18, null, Classes);
            using var m2 = Model(18, null, Classes);
            var ensemble = Ensemble.Of(m1, m2).WithWeights(3, 1);
            Assert.Equal(new[] { 0.75, 0.25 }, ensemble.Weights);
            var combined = ensemble.Combine(new[] { Of(new[] { 0.2, 0.8, 0.0 }), Of(new[] { 1.0, 0.0, 0.0 }) });
            Assert.Equal(0.4, combined.Probability(0, 0), 12);
            Assert.Equal(0.6, combined.Probability(0, 1), 12);
            Assert.Throws<ArgumentException>(() => ensemble.WithWeights(1, -1));
            Assert.Throws<ArgumentException>(() => ensemble.WithWeights(1));
        }

        [Fact]
        public void Predict_MembersWithDifferentDepthHeadAndPreprocessing_SoftVoteIsMeanOfMembers()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 6, Size = 48 });
            var data = ImageFolder.Load(folder.Path);
            using var a = Model(18, new Preprocessing { ResizeSize = 40, CropSize = 32 });
            using var b = TransferBuilder.FromResNet(34).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(5).WithHead(Head.Mlp(16))
                .WithPreprocessing(new Preprocessing { ResizeSize = 48, CropSize = 48, Mean = new[] { 0.5f, 0.5f, 0.5f }, Std = new[] { 0.25f, 0.25f, 0.25f } }).Build();
            var options = new PredictionOptions { Loader = new LoaderOptions { Workers = 1, BatchSize = 4 } };
            var pa = Evaluator.Predict(a, data, options);
            var pb = Evaluator.Predict(b, data, options);
            var ensemble = Evaluator.Predict(Ensemble.Of(a, b), data, options);
            Assert.Equal(6, ensemble.Count);
            for (int i = 0; i < 6; i++)
            {
                Assert.Equal((pa.Probability(i, 1) + pb.Probability(i, 1)) / 2, ensemble.Probability(i, 1), 12);
            }

            var report = Evaluator.Evaluate(Ensemble.Of(a, b), new TestSet(data), new EvaluationOptions { PositiveClass = "PNEUMONIA", Bootstrap = null });
            Assert.NotNull(report.Binary);
        }

        [Fact]
        public void Explain_Ensemble_PerMemberMapsInImageFrameAndNormalisedMean()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 2, Size = 48 });
            var files = Directory.GetFiles(folder.Path, "*.png", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            using var a = Model(18, new Preprocessing { ResizeSize = 40, CropSize = 32 });
            using var b = Model(34, new Preprocessing { ResizeSize = 48, CropSize = 48 });
            foreach (var ensemble in new[] { Ensemble.Of(a, b), Ensemble.Of(a, b).WithWeights(3, 1) })
            {
            var explanations = new GradCam().Explain(ensemble, files);
            Assert.Equal(2, explanations.Count);
            foreach (var e in explanations)
            {
                Assert.Equal(2, e.Members.Count);
                Assert.All(e.Members, m => Assert.Equal(e.TargetClass, m.TargetClass));
                Assert.All(e.MemberMaps, m => Assert.Equal((48, 48), (m.Width, m.Height)));
                Assert.Equal((48, 48), (e.Mean.Width, e.Mean.Height));

                // The mean map is the ensemble-weighted mean of the member maps, divided by its maximum.
                var weighted = Enumerable.Range(0, 48 * 48).Select(p => (ensemble.Weights[0] * e.MemberMaps[0].Values[p]) + (ensemble.Weights[1] * e.MemberMaps[1].Values[p])).ToArray();
                double peak = weighted.Max();
                Assert.True(peak > 0, "Grad-CAM of these members is not all zero");
                for (int p = 0; p < weighted.Length; p++)
                {
                    Assert.Equal(weighted[p] / peak, e.Mean.Values[p], 1e-5);
                }

                Assert.Equal(1f, e.Mean.Values.Max());
                // Each member map is that member's own explanation projected onto the image: its peak is 1 too.
                Assert.All(e.MemberMaps, m => Assert.Equal(1.0, m.Values.Max(), 1e-5));
                // Member a sees only the central 38x38 of the 48x48 image (crop 32 of 40): its border is 0.
                Assert.Equal(0f, e.MemberMaps[0][0, 0]);
                Assert.Equal((ensemble.Weights[0] * e.Members[0].Probabilities[e.TargetClass]) + (ensemble.Weights[1] * e.Members[1].Probabilities[e.TargetClass]), e.TargetProbability, 9);
            }
            }
        }
    
        [Fact]
        public void PredictAndExplain_ResNetDenseNetAndEfficientNetMembers_CombineLikeAnyMembers()
        {
            using var folder = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(folder.Path, new SyntheticChestXRayOptions { Count = 4, Size = 48 });
            var data = ImageFolder.Load(folder.Path);
            var files = data.Samples.Select(s => s.Path).ToArray();
            using var resnet = Model(18, new Preprocessing { ResizeSize = 40, CropSize = 32 });
            using var densenet = TransferBuilder.FromDenseNet(MedicalTransfer.Models.DenseNetArchitecture.Custom(8, 16, 2, 2, 2, 2)).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(2)
                .WithPreprocessing(new Preprocessing { ResizeSize = 48, CropSize = 48 }).Build();
            using var efficientnet = TransferBuilder.FromEfficientNet(0).ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(3)
                .WithPreprocessing(new Preprocessing { ResizeSize = 40, CropSize = 40 }).Build();
            var options = new PredictionOptions { Loader = new LoaderOptions { Workers = 1, BatchSize = 4 } };
            var members = new[] { resnet, densenet, efficientnet }.Select(m => Evaluator.Predict(m, data, options)).ToArray();
            var ensemble = Ensemble.Of(resnet, densenet, efficientnet);

            var combined = Evaluator.Predict(ensemble, data, options);
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(members.Average(p => p.Probability(i, 1)), combined.Probability(i, 1), 12);
            }

            var explanations = new GradCam().Explain(ensemble, files);
            Assert.All(explanations, e => Assert.Equal(new[] { "layer4", "denseblock4", "conv_head" }, e.Members.Select(m => m.Layer)));
            Assert.All(explanations, e => Assert.All(e.MemberMaps, m => Assert.Equal((48, 48), (m.Width, m.Height))));
            Assert.Contains("DenseNet (growth 8, 2-2-2-2)", ensemble.ToString(), StringComparison.Ordinal);
        }
    }
}
