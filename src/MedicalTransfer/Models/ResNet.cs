using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// A ResNet built from <see cref="BasicBlock"/> or <see cref="Bottleneck"/> blocks, with
    /// parameter and buffer names identical to torchvision's <c>state_dict</c> keys (<c>conv1.weight</c>,
    /// <c>bn1.running_mean</c>, <c>layer3.5.conv2.weight</c>, <c>layer2.0.downsample.1.bias</c>,
    /// <c>fc.weight</c>...), so PyTorch checkpoints load with no renaming. Its named stages are
    /// <c>stem</c> (conv1, bn1, ReLU, max pool), <c>layer1</c>..<c>layer4</c>, <c>pooling</c> (global
    /// average pool and flatten) and <c>head</c> (the module registered as <c>fc</c>).
    /// </summary>
    public class ResNet : Module<Tensor, Tensor>
    {
        /// <summary>The stage names, in forward order.</summary>
        public static IReadOnlyList<string> StageNames { get; } = Array.AsReadOnly(new[] { Stages.Stem, Stages.Layer1, Stages.Layer2, Stages.Layer3, Stages.Layer4, Stages.Pooling, Stages.Head });

        // Field names are state-dict keys: never rename them.
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly MaxPool2d maxpool;
        private readonly Sequential layer1;
        private readonly Sequential layer2;
        private readonly Sequential layer3;
        private readonly Sequential layer4;
        private readonly AdaptiveAvgPool2d avgpool;
        private readonly Module<Tensor, Tensor> fc;

        /// <summary>Creates a ResNet with a linear classifier, initialised as torchvision does.</summary>
        /// <param name="architecture">Block type and stage depths; see <see cref="ResNetArchitecture.ForDepth"/>.</param>
        /// <param name="numClasses">Outputs of the classifier.</param>
        public ResNet(ResNetArchitecture architecture, int numClasses = 1000)
            : this(architecture, Linear(Guard.NotNull(architecture).FeatureCount, Guard.Positive(numClasses)))
        {
        }

        /// <summary>Creates a ResNet whose <c>fc</c> is the given head.</summary>
        private protected ResNet(ResNetArchitecture architecture, Module<Tensor, Tensor> head) : base(nameof(ResNet))
        {
            Architecture = Guard.NotNull(architecture);
            Guard.NotNull(head);
            conv1 = Conv2d(3, 64, kernel_size: 7, stride: 2, padding: 3, bias: false);
            bn1 = BatchNorm2d(64);
            maxpool = MaxPool2d(kernel_size: 3, stride: 2, padding: 1);
            int inChannels = 64;
            layer1 = MakeStage(architecture, ref inChannels, 64, architecture.StageDepths[0], stride: 1);
            layer2 = MakeStage(architecture, ref inChannels, 128, architecture.StageDepths[1], stride: 2);
            layer3 = MakeStage(architecture, ref inChannels, 256, architecture.StageDepths[2], stride: 2);
            layer4 = MakeStage(architecture, ref inChannels, 512, architecture.StageDepths[3], stride: 2);
            avgpool = AdaptiveAvgPool2d(new long[] { 1, 1 });
            fc = head;
            RegisterComponents();
            InitializeBackbone();
        }

        /// <summary>Block type and stage depths of this network.</summary>
        public ResNetArchitecture Architecture { get; }

        /// <summary>The classifier registered as <c>fc</c>.</summary>
        internal Module<Tensor, Tensor> HeadModule => fc;

        /// <summary>Runs the whole network.</summary>
        /// <param name="input">Images [N, 3, H, W], normalised as the weights expect.</param>
        /// <returns>Logits [N, classes].</returns>
        public override Tensor forward(Tensor input)
        {
            Guard.NotNull(input);
            using var scope = NewDisposeScope();
            return RunStages(input, 0, StageNames.Count - 1).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Runs the network up to and including a stage and returns that stage's output, without
        /// running later stages: a feature map [N, C, h, w] for <c>stem</c> and <c>layer1</c>..<c>layer4</c>,
        /// pooled features [N, <see cref="ResNetArchitecture.FeatureCount"/>] for <c>pooling</c>, logits for <c>head</c>.
        /// </summary>
        /// <param name="input">Images [N, 3, H, W].</param>
        /// <param name="stage">One of <see cref="StageNames"/>.</param>
        /// <returns>The stage's output.</returns>
        /// <exception cref="ArgumentException"><paramref name="stage"/> is not a stage name.</exception>
        public Tensor ForwardTo(Tensor input, string stage)
        {
            Guard.NotNull(input);
            int last = StageIndex(stage);
            using var scope = NewDisposeScope();
            return RunStages(input, 0, last).MoveToOuterDisposeScope();
        }

        /// <summary>
        /// Runs the stages after <paramref name="stage"/> on that stage's output (for example to finish
        /// the forward pass from a <c>layer4</c> activation, as Grad-CAM does).
        /// </summary>
        /// <param name="stageOutput">The output of <paramref name="stage"/>.</param>
        /// <param name="stage">One of <see cref="StageNames"/>.</param>
        /// <returns>Logits [N, classes].</returns>
        public Tensor ForwardFrom(Tensor stageOutput, string stage)
        {
            Guard.NotNull(stageOutput);
            int first = StageIndex(stage) + 1;
            using var scope = NewDisposeScope();
            var result = first >= StageNames.Count ? stageOutput.alias() : RunStages(stageOutput, first, StageNames.Count - 1);
            return result.MoveToOuterDisposeScope();
        }

        /// <summary>Module paths (state-dict prefixes) of the modules that hold a stage's parameters.</summary>
        internal static IReadOnlyList<string> StageModulePaths(string stage) => stage switch
        {
            Stages.Stem => new[] { "conv1", "bn1" },
            Stages.Pooling => Array.Empty<string>(),
            Stages.Head => new[] { "fc" },
            _ => new[] { stage },
        };

        internal static int StageIndex(string stage)
        {
            int index = StageNames.ToList().IndexOf(stage);
            if (index < 0)
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "Unknown stage '{0}'. Stages: {1}.", stage, string.Join(", ", StageNames)),
                    nameof(stage));
            }

            return index;
        }

        /// <summary>Runs stages <paramref name="first"/>..<paramref name="last"/> (indices into <see cref="StageNames"/>).</summary>
        private protected virtual Tensor RunStages(Tensor x, int first, int last)
        {
            for (int i = first; i <= last; i++)
            {
                x = RunStage(i, x);
            }

            return x;
        }

        private protected Tensor RunStage(int index, Tensor x) => index switch
        {
            0 => maxpool.call(functional.relu(bn1.call(conv1.call(x)), inplace: true)),
            1 => layer1.call(x),
            2 => layer2.call(x),
            3 => layer3.call(x),
            4 => layer4.call(x),
            5 => avgpool.call(x).flatten(1),
            6 => fc.call(x),
            _ => throw new ArgumentOutOfRangeException(nameof(index)),
        };

        private static Sequential MakeStage(ResNetArchitecture architecture, ref int inChannels, int channels, int blocks, int stride)
        {
            var stage = Sequential();
            for (int i = 0; i < blocks; i++)
            {
                Module<Tensor, Tensor> block = architecture.Block == BlockKind.Basic
                    ? new BasicBlock(inChannels, channels, i == 0 ? stride : 1)
                    : new Bottleneck(inChannels, channels, i == 0 ? stride : 1);
                stage.append(block);
                inChannels = channels * architecture.Expansion;
            }

            return stage;
        }

        // torchvision's initialisation: Kaiming normal (fan out) for convolutions, BN weight 1 and bias 0.
        private void InitializeBackbone()
        {
            using var noGrad = torch.no_grad();
            foreach (var (name, module) in named_modules())
            {
                if (name == "fc" || name.StartsWith("fc.", StringComparison.Ordinal))
                {
                    continue;
                }

                switch (module)
                {
                    case Conv2d conv:
                        init.kaiming_normal_(conv.weight, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
                        break;
                    case BatchNorm2d bn:
                        init.constant_(bn.weight, 1);
                        init.constant_(bn.bias, 0);
                        break;
                }
            }
        }

        /// <inheritdoc />
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                conv1.Dispose();
                bn1.Dispose();
                maxpool.Dispose();
                layer1.Dispose();
                layer2.Dispose();
                layer3.Dispose();
                layer4.Dispose();
                avgpool.Dispose();
                fc.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>Names of a ResNet's stages, as accepted by <see cref="ResNet.ForwardTo"/> and freeze specs.</summary>
    public static class Stages
    {
        /// <summary><c>conv1</c>, <c>bn1</c>, ReLU and max pool.</summary>
        public const string Stem = "stem";

        /// <summary>The first residual stage (stride 4 from the input).</summary>
        public const string Layer1 = "layer1";

        /// <summary>The second residual stage (stride 8).</summary>
        public const string Layer2 = "layer2";

        /// <summary>The third residual stage (stride 16).</summary>
        public const string Layer3 = "layer3";

        /// <summary>The fourth residual stage (stride 32); Grad-CAM's default target.</summary>
        public const string Layer4 = "layer4";

        /// <summary>Global average pooling and flattening to [N, features].</summary>
        public const string Pooling = "pooling";

        /// <summary>The classifier, registered as <c>fc</c>.</summary>
        public const string Head = "head";
    }
}
