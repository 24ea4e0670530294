using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
using MedicalTransfer.Models;

namespace MedicalTransfer.Freezing
{
    /// <summary>
    /// Which parts of a ResNet are frozen: a list of stage names (<c>stem</c>, <c>layer1</c>..<c>layer4</c>,
    /// <c>head</c>) and block paths (<c>layer4.1</c>). Matching is by exact module path, never by substring:
    /// freezing <c>stem</c> freezes <c>conv1</c> and <c>bn1</c> at the top level, not every block's <c>bn1</c>.
    /// Create specs with <see cref="Layers"/>.
    /// </summary>
    public sealed class FreezeSpec : IEquatable<FreezeSpec>
    {
        private static readonly Regex BlockPath = new(@"^layer([1-4])\.(\d+)$", RegexOptions.CultureInvariant);
        private static readonly string[] Backbone = { Stages.Stem, Stages.Layer1, Stages.Layer2, Stages.Layer3, Stages.Layer4 };

        internal FreezeSpec(IEnumerable<string> targets, string description)
        {
            Targets = targets.Distinct(StringComparer.Ordinal).ToArray();
            Description = description;
        }

        /// <summary>Stage names and block paths this spec freezes, in the order given.</summary>
        public IReadOnlyList<string> Targets { get; }

        /// <summary>How the spec was made, for example <c>Layers.UpTo(2)</c>.</summary>
        public string Description { get; }

        /// <summary>Whether the spec freezes nothing.</summary>
        public bool IsEmpty => Targets.Count == 0;

        /// <summary>Checks that a stage name or block path is well formed.</summary>
        internal static string ValidateName(string target, string parameterName)
        {
            if (string.IsNullOrWhiteSpace(target))
            {
                throw new ArgumentException("A freeze target must be a stage name or block path; found an empty string.", parameterName);
            }

            if (Backbone.Contains(target, StringComparer.Ordinal) || target == Stages.Head || BlockPath.IsMatch(target))
            {
                return target;
            }

            throw new ArgumentException(
                string.Format(CultureInfo.InvariantCulture, "'{0}' is not a freezable stage or block. Use one of {1}, or a block path such as 'layer4.0'. Names match exactly, never as substrings.", target, string.Join(", ", Backbone.Append(Stages.Head))),
                parameterName);
        }

        /// <summary>
        /// Expands the spec to the module paths (state-dict prefixes) it freezes in a network of the
        /// given architecture; a block index beyond the stage's depth is an error.
        /// </summary>
        internal IReadOnlyList<string> ResolveModulePaths(ResNetArchitecture architecture)
        {
            var paths = new List<string>();
            foreach (var target in Targets)
            {
                var match = BlockPath.Match(target);
                if (match.Success)
                {
                    int stage = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
                    int block = int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
                    int depth = architecture.StageDepths[stage - 1];
                    if (block >= depth)
                    {
                        throw new ArgumentException(string.Format(
                            CultureInfo.InvariantCulture,
                            "Freeze target '{0}' does not exist in {1}: layer{2} has {3} blocks (layer{2}.0 to layer{2}.{4}).",
                            target, architecture.Name, stage, depth, depth - 1));
                    }

                    paths.Add(target);
                }
                else
                {
                    paths.AddRange(ResNet.StageModulePaths(target));
                }
            }

            return paths.Distinct(StringComparer.Ordinal).ToArray();
        }

        /// <summary>Whether a parameter or module path lies inside one of the given module paths.</summary>
        internal static bool IsInside(string path, IReadOnlyList<string> modulePaths)
        {
            foreach (var prefix in modulePaths)
            {
                if (path.Length == prefix.Length ? path == prefix : path.StartsWith(prefix, StringComparison.Ordinal) && path[prefix.Length] == '.')
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>The backbone stages, in order, that this spec freezes whole.</summary>
        internal IEnumerable<string> WholeStages => Targets.Where(t => Backbone.Contains(t, StringComparer.Ordinal));

        /// <inheritdoc />
        public bool Equals(FreezeSpec? other) => other is not null && Targets.OrderBy(t => t, StringComparer.Ordinal).SequenceEqual(other.Targets.OrderBy(t => t, StringComparer.Ordinal));

        /// <inheritdoc />
        public override bool Equals(object? obj) => Equals(obj as FreezeSpec);

        /// <inheritdoc />
        public override int GetHashCode() => Targets.Count;

        /// <summary>The description and the frozen targets, for example <c>Layers.UpTo(2) [stem, layer1, layer2]</c>.</summary>
        /// <returns>A readable form.</returns>
        public override string ToString() => Description + " [" + string.Join(", ", Targets) + "]";
    }
}
