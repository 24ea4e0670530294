using System.Collections.Generic;

namespace MedicalTransfer.Explainability
{
    /// <summary>Where a model looked for one image: the class explained, the model's probabilities, and the map.</summary>
    public sealed class Explanation
    {
        internal Explanation(string layer, int targetClass, string targetClassName, IReadOnlyList<double> probabilities, int predictedClass, string predictedClassName, Heatmap lowResolution, Heatmap upsampled)
        {
            Layer = layer;
            TargetClass = targetClass;
            TargetClassName = targetClassName;
            Probabilities = probabilities;
            PredictedClass = predictedClass;
            PredictedClassName = predictedClassName;
            LowResolution = lowResolution;
            Upsampled = upsampled;
        }

        /// <summary>The stage or block whose activations were weighted, for example <c>layer4</c> or <c>layer4.1</c>.</summary>
        public string Layer { get; }

        /// <summary>Index of the class explained.</summary>
        public int TargetClass { get; }

        /// <summary>Name of the class explained.</summary>
        public string TargetClassName { get; }

        /// <summary>The model's probability of every class for this image (softmax of the logits; for a multi-label model, the sigmoid of each finding's logit).</summary>
        public IReadOnlyList<double> Probabilities { get; }

        /// <summary>The model's probability of <see cref="TargetClass"/>.</summary>
        public double TargetProbability => Probabilities[TargetClass];

        /// <summary>The most probable class.</summary>
        public int PredictedClass { get; }

        /// <summary>Name of the most probable class.</summary>
        public string PredictedClassName { get; }

        /// <summary>The map at the layer's resolution (for example 7 x 7 for <c>layer4</c> of a 224 input), normalised to [0, 1].</summary>
        public Heatmap LowResolution { get; }

        /// <summary>The map upsampled bilinearly to the network's input size (the crop), normalised to [0, 1].</summary>
        public Heatmap Upsampled { get; }
    }

    /// <summary>Per-member maps of an ensemble and their mean, in the original image's frame.</summary>
    public sealed class EnsembleExplanation
    {
        internal EnsembleExplanation(int targetClass, string targetClassName, int predictedClass, string predictedClassName, double targetProbability, IReadOnlyList<Explanation> members, IReadOnlyList<Heatmap> memberMaps, Heatmap mean)
        {
            TargetClass = targetClass;
            TargetClassName = targetClassName;
            PredictedClass = predictedClass;
            PredictedClassName = predictedClassName;
            TargetProbability = targetProbability;
            Members = members;
            MemberMaps = memberMaps;
            Mean = mean;
        }

        /// <summary>Index of the class explained (the same for every member).</summary>
        public int TargetClass { get; }

        /// <summary>Name of the class explained.</summary>
        public string TargetClassName { get; }

        /// <summary>The ensemble's predicted class (its voting rule).</summary>
        public int PredictedClass { get; }

        /// <summary>Name of the ensemble's predicted class.</summary>
        public string PredictedClassName { get; }

        /// <summary>The ensemble's probability of the target class.</summary>
        public double TargetProbability { get; }

        /// <summary>Each member's own explanation, in its own input frame.</summary>
        public IReadOnlyList<Explanation> Members { get; }

        /// <summary>
        /// Each member's map projected onto the original image (members may resize and crop differently;
        /// 0 outside a member's crop).
        /// </summary>
        public IReadOnlyList<Heatmap> MemberMaps { get; }

        /// <summary>The mean of <see cref="MemberMaps"/>, normalised to [0, 1].</summary>
        public Heatmap Mean { get; }
    }
}
