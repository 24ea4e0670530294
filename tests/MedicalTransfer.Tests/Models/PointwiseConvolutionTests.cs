using System.Linq;
using MedicalTransfer.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Models
{
    /// <summary>
    /// Strided 1x1 convolutions run as matrix products on the CPU while training (TorchSharp 0.107's oneDNN kills the
    /// process computing their input gradients): same outputs and gradients as the convolution.
    /// </summary>
    public class PointwiseConvolutionTests
    {
        [Theory]
        [InlineData(9, 7)]
        [InlineData(14, 14)]
        public void Apply_StridedInputNeedsGradient_MatchesConvolutionValuesAndGradients(int height, int width)
        {
            manual_seed(3);
            using var conv = nn.Conv2d(8, 16, kernel_size: 1, stride: 2, bias: false);
            using var data = randn(2, 8, height, width);
            using var outputGradient = randn(2, 16, (height + 1) / 2, (width + 1) / 2);

            using var x1 = data.clone().requires_grad_(true);
            using var y1 = PointwiseConvolution.Apply(conv, x1);
            y1.backward(new[] { outputGradient });
            using var inputGradient1 = x1.grad!.clone();
            using var weightGradient1 = conv.weight!.grad!.clone();
            conv.zero_grad();

            using var x2 = data.clone().requires_grad_(true);
            using var y2 = conv.call(x2);
            y2.backward(new[] { outputGradient });

            Assert.Equal(y2.shape, y1.shape);
            Assert.True(y1.allclose(y2, rtol: 1e-5, atol: 1e-5), "outputs differ");
            Assert.True(inputGradient1.allclose(x2.grad!, rtol: 1e-5, atol: 1e-5), "input gradients differ");
            Assert.True(weightGradient1.allclose(conv.weight!.grad!, rtol: 1e-5, atol: 1e-5), "weight gradients differ");
        }

        [Theory]
        [InlineData(1, 1, true, true)] // stride-1 1x1: oneDNN's own kernels are safe
        [InlineData(3, 2, true, true)] // not 1x1
        [InlineData(1, 2, false, true)] // no input gradient (frozen stage, inference)
        [InlineData(1, 2, true, false)] // under no_grad
        public void Apply_AnythingButAStridedPointwiseConvolutionNeedingAnInputGradient_RunsTheModuleItself(int kernel, int stride, bool inputNeedsGradient, bool gradientMode)
        {
            manual_seed(4);
            using var conv = nn.Conv2d(8, 6, kernel_size: kernel, stride: stride, padding: kernel / 2, bias: false);
            using var x = randn(2, 8, 6, 6).requires_grad_(inputNeedsGradient);
            int calls = 0;
            _ = conv.register_forward_hook((module, input, output) =>
            {
                calls++;
                return output;
            });
            using (var mode = set_grad_enabled(gradientMode))
            {
                using var y1 = PointwiseConvolution.Apply(conv, x);
                using var y2 = conv.call(x);
                Assert.True(y1.Equals(y2));
            }

            Assert.Equal(2, calls);
        }

        [Fact]
        public void Apply_StridedPointwiseNeedingInputGradient_TakesTheMatrixProduct()
        {
            // The other side of the test above: the hook does not run, so the convolution kernel did not.
            using var conv = nn.Conv2d(8, 6, kernel_size: 1, stride: 2, bias: false);
            using var x = randn(2, 8, 6, 6).requires_grad_(true);
            int calls = 0;
            _ = conv.register_forward_hook((module, input, output) =>
            {
                calls++;
                return output;
            });
            using var y = PointwiseConvolution.Apply(conv, x);
            Assert.Equal(0, calls);
        }

        [Fact]
        [Trait("Category", "Slow")]
        public void ResNet50_FullTrainingStep_CompletesAndUpdatesLayer4()
        {
            // Before PointwiseConvolution this step died with SIGFPE in oneDNN (brgemm backward-data heuristic for the
            // stride-2 projections) on x86-64 CPUs like CI's, at any batch or image size: the whole test run would abort
            // here. The stride-1 1x1 convolutions run oneDNN's own kernels in this step.
            manual_seed(5);
            using var model = TransferBuilder.FromResNet(50).ForClasses("NORMAL", "PNEUMONIA").WithSeed(5).Build();
            model.train();
            var parameters = model.parameters().ToArray();
            using var optimizer = optim.SGD(parameters, 0.1);
            using var before = model.state_dict()["layer4.0.conv1.weight"].clone();
            using (var scope = NewDisposeScope())
            {
                var loss = nn.functional.cross_entropy(model.forward(randn(2, 3, 64, 64)), tensor(new long[] { 0, 1 }));
                loss.backward();
                optimizer.step();
            }

            Assert.False(before.Equals(model.state_dict()["layer4.0.conv1.weight"]), "layer4 did not train");
            Assert.All(parameters.Where(p => p.requires_grad), p => Assert.NotNull(p.grad));
        }
    }
}
