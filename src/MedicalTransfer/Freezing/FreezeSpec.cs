using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;

namespace MedicalTransfer.Freezing
{
    /// <summary>
    /// Which parts of a backbone are frozen. A spec either names its targets (<see cref="Layers.Only"/>: stage names
    /// such as <c>stem</c> or <c>layer3</c>, block paths such as <c>layer4.1</c>, and <c>head</c>) or selects stages
    /// by position (<see cref="Layers.UpTo"/>, <see cref="Layers.From"/>, <see cref="Layers.All"/>,
    /// <see cref="Layers.AllExcept"/>), which means the same kind of thing on every backbone and becomes concrete
    /// stage names once it meets an architecture (<see cref="For"/>; a model's <see cref="TransferModel.FreezeSpec"/>
    /// is always concrete). Matching is by exact module path, never by substring: freezing <c>stem</c> freezes a
    /// ResNet's top-level <c>conv1</c> and <c>bn1</c>, not every block's <c>bn1</c>. Create specs with <see cref="Layers"/>.
    /// </summary>
    public sealed class FreezeSpec : IEquatable<FreezeSpec>
    {
        private readonly string[]? _targets;
        private readonly Func<BackboneArchitecture, IReadOnlyList<string>>? _select;
        private readonly string? _meaning;

        /// <summary>A spec with named targets (checked against an architecture when applied).</summary>
        internal FreezeSpec(IEnumerable<string> targets, string description)
        {
            _targets = targets.Distinct(StringComparer.Ordinal).ToArray();
            Description = description;
        }

        /// <summary>A spec that selects backbone stages by position; <paramref name="select"/> throws <see cref="ArgumentException"/> when the architecture has no such stages.</summary>
        internal FreezeSpec(Func<BackboneArchitecture, IReadOnlyList<string>> select, string description, string meaning)
        {
            _select = select;
            Description = description;
            _meaning = meaning;
        }

        /// <summary>
        /// Stage names and block paths this spec freezes. A spec that selects stages by position
        /// (<c>Layers.UpTo(2)</c>) has them only once resolved for an architecture: read
        /// <see cref="TransferModel.FreezeSpec"/> or call <see cref="For"/>.
        /// </summary>
        /// <exception cref="InvalidOperationException">The spec selects stages by position and has not been resolved.</exception>
        public IReadOnlyList<string> Targets => _targets ?? throw new InvalidOperationException(string.Format(
            CultureInfo.InvariantCulture,
            "{0} selects {1}; which stages those are depends on the backbone. Read model.FreezeSpec.Targets after freezing, or call {0}.For(architecture).Targets.",
            Description, _meaning));

        /// <summary>Whether <see cref="Targets"/> is known: the spec names its targets, or was resolved for an architecture.</summary>
        public bool IsConcrete => _targets is not null;

        /// <summary>How the spec was made, for example <c>Layers.UpTo(2)</c>.</summary>
        public string Description { get; }

        /// <summary>Whether the spec freezes nothing.</summary>
        public bool IsEmpty => _targets is { Length: 0 };

        /// <summary>
        /// The concrete spec for an architecture: positional selections become its stage names, and every target is
        /// checked to exist there. The description is kept (<c>Layers.UpTo(2) [stem, layer1, layer2]</c> for a ResNet,
        /// <c>Layers.UpTo(2) [stem, denseblock1, denseblock2]</c> for a DenseNet).
        /// </summary>
        /// <param name="architecture">The backbone the spec will freeze.</param>
        /// <returns>The concrete spec.</returns>
        /// <exception cref="ArgumentException">A named stage or block does not exist in <paramref name="architecture"/>, or a position is beyond its stages.</exception>
        public FreezeSpec For(BackboneArchitecture architecture)
        {
            Guard.NotNull(architecture);
            var targets = _targets ?? _select!(architecture);
            foreach (var target in targets)
            {
                Check(target, architecture);
            }

            return _targets is not null ? this : new FreezeSpec(targets, Description);
        }

        /// <summary>Checks that a target is well formed: a stage of some backbone family, <c>head</c>, or a block path.</summary>
        internal static string ValidateName(string target, string parameterName)
        {
            if (string.IsNullOrWhiteSpace(target))
            {
                throw new ArgumentException("A freeze target must be a stage name or block path; found an empty string.", parameterName);
            }

            if (target == Stages.Head || BackboneCatalog.IsStageOrBlockName(target))
            {
                return target;
            }

            throw new ArgumentException(
                string.Format(CultureInfo.InvariantCulture, "'{0}' is not a freezable stage or block. Use one of {1} or head (the stages of the backbone families), or a block path such as 'layer4.0'. Names match exactly, never as substrings.", target, string.Join(", ", BackboneCatalog.StageNames)),
                parameterName);
        }

        /// <summary>
        /// Expands the spec to the module paths (state-dict prefixes) it freezes in a network of the given
        /// architecture; a target that does not exist there is an error.
        /// </summary>
        internal IReadOnlyList<string> ResolveModulePaths(BackboneArchitecture architecture)
        {
            var paths = new List<string>();
            foreach (var target in For(architecture).Targets)
            {
                if (architecture.FindBlock(target) is { } block)
                {
                    paths.Add(block.Stage.Blocks[block.Index].ModulePath);
                }
                else
                {
                    paths.AddRange(architecture.StageModulePaths(target));
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

        /// <summary>The backbone stages, in forward order, that this (concrete) spec freezes whole.</summary>
        internal IEnumerable<string> WholeStages(BackboneArchitecture architecture)
        {
            var targets = For(architecture).Targets;
            return architecture.BackboneStageNames.Where(s => targets.Contains(s, StringComparer.Ordinal));
        }

        /// <summary>
        /// Two concrete specs are equal when they freeze the same targets (in any order); two positional specs that
        /// have not been resolved are equal when they are the same selection. A positional spec equals no concrete one:
        /// compare <c>spec.For(architecture)</c> instead.
        /// </summary>
        /// <param name="other">The other spec.</param>
        /// <returns>Whether they are equal.</returns>
        public bool Equals(FreezeSpec? other)
        {
            if (other is null)
            {
                return false;
            }

            if (_targets is not null && other._targets is not null)
            {
                return _targets.OrderBy(t => t, StringComparer.Ordinal).SequenceEqual(other._targets.OrderBy(t => t, StringComparer.Ordinal));
            }

            return _targets is null && other._targets is null && Description == other.Description;
        }

        /// <inheritdoc />
        public override bool Equals(object? obj) => Equals(obj as FreezeSpec);

        /// <inheritdoc />
        public override int GetHashCode() => _targets is null ? StringComparer.Ordinal.GetHashCode(Description) : _targets.Length;

        /// <summary>
        /// The description and the frozen targets, for example <c>Layers.UpTo(2) [stem, layer1, layer2]</c>; a
        /// positional spec not yet resolved says what it selects: <c>Layers.UpTo(2) [the stem and the 2 stages after it]</c>.
        /// </summary>
        /// <returns>A readable form.</returns>
        public override string ToString() => Description + " [" + (_targets is null ? _meaning : string.Join(", ", _targets)) + "]";

        private static void Check(string target, BackboneArchitecture architecture)
        {
            if (target == Stages.Head || architecture.FindStage(target) is not null || architecture.FindBlock(target) is not null)
            {
                return;
            }

            int dot = target.IndexOf('.', StringComparison.Ordinal);
            var stage = dot > 0 ? architecture.FindStage(target[..dot]) : null;
            if (stage is { Blocks.Count: > 0 })
            {
                throw new ArgumentException(string.Format(
                    CultureInfo.InvariantCulture,
                    "Freeze target '{0}' does not exist in {1}: {2} has {3} blocks ({4} to {5}).",
                    target, architecture.Name, stage.Name, stage.Blocks.Count, stage.Blocks[0].Name, stage.Blocks[^1].Name));
            }

            throw new ArgumentException(string.Format(
                CultureInfo.InvariantCulture,
                "Freeze target '{0}' does not exist in {1}: its stages are {2} and head{3}.",
                target,
                architecture.Name,
                string.Join(", ", architecture.BackboneStageNames),
                architecture.StageLayouts.FirstOrDefault(s => s.Blocks.Count > 0) is { } withBlocks ? ", and blocks are named like '" + withBlocks.Blocks[0].Name + "'" : string.Empty));
        }
    }
}
