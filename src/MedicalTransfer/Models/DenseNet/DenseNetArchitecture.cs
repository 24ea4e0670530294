using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// The shape of a DenseNet-BC (Huang et al., 2017; CheXNet is a DenseNet-121): the growth rate, the features of
    /// the first convolution and the number of dense layers in each of its four dense blocks. Standard depths come
    /// from <see cref="ForDepth"/>; other layouts from <see cref="Custom"/>.
    /// </summary>
    /// <remarks>
    /// Stages: <c>stem</c> (<c>features.conv0</c>, <c>norm0</c>, ReLU, max pool), <c>denseblock1</c>..<c>denseblock3</c>
    /// (each dense block with the transition after it, <c>features.denseblockN</c> and <c>features.transitionN</c>),
    /// <c>denseblock4</c> (the last block with the final BatchNorm <c>features.norm5</c> and its ReLU), then
    /// <c>pooling</c> and <c>head</c> (registered as <c>classifier</c>). Blocks are the dense layers
    /// (<c>denseblock2.denselayer5</c>) and the transition (<c>denseblock2.transition</c>, or <c>denseblock4.norm</c>);
    /// dense layers do not form a chain (each reads all earlier outputs), so Grad-CAM explains whole stages. Grad-CAM's
    /// default is <c>denseblock4</c>, the last feature map, as CheXNet's class activation maps. <c>Layers.UpTo(n)</c>
    /// freezes the stem and denseblock1..denseblock n (n from 0 to 4).
    /// </remarks>
    public sealed class DenseNetArchitecture : BackboneArchitecture, IEquatable<DenseNetArchitecture>
    {
        /// <summary>torchvision's <c>bn_size</c>: the 1x1 bottleneck has this many times the growth rate's channels.</summary>
        public const int BottleneckSize = 4;

        private const string LayoutPrefix = "densenet:";

        private static readonly Dictionary<int, (int Growth, int Initial, int[] Blocks)> Standard = new()
        {
            [121] = (32, 64, new[] { 6, 12, 24, 16 }),
            [161] = (48, 96, new[] { 6, 12, 36, 24 }),
            [169] = (32, 64, new[] { 6, 12, 32, 32 }),
            [201] = (32, 64, new[] { 6, 12, 48, 32 }),
        };

        // torchvision's DenseNet _load_state_dict: checkpoints from before dots were banned in module names say
        // 'denselayer1.norm.1.weight' for 'denselayer1.norm1.weight' (the published ImageNet files do).
        private static readonly Regex LegacyKey = new(@"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$", RegexOptions.CultureInvariant);
        private static readonly Regex LayerKey = new(@"^features\.denseblock([1-4])\.denselayer(\d+)\.conv\.?2\.weight$", RegexOptions.CultureInvariant);

        private readonly int[] _blocks;
        private readonly StageLayout[] _stages;

        private DenseNetArchitecture(int growthRate, int initialFeatures, int[] blocks, int? depth)
        {
            GrowthRate = growthRate;
            InitialFeatures = initialFeatures;
            _blocks = blocks;
            Depth = depth;
            var stages = new List<StageLayout> { new(Stages.Stem, new[] { "features.conv0", "features.norm0" }) };
            int features = initialFeatures;
            for (int b = 0; b < 4; b++)
            {
                string n = (b + 1).ToString(CultureInfo.InvariantCulture);
                string name = "denseblock" + n;
                var layers = Enumerable.Range(1, blocks[b]).Select(i => "denselayer" + i.ToString(CultureInfo.InvariantCulture))
                    .Select(l => new BlockLayout(name + "." + l, "features." + name + "." + l)).ToList();
                string after = b < 3 ? "features.transition" + n : "features.norm5";
                layers.Add(new BlockLayout(name + (b < 3 ? ".transition" : ".norm"), after));
                stages.Add(new StageLayout(name, new[] { "features." + name, after }, layers));
                features += blocks[b] * growthRate;
                if (b < 3)
                {
                    features /= 2;
                }
            }

            _stages = stages.ToArray();
            FeatureCount = features;
        }

        /// <summary>The depths <see cref="ForDepth"/> accepts: 121, 161, 169 and 201.</summary>
        public static IReadOnlyList<int> SupportedDepths { get; } = Array.AsReadOnly(Standard.Keys.OrderBy(d => d).ToArray());

        /// <summary>Channels each dense layer adds (torchvision's <c>growth_rate</c>, k in the paper).</summary>
        public int GrowthRate { get; }

        /// <summary>Channels of the first convolution (torchvision's <c>num_init_features</c>).</summary>
        public int InitialFeatures { get; }

        /// <summary>Dense layers in each of the four dense blocks (torchvision's <c>block_config</c>).</summary>
        public IReadOnlyList<int> BlockDepths => Array.AsReadOnly(_blocks);

        /// <summary>The standard depth (121, 161, 169 or 201), or <see langword="null"/> for a custom layout.</summary>
        public int? Depth { get; }

        /// <summary>A readable name, such as <c>DenseNet-121</c> or <c>DenseNet (growth 16, 6-6-6-6)</c>.</summary>
        public override string Name => Depth is int d
            ? "DenseNet-" + d.ToString(CultureInfo.InvariantCulture)
            : string.Format(CultureInfo.InvariantCulture, "DenseNet (growth {0}, {1})", GrowthRate, string.Join("-", _blocks));

        /// <summary>Channels after the final BatchNorm (1024 for DenseNet-121, 2208 for -161, 1664 for -169, 1920 for -201).</summary>
        public override int FeatureCount { get; }

        /// <summary><c>denseblock4</c>: the last dense block with the final BatchNorm and ReLU, the feature map CheXNet's class activation maps weight.</summary>
        public override string DefaultCamStage => "denseblock4";

        /// <summary>torchvision's IMAGENET1K_V1 preprocessing for every DenseNet: resize 256, crop 224, ImageNet statistics.</summary>
        public override Preprocessing Preprocessing => Preprocessing.ImageNet;

        internal override IReadOnlyList<StageLayout> StageLayouts => _stages;

        internal override string HeadKey => "classifier";

        internal override string InputConvolution => "features.conv0";

        internal override ConvolutionInit ConvolutionInit => ConvolutionInit.KaimingFanIn;

        /// <summary>Returns torchvision's layout for a standard depth.</summary>
        /// <param name="depth">121, 161, 169 or 201.</param>
        /// <returns>The architecture.</returns>
        /// <exception cref="ArgumentException"><paramref name="depth"/> is not one of the supported depths.</exception>
        public static DenseNetArchitecture ForDepth(int depth)
        {
            if (!Standard.TryGetValue(depth, out var layout))
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "DenseNet depth {0} is not supported. Supported depths: {1}. For another layout use DenseNetArchitecture.Custom(growthRate, initialFeatures, blockDepths).", depth, string.Join(", ", SupportedDepths)),
                    nameof(depth));
            }

            return new DenseNetArchitecture(layout.Growth, layout.Initial, (int[])layout.Blocks.Clone(), depth);
        }

        /// <summary>Returns a DenseNet-BC of any growth rate, first-convolution width and dense-block depths.</summary>
        /// <param name="growthRate">Channels each dense layer adds.</param>
        /// <param name="initialFeatures">Channels of the first convolution.</param>
        /// <param name="blockDepths">Four positive dense-layer counts.</param>
        /// <returns>The architecture; a layout equal to a standard depth reports that depth.</returns>
        /// <exception cref="ArgumentException">Not exactly four positive block depths, or a width is not positive.</exception>
        public static DenseNetArchitecture Custom(int growthRate, int initialFeatures, params int[] blockDepths)
        {
            Guard.Positive(growthRate);
            Guard.Positive(initialFeatures);
            Guard.NotNull(blockDepths);
            if (blockDepths.Length != 4 || blockDepths.Any(d => d <= 0))
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "Expected four positive dense-block depths (denseblock1..denseblock4); found [{0}].", string.Join(", ", blockDepths)),
                    nameof(blockDepths));
            }

            int? depth = Standard.Where(kv => kv.Value.Growth == growthRate && kv.Value.Initial == initialFeatures && kv.Value.Blocks.SequenceEqual(blockDepths)).Select(kv => (int?)kv.Key).FirstOrDefault();
            return new DenseNetArchitecture(growthRate, initialFeatures, (int[])blockDepths.Clone(), depth);
        }

        /// <summary>Returns the compact form saved in model files: <c>densenet:growth:initial:b1,b2,b3,b4</c>, for example <c>densenet:32:64:6,12,24,16</c>.</summary>
        /// <returns>The layout.</returns>
        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0}{1}:{2}:{3}", LayoutPrefix, GrowthRate, InitialFeatures, string.Join(",", _blocks));

        /// <inheritdoc />
        public bool Equals(DenseNetArchitecture? other) => other is not null && GrowthRate == other.GrowthRate && InitialFeatures == other.InitialFeatures && _blocks.SequenceEqual(other._blocks);

        /// <inheritdoc />
        public override bool Equals(BackboneArchitecture? other) => Equals(other as DenseNetArchitecture);

        /// <inheritdoc />
        public override int GetHashCode() => HashCode.Combine(GrowthRate, InitialFeatures, _blocks[0], _blocks[1], _blocks[2], _blocks[3]);

        internal static bool IsLayout(string text) => text.StartsWith(LayoutPrefix, StringComparison.Ordinal);

        /// <summary>Parses the form written by <see cref="ToString"/>.</summary>
        internal static DenseNetArchitecture Parse(string text)
        {
            var parts = Guard.NotNull(text).Split(':');
            if (parts.Length != 4 || parts[0] + ":" != LayoutPrefix)
            {
                throw new FormatException("Expected 'densenet:<growth>:<initial>:b1,b2,b3,b4'; found '" + text + "'.");
            }

            static int Int(string s) => int.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture);
            return Custom(Int(parts[1]), Int(parts[2]), parts[3].Split(',').Select(Int).ToArray());
        }

        /// <summary>The DenseNet a state dict describes (dense layers per block, growth rate and first-convolution width), or null.</summary>
        internal static DenseNetArchitecture? Infer(IReadOnlyDictionary<string, long[]> shapes)
        {
            var depths = new int[4];
            long growth = 0;
            foreach (var (key, shape) in shapes)
            {
                var m = LayerKey.Match(key);
                if (m.Success)
                {
                    int block = m.Groups[1].Value[0] - '1';
                    depths[block] = Math.Max(depths[block], int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
                    growth = shape[0];
                }
            }

            return depths.All(d => d > 0) && growth > 0 && shapes.TryGetValue("features.conv0.weight", out var conv0)
                ? Custom((int)growth, (int)conv0[0], depths)
                : null;
        }

        internal override string? RenameLegacyKey(string key)
        {
            var m = LegacyKey.Match(key);
            return m.Success ? m.Groups[1].Value + m.Groups[2].Value : null;
        }

        internal override Backbone CreateBackbone(int inputChannels) => new DenseNetBackbone(this, inputChannels);
    }
}
