using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// A dense block: <see cref="DenseLayer"/>s registered as <c>denselayer1</c>, <c>denselayer2</c>... (torchvision's
    /// names), each reading the concatenation of the block's input and all earlier layers' outputs; the block returns
    /// that concatenation including the last layer's output, <c>inChannels + layers * growthRate</c> channels.
    /// </summary>
    public sealed class DenseBlock : nn.Module<Tensor, Tensor>
    {
        private readonly DenseLayer[] _layers;

        /// <summary>Creates a block.</summary>
        /// <param name="layers">Number of dense layers (6, 12, 24 and 16 in DenseNet-121's four blocks).</param>
        /// <param name="inChannels">Channels of the block's input.</param>
        /// <param name="growthRate">Channels each layer adds.</param>
        /// <param name="bottleneckSize">Bottleneck width as a multiple of the growth rate; 4.</param>
        public DenseBlock(int layers, int inChannels, int growthRate, int bottleneckSize = 4) : base(nameof(DenseBlock))
        {
            Guard.Positive(layers);
            Guard.Positive(inChannels);
            Guard.Positive(growthRate);
            InChannels = inChannels;
            OutChannels = inChannels + (layers * growthRate);
            _layers = new DenseLayer[layers];
            for (int i = 0; i < layers; i++)
            {
                _layers[i] = new DenseLayer(inChannels + (i * growthRate), growthRate, bottleneckSize);
                register_module("denselayer" + (i + 1).ToString(CultureInfo.InvariantCulture), _layers[i]);
            }
        }

        /// <summary>Channels of the input.</summary>
        public int InChannels { get; }

        /// <summary>Channels of the output: the input's plus every layer's.</summary>
        public int OutChannels { get; }

        /// <summary>The dense layers, in order.</summary>
        internal IReadOnlyList<DenseLayer> DenseLayers => _layers;

        /// <summary>Runs the block.</summary>
        /// <param name="input">A tensor [N, InChannels, H, W].</param>
        /// <returns>A tensor [N, OutChannels, H, W].</returns>
        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var features = new List<Tensor>(_layers.Length + 1) { input };
            foreach (var layer in _layers)
            {
                features.Add(layer.call(features.Count == 1 ? input : cat(features, 1)));
            }

            return cat(features, 1).MoveToOuterDisposeScope();
        }

        /// <summary>The layers are registered by name in the constructor; there is nothing else to register.</summary>
        protected override void RegisterComponents()
        {
        }
    }

    /// <summary>
    /// The transition between two dense blocks: BatchNorm, ReLU, 1x1 convolution (halving the channels in
    /// DenseNet-BC) and 2x2 average pooling with stride 2. Parameter names match torchvision's (<c>norm</c>, <c>conv</c>).
    /// Its BatchNorm comes before the ReLU and the convolution, so <see cref="BackboneNetwork.FoldBatchNorm"/> cannot
    /// fold it and it runs as a BatchNorm.
    /// </summary>
    public sealed class DenseTransition : nn.Module<Tensor, Tensor>
    {
        // Field names are state-dict keys: never rename them.
        private readonly TorchSharp.Modules.BatchNorm2d norm;
        private readonly TorchSharp.Modules.ReLU relu;
        private readonly TorchSharp.Modules.Conv2d conv;
        private readonly TorchSharp.Modules.AvgPool2d pool;

        /// <summary>Creates a transition.</summary>
        /// <param name="inChannels">Channels of the dense block's output.</param>
        /// <param name="outChannels">Channels after the 1x1 convolution (half of <paramref name="inChannels"/> in DenseNet-BC).</param>
        public DenseTransition(int inChannels, int outChannels) : base(nameof(DenseTransition))
        {
            Guard.Positive(inChannels);
            Guard.Positive(outChannels);
            InChannels = inChannels;
            OutChannels = outChannels;
            norm = nn.BatchNorm2d(inChannels);
            relu = nn.ReLU(inplace: true);
            conv = nn.Conv2d(inChannels, outChannels, kernel_size: 1, stride: 1, bias: false);
            pool = nn.AvgPool2d(kernel_size: 2, stride: 2);
            RegisterComponents();
        }

        /// <summary>Channels of the input.</summary>
        public int InChannels { get; }

        /// <summary>Channels of the output.</summary>
        public int OutChannels { get; }

        internal TorchSharp.Modules.BatchNorm2d Norm => norm;

        internal TorchSharp.Modules.Conv2d Conv => conv;

        internal TorchSharp.Modules.AvgPool2d Pool => pool;

        /// <summary>Runs the transition.</summary>
        /// <param name="input">A tensor [N, InChannels, H, W].</param>
        /// <returns>A tensor [N, OutChannels, H / 2, W / 2].</returns>
        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            // Pre-activation: norm follows the dense block's concatenation and precedes a ReLU, so it cannot fold.
            return pool.call(UnfoldedLayers.Convolution(conv, relu.call(UnfoldedLayers.BatchNorm(norm, input)))).MoveToOuterDisposeScope();
        }
    }
}
