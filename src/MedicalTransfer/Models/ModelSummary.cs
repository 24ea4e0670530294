using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace MedicalTransfer.Models
{
    /// <summary>Whether a stage's parameters train.</summary>
    public enum StageState
    {
        /// <summary>Every parameter trains.</summary>
        Trainable,

        /// <summary>No parameter trains.</summary>
        Frozen,

        /// <summary>Some blocks are frozen, others train.</summary>
        Partial,

        /// <summary>The stage has no parameters (pooling).</summary>
        NoParameters,
    }

    /// <summary>Parameter counts and freeze state of one stage.</summary>
    /// <param name="Stage">The stage name (see <see cref="BackboneArchitecture.StageNames"/>).</param>
    /// <param name="Parameters">Number of parameter elements in the stage.</param>
    /// <param name="TrainableParameters">Number of those that train.</param>
    /// <param name="State">Frozen, trainable or partial.</param>
    public sealed record StageSummary(string Stage, long Parameters, long TrainableParameters, StageState State);

    /// <summary>A model's per-stage parameter counts and freeze state, printable as a table.</summary>
    public sealed class ModelSummary
    {
        internal ModelSummary(string architecture, IReadOnlyList<string> classNames, IReadOnlyList<StageSummary> stages, string? layout = null, string? weightsSource = null)
        {
            Architecture = architecture;
            ClassNames = classNames;
            Stages = stages;
            Layout = layout;
            WeightsSource = weightsSource;
        }

        /// <summary>The architecture's name, for example <c>ResNet-50</c>.</summary>
        public string Architecture { get; }

        /// <summary>
        /// The backbone's block type and stage depths where they say more than the name, for example
        /// <c>basic blocks, stages [2, 2, 2, 3]: not a torchvision depth (ResNet-18 is [2, 2, 2, 2])</c> for the offline ImageNet ResNet-18 of <c>ResNetWeights.MLNetResNet18</c>
        /// (its last stage has three blocks, torchvision's two); otherwise <see langword="null"/>.
        /// </summary>
        public string? Layout { get; }

        /// <summary>Where the pretrained weights came from (a file path), when the model was built with some; otherwise <see langword="null"/>.</summary>
        public string? WeightsSource { get; }

        /// <summary>The class names the head predicts.</summary>
        public IReadOnlyList<string> ClassNames { get; }

        /// <summary>One row per stage, in forward order.</summary>
        public IReadOnlyList<StageSummary> Stages { get; }

        /// <summary>Parameter elements in the whole model.</summary>
        public long TotalParameters => Stages.Sum(s => s.Parameters);

        /// <summary>Parameter elements that train.</summary>
        public long TrainableParameters => Stages.Sum(s => s.TrainableParameters);

        /// <summary>The table: stage, parameters, trainable, state, and a total line.</summary>
        /// <returns>The table.</returns>
        public override string ToString()
        {
            var sb = new StringBuilder();
            int width = Stages.Select(s => s.Stage.Length).Append(8).Max();
            sb.Append(Architecture);
            if (Layout is not null)
            {
                sb.Append(" [").Append(Layout).Append(']');
            }

            sb.Append(CultureInfo.InvariantCulture, $", {ClassNames.Count} classes ({Classes(ClassNames)})").AppendLine();
            if (WeightsSource is not null)
            {
                sb.Append("weights: ").Append(WeightsSource).AppendLine();
            }

            sb.Append("stage".PadRight(width)).Append(CultureInfo.InvariantCulture, $" {"parameters",12} {"trainable",12}  state").AppendLine();
            foreach (var s in Stages)
            {
                sb.Append(s.Stage.PadRight(width)).Append(CultureInfo.InvariantCulture, $" {s.Parameters,12:N0} {s.TrainableParameters,12:N0}  {s.State.ToString().ToLowerInvariant()}").AppendLine();
            }

            sb.Append("total".PadRight(width)).Append(CultureInfo.InvariantCulture, $" {TotalParameters,12:N0} {TrainableParameters,12:N0}  ({TotalParameters / 1e6:0.0}M parameters, {TrainableParameters / 1e6:0.0}M trainable)");
            return sb.ToString();
        }

        /// <summary>The layout line of the header for architectures whose name does not say it all (custom ResNet layouts, such as ML.NET's [2, 2, 2, 3]).</summary>
        internal static string? LayoutOf(BackboneArchitecture architecture) =>
            architecture is ResNetArchitecture { Depth: null } resnet
                ? string.Format(
                    CultureInfo.InvariantCulture,
                    "{0} blocks, stages [{1}]: not a torchvision depth ({2} is [{3}])",
                    resnet.Block == BlockKind.Basic ? "basic" : "bottleneck",
                    string.Join(", ", resnet.StageDepths),
                    resnet.Block == BlockKind.Basic ? "ResNet-18" : "ResNet-50",
                    string.Join(", ", ResNetArchitecture.ForDepth(resnet.Block == BlockKind.Basic ? 18 : 50).StageDepths))
                : null;

        // 1000 ImageNet names would bury the table: the first few and a count.
        private static string Classes(IReadOnlyList<string> names) =>
            names.Count <= 10 ? string.Join(", ", names) : string.Join(", ", names.Take(5)) + string.Format(CultureInfo.InvariantCulture, ", ... {0} more", names.Count - 5);
    }
}
