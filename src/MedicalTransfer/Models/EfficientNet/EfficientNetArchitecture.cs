using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using MedicalTransfer.Data;
using MedicalTransfer.Internal;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// The shape of an EfficientNet (Tan and Le, 2019) of width B0 to B7, as torchvision builds them: seven stages of
    /// <see cref="MBConv"/> blocks between a stem convolution and a 1x1 head convolution, scaled in width and depth
    /// per variant.
    /// </summary>
    /// <remarks>
    /// Stages: <c>stem</c> (<c>features.0</c>: 3x3 convolution with stride 2, BatchNorm, SiLU), <c>stage1</c>..<c>stage7</c>
    /// (<c>features.1</c>..<c>features.7</c>, blocks <c>stage6.0</c>, <c>stage6.1</c>...), <c>conv_head</c> (<c>features.8</c>:
    /// 1x1 convolution, BatchNorm, SiLU), then <c>pooling</c> and <c>head</c>. The head is registered as <c>classifier</c>
    /// behind torchvision's dropout (<c>classifier.0</c>), so a linear head's keys are <c>classifier.1.weight</c> and
    /// <c>classifier.1.bias</c>. Grad-CAM's default is <c>conv_head</c>. <c>Layers.UpTo(n)</c> freezes the stem and
    /// stage1..stage n (n from 0 to 8, 8 meaning conv_head too).
    /// </remarks>
    public sealed class EfficientNetArchitecture : BackboneArchitecture, IEquatable<EfficientNetArchitecture>
    {
        private const string LayoutPrefix = "efficientnet:b";

        // torchvision's _efficientnet_conf: (expand ratio, kernel, stride, input channels, output channels, layers) before scaling.
        private static readonly (double Expand, int Kernel, int Stride, int In, int Out, int Layers)[] BaseStages =
        {
            (1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
            (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1),
        };

        // Width and depth multipliers, dropout, and torchvision's IMAGENET1K_V1 evaluation sizes (resize, crop; bicubic) for B0..B7.
        private static readonly (double Width, double Depth, double Dropout, int Resize, int Crop)[] Variants =
        {
            (1.0, 1.0, 0.2, 256, 224), (1.0, 1.1, 0.2, 256, 240), (1.1, 1.2, 0.3, 288, 288), (1.2, 1.4, 0.3, 320, 300),
            (1.4, 1.8, 0.4, 384, 380), (1.6, 2.2, 0.4, 456, 456), (1.8, 2.6, 0.5, 528, 528), (2.0, 3.1, 0.5, 600, 600),
        };

        private static readonly Regex BlockKey = new(@"^features\.([1-7])\.(\d+)\.block\.0\.0\.weight$", RegexOptions.CultureInvariant);

        private readonly StageLayout[] _stages;
        private readonly Preprocessing _preprocessing;

        private EfficientNetArchitecture(int variant)
        {
            Variant = variant;
            var v = Variants[variant];
            WidthMultiplier = v.Width;
            DepthMultiplier = v.Depth;
            Dropout = v.Dropout;
            BatchNormEpsilon = variant >= 5 ? 1e-3 : 1e-5;
            BatchNormMomentum = variant >= 5 ? 0.01 : 0.1;
            StageSettings = BaseStages.Select(s => new MBConvStage(
                s.Expand, s.Kernel, s.Stride, MakeDivisible(s.In * v.Width, 8), MakeDivisible(s.Out * v.Width, 8), (int)Math.Ceiling(s.Layers * v.Depth))).ToArray();
            StemChannels = StageSettings[0].InChannels;
            FeatureCount = 4 * StageSettings[^1].OutChannels;
            var stages = new List<StageLayout> { new(Stages.Stem, new[] { "features.0" }) };
            for (int s = 0; s < 7; s++)
            {
                string name = "stage" + (s + 1).ToString(CultureInfo.InvariantCulture);
                string path = "features." + (s + 1).ToString(CultureInfo.InvariantCulture);
                var blocks = Enumerable.Range(0, StageSettings[s].Layers).Select(b => b.ToString(CultureInfo.InvariantCulture))
                    .Select(b => new BlockLayout(name + "." + b, path + "." + b)).ToArray();
                stages.Add(new StageLayout(name, new[] { path }, blocks, blocksAreChain: true));
            }

            stages.Add(new StageLayout("conv_head", new[] { "features.8" }));
            _stages = stages.ToArray();
            _preprocessing = variant == 0 ? Preprocessing.ImageNet : new Preprocessing { ResizeSize = v.Resize, CropSize = v.Crop };
        }

        /// <summary>The widths <see cref="ForWidth"/> accepts: 0 (B0) to 7 (B7).</summary>
        public static IReadOnlyList<int> SupportedWidths { get; } = Array.AsReadOnly(Enumerable.Range(0, Variants.Length).ToArray());

        /// <summary>The variant: 0 for B0 up to 7 for B7.</summary>
        public int Variant { get; }

        /// <summary>Multiplier of every stage's channels (1.0 for B0, 2.0 for B7).</summary>
        public double WidthMultiplier { get; }

        /// <summary>Multiplier of every stage's number of blocks, rounded up (1.0 for B0, 3.1 for B7).</summary>
        public double DepthMultiplier { get; }

        /// <summary>Dropout in front of the head (torchvision's <c>classifier.0</c>): 0.2 for B0 and B1 up to 0.5 for B6 and B7.</summary>
        public double Dropout { get; }

        /// <summary>Largest probability of stochastic depth, reached by the last block (torchvision's 0.2); block i of n drops with 0.2 i / n.</summary>
        public double StochasticDepthProbability => 0.2;

        /// <summary>Channels of the stem convolution (32 for B0).</summary>
        public int StemChannels { get; }

        /// <summary>A readable name, such as <c>EfficientNet-B0</c>.</summary>
        public override string Name => "EfficientNet-B" + Variant.ToString(CultureInfo.InvariantCulture);

        /// <summary>Channels of the head convolution: four times the last stage's (1280 for B0 and B1, 2560 for B7).</summary>
        public override int FeatureCount { get; }

        /// <summary><c>conv_head</c>, the 1x1 convolution after the last MBConv stage.</summary>
        public override string DefaultCamStage => "conv_head";

        /// <summary>
        /// torchvision's IMAGENET1K_V1 evaluation sizes for this width (B0: resize 256, crop 224; B7: 600, 600) with ImageNet
        /// statistics. torchvision resizes these bicubically; MedicalTransfer's one resampler is bilinear with
        /// antialiasing (docs/architectures.md measures the difference).
        /// </summary>
        public override Preprocessing Preprocessing => _preprocessing;

        internal double BatchNormEpsilon { get; }

        internal double BatchNormMomentum { get; }

        internal IReadOnlyList<MBConvStage> StageSettings { get; }

        internal override IReadOnlyList<StageLayout> StageLayouts => _stages;

        internal override string HeadKey => "classifier";

        internal override string InputConvolution => "features.0.0";

        internal override ConvolutionInit ConvolutionInit => ConvolutionInit.KaimingFanOutZeroBias;

        /// <summary>Returns torchvision's EfficientNet of a width.</summary>
        /// <param name="width">0 (B0) to 7 (B7).</param>
        /// <returns>The architecture.</returns>
        /// <exception cref="ArgumentException"><paramref name="width"/> is not 0 to 7.</exception>
        public static EfficientNetArchitecture ForWidth(int width)
        {
            if (width < 0 || width >= Variants.Length)
            {
                throw new ArgumentException(
                    string.Format(CultureInfo.InvariantCulture, "EfficientNet-B{0} is not supported. Supported widths: {1} (B0 to B7).", width, string.Join(", ", SupportedWidths)),
                    nameof(width));
            }

            return new EfficientNetArchitecture(width);
        }

        /// <summary>Returns the compact form saved in model files, for example <c>efficientnet:b0</c>.</summary>
        /// <returns>The layout.</returns>
        public override string ToString() => LayoutPrefix + Variant.ToString(CultureInfo.InvariantCulture);

        /// <inheritdoc />
        public bool Equals(EfficientNetArchitecture? other) => other is not null && Variant == other.Variant;

        /// <inheritdoc />
        public override bool Equals(BackboneArchitecture? other) => Equals(other as EfficientNetArchitecture);

        /// <inheritdoc />
        public override int GetHashCode() => HashCode.Combine(nameof(EfficientNetArchitecture), Variant);

        /// <summary>torchvision's <c>_make_divisible</c>: the nearest multiple of <paramref name="divisor"/>, never more than 10% below <paramref name="value"/>.</summary>
        internal static int MakeDivisible(double value, int divisor)
        {
            int rounded = Math.Max(divisor, (int)(value + (divisor / 2.0)) / divisor * divisor);
            return rounded < 0.9 * value ? rounded + divisor : rounded;
        }

        internal static bool IsLayout(string text) => text.StartsWith(LayoutPrefix, StringComparison.Ordinal);

        internal static EfficientNetArchitecture Parse(string text)
        {
            Guard.NotNull(text);
            if (!IsLayout(text) || !int.TryParse(text.AsSpan(LayoutPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int width) || width >= Variants.Length)
            {
                throw new FormatException("Expected 'efficientnet:b0' to 'efficientnet:b7'; found '" + text + "'.");
            }

            return ForWidth(width);
        }

        /// <summary>The EfficientNet width whose stem channels and blocks per stage a state dict has, or null.</summary>
        internal static EfficientNetArchitecture? Infer(IReadOnlyDictionary<string, long[]> shapes)
        {
            if (!shapes.TryGetValue("features.0.0.weight", out var stem) || !shapes.ContainsKey("features.8.0.weight"))
            {
                return null;
            }

            var blocks = new int[7];
            foreach (var key in shapes.Keys)
            {
                var m = BlockKey.Match(key);
                if (m.Success)
                {
                    int stage = m.Groups[1].Value[0] - '1';
                    blocks[stage] = Math.Max(blocks[stage], int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) + 1);
                }
            }

            return SupportedWidths.Select(ForWidth).FirstOrDefault(a => a.StemChannels == stem[0] && a.StageSettings.Select(s => s.Layers).SequenceEqual(blocks));
        }

        internal override nn.Module<Tensor, Tensor> WrapHead(nn.Module<Tensor, Tensor> head) => nn.Sequential(nn.Dropout(Dropout), head);

        internal override Backbone CreateBackbone(int inputChannels) => new EfficientNetBackbone(this, inputChannels);
    }

    /// <summary>One MBConv stage after width and depth scaling (torchvision's <c>MBConvConfig</c>).</summary>
    internal sealed record MBConvStage(double Expand, int Kernel, int Stride, int InChannels, int OutChannels, int Layers);
}
