using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>The residual block a ResNet is built from.</summary>
    public enum BlockKind
    {
        /// <summary><see cref="BasicBlock"/>: two 3x3 convolutions (ResNet-18 and -34).</summary>
        Basic,

        /// <summary><see cref="Bottleneck"/>: 1x1, 3x3, 1x1 convolutions with expansion 4 (ResNet-50, -101, -152).</summary>
        Bottleneck,
    }

    /// <summary>
    /// The shape of a ResNet: its block type and the number of blocks in each of its four stages
    /// (<c>layer1</c> to <c>layer4</c>). Standard depths come from <see cref="ForDepth"/>; any other
    /// layout (for example basic blocks with stages [2, 2, 2, 3]) from <see cref="Custom"/>.
    /// </summary>
    /// <remarks>
    /// Stages: <c>stem</c> (conv1, bn1, ReLU, max pool), <c>layer1</c>..<c>layer4</c> (blocks <c>layer4.0</c>,
    /// <c>layer4.1</c>...), then <c>pooling</c> and <c>head</c> (registered as <c>fc</c>). Grad-CAM's default is
    /// <c>layer4</c>. <c>Layers.UpTo(n)</c> freezes the stem and layer1..layer n (n from 0 to 4).
    /// </remarks>
    public sealed class ResNetArchitecture : BackboneArchitecture, IEquatable<ResNetArchitecture>
    {
        private static readonly System.Text.RegularExpressions.Regex BlockKey = new(@"^layer([1-4])\.(\d+)\.", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

        private static readonly Dictionary<int, (BlockKind Block, int[] Stages)> Standard = new()
        {
            [18] = (BlockKind.Basic, new[] { 2, 2, 2, 2 }),
            [34] = (BlockKind.Basic, new[] { 3, 4, 6, 3 }),
            [50] = (BlockKind.Bottleneck, new[] { 3, 4, 6, 3 }),
            [101] = (BlockKind.Bottleneck, new[] { 3, 4, 23, 3 }),
            [152] = (BlockKind.Bottleneck, new[] { 3, 8, 36, 3 }),
        };

        private readonly int[] _stageDepths;
        private readonly StageLayout[] _stages;

        private ResNetArchitecture(BlockKind block, int[] stageDepths, int? depth)
        {
            Block = block;
            _stageDepths = stageDepths;
            Depth = depth;
            var stages = new List<StageLayout> { new(Stages.Stem, new[] { "conv1", "bn1" }) };
            for (int s = 0; s < 4; s++)
            {
                string name = "layer" + (s + 1).ToString(CultureInfo.InvariantCulture);
                var blocks = Enumerable.Range(0, stageDepths[s]).Select(b => name + "." + b.ToString(CultureInfo.InvariantCulture)).Select(p => new BlockLayout(p, p)).ToArray();
                stages.Add(new StageLayout(name, new[] { name }, blocks, blocksAreChain: true));
            }

            _stages = stages.ToArray();
        }

        /// <summary>The depths <see cref="ForDepth"/> accepts: 18, 34, 50, 101 and 152.</summary>
        public static IReadOnlyList<int> SupportedDepths { get; } = Array.AsReadOnly(Standard.Keys.OrderBy(d => d).ToArray());

        /// <summary>The residual block every stage is built from.</summary>
        public BlockKind Block { get; }

        /// <summary>Number of blocks in <c>layer1</c> to <c>layer4</c>.</summary>
        public IReadOnlyList<int> StageDepths => Array.AsReadOnly(_stageDepths);

        /// <summary>The standard depth (18, 34, 50, 101 or 152), or <see langword="null"/> for a custom layout.</summary>
        public int? Depth { get; }

        /// <summary>Channel expansion of the block: 1 for basic blocks, 4 for bottlenecks.</summary>
        public int Expansion => Block == BlockKind.Basic ? BasicBlock.Expansion : Bottleneck.Expansion;

        /// <summary>Number of features the backbone produces after global average pooling (512 or 2048).</summary>
        public override int FeatureCount => 512 * Expansion;

        /// <summary>A readable name, such as <c>ResNet-50</c> or <c>ResNet (basic, 2-2-2-3)</c>.</summary>
        public override string Name => Depth is int d
            ? "ResNet-" + d.ToString(CultureInfo.InvariantCulture)
            : string.Format(CultureInfo.InvariantCulture, "ResNet ({0}, {1})", Block == BlockKind.Basic ? "basic" : "bottleneck", string.Join("-", _stageDepths));

        /// <summary><c>layer4</c>, the last residual stage.</summary>
        public override string DefaultCamStage => Stages.Layer4;

        /// <summary>torchvision's ImageNet V1 preprocessing (resize 256, crop 224); <see cref="Weights.ResNetWeights.ImageNet"/> declares V2's resize 232 for ResNet-50/101/152.</summary>
        public override Preprocessing Preprocessing => Preprocessing.ImageNet;

        internal override IReadOnlyList<StageLayout> StageLayouts => _stages;

        internal override string HeadKey => "fc";

        internal override string InputConvolution => "conv1";

        internal override ConvolutionInit ConvolutionInit => ConvolutionInit.KaimingFanOut;

        /// <summary>Returns the torchvision layout for a standard depth.</summary>
        /// <param name="depth">18, 34, 50, 101 or 152.</param>
        /// <returns>The architecture.</returns>
        /// <exception cref="ArgumentException"><paramref name="depth"/> is not one of the supported depths.</exception>
        public static ResNetArchitecture ForDepth(int depth)
        {
            if (!Standard.TryGetValue(depth, out var layout))
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "ResNet depth {0} is not supported. Supported depths: {1}. For another layout use ResNetArchitecture.Custom(block, stageDepths).", depth, string.Join(", ", SupportedDepths)),
                    nameof(depth));
            }

            return new ResNetArchitecture(layout.Block, (int[])layout.Stages.Clone(), depth);
        }

        /// <summary>Returns a layout with any block type and stage depths.</summary>
        /// <param name="block">The block every stage is built from.</param>
        /// <param name="stageDepths">Four positive block counts, for <c>layer1</c> to <c>layer4</c>.</param>
        /// <returns>The architecture; a layout equal to a standard depth reports that depth.</returns>
        /// <exception cref="ArgumentException">Not exactly four stage depths, or one is not positive.</exception>
        public static ResNetArchitecture Custom(BlockKind block, params int[] stageDepths)
        {
            Guard.NotNull(stageDepths);
            if (stageDepths.Length != 4 || stageDepths.Any(d => d <= 0))
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "Expected four positive stage depths (layer1..layer4); found [{0}].", string.Join(", ", stageDepths)),
                    nameof(stageDepths));
            }

            if (!Enum.IsDefined(block))
            {
                throw new ArgumentOutOfRangeException(nameof(block), block, "Unknown block kind.");
            }

            int? depth = Standard.Where(kv => kv.Value.Block == block && kv.Value.Stages.SequenceEqual(stageDepths)).Select(kv => (int?)kv.Key).FirstOrDefault();
            return new ResNetArchitecture(block, (int[])stageDepths.Clone(), depth);
        }

        /// <summary>Parses the compact form written by <see cref="ToString"/> (for example <c>basic:2,2,2,3</c>).</summary>
        internal static ResNetArchitecture Parse(string text)
        {
            Guard.NotNull(text);
            var parts = text.Split(':');
            if (parts.Length != 2 || !Enum.TryParse<BlockKind>(parts[0], ignoreCase: true, out var block))
            {
                throw new FormatException("Expected '<basic|bottleneck>:d1,d2,d3,d4'; found '" + text + "'.");
            }

            var depths = parts[1].Split(',').Select(p => int.Parse(p, NumberStyles.Integer, CultureInfo.InvariantCulture)).ToArray();
            return Custom(block, depths);
        }

        /// <summary>
        /// Infers block type and stage depths from torchvision-style state-dict keys (<c>layer3.5.conv1.weight</c>...),
        /// or <see langword="null"/> when the keys are not a ResNet's.
        /// </summary>
        internal static ResNetArchitecture? Infer(IEnumerable<string> keys)
        {
            var depths = new int[4];
            bool bottleneck = false;
            foreach (var key in keys)
            {
                var m = BlockKey.Match(key);
                if (!m.Success)
                {
                    continue;
                }

                int stage = m.Groups[1].Value[0] - '1';
                depths[stage] = Math.Max(depths[stage], int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) + 1);
                bottleneck |= key.EndsWith(".conv3.weight", StringComparison.Ordinal);
            }

            return depths.All(d => d > 0) ? Custom(bottleneck ? BlockKind.Bottleneck : BlockKind.Basic, depths) : null;
        }

        /// <summary>Returns the compact form, for example <c>bottleneck:3,4,6,3</c>.</summary>
        /// <returns>The block kind and stage depths.</returns>
        public override string ToString() => (Block == BlockKind.Basic ? "basic" : "bottleneck") + ":" + string.Join(",", _stageDepths);

        /// <inheritdoc />
        public bool Equals(ResNetArchitecture? other) => other is not null && Block == other.Block && _stageDepths.SequenceEqual(other._stageDepths);

        /// <inheritdoc />
        public override bool Equals(BackboneArchitecture? other) => Equals(other as ResNetArchitecture);

        internal override Backbone CreateBackbone(int inputChannels) => new ResNetBackbone(this, inputChannels);

        /// <inheritdoc />
        public override int GetHashCode() => HashCode.Combine(Block, _stageDepths[0], _stageDepths[1], _stageDepths[2], _stageDepths[3]);
    }
}
