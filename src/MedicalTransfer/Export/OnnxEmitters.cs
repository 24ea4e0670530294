using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MedicalTransfer.Export
{
    /// <summary>
    /// Translates one kind of module into ONNX nodes. The exporter walks the model's modules and asks the emitter
    /// registered for each module's type (or its nearest base type) to write it; composite emitters recurse through
    /// <see cref="OnnxEmitContext.Emit"/>. A new architecture gets ONNX export by registering emitters for its blocks.
    /// </summary>
    internal interface IOnnxEmitter
    {
        /// <summary>The module type this emitter writes (subclasses included, unless a closer emitter is registered).</summary>
        Type ModuleType { get; }

        /// <summary>Writes <paramref name="module"/> applied to the value <paramref name="input"/> and returns the output value's name.</summary>
        string Emit(OnnxEmitContext context, nn.Module module, string input, string name);
    }

    /// <summary>The emitters known to the exporter, by module type.</summary>
    internal static class OnnxEmitters
    {
        private static readonly Dictionary<Type, IOnnxEmitter> Registry = Create();

        /// <summary>The emitter for a module's type or its nearest base type; null when there is none.</summary>
        public static IOnnxEmitter? For(Type type)
        {
            for (Type? t = type; t is not null; t = t.BaseType)
            {
                if (Registry.TryGetValue(t, out var emitter))
                {
                    return emitter;
                }
            }

            return null;
        }

        /// <summary>The module types that can be exported, for error messages.</summary>
        public static string Known => string.Join(", ", Registry.Keys.Select(t => t.Name).OrderBy(n => n, StringComparer.Ordinal));

        private static Dictionary<Type, IOnnxEmitter> Create()
        {
            var emitters = new IOnnxEmitter[]
            {
                new SequentialEmitter(),
                new Conv2dEmitter(),
                new BatchNorm2dEmitter(),
                new BatchNorm1dEmitter(),
                new ReluEmitter(),
                new MaxPool2dEmitter(),
                new AdaptiveAvgPool2dEmitter(),
                new LinearEmitter(),
                new DropoutEmitter(),
                new IdentityEmitter(),
                new AvgPool2dEmitter(),
                new SiLUEmitter(),
                new SigmoidEmitter(),
                new BackboneNetworkEmitter(),
                new BasicBlockEmitter(),
                new BottleneckEmitter(),
                new DenseBlockEmitter(),
                new DenseLayerEmitter(),
                new DenseTransitionEmitter(),
                new MBConvEmitter(),
                new SqueezeExcitationEmitter(),
                new StochasticDepthEmitter(),
            };
            return emitters.ToDictionary(e => e.ModuleType);
        }
    }

    /// <summary>What emitters share: the graph being written, the options, and dispatch to other emitters.</summary>
    internal sealed class OnnxEmitContext
    {
        public OnnxEmitContext(OnnxGraphWriter graph, OnnxExportOptions options)
        {
            Graph = graph;
            Options = options;
        }

        public OnnxGraphWriter Graph { get; }

        public OnnxExportOptions Options { get; }

        /// <summary>Writes any module through its registered emitter.</summary>
        /// <exception cref="NotSupportedException">No emitter knows the module's type; the message names it.</exception>
        public string Emit(nn.Module module, string input, string name)
        {
            var emitter = OnnxEmitters.For(module.GetType()) ?? throw new NotSupportedException(string.Format(
                CultureInfo.InvariantCulture,
                "The module '{0}' is a {1}, which the ONNX exporter cannot translate. It exports these module types: {2}. Heads made with Head.Linear() or Head.Mlp(...) export; a custom head must be built from those modules (for example nn.Sequential of Linear, ReLU, BatchNorm1d and Dropout).",
                name, module.GetType().FullName, OnnxEmitters.Known));
            return emitter.Emit(this, module, input, name);
        }

        /// <summary>A convolution and the BatchNorm after it: one Conv with the BatchNorm folded in, or Conv then BatchNormalization.</summary>
        public string ConvolutionWithBatchNorm(Conv2d conv, BatchNorm2d bn, string input, string name, string bnName)
        {
            if (!Options.FoldBatchNorm)
            {
                return Emit(bn, Emit(conv, input, name), bnName);
            }

            var (scale, shift) = OnnxTensors.BatchNormAffine(bn);
            float[] weight = OnnxTensors.Floats(conv.weight!);
            long[] shape = conv.weight!.shape;
            int perChannel = (int)(weight.Length / shape[0]);
            float[] bias = conv.bias is null ? new float[shape[0]] : OnnxTensors.Floats(conv.bias);
            var foldedWeight = new float[weight.Length];
            var foldedBias = new float[shape[0]];
            for (int o = 0; o < shape[0]; o++)
            {
                for (int k = 0; k < perChannel; k++)
                {
                    foldedWeight[(o * perChannel) + k] = (float)(weight[(o * perChannel) + k] * scale[o]);
                }

                foldedBias[o] = (float)((bias[o] * scale[o]) + shift[o]);
            }

            return Conv2dEmitter.Write(this, conv, input, name, foldedWeight, foldedBias);
        }

        /// <summary>The children of a module by name (a module's fields are its state-dict keys).</summary>
        public static Dictionary<string, nn.Module> Children(nn.Module module) =>
            module.named_children().ToDictionary(c => c.name, c => c.module, StringComparer.Ordinal);

        public static T Child<T>(Dictionary<string, nn.Module> children, string name, nn.Module owner)
            where T : nn.Module =>
            children.TryGetValue(name, out var m) && m is T typed
                ? typed
                : throw new NotSupportedException(string.Format(CultureInfo.InvariantCulture, "The ONNX exporter expected a {0} named '{1}' in {2}; it has {3}.", typeof(T).Name, name, owner.GetType().Name, string.Join(", ", children.Select(c => c.Key + " (" + c.Value.GetType().Name + ")"))));
    }

    /// <summary>Reading parameters and buffers as float arrays.</summary>
    internal static class OnnxTensors
    {
        public static float[] Floats(Tensor tensor)
        {
            using var scope = NewDisposeScope();
            return tensor.detach().cpu().to(ScalarType.Float32).contiguous().data<float>().ToArray();
        }

        /// <summary>Eval-mode BatchNorm as y = x * scale + shift per channel, in double precision.</summary>
        public static (double[] Scale, double[] Shift) BatchNormAffine(BatchNorm bn)
        {
            float[] mean = Floats(bn.running_mean!);
            float[] variance = Floats(bn.running_var!);
            int n = mean.Length;
            float[] gamma = bn.weight is null ? Enumerable.Repeat(1f, n).ToArray() : Floats(bn.weight);
            float[] beta = bn.bias is null ? new float[n] : Floats(bn.bias);
            var scale = new double[n];
            var shift = new double[n];
            for (int c = 0; c < n; c++)
            {
                scale[c] = gamma[c] / Math.Sqrt(variance[c] + bn.eps);
                shift[c] = beta[c] - (mean[c] * scale[c]);
            }

            return (scale, shift);
        }
    }
}
