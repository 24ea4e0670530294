using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// The backbone families the SDK knows: how each one's layout string is recognised and parsed (model files and
    /// training checkpoints store it), how a state dict's keys are recognised as one of them (for mismatch messages),
    /// and the union of their stage names (so a freeze spec can be checked before the architecture is known).
    /// A new family is a folder under Models/ and one entry here.
    /// </summary>
    internal static class BackboneCatalog
    {
        private static readonly Family[] Families =
        {
            // ResNet's layout has no prefix ("basic:2,2,2,2"): it is what format version 1 wrote.
            new(
                "ResNet",
                text => text.StartsWith("basic:", StringComparison.Ordinal) || text.StartsWith("bottleneck:", StringComparison.Ordinal),
                ResNetArchitecture.Parse,
                shapes => ResNetArchitecture.Infer(shapes.Keys),
                ResNetArchitecture.ForDepth(18),
                new Regex(@"^layer[1-4]\.\d+$", RegexOptions.CultureInvariant)),
            new(
                "DenseNet",
                DenseNetArchitecture.IsLayout,
                DenseNetArchitecture.Parse,
                DenseNetArchitecture.Infer,
                DenseNetArchitecture.ForDepth(121),
                new Regex(@"^denseblock[1-4]\.(denselayer[1-9]\d*|transition|norm)$", RegexOptions.CultureInvariant)),
            new(
                "EfficientNet",
                EfficientNetArchitecture.IsLayout,
                EfficientNetArchitecture.Parse,
                EfficientNetArchitecture.Infer,
                EfficientNetArchitecture.ForWidth(0),
                new Regex(@"^stage[1-7]\.\d+$", RegexOptions.CultureInvariant)),
        };

        private static readonly string[] KnownStages = Families.SelectMany(f => f.Example.BackboneStageNames).Distinct(StringComparer.Ordinal).ToArray();

        /// <summary>Every backbone stage name of every family, for messages.</summary>
        public static IReadOnlyList<string> StageNames { get; } = Array.AsReadOnly(KnownStages);

        /// <summary>Parses a layout written by <see cref="BackboneArchitecture.ToString"/>.</summary>
        /// <exception cref="FormatException">No family recognises the text, or its family cannot parse it.</exception>
        public static BackboneArchitecture Parse(string layout)
        {
            var family = Families.FirstOrDefault(f => f.Recognises(layout))
                ?? throw new FormatException("Unknown backbone layout '" + layout + "'. Expected a ResNet's ('basic:2,2,2,2', 'bottleneck:3,4,6,3'), a DenseNet's ('densenet:32:64:6,12,24,16') or an EfficientNet's ('efficientnet:b0').");
            return family.Parse(layout);
        }

        /// <summary>The architecture a state dict's keys and shapes describe, or <see langword="null"/> when no family recognises them.</summary>
        public static BackboneArchitecture? Infer(IReadOnlyDictionary<string, long[]> shapes) =>
            Families.Select(f => f.Infer(shapes)).FirstOrDefault(a => a is not null);

        /// <summary>Whether <paramref name="name"/> is a backbone stage of some family, or a block of one (<c>stage.block</c>).</summary>
        public static bool IsStageOrBlockName(string name)
        {
            int dot = name.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0)
            {
                return KnownStages.Contains(name, StringComparer.Ordinal);
            }

            return Families.Any(f => f.BlockName.IsMatch(name));
        }

        /// <summary>Whether <paramref name="name"/> is a backbone stage of some family.</summary>
        public static bool IsStageName(string name) => KnownStages.Contains(name, StringComparer.Ordinal);

        /// <param name="Name">The family's name, for messages.</param>
        /// <param name="Recognises">Whether a layout string is this family's.</param>
        /// <param name="Parse">Parses one of its layout strings.</param>
        /// <param name="Infer">Recognises a state dict of this family and returns its architecture, or null.</param>
        /// <param name="Example">A member of the family, for its stage names.</param>
        /// <param name="BlockName">What its block paths look like (any depth: <c>layer3.22</c> is a ResNet-101 block).</param>
        private sealed record Family(string Name, Func<string, bool> Recognises, Func<string, BackboneArchitecture> Parse, Func<IReadOnlyDictionary<string, long[]>, BackboneArchitecture?> Infer, BackboneArchitecture Example, Regex BlockName);
    }
}
