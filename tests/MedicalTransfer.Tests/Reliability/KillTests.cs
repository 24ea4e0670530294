using System;
using System.Diagnostics;
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
                using var host = HostProcess.Start(scenario.HostArguments());
                host.WaitForLine("ready", TimeSpan.FromMinutes(2));
                int steps = random.Next(scenario.MinProgressLines, scenario.MaxProgressLines + 1);
                if (steps > 0)
                {
                    host.WaitForLines(scenario.ProgressPrefix!, steps, TimeSpan.FromMinutes(2));
                }

                Thread.Sleep(random.Next(scenario.MaxDelayMs));
                host.Kill();
                lastKill.Restart();

                // A new temporary file right after the kill means the kill landed inside a write.
                if (scenario.TempFiles().Except(before).Any())
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

    /// <summary>Tests that start fault hosts run one at a time: each host is a CPU-heavy process of its own.</summary>
    [CollectionDefinition("Fault host", DisableParallelization = true)]
    public sealed class FaultHostCollection
    {
    }
}
