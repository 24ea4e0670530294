namespace MedicalTransfer
{
    /// <summary>What a model's logits mean: one class per image, or an independent yes/no per finding.</summary>
    public enum TaskKind
    {
        /// <summary>One class per image (<see cref="TransferBuilder.ForClasses(string[])"/>): softmax over the logits, cross-entropy loss.</summary>
        SingleLabel = 0,

        /// <summary>
        /// Any number of findings per image (<see cref="TransferBuilder.ForFindings(string[])"/>, CheXNet/CheXpert style): one logit
        /// per finding, a sigmoid per logit, binary cross-entropy loss with uncertain and missing labels handled by a
        /// <see cref="Data.UncertaintyPolicy"/>.
        /// </summary>
        MultiLabel = 1,
    }
}

namespace MedicalTransfer
{
    /// <summary>The names a model file's <c>task</c> metadata uses.</summary>
    internal static class TaskKindNames
    {
        public static string Name(TaskKind task) => task == TaskKind.MultiLabel ? "multi-label" : "single-label";

        public static TaskKind Parse(string name) => name switch
        {
            "single-label" => TaskKind.SingleLabel,
            "multi-label" => TaskKind.MultiLabel,
            _ => throw new System.FormatException("task is '" + name + "'; expected 'single-label' or 'multi-label'"),
        };
    }
}
