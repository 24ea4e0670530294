using System;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// Re-initialises a network from a private generator, with the distributions torchvision uses, so
    /// that a seed gives the same weights whatever other threads do with TorchSharp's global generator.
    /// </summary>
    internal static class Initialization
    {
        public static void Reset(nn.Module module, Generator generator)
        {
            using var noGrad = no_grad();
            foreach (var (_, m) in module.named_modules())
            {
                switch (m)
                {
                    case Conv2d conv:
                        // torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / fan_out).
                        var w = conv.weight!;
                        double fanOut = w.shape[0] * w.shape[2] * w.shape[3];
                        w.normal_(0, Math.Sqrt(2.0 / fanOut), generator);
                        conv.bias?.uniform_(-1 / Math.Sqrt(w.shape[1] * w.shape[2] * w.shape[3]), 1 / Math.Sqrt(w.shape[1] * w.shape[2] * w.shape[3]), generator);
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
}
