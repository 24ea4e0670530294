using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using MedicalTransfer.Freezing;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;

namespace MedicalTransfer
{
    /// <summary>
    /// Freeze specs as values. Each says exactly which stages it covers (the article used one word,
    /// "partial", for two different things): <c>stem</c> is conv1 + bn1 (+ ReLU and max pool, which
    /// have no parameters), then <c>layer1</c>..<c>layer4</c>; the head is never frozen by these presets.
    /// </summary>
    public static class Layers
    {
        private static readonly string[] Backbone = { Stages.Stem, Stages.Layer1, Stages.Layer2, Stages.Layer3, Stages.Layer4 };

        /// <summary>Nothing frozen: the whole network trains.</summary>
        public static FreezeSpec None { get; } = new(System.Array.Empty<string>(), "Layers.None");

        /// <summary>The whole backbone (stem and layer1..layer4) frozen; only the head trains (linear probing).</summary>
        public static FreezeSpec All { get; } = new(Backbone, "Layers.All");

        /// <summary>Freezes the stem and layer1 up to layer <paramref name="stage"/> inclusive.</summary>
        /// <param name="stage">0 (stem only) to 4 (the whole backbone). <c>UpTo(2)</c> is the article's section 3.1 "partial".</param>
        /// <returns>The spec.</returns>
        public static FreezeSpec UpTo(int stage)
        {
            Guard.InRange(stage, 0, 4);
            return new FreezeSpec(Backbone.Take(stage + 1), "Layers.UpTo(" + stage.ToString(CultureInfo.InvariantCulture) + ")");
        }

        /// <summary>Freezes layer <paramref name="stage"/> through layer4, leaving the stem, earlier stages and head trainable.</summary>
        /// <param name="stage">1 to 4.</param>
        /// <returns>The spec.</returns>
        public static FreezeSpec From(int stage)
        {
            Guard.InRange(stage, 1, 4);
            return new FreezeSpec(Backbone.Skip(stage), "Layers.From(" + stage.ToString(CultureInfo.InvariantCulture) + ")");
        }

        /// <summary>
        /// Freezes exactly the named stages (<c>stem</c>, <c>layer1</c>..<c>layer4</c>, <c>head</c>) and
        /// blocks (<c>layer3.0</c>). Names match whole module paths, never substrings.
        /// </summary>
        /// <param name="targets">Stage names or block paths.</param>
        /// <returns>The spec.</returns>
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
        /// <returns>The spec.</returns>
        public static FreezeSpec AllExcept(params string[] trainable)
        {
            Guard.NotNull(trainable);
            foreach (var t in trainable)
            {
                if (!Backbone.Contains(t))
                {
                    throw new System.ArgumentException(
                        "AllExcept takes backbone stage names (" + string.Join(", ", Backbone) + "); found '" + t + "'. For blocks, use Layers.Only(...).",
                        nameof(trainable));
                }
            }

            IEnumerable<string> frozen = Backbone.Where(s => !trainable.Contains(s));
            return new FreezeSpec(frozen, "Layers.AllExcept(" + string.Join(", ", trainable) + ")");
        }
    }
}
