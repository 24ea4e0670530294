using System;
using System.Collections.Generic;
using System.Linq;
using MedicalTransfer.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Models.Execution
{
    /// <summary>
    /// What the execution-option tests (channels-last, folded BatchNorm, bfloat16) share: backbones whose BatchNorms have
    /// something to fold, seeded inputs, the error over many tensors together, and hooks that see which BatchNorms run.
    /// </summary>
    internal static class ExecutionFixtures
    {
        /// <summary>
        /// Documented in docs/training.md: bfloat16 keeps 8 significant bits, so logits of a randomly initialised
        /// backbone stay within 5% of their largest magnitude (measured about 1e-2; see the tests' output).
        /// </summary>
        internal const double BFloat16Tolerance = 5e-2;

        /// <summary>A two-class model of one of the catalog's backbones: densenet121, efficientnet_b0 or resnetN.</summary>
        internal static TransferModel Build(string name)
        {
            var builder = name switch
            {
                "densenet121" => TransferBuilder.FromDenseNet(121),
                "efficientnet_b0" => TransferBuilder.FromEfficientNet(0),
                _ => TransferBuilder.FromResNet(int.Parse(name["resnet".Length..], System.Globalization.CultureInfo.InvariantCulture)),
            };
            return builder.ForClasses("NORMAL", "PNEUMONIA").OnDevice(CPU).WithSeed(3).Build();
        }

        /// <summary>Running statistics and affine parameters away from 0/1, so folding has something to fold.</summary>
        internal static void RandomiseBatchNorm(nn.Module model)
        {
            using var noGrad = no_grad();
            var generator = new Generator(21);
            foreach (var bn in model.modules().OfType<BatchNorm2d>())
            {
                long c = bn.num_features;
                bn.running_mean!.copy_(randn(new long[] { c }, generator: generator) * 0.1);
                bn.running_var!.copy_(rand(new long[] { c }, generator: generator) + 0.5);
                bn.weight!.copy_(rand(new long[] { c }, generator: generator) + 0.5);
                bn.bias!.copy_(randn(new long[] { c }, generator: generator) * 0.1);
            }
        }

        /// <summary>
        /// <paramref name="batch"/> random 3 x 64 x 64 images drawn from a generator of their own (not the global
        /// generator: test classes run in parallel), so each test sees the same input on every run.
        /// </summary>
        internal static Tensor Input(long batch, ulong seed)
        {
            using var generator = new Generator(seed);
            return randn(new long[] { batch, 3, 64, 64 }, generator: generator);
        }

        /// <summary>|actual - expected| / |expected| over all tensors together (L2), in float64.</summary>
        internal static double GlobalError(Dictionary<string, Tensor> actual, Dictionary<string, Tensor> expected)
        {
            using var scope = NewDisposeScope();
            var keys = expected.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
            var difference = cat(keys.Select(k => (actual[k].to(ScalarType.Float64) - expected[k].to(ScalarType.Float64)).flatten()).ToArray());
            var reference = cat(keys.Select(k => expected[k].to(ScalarType.Float64).flatten()).ToArray());
            return difference.norm().item<double>() / reference.norm().item<double>();
        }

        /// <summary>Every BatchNorm module of <paramref name="model"/>, with its name.</summary>
        internal static Dictionary<BatchNorm2d, string> BatchNormNames(nn.Module model) =>
            model.named_modules().Where(m => m.module is BatchNorm2d).ToDictionary(m => (BatchNorm2d)m.module, m => m.name);

        /// <summary>Calls <paramref name="onCall"/> whenever one of the model's BatchNorm modules runs its forward, until disposed.</summary>
        internal static IDisposable OnBatchNormForward(nn.Module model, Action<BatchNorm2d> onCall)
        {
            var removers = model.modules().OfType<BatchNorm2d>()
                .Select(bn => (Action)bn.register_forward_hook((m, i, o) =>
                {
                    onCall(bn);
                    return o;
                }).remove)
                .ToArray();
            return new Removers(removers);
        }

        private sealed class Removers : IDisposable
        {
            private readonly Action[] removers;

            public Removers(Action[] removers) => this.removers = removers;

            public void Dispose()
            {
                foreach (var remove in removers)
                {
                    remove();
                }
            }
        }
    }
}
