using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MedicalTransfer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// Copies a state dictionary into a network, all or nothing: every key and shape is checked before the first
    /// tensor is copied, so a failed load leaves the model unchanged. What is architecture-specific (the head's key,
    /// keys of older torchvision checkpoints, the first convolution of a gray-input model) comes from the network's
    /// <see cref="BackboneArchitecture"/>.
    /// </summary>
    internal static class WeightLoader
    {
        private const int ListLimit = 12;
        private const string BatchCounter = ".num_batches_tracked";

        public static WeightsLoadReport Apply(BackboneNetwork model, IReadOnlyDictionary<string, Tensor> file, string sourceName, bool strict = true)
        {
            var architecture = model.Body.Architecture;
            var source = Renamed(file, architecture, out var renamed);
            var target = model.state_dict();
            string headPrefix = architecture.HeadKey + ".";
            string inputConvolution = architecture.InputConvolution + ".weight";
            bool IsHead(string key) => key.StartsWith(headPrefix, StringComparison.Ordinal);

            var sourceHead = source.Keys.Where(IsHead).ToArray();
            var targetHead = target.Keys.Where(IsHead).ToArray();
            bool headFits = sourceHead.Length == targetHead.Length &&
                            targetHead.All(k => source.TryGetValue(k, out var s) && s.shape.SequenceEqual(target[k].shape));
            var skippedHead = headFits ? Array.Empty<string>() : sourceHead;

            var missing = new List<string>();
            var mismatched = new List<string>();
            var adapted = new List<string>();
            var counters = new List<string>();
            var pairs = new List<(Tensor Target, Tensor Source, bool Adapt)>();
            foreach (var (key, tensor) in target)
            {
                if (IsHead(key) && !headFits)
                {
                    continue;
                }

                if (!source.TryGetValue(key, out var value))
                {
                    // Checkpoints older than PyTorch 0.4.1 have no BatchNorm batch counters; PyTorch loads them as 0.
                    if (key.EndsWith(BatchCounter, StringComparison.Ordinal) && source.ContainsKey(key[..^BatchCounter.Length] + ".running_mean"))
                    {
                        counters.Add(key);
                    }
                    else
                    {
                        missing.Add(key);
                    }
                }
                else if (key == inputConvolution && SingleChannelInput.CanAdapt(value, tensor) && value.is_floating_point())
                {
                    adapted.Add(key);
                    pairs.Add((tensor, value, true));
                }
                else if (!value.shape.SequenceEqual(tensor.shape))
                {
                    string hint = key == inputConvolution && tensor.dim() == 4 && value.dim() == 4 && value.shape[1] == 1 && tensor.shape[1] == 3
                        ? " (the file is a model for gray images: build with WithInputChannels(1))"
                        : string.Empty;
                    mismatched.Add(string.Format(CultureInfo.InvariantCulture, "{0}: model expects {1}, file has {2}{3}", key, Shape(tensor), Shape(value), hint));
                }
                else if (value.dtype != tensor.dtype && (value.is_floating_point() != tensor.is_floating_point()))
                {
                    mismatched.Add(string.Format(CultureInfo.InvariantCulture, "{0}: model expects {1}, file has {2}", key, tensor.dtype, value.dtype));
                }
                else
                {
                    pairs.Add((tensor, value, false));
                }
            }

            var unexpected = source.Keys.Where(k => !target.ContainsKey(k) && !(IsHead(k) && !headFits)).ToList();
            if (mismatched.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
            {
                throw new WeightsMismatchException(Describe(architecture, source, sourceName, missing, unexpected, mismatched, strict));
            }

            using (no_grad())
            {
                foreach (var key in counters)
                {
                    target[key].zero_();
                }

                foreach (var (dst, src, adapt) in pairs)
                {
                    if (adapt)
                    {
                        using var sum = SingleChannelInput.Adapt(src.to(dst.dtype));
                        dst.copy_(sum);
                    }
                    else
                    {
                        dst.copy_(src);
                    }
                }
            }

            return new WeightsLoadReport(sourceName, pairs.Count, skippedHead, missing, unexpected, adapted, renamed, counters.Count);
        }

        /// <summary>The file's tensors under today's key names (older torchvision checkpoints used other names for some layers).</summary>
        private static IReadOnlyDictionary<string, Tensor> Renamed(IReadOnlyDictionary<string, Tensor> file, BackboneArchitecture architecture, out int renamed)
        {
            renamed = 0;
            var result = new Dictionary<string, Tensor>(file.Count, StringComparer.Ordinal);
            foreach (var (key, tensor) in file)
            {
                string? current = architecture.RenameLegacyKey(key);
                if (current is not null && !file.ContainsKey(current))
                {
                    result[current] = tensor;
                    renamed++;
                }
                else
                {
                    result[key] = tensor;
                }
            }

            return renamed == 0 ? file : result;
        }

        private static string Describe(BackboneArchitecture architecture, IReadOnlyDictionary<string, Tensor> source, string sourceName, List<string> missing, List<string> unexpected, List<string> mismatched, bool strict)
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"The weights in '{sourceName}' do not fit the model; nothing was loaded and the model is unchanged.");
            var found = BackboneCatalog.Infer(source.ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal));
            if (found is not null && !found.Equals(architecture))
            {
                sb.Append(CultureInfo.InvariantCulture, $" The file holds a {found.Name} ({found}); the model is a {architecture.Name} ({architecture}). Build the model with the matching architecture, or use weights made for {architecture.Name}.");
            }
            else if (found is null)
            {
                sb.Append(CultureInfo.InvariantCulture, $" The file does not look like the state dictionary of any backbone MedicalTransfer knows (the model is a {architecture.Name}, whose keys start with {string.Join(", ", architecture.StageLayouts.SelectMany(s => s.ModulePaths).Select(p => p.Split('.')[0]).Distinct().Take(4))}).");
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
