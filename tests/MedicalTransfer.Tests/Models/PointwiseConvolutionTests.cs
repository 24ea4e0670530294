using System.Linq;
using MedicalTransfer.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Models
{
    /// <summary>
    /// 1x1 convolutions run as matrix products on the CPU while training (TorchSharp 0.107's oneDNN kills the
    /// process computing some of their input gradients): same outputs and gradients as the convolution.
    /// </summary>
    public class PointwiseConvolutionTests
    {
        [Theory]
        [InlineData(1)]
        [InlineData(2)]
        public void Apply_InputNeedsGradient_MatchesConvolutionValuesAndGradients(int stride)
        {
            manual_seed(3);
            using var conv = nn.Conv2d(8, 16, kernel_size: 1, stride: stride, bias: false);
            using var data = randn(2, 8, 9, 7);
            using var outputGradient = randn(2, 16, stride == 1 ? 9 : 5, stride == 1 ? 7 : 4);

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

        [Fact]
        public void Apply_NoGradientOrNotPointwise_IsTheModuleItself()
        {
            using var pointwise = nn.Conv2d(4, 6, kernel_size: 1, bias: false);
            using var threeByThree = nn.Conv2d(4, 6, kernel_size: 3, padding: 1, bias: false);
            using var x = randn(1, 4, 5, 5);
            using (no_grad())
            {
                using var viaApply = PointwiseConvolution.Apply(pointwise, x.requires_grad_(true));
                using var direct = pointwise.call(x);
                Assert.True(viaApply.Equals(direct));
            }

            using var y1 = PointwiseConvolution.Apply(threeByThree, x);
            using var y2 = threeByThree.call(x);
            Assert.True(y1.Equals(y2));
        }

        [Fact]
        [Trait("Category", "Slow")]
        public void ResNet50_FullTrainingStep_CompletesAndUpdatesLayer4()
        {
            // Before PointwiseConvolution this step died with SIGFPE in oneDNN (brgemm backward-data heuristic) on
            // x86-64 CPUs like CI's, at any batch or image size: the whole test run would abort here.
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
