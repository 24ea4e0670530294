using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using MedicalTransfer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// Copies a state dictionary into a module, all or nothing: every key and shape is checked before
    /// the first tensor is copied, so a failed load leaves the model unchanged.
    /// </summary>
    internal static class WeightLoader
    {
        private const string HeadPrefix = "fc.";
        private const int ListLimit = 12;
        private static readonly Regex BlockKey = new(@"^layer([1-4])\.(\d+)\.", RegexOptions.CultureInvariant);

        public static WeightsLoadReport Apply(nn.Module model, IReadOnlyDictionary<string, Tensor> source, string sourceName, bool strict = true)
        {
            var target = model.state_dict();
            bool IsHead(string key) => key.StartsWith(HeadPrefix, StringComparison.Ordinal);

            var sourceHead = source.Keys.Where(IsHead).ToArray();
            var targetHead = target.Keys.Where(IsHead).ToArray();
            bool headFits = sourceHead.Length == targetHead.Length &&
                            targetHead.All(k => source.TryGetValue(k, out var s) && s.shape.SequenceEqual(target[k].shape));
            var skippedHead = headFits ? Array.Empty<string>() : sourceHead;

            var missing = new List<string>();
            var mismatched = new List<string>();
            var pairs = new List<(Tensor Target, Tensor Source)>();
            foreach (var (key, tensor) in target)
            {
                if (IsHead(key) && !headFits)
                {
                    continue;
                }

                if (!source.TryGetValue(key, out var value))
                {
                    missing.Add(key);
                }
                else if (!value.shape.SequenceEqual(tensor.shape))
                {
                    mismatched.Add(string.Format(CultureInfo.InvariantCulture, "{0}: model expects {1}, file has {2}", key, Shape(tensor), Shape(value)));
                }
                else if (value.dtype != tensor.dtype && (value.is_floating_point() != tensor.is_floating_point()))
                {
                    mismatched.Add(string.Format(CultureInfo.InvariantCulture, "{0}: model expects {1}, file has {2}", key, tensor.dtype, value.dtype));
                }
                else
                {
                    pairs.Add((tensor, value));
                }
            }

            var unexpected = source.Keys.Where(k => !target.ContainsKey(k) && !(IsHead(k) && !headFits)).ToList();
            if (mismatched.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
            {
                throw new WeightsMismatchException(Describe(model, source, sourceName, missing, unexpected, mismatched, strict));
            }

            using (no_grad())
            {
                foreach (var (dst, src) in pairs)
                {
                    dst.copy_(src);
                }
            }

            return new WeightsLoadReport(sourceName, pairs.Count, skippedHead, missing, unexpected);
        }

        /// <summary>Infers block type and stage depths from torchvision-style keys, or null when the keys are not a ResNet's.</summary>
        public static ResNetArchitecture? InferArchitecture(IEnumerable<string> keys)
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

            return depths.All(d => d > 0) ? ResNetArchitecture.Custom(bottleneck ? BlockKind.Bottleneck : BlockKind.Basic, depths) : null;
        }

        private static string Describe(nn.Module model, IReadOnlyDictionary<string, Tensor> source, string sourceName, List<string> missing, List<string> unexpected, List<string> mismatched, bool strict)
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"The weights in '{sourceName}' do not fit the model; nothing was loaded and the model is unchanged.");
            if (model is ResNet resnet)
            {
                var found = InferArchitecture(source.Keys);
                if (found is not null && !found.Equals(resnet.Architecture))
                {
                    sb.Append(CultureInfo.InvariantCulture, $" The file holds a {found.Name} ({found}); the model is a {resnet.Architecture.Name} ({resnet.Architecture}). Build the model with the matching depth, or use weights made for {resnet.Architecture.Name}.");
                }
                else if (found is null)
                {
                    sb.Append(" The file does not look like a ResNet state dictionary (no layer1..layer4 block keys).");
                }
            }

            AppendList(sb, "Shape mismatches", mismatched);
            AppendList(sb, "Missing keys (in the model, not in the file)", missing);
            AppendList(sb, "Unexpected keys (in the file, not in the model)", unexpected);
            if (strict && mismatched.Count == 0)
            {
                sb.AppendLine().Append("If the differences are intended, load with strict: false to copy only the matching tensors.");
            }

            return sb.ToString();
        }

        private static void AppendList(StringBuilder sb, string title, List<string> items)
        {
            if (items.Count == 0)
            {
                return;
            }

            sb.AppendLine().Append(CultureInfo.InvariantCulture, $"{title} ({items.Count}):");
            foreach (var item in items.Take(ListLimit))
            {
                sb.AppendLine().Append("  ").Append(item);
            }

            if (items.Count > ListLimit)
            {
                sb.AppendLine().Append(CultureInfo.InvariantCulture, $"  ... and {items.Count - ListLimit} more");
            }
        }

        private static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";
    }
}
