using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;

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
    public sealed class ResNetArchitecture : IEquatable<ResNetArchitecture>
    {
        private static readonly Dictionary<int, (BlockKind Block, int[] Stages)> Standard = new()
        {
            [18] = (BlockKind.Basic, new[] { 2, 2, 2, 2 }),
            [34] = (BlockKind.Basic, new[] { 3, 4, 6, 3 }),
            [50] = (BlockKind.Bottleneck, new[] { 3, 4, 6, 3 }),
            [101] = (BlockKind.Bottleneck, new[] { 3, 4, 23, 3 }),
            [152] = (BlockKind.Bottleneck, new[] { 3, 8, 36, 3 }),
        };

        private readonly int[] _stageDepths;

        private ResNetArchitecture(BlockKind block, int[] stageDepths, int? depth)
        {
            Block = block;
            _stageDepths = stageDepths;
            Depth = depth;
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
        public int FeatureCount => 512 * Expansion;

        /// <summary>A readable name, such as <c>ResNet-50</c> or <c>ResNet (basic, 2-2-2-3)</c>.</summary>
        public string Name => Depth is int d
            ? "ResNet-" + d.ToString(CultureInfo.InvariantCulture)
            : string.Format(CultureInfo.InvariantCulture, "ResNet ({0}, {1})", Block == BlockKind.Basic ? "basic" : "bottleneck", string.Join("-", _stageDepths));

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
            var parts = text.Split(':');
            if (parts.Length != 2 || !Enum.TryParse<BlockKind>(parts[0], ignoreCase: true, out var block))
            {
                throw new FormatException("Expected '<basic|bottleneck>:d1,d2,d3,d4'; found '" + text + "'.");
            }

            var depths = parts[1].Split(',').Select(p => int.Parse(p, NumberStyles.Integer, CultureInfo.InvariantCulture)).ToArray();
            return Custom(block, depths);
        }

        /// <summary>Returns the compact form, for example <c>bottleneck:3,4,6,3</c>.</summary>
        /// <returns>The block kind and stage depths.</returns>
        public override string ToString() => (Block == BlockKind.Basic ? "basic" : "bottleneck") + ":" + string.Join(",", _stageDepths);

        /// <inheritdoc />
        public bool Equals(ResNetArchitecture? other) => other is not null && Block == other.Block && _stageDepths.SequenceEqual(other._stageDepths);

        /// <inheritdoc />
        public override bool Equals(object? obj) => Equals(obj as ResNetArchitecture);

        /// <inheritdoc />
        public override int GetHashCode() => HashCode.Combine(Block, _stageDepths[0], _stageDepths[1], _stageDepths[2], _stageDepths[3]);
    }
}
