using Xunit;

namespace MedicalTransfer.Tests.Training
{
    /// <summary>
    /// Training tests seed and consume TorchSharp's process-wide random generator (model initialisation,
    /// dropout) and compare runs bit for bit, so they must not run while other tests draw from it.
    /// </summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class TrainingCollection
    {
        public const string Name = "Training (process-wide torch RNG)";
    }
}
