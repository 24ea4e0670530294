using System;
using System.Globalization;
using System.Linq;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Export
{
    /// <summary>Runs the children in order, folding a BatchNorm2d into the Conv2d before it.</summary>
    internal sealed class SequentialEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(Sequential);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name)
        {
            var children = module.named_children().ToArray();
            string x = input;
            for (int i = 0; i < children.Length; i++)
            {
                string childName = name + "." + children[i].name;
                if (children[i].module is Conv2d conv && i + 1 < children.Length && children[i + 1].module is BatchNorm2d bn)
                {
                    x = context.ConvolutionWithBatchNorm(conv, bn, x, childName, name + "." + children[i + 1].name);
                    i++;
                }
                else
                {
                    x = context.Emit(children[i].module, x, childName);
                }
            }

            return x;
        }
    }

    internal sealed class Conv2dEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(Conv2d);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name)
        {
            var conv = (Conv2d)module;
            return Write(context, conv, input, name, OnnxTensors.Floats(conv.weight!), conv.bias is null ? null : OnnxTensors.Floats(conv.bias));
        }

        public static string Write(OnnxEmitContext context, Conv2d conv, string input, string name, float[] weight, float[]? bias)
        {
            if (conv.padding_mode != TorchSharp.PaddingModes.Zeros)
            {
                throw new NotSupportedException(string.Format(CultureInfo.InvariantCulture, "The convolution '{0}' pads with {1}; the ONNX exporter writes zero padding only.", name, conv.padding_mode));
            }

            long[] shape = conv.weight!.shape;
            var g = context.Graph;
            var inputs = new[] { input, g.Initializer(name + ".weight", weight, shape) }.ToList();
            if (bias is not null)
            {
                inputs.Add(g.Initializer(name + ".bias", bias, shape[0]));
            }

            long[] stride = Pair(conv.stride, 1);
            long[] padding = Pair(conv.padding, 0);
            long[] dilation = Pair(conv.dilation, 1);
            return g.Node(
                "Conv",
                name,
                inputs,
                ("kernel_shape", new[] { shape[2], shape[3] }),
                ("strides", stride),
                ("pads", new[] { padding[0], padding[1], padding[0], padding[1] }),
                ("dilations", dilation),
                ("group", conv.groups));
        }

        internal static long[] Pair(long[]? values, long fallback) => values switch
        {
            null or { Length: 0 } => new[] { fallback, fallback },
            { Length: 1 } => new[] { values[0], values[0] },
            _ => new[] { values[0], values[1] },
        };
    }

    internal sealed class BatchNorm2dEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(BatchNorm2d);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name) => BatchNormEmitter.Write(context, (BatchNorm)module, input, name);
    }

    internal sealed class BatchNorm1dEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(BatchNorm1d);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name) => BatchNormEmitter.Write(context, (BatchNorm)module, input, name);
    }

    /// <summary>Eval-mode BatchNormalization with the running statistics (input [N, C] or [N, C, H, W]).</summary>
    internal static class BatchNormEmitter
    {
        public static string Write(OnnxEmitContext context, BatchNorm bn, string input, string name)
        {
            var g = context.Graph;
            float[] mean = OnnxTensors.Floats(bn.running_mean!);
            int n = mean.Length;
            float[] gamma = bn.weight is null ? Enumerable.Repeat(1f, n).ToArray() : OnnxTensors.Floats(bn.weight);
            float[] beta = bn.bias is null ? new float[n] : OnnxTensors.Floats(bn.bias);
            return g.Node(
                "BatchNormalization",
                name,
                new[]
                {
                    input,
                    g.Initializer(name + ".weight", gamma, n),
                    g.Initializer(name + ".bias", beta, n),
                    g.Initializer(name + ".running_mean", mean, n),
                    g.Initializer(name + ".running_var", OnnxTensors.Floats(bn.running_var!), n),
                },
                ("epsilon", (float)bn.eps));
        }
    }

    internal sealed class ReluEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(ReLU);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name) => context.Graph.Node("Relu", name, new[] { input });
    }

    internal sealed class MaxPool2dEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(MaxPool2d);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name)
        {
            var pool = (MaxPool2d)module;
            long[] kernel = Conv2dEmitter.Pair(pool.kernel_size, 1);
            long[] stride = pool.stride is null || pool.stride.Length == 0 ? kernel : Conv2dEmitter.Pair(pool.stride, 1);
            long[] padding = Conv2dEmitter.Pair(pool.padding, 0);
            long[] dilation = Conv2dEmitter.Pair(pool.dilation, 1);
            if (dilation.Any(d => d != 1) || pool.ceil_mode)
            {
                throw new NotSupportedException(string.Format(CultureInfo.InvariantCulture, "The max pool '{0}' uses dilation or ceil mode; the ONNX exporter writes plain max pools only.", name));
            }

            return context.Graph.Node(
                "MaxPool",
                name,
                new[] { input },
                ("kernel_shape", kernel),
                ("strides", stride),
                ("pads", new[] { padding[0], padding[1], padding[0], padding[1] }));
        }
    }

    /// <summary>Average pooling without ceil mode or a divisor override (DenseNet's transitions: 2x2, stride 2).</summary>
    internal sealed class AvgPool2dEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(AvgPool2d);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name)
        {
            var pool = (AvgPool2d)module;
            long[] kernel = Conv2dEmitter.Pair(pool.kernel_size, 1);
            long[] stride = pool.stride is null || pool.stride.Length == 0 ? kernel : Conv2dEmitter.Pair(pool.stride, 1);
            long[] padding = Conv2dEmitter.Pair(pool.padding, 0);
            if (pool.ceil_mode || pool.divisor_override is not null)
            {
                throw new NotSupportedException(string.Format(CultureInfo.InvariantCulture, "The average pool '{0}' uses ceil mode or a divisor override; the ONNX exporter writes plain average pools only.", name));
            }

            return context.Graph.Node(
                "AveragePool",
                name,
                new[] { input },
                ("kernel_shape", kernel),
                ("strides", stride),
                ("pads", new[] { padding[0], padding[1], padding[0], padding[1] }),
                ("count_include_pad", pool.count_include_pad ? 1L : 0L));
        }
    }

    /// <summary>SiLU (swish), x * sigmoid(x): ONNX up to opset 17 has no SiLU operator, so Sigmoid then Mul.</summary>
    internal sealed class SiLUEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(SiLU);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name)
        {
            string sigmoid = context.Graph.Node("Sigmoid", name + ".sigmoid", new[] { input });
            return context.Graph.Node("Mul", name, new[] { input, sigmoid });
        }
    }

    internal sealed class SigmoidEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(Sigmoid);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name) => context.Graph.Node("Sigmoid", name, new[] { input });
    }

    /// <summary>Adaptive average pooling to 1x1: GlobalAveragePool (the only size the SDK's networks use).</summary>
    internal sealed class AdaptiveAvgPool2dEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(AdaptiveAvgPool2d);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name) =>
            context.Graph.Node("GlobalAveragePool", name, new[] { input });
    }

    /// <summary>y = x W^T + b as Gemm (transB = 1), the weight stored as PyTorch keeps it.</summary>
    internal sealed class LinearEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(Linear);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name)
        {
            var linear = (Linear)module;
            var g = context.Graph;
            long[] shape = linear.weight!.shape;
            var inputs = new[] { input, g.Initializer(name + ".weight", OnnxTensors.Floats(linear.weight), shape) }.ToList();
            if (linear.bias is not null)
            {
                inputs.Add(g.Initializer(name + ".bias", OnnxTensors.Floats(linear.bias), shape[0]));
            }

            return g.Node("Gemm", name, inputs, ("transB", 1L));
        }
    }

    /// <summary>Dropout is the identity at inference: no node.</summary>
    internal sealed class DropoutEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(Dropout);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name) => input;
    }

    internal sealed class IdentityEmitter : IOnnxEmitter
    {
        public Type ModuleType => typeof(Identity);

        public string Emit(OnnxEmitContext context, nn.Module module, string input, string name) => input;
    }
}
