using System;
using System.Collections.Generic;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// Initialises modules with the distributions torchvision uses, from the global generator when a backbone is
    /// created and again from a private generator when a seed is given, so that a seed gives the same weights
    /// whatever other threads do with TorchSharp's global generator.
    /// </summary>
    internal static class Initialization
    {
        /// <summary>Re-initialises a whole network (backbone and head) from <paramref name="generator"/>.</summary>
        public static void Reset(BackboneNetwork network, Generator generator)
        {
            var children = new List<(string, nn.Module)>();
            foreach (var child in network.named_children())
            {
                children.Add(child);
            }

            Apply(children, network.Body.Architecture.ConvolutionInit, generator);
        }

        /// <summary>
        /// Initialises the given top-level modules and everything inside them, in the order of <c>named_modules()</c>
        /// of a network that holds them (the top-level modules first, then each one's descendants).
        /// </summary>
        public static void Apply(IReadOnlyList<(string Name, nn.Module Module)> topLevel, ConvolutionInit convolutions, Generator? generator)
        {
            using var noGrad = no_grad();
            foreach (var (_, module) in topLevel)
            {
                Initialize(module, convolutions, generator);
            }

            foreach (var (_, module) in topLevel)
            {
                foreach (var (_, inner) in module.named_modules())
                {
                    Initialize(inner, convolutions, generator);
                }
            }
        }

        private static void Initialize(nn.Module module, ConvolutionInit convolutions, Generator? generator)
        {
            // Some in-place calls (fill_) hand back a new wrapper of the parameter; the scope frees those wrappers
            // (20 per ResNet-18 outlived a model built and disposed), never the parameters made before it.
            using var scope = NewDisposeScope();
            switch (module)
            {
                case Conv2d conv:
                    // torchvision: kaiming_normal_ with the ReLU gain: std = sqrt(2 / fan), fan_out = out * kh * kw, fan_in = in / groups * kh * kw.
                    var w = conv.weight!;
                    double receptive = w.shape[2] * w.shape[3];
                    double fanIn = w.shape[1] * receptive;
                    double fan = convolutions == ConvolutionInit.KaimingFanIn ? fanIn : w.shape[0] * receptive;
                    w.normal_(0, Math.Sqrt(2.0 / fan), generator);
                    if (conv.bias is { } bias)
                    {
                        if (convolutions == ConvolutionInit.KaimingFanOutZeroBias)
                        {
                            bias.zero_();
                        }
                        else
                        {
                            // PyTorch's default bias: uniform in +-1 / sqrt(fan_in).
                            bias.uniform_(-1 / Math.Sqrt(fanIn), 1 / Math.Sqrt(fanIn), generator);
                        }
                    }

                    break;
                case BatchNorm bn:
                    bn.weight?.fill_(1);
                    bn.bias?.zero_();
                    break;
                case Linear linear:
                    // PyTorch's default: kaiming_uniform_(a=sqrt(5)) gives the bound 1 / sqrt(fan_in), as does the bias.
                    double bound = 1 / Math.Sqrt(linear.weight!.shape[1]);
                    linear.weight!.uniform_(-bound, bound, generator);
                    linear.bias?.uniform_(-bound, bound, generator);
                    break;
            }
        }
    }
}
