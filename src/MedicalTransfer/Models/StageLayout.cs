using System.Collections.Generic;
using System.Linq;

namespace MedicalTransfer.Models
{
    /// <summary>
    /// One named stage of a backbone, as the architecture describes it before any tensor exists: the module paths
    /// (state-dict prefixes) that hold its parameters and the blocks it is made of. Freezing, training, layer
    /// importance and Grad-CAM read stages from here and never from names of their own.
    /// </summary>
    internal sealed class StageLayout
    {
        public StageLayout(string name, IReadOnlyList<string> modulePaths, IReadOnlyList<BlockLayout>? blocks = null, bool blocksAreChain = false)
        {
            Name = name;
            ModulePaths = modulePaths.ToArray();
            Blocks = blocks?.ToArray() ?? System.Array.Empty<BlockLayout>();
            BlocksAreChain = blocksAreChain && Blocks.Count > 0;
        }

        /// <summary>The stage's name, for example <c>layer4</c> or <c>denseblock2</c>.</summary>
        public string Name { get; }

        /// <summary>Module paths of the stage's parameters (<c>conv1</c> and <c>bn1</c> for a ResNet's stem).</summary>
        public IReadOnlyList<string> ModulePaths { get; }

        /// <summary>The units the stage is made of, in forward order; empty for a stage that is a single unit.</summary>
        public IReadOnlyList<BlockLayout> Blocks { get; }

        /// <summary>
        /// Whether the stage is exactly its blocks applied one after the other, each to the previous one's output (a
        /// ResNet's residual stage); then Grad-CAM can stop inside it. A dense block is not: each dense layer reads
        /// the concatenation of all earlier outputs.
        /// </summary>
        public bool BlocksAreChain { get; }
    }

    /// <summary>One block of a stage: the name used in freeze specs and Grad-CAM layers, and its module path.</summary>
    /// <param name="Name">For example <c>layer4.1</c>, <c>denseblock2.denselayer3</c> or <c>stage6.0</c>.</param>
    /// <param name="ModulePath">Its state-dict prefix, for example <c>layer4.1</c> or <c>features.denseblock2.denselayer3</c>.</param>
    internal sealed record BlockLayout(string Name, string ModulePath);
}
