using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Internal;
using Xunit;
using Xunit.Abstractions;

namespace MedicalTransfer.Tests.Reliability
{
    /// <summary>
    /// Real process kills: the fault host is started as a child process and SIGKILLed at seeded random
    /// moments, many times, while it writes (see <see cref="KillScenario"/>). After every kill the target
    /// file is the previous one, bit for bit, or the complete new one; the run after the last kill removes
    /// every temporary file the kills left.
    /// </summary>
    [Collection("Fault host")]
    public sealed class KillTests
    {
        private readonly ITestOutputHelper _output;

        public KillTests(ITestOutputHelper output)
        {
            _output = output;
        }

        public static TheoryData<int> Scenarios()
        {
            var data = new TheoryData<int>();
            for (int i = 0; i < KillScenario.All.Count; i++)
            {
                data.Add(i);
            }

            return data;
        }

        [Theory]
        [MemberData(nameof(Scenarios))]
        public void Kill_AtRandomMoments_LeavesThePreviousFileOrTheCompleteNewOne(int index)
        {
            using KillScenario scenario = KillScenario.All[index]();
            scenario.Prepare();
            var random = new Random(scenario.Seed);
            int midWrite = 0;
            var lastKill = Stopwatch.StartNew();
            for (int run = 0; run < scenario.Kills; run++)
            {
                scenario.BeforeRun(run);
                string[] before = scenario.TempFiles();
                using HostProcess host = scenario.StartHost();
                if (scenario.ReadyLine is not null)
                {
                    host.WaitForLine(scenario.ReadyLine, TimeSpan.FromMinutes(2));
                }

                int steps = random.Next(scenario.MinProgressLines, scenario.MaxProgressLines + 1);
                if (steps > 0)
                {
                    host.WaitForLines(scenario.ProgressPrefix!, steps, TimeSpan.FromMinutes(2));
                }

                Thread.Sleep(random.Next(scenario.MinDelayMs, scenario.MaxDelayMs));
                bool finishedFirst = host.HasExited;
                host.Kill();
                lastKill.Restart();

                // A host that ended on its own before the kill must have succeeded: a run that refuses what the
                // previous kill left (an unreadable file, a resume that fails) is the defect these tests look for.
                Assert.True(!finishedFirst || host.ExitCode == 0, $"{scenario.Name} run {run}: the host exited with {(finishedFirst ? host.ExitCode : 0)} before the kill: {host.Errors}");
                if (scenario.LandedInsideWrite(before))
                {
                    midWrite++;
                }

                scenario.AfterKill(run, host.Lines);
            }

            _output.WriteLine($"{scenario.Name}: {scenario.Kills} kills, {midWrite} inside a write, {scenario.TempFiles().Length} temporary files left before the next run");
            // A schedule whose kills never land inside a write would prove nothing.
            Assert.True(midWrite >= 2, $"{scenario.Name}: only {midWrite} of {scenario.Kills} kills landed inside a write; widen the kill window");

            // The next run removes what the killed writers left, once they are older than the grace period.
            TimeSpan wait = AtomicFile.AbandonedAfter - lastKill.Elapsed + TimeSpan.FromMilliseconds(200);
            if (wait > TimeSpan.Zero)
            {
                Thread.Sleep(wait);
            }

            scenario.RunToCompletion();
            Assert.Empty(scenario.TempFiles());
        }
    }

    /// <summary>
    /// The one moment of a batch-prediction run that random kills rarely hit: after the output file is created and
    /// before its header reaches the disk. The file is then empty or holds part of the header, and --resume must
    /// start it over rather than refuse it as "not written for this model".
    /// </summary>
    [Collection("Fault host")]
    public sealed class BatchPredictionKillTests
    {
        [Theory]
        [InlineData("")]
        [InlineData("path,p_NOR")]
        public void Resume_KilledBeforeTheHeaderWasWritten_StartsTheFileOver(string left)
        {
            using var temp = new TestSupport.TempFolder();
            MedicalTransfer.Data.SyntheticChestXRay.WriteImageFolder(temp.File("images"), new MedicalTransfer.Data.SyntheticChestXRayOptions { Count = 3, Size = 40, Seed = 2 });
            using (MedicalTransfer.TransferModel model = Export.OnnxExportTests.Model("mlp"))
            {
                MedicalTransfer.Export.TransferModelExportExtensions.ExportOnnx(model, temp.File("model.onnx"));
            }

            File.WriteAllText(temp.File("predictions.csv"), left);

            var run = Samples.SampleProcess.Run("BatchPrediction", TimeSpan.FromMinutes(6), "--model", temp.File("model.onnx"), "--images", temp.File("images"), "--out", temp.File("predictions.csv"), "--resume");

            Assert.True(run.ExitCode == 0, run.Output + run.Error);
            string[] lines = File.ReadAllLines(temp.File("predictions.csv"));
            Assert.Equal("path,p_NORMAL,p_PNEUMONIA,predicted,error", lines[0]);
            Assert.Equal(4, lines.Length);
        }
    }

    /// <summary>Tests that start fault hosts run one at a time: each host is a CPU-heavy process of its own.</summary>
    [CollectionDefinition("Fault host", DisableParallelization = true)]
    public sealed class FaultHostCollection
    {
    }
}
