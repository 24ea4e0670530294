using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Freezing;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;

namespace MedicalTransfer
{
    /// <summary>
    /// Freeze specs as values. Each says exactly which stages it covers (the article used one word, "partial", for
    /// two different things). Positional presets count the backbone's stages in forward order, the stem being stage
    /// 0, and mean the same kind of thing on every backbone: for a ResNet the stages are <c>stem</c>,
    /// <c>layer1</c>..<c>layer4</c>; for a DenseNet <c>stem</c>, <c>denseblock1</c>..<c>denseblock4</c> (each with
    /// the transition after it; the last with the final BatchNorm); for an EfficientNet <c>stem</c>,
    /// <c>stage1</c>..<c>stage7</c> and <c>conv_head</c> (docs/architectures.md has the table). The head is never
    /// frozen by these presets.
    /// </summary>
    public static class Layers
    {
        /// <summary>Nothing frozen: the whole network trains.</summary>
        public static FreezeSpec None { get; } = new(Array.Empty<string>(), "Layers.None");

        /// <summary>The whole backbone (every stage before pooling) frozen; only the head trains (linear probing).</summary>
        public static FreezeSpec All { get; } = new(a => a.BackboneStageNames, "Layers.All", "every backbone stage");

        /// <summary>
        /// Freezes the stem and the <paramref name="stage"/> stages after it: <c>UpTo(2)</c> is a ResNet's stem,
        /// layer1 and layer2 (the article's section 3.1 "partial"), a DenseNet's stem, denseblock1 and denseblock2, an
        /// EfficientNet's stem, stage1 and stage2.
        /// </summary>
        /// <param name="stage">0 (stem only) to the number of stages after the stem (4 for ResNet and DenseNet, 8 for EfficientNet, which is the whole backbone).</param>
        /// <returns>The spec; a stage beyond the backbone's is reported when the spec is applied.</returns>
        public static FreezeSpec UpTo(int stage)
        {
            Guard.InRange(stage, 0, int.MaxValue);
            string description = "Layers.UpTo(" + stage.ToString(CultureInfo.InvariantCulture) + ")";
            return new FreezeSpec(a => Take(a, description, stage, 0, stage), description, stage == 0 ? "the stem" : string.Format(CultureInfo.InvariantCulture, "the stem and the {0} stage(s) after it", stage));
        }

        /// <summary>Freezes stage <paramref name="stage"/> (counting the stem as 0) through the last backbone stage, leaving the stem, earlier stages and head trainable.</summary>
        /// <param name="stage">1 to the number of stages after the stem (4 for ResNet and DenseNet, 8 for EfficientNet).</param>
        /// <returns>The spec; a stage beyond the backbone's is reported when the spec is applied.</returns>
        public static FreezeSpec From(int stage)
        {
            Guard.InRange(stage, 1, int.MaxValue);
            string description = "Layers.From(" + stage.ToString(CultureInfo.InvariantCulture) + ")";
            return new FreezeSpec(a => Take(a, description, stage, stage, a.BackboneStageNames.Count - 1), description, string.Format(CultureInfo.InvariantCulture, "stage {0} (the stem being 0) to the last backbone stage", stage));
        }

        /// <summary>
        /// Freezes exactly the named stages (<c>stem</c>, <c>layer1</c>, <c>denseblock3</c>, <c>stage6</c>,
        /// <c>head</c>...) and blocks (<c>layer3.0</c>, <c>denseblock4.denselayer16</c>, <c>stage6.2</c>). Names match
        /// whole module paths, never substrings; whether they exist in the model is checked when the spec is applied.
        /// </summary>
        /// <param name="targets">Stage names or block paths.</param>
        /// <returns>The spec.</returns>
        /// <exception cref="ArgumentException">A name is no stage or block of any backbone family.</exception>
        public static FreezeSpec Only(params string[] targets)
        {
            Guard.NotNull(targets);
            foreach (var t in targets)
            {
                FreezeSpec.ValidateName(t, nameof(targets));
            }

            return new FreezeSpec(targets, "Layers.Only(" + string.Join(", ", targets) + ")");
        }

        /// <summary>Freezes every backbone stage except the named ones (the article's section 4.2 "partial" is <c>AllExcept("layer4")</c>).</summary>
        /// <param name="trainable">Backbone stages to keep trainable.</param>
        /// <returns>The spec; a name that is not a stage of the model's backbone is reported when the spec is applied.</returns>
        /// <exception cref="ArgumentException">A name is no backbone stage of any family.</exception>
        public static FreezeSpec AllExcept(params string[] trainable)
        {
            Guard.NotNull(trainable);
            foreach (var t in trainable)
            {
                if (t is null || !BackboneCatalog.IsStageName(t))
                {
                    throw new ArgumentException(
                        "AllExcept takes backbone stage names (" + string.Join(", ", BackboneCatalog.StageNames) + "); found '" + t + "'. For blocks, use Layers.Only(...).",
                        nameof(trainable));
                }
            }

            var kept = (string[])trainable.Clone();
            string description = "Layers.AllExcept(" + string.Join(", ", kept) + ")";
            return new FreezeSpec(
                a =>
                {
                    var missing = kept.Where(t => !a.BackboneStageNames.Contains(t, StringComparer.Ordinal)).ToArray();
                    if (missing.Length > 0)
                    {
                        throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "{0}: {1} has no stage {2}; its stages are {3}.", description, a.Name, string.Join(", ", missing.Select(m => "'" + m + "'")), string.Join(", ", a.BackboneStageNames)), nameof(trainable));
                    }

                    return a.BackboneStageNames.Where(s => !kept.Contains(s, StringComparer.Ordinal)).ToArray();
                },
                description,
                "every backbone stage but " + string.Join(", ", kept));
        }

        private static IReadOnlyList<string> Take(BackboneArchitecture architecture, string description, int stage, int first, int last)
        {
            int after = architecture.BackboneStageNames.Count - 1;
            if (stage > after)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(stage),
                    stage,
                    string.Format(CultureInfo.InvariantCulture, "{0}: {1} has the stem and {2} stages after it ({3}), so the stage must be at most {2}.", description, architecture.Name, after, string.Join(", ", architecture.BackboneStageNames)));
            }

            return architecture.BackboneStageNames.Skip(first).Take(last - first + 1).ToArray();
        }
    }
}
