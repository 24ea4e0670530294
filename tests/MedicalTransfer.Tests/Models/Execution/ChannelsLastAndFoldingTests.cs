using System;
using System.Collections.Generic;
using System.Linq;
using MedicalTransfer.Explainability;
using MedicalTransfer.Models;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Models.Execution
{
    /// <summary>
    /// Channels-last activations and folded BatchNorm are runtime choices: with them on, logits, gradients, features
    /// and explanations equal the NCHW, unfolded ones within 1e-5 relative (fp32 reordering), and the state dict is untouched.
    /// </summary>
    public class ChannelsLastAndFoldingTests
    {
        private const double Tolerance = 1e-5;
        private const double ReferenceFactor = 4;
        private readonly ITestOutputHelper output;

        public ChannelsLastAndFoldingTests(ITestOutputHelper output) => this.output = output;

        [Theory]
        [InlineData(18)]
        [InlineData(50)] // projection shortcuts: the strided 1x1 workaround runs on channels-last input
        public void ChannelsLast_BackwardWithRunningStatistics_LogitsAndEveryGradientMatchNchw(int depth)
        {
            // BatchNorm in evaluation mode with autograd on (Grad-CAM on a trainable model): a well-conditioned function,
            // so channels-last must give NCHW's logits and every parameter's gradient within 1e-5.
            using var model = TestSupport.SmallModel(depth);
            ExecutionFixtures.RandomiseBatchNorm(model);
            model.eval();
            using var input = ExecutionFixtures.Input(2, 11);
            var (nchwLogits, nchwGradients) = Step(model, input, channelsLast: false, fold: true);
            var (lastLogits, lastGradients) = Step(model, input, channelsLast: true, fold: true);
            double logitError = TestSupport.RelativeError(lastLogits, nchwLogits);
            output.WriteLine($"ResNet-{depth}: logits {logitError:E2}, worst parameter gradient {nchwGradients.Keys.Max(k => TestSupport.RelativeError(lastGradients[k], nchwGradients[k])):E2} relative");
            Assert.True(logitError <= Tolerance, $"logits differ by {logitError:E2} relative");
            Assert.Equal(model.parameters().Count(), lastGradients.Count);
            foreach (var key in nchwGradients.Keys)
            {
                double error = TestSupport.RelativeError(lastGradients[key], nchwGradients[key]);
                Assert.True(error <= Tolerance, $"{key}: gradient differs by {error:E2} relative");
            }
        }

        // ResNet-50 is left out: on 2 images of 64x64 its float32 NCHW gradients are already 1e-2 (all together) and
        // 0.11 (worst parameter) from float64, so no layout comparison means anything there; the test above covers its
        // channels-last backward, including the strided 1x1 workaround, with running statistics.
        [Theory]
        [InlineData(18)]
        public void ChannelsLast_TrainingStep_AsCloseToFloat64AsNchwIs(int depth)
        {
            // Training-mode BatchNorm on 2 images of 64x64 (layer4 normalises over 8 values per channel) amplifies
            // float32 rounding, so two float32 layouts may differ by more than 1e-5 while both are equally right:
            // each is compared with the float64 result, and channels-last must be within 1e-5 or four times NCHW's error
            // (logits, and all gradients together).
            using var model = TestSupport.SmallModel(depth);
            model.train();
            using var input = ExecutionFixtures.Input(2, 11);
            AssertAsCloseAsReference(model, input, fold: false, candidateChannelsLast: true, candidateFold: false, $"ResNet-{depth} channels-last");
        }

        [Fact]
        public void ChannelsLast_On_StageOutputsAreChannelsLastInMemory_Off_TheyAreNot()
        {
            using var model = TestSupport.SmallModel(18);
            model.eval();
            using var noGrad = no_grad();
            using var input = randn(1, 3, 64, 64);
            Assert.False(model.ChannelsLast);
            model.ChannelsLast = true;
            using (var on = model.ForwardTo(input, "layer2"))
            {
                Assert.True(MemoryLayout.IsChannelsLast(on));
                Assert.False(on.is_contiguous());
            }

            model.ChannelsLast = false;
            using var off = model.ForwardTo(input, "layer2");
            Assert.True(off.is_contiguous());
        }

        [Theory]
        [InlineData("densenet121")]
        [InlineData("efficientnet_b0")]
        [InlineData("resnet50")]
        public void ChannelsLastAndFolding_Eval_LogitsAndPooledFeaturesMatchNchw(string name)
        {
            using var model = ExecutionFixtures.Build(name);
            ExecutionFixtures.RandomiseBatchNorm(model);
            model.eval();
            using var noGrad = no_grad();
            using var input = ExecutionFixtures.Input(2, 5);
            model.ChannelsLast = false;
            model.FoldBatchNorm = false;
            using var expected = model.call(input);
            using var expectedFeatures = model.ForwardTo(input, "pooling");
            model.ChannelsLast = true;
            model.FoldBatchNorm = true;
            using var actual = model.call(input);
            using var actualFeatures = model.ForwardTo(input, "pooling");
            double error = TestSupport.RelativeError(actual, expected);
            double featureError = TestSupport.RelativeError(actualFeatures, expectedFeatures);
            output.WriteLine($"{name}: logits {error:E2}, pooled features {featureError:E2} relative");
            Assert.True(error <= Tolerance, $"logits differ by {error:E2} relative");
            Assert.True(featureError <= Tolerance, $"pooled features differ by {featureError:E2} relative");
        }

        [Fact]
        public void FoldBatchNorm_EvalResNet_BatchNormModulesDoNotRunAndStateDictIsUnchanged()
        {
            using var model = TestSupport.SmallModel(18);
            ExecutionFixtures.RandomiseBatchNorm(model);
            model.eval();
            var before = TestSupport.CloneState(model);
            var keys = model.state_dict().Keys.ToArray();
            using var noGrad = no_grad();
            Assert.False(model.FoldBatchNorm);
            model.FoldBatchNorm = true;
            int calls = CountBatchNormCalls(model, () => model.call(randn(1, 3, 64, 64)).Dispose());
            Assert.Equal(0, calls);
            Assert.True(TestSupport.StatesEqual(before, model), "folding changed the state dict");
            Assert.Equal(keys, model.state_dict().Keys.ToArray());

            model.FoldBatchNorm = false;
            Assert.Equal(20, CountBatchNormCalls(model, () => model.call(randn(1, 3, 64, 64)).Dispose()));
        }

        [Fact]
        public void FoldBatchNorm_FrozenPrefixWhileTraining_FoldsOnlyTheFrozenStagesAndGradientsMatch()
        {
            using var model = TestSupport.SmallModel(50, Layers.UpTo(2));
            ExecutionFixtures.RandomiseBatchNorm(model);
            model.train();
            using var input = ExecutionFixtures.Input(2, 12);
            AssertAsCloseAsReference(model, input, fold: false, candidateChannelsLast: true, candidateFold: true, "ResNet-50 UpTo(2) folded");

            // The frozen stages' BatchNorms fold (their modules do not run); the trainable ones run and train.
            var names = ExecutionFixtures.BatchNormNames(model);
            var frozen = names.Where(kv => !kv.Key.weight!.requires_grad).Select(kv => kv.Value).ToHashSet();
            var ran = new HashSet<string>();
            model.FoldBatchNorm = true;
            using (ExecutionFixtures.OnBatchNormForward(model, bn => ran.Add(names[bn])))
            {
                model.call(input).Dispose();
            }

            Assert.NotEmpty(frozen);
            Assert.Empty(ran.Intersect(frozen));
            Assert.Equal(names.Values.Except(frozen).OrderBy(n => n, StringComparer.Ordinal), ran.OrderBy(n => n, StringComparer.Ordinal));
        }

        [Fact]
        public void FoldBatchNorm_WeightsChangeLoadOrUnfreeze_FoldedOutputFollowsAtOnce()
        {
            using var model = TestSupport.SmallModel(18, Layers.All);
            ExecutionFixtures.RandomiseBatchNorm(model);
            model.eval();
            model.FoldBatchNorm = true;
            using var noGrad = no_grad();
            using var input = randn(1, 3, 64, 64);
            using var first = model.call(input);

            // A changed weight and running statistic (as a training step or a load leaves them) change the next output.
            var bn = (BatchNorm2d)model.named_modules().First(m => m.name == "layer1.0.bn1").module;
            bn.weight!.mul_(1.5);
            bn.running_var!.mul_(0.5);
            using var changed = model.call(input);
            Assert.False(changed.allclose(first, rtol: 1e-4, atol: 1e-6));
            model.FoldBatchNorm = false;
            using var unfolded = model.call(input);
            Assert.True(TestSupport.RelativeError(changed, unfolded) <= Tolerance);

            // Unfrozen and training: the BatchNorms run as modules again (they update their statistics).
            model.FoldBatchNorm = true;
            model.Freeze(Layers.None);
            model.train();
            using var enable = enable_grad();
            Assert.Equal(20, CountBatchNormCalls(model, () => model.call(input).Dispose()));
        }

        [Fact]
        public void GradCam_ChannelsLastAndFolded_SameMapsAsNchwUnfolded()
        {
            using var model = TestSupport.SmallModel(50, Layers.All);
            ExecutionFixtures.RandomiseBatchNorm(model);
            using var input = ExecutionFixtures.Input(2, 8);
            model.ChannelsLast = false;
            model.FoldBatchNorm = false;
            var expected = new GradCam("layer3").Explain(model, input);
            model.ChannelsLast = true;
            model.FoldBatchNorm = true;
            var actual = new GradCam("layer3").Explain(model, input);
            for (int i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i].PredictedClass, actual[i].PredictedClass);
                var a = actual[i].Upsampled.Values.ToArray();
                var e = expected[i].Upsampled.Values.ToArray();
                Assert.Equal(e.Length, a.Length);
                double worst = e.Zip(a, (x, y) => Math.Abs(x - y)).Max();
                Assert.True(worst <= 1e-4, $"image {i}: maps differ by {worst:E2}");
            }
        }

        /// <summary>
        /// Runs a step NCHW (with <paramref name="fold"/>), a step as the candidate, and the NCHW step in float64; the
        /// candidate's logits and gradients must be within 1e-5 of float64's or no more than four times as far as NCHW's.
        /// </summary>
        /// <remarks>
        /// Four, not two: over 12 inputs to ResNet-50 UpTo(2) in training mode, two equally right float32 runs (NCHW
        /// unfolded against channels-last folded) were 0.5x to 3.3x each other's logit error from float64 (3.6e-5 to
        /// 2.5e-4), so a bound of 2x failed on one input in four. A real folding defect (a lost shift, a wrong epsilon)
        /// moves the logits by 1e-3 relative or more, which the bound still catches.
        /// </remarks>
        private void AssertAsCloseAsReference(TransferModel model, Tensor input, bool fold, bool candidateChannelsLast, bool candidateFold, string label)
        {
            var (referenceLogits, referenceGradients) = Step(model, input, channelsLast: false, fold: fold);
            var (candidateLogits, candidateGradients) = Step(model, input, candidateChannelsLast, candidateFold);
            model.to(ScalarType.Float64);
            Tensor exactLogits;
            Dictionary<string, Tensor> exactGradients;
            try
            {
                using var wide = input.to(ScalarType.Float64);
                (exactLogits, exactGradients) = Step(model, wide, channelsLast: false, fold: false);
            }
            finally
            {
                model.to(ScalarType.Float32);
            }

            // Errors over all gradients together (L2, relative to float64's norm): a single parameter's largest element
            // can be mostly cancellation in training-mode BatchNorm, for either layout (printed for the record).
            var keys = referenceGradients.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
            Assert.Equal(keys, candidateGradients.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray());
            Assert.Equal(keys, exactGradients.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray());
            double referenceLogitError = TestSupport.RelativeError(referenceLogits, exactLogits);
            double candidateLogitError = TestSupport.RelativeError(candidateLogits, exactLogits);
            double referenceGradientError = ExecutionFixtures.GlobalError(referenceGradients, exactGradients);
            double candidateGradientError = ExecutionFixtures.GlobalError(candidateGradients, exactGradients);
            output.WriteLine($"{label}: logits {candidateLogitError:E2} from float64 (NCHW float32 {referenceLogitError:E2}); all gradients {candidateGradientError:E2} (NCHW {referenceGradientError:E2}); worst single parameter {keys.Max(k => TestSupport.RelativeError(candidateGradients[k], exactGradients[k])):E2} (NCHW {keys.Max(k => TestSupport.RelativeError(referenceGradients[k], exactGradients[k])):E2})");
            Assert.True(candidateLogitError <= Math.Max(Tolerance, ReferenceFactor * referenceLogitError), $"{label}, logits: {candidateLogitError:E2} from float64, NCHW float32 {referenceLogitError:E2}");
            Assert.True(candidateGradientError <= Math.Max(Tolerance, ReferenceFactor * referenceGradientError), $"{label}, gradients: {candidateGradientError:E2} from float64, NCHW float32 {referenceGradientError:E2}");
        }

        private static (Tensor Logits, Dictionary<string, Tensor> Gradients) Step(TransferModel model, Tensor input, bool channelsLast, bool fold)
        {
            model.ChannelsLast = channelsLast;
            model.FoldBatchNorm = fold;
            model.zero_grad();
            var logits = model.call(input);
            using (var loss = logits.square().sum())
            {
                loss.backward();
            }

            var gradients = model.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!.detach().clone());
            return (logits.detach(), gradients);
        }

        private static int CountBatchNormCalls(nn.Module model, Action run)
        {
            int calls = 0;
            using (ExecutionFixtures.OnBatchNormForward(model, _ => calls++))
            {
                run();
            }

            return calls;
        }
    }
}
