using System.Linq;
using MedicalTransfer.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Training
{
    [Collection(TrainingCollection.Name)]
    public class OptimizerTests
    {
        [Fact]
        public void AdamW_ThreeSteps_MatchesTorchSharpAdamWBitwise()
        {
            AssertMatches(
                (g) => new AdamWOptimizer(g, 0.9, 0.999, 1e-8, 0.01),
                p => optim.AdamW(p, lr: 0.05, weight_decay: 0.01));
        }

        [Fact]
        public void Sgd_ThreeSteps_MatchesTorchSharpSgdBitwise()
        {
            AssertMatches(
                (g) => new SgdOptimizer(g, 0.9, 1e-3),
                p => optim.SGD(p, 0.05, momentum: 0.9, weight_decay: 1e-3));
        }

        [Fact]
        public void Step_ParameterWithoutGradient_IsLeftUntouched()
        {
            using var a = nn.Linear(3, 2);
            using var before = a.weight!.detach().clone();
            var groups = new[] { new ParameterGroup("all", a.named_parameters().ToList(), 0.1) };
            using var optimizer = new AdamWOptimizer(groups, 0.9, 0.999, 1e-8, 0.5);
            optimizer.Step();
            Assert.True(a.weight!.Equals(before));
            Assert.Empty(optimizer.StateTensors());
        }

        [Fact]
        public void ZeroGradients_TrainableKeepZeroedBuffers_FrozenLoseThem()
        {
            using var a = nn.Linear(3, 2);
            var groups = new[] { new ParameterGroup("all", a.named_parameters().ToList(), 0.1) };
            using var optimizer = new AdamWOptimizer(groups, 0.9, 0.999, 1e-8, 0.5);
            a.call(randn(4, 3)).sum().backward();
            a.bias!.requires_grad_(false);

            optimizer.ZeroGradients();

            using var weightGradient = a.weight!.grad;
            Assert.NotNull(weightGradient);
            Assert.Equal(0f, weightGradient!.abs().max().item<float>());
            Assert.Null(a.bias!.grad);
        }

        [Fact]
        public void Step_ParameterFrozenAfterBackward_IsLeftUntouched()
        {
            using var a = nn.Linear(3, 2);
            using var weightBefore = a.weight!.detach().clone();
            using var biasBefore = a.bias!.detach().clone();
            var groups = new[] { new ParameterGroup("all", a.named_parameters().ToList(), 0.1) };
            using var optimizer = new AdamWOptimizer(groups, 0.9, 0.999, 1e-8, 0.5);
            a.call(randn(4, 3)).sum().backward();
            a.weight!.requires_grad_(false);

            optimizer.Step();

            Assert.True(a.weight!.Equals(weightBefore));
            Assert.False(a.bias!.Equals(biasBefore));
        }

        private static void AssertMatches(System.Func<ParameterGroup[], ParameterOptimizer> ours, System.Func<System.Collections.Generic.IEnumerable<TorchSharp.Modules.Parameter>, optim.Optimizer> theirs)
        {
            random.manual_seed(3);
            using var a = nn.Linear(4, 3);
            using var b = nn.Linear(4, 3);
            b.load_state_dict(a.state_dict());
            var x = randn(5, 4);
            var groups = new[] { new ParameterGroup("all", a.named_parameters().ToList(), 0.05) };
            using var mine = ours(groups);
            using var reference = theirs(b.parameters());
            for (int i = 0; i < 3; i++)
            {
                a.call(x).square().sum().backward();
                mine.Step();
                mine.ZeroGradients();
                reference.zero_grad();
                b.call(x).square().sum().backward();
                reference.step();
            }

            Assert.True(a.weight!.Equals(b.weight!));
            Assert.True(a.bias!.Equals(b.bias!));
        }
    }
}
