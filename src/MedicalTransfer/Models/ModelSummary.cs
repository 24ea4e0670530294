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
        internal ModelSummary(string architecture, IReadOnlyList<string> classNames, IReadOnlyList<StageSummary> stages)
        {
            Architecture = architecture;
            ClassNames = classNames;
            Stages = stages;
        }

        /// <summary>The architecture's name, for example <c>ResNet-50</c>.</summary>
        public string Architecture { get; }

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
            sb.Append(CultureInfo.InvariantCulture, $"{Architecture}, {ClassNames.Count} classes ({string.Join(", ", ClassNames)})").AppendLine();
            sb.Append("stage".PadRight(width)).Append(CultureInfo.InvariantCulture, $" {"parameters",12} {"trainable",12}  state").AppendLine();
            foreach (var s in Stages)
            {
                sb.Append(s.Stage.PadRight(width)).Append(CultureInfo.InvariantCulture, $" {s.Parameters,12:N0} {s.TrainableParameters,12:N0}  {s.State.ToString().ToLowerInvariant()}").AppendLine();
            }

            sb.Append("total".PadRight(width)).Append(CultureInfo.InvariantCulture, $" {TotalParameters,12:N0} {TrainableParameters,12:N0}  ({TotalParameters / 1e6:0.0}M parameters, {TrainableParameters / 1e6:0.0}M trainable)");
            return sb.ToString();
        }
    }
}
