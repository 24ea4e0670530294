using System;
using System.Linq;
using MedicalTransfer.Training;
using Xunit;
using static MedicalTransfer.Tests.Training.TrainingFixtures;

namespace MedicalTransfer.Tests.Training
{
    [Collection(TrainingCollection.Name)]
    public sealed class ResumeFreezeSpecTests
    {
        [Fact]
        public void Resume_FreezeUpTo2_ModelAndLogNameTheSpecAsWritten()
        {
            using var folder = new TestSupport.TempFolder();
            string checkpoint = folder.File("run.ckpt");
            var options = new TrainingOptions { Epochs = 1, LearningRate = 1e-3, Seed = 42, CheckpointPath = checkpoint };
            using (var first = TinyModel())
            {
                first.Freeze(Layers.UpTo(2));
                Fit(first, Source(8), Source(8, shuffle: false), options);
            }

            using var second = TinyModel();
            second.Freeze(Layers.UpTo(2));
            var logger = new ListLogger();
            var result = Fit(second, Source(8), Source(8, shuffle: false), options with { Epochs = 2, ResumeFrom = checkpoint, Logger = logger });

            Assert.Equal("Layers.UpTo(2)", second.FreezeSpec.Description);
            Assert.Equal(new[] { "stem", "layer1", "layer2" }, second.FreezeSpec.Targets);
            Assert.Contains(logger.Entries, e => e.Id.Id == 5007);
            Assert.DoesNotContain(logger.Messages, m => m.Contains("Layers.Only", StringComparison.Ordinal));
            Assert.DoesNotContain(result.History.Events, e => e.Message.Contains("Layers.Only", StringComparison.Ordinal));
            Assert.Equal("Layers.UpTo(2)", result.FinalFreeze.Description);
        }
    }
}
