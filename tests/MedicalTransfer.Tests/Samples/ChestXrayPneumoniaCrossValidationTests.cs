using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using Xunit;

namespace MedicalTransfer.Tests.Samples
{
    /// <summary>The main sample's <c>--folds</c>: cross-validation killed mid-fold by the operating system, resumed, and the study report.</summary>
    public sealed class ChestXrayPneumoniaCrossValidationTests
    {
        private const string Sample = "ChestXrayPneumonia";

        [Theory]
        [InlineData("1", "--folds must be from 2 to 20 (or 0 for one train/validation/test run); found 1.")]
        [InlineData("21", "--folds must be from 2 to 20 (or 0 for one train/validation/test run); found 21.")]
        public void Main_WrongFolds_PrintsOneLineAndExits2(string folds, string expected)
        {
            var result = SampleProcess.Run(Sample, TimeSpan.FromMinutes(1), "--folds", folds);
            Assert.Equal(2, result.ExitCode);
            Assert.Equal("error: " + expected, result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0]);
        }

        /// <summary>
        /// 60 phantoms, 2 folds, 2 epochs, 64 px: the process is killed (SIGKILL, no chance to clean up) as soon as fold 2
        /// reports its first epoch; <c>--resume</c> then skips fold 1, continues fold 2 at epoch 2, and writes the report.
        /// </summary>
        [Fact]
        [Trait("Category", "Slow")] // about 2 minutes on 2 shared cores
        public void Main_FoldsKilledInFoldTwo_ResumeContinuesAtThatFoldAndEpochAndWritesTheStudyReport()
        {
            using var folder = new TestSupport.TempFolder();
            string output = Path.Combine(folder.Path, "cv");
            var killed = RunUntil(TimeSpan.FromMinutes(8), line => line.StartsWith("fold 2/2 epoch 1/2", StringComparison.Ordinal),
                "--synthetic-images", "60", "--folds", "2", "--epochs", "2", "--image-size", "64", "--batch-size", "8", "--out", output);
            Assert.True(killed.Killed, "the run should have been killed in fold 2:\n" + killed.Output);
            Assert.Contains("fold 1/2: done", killed.Output, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(output, "cross-validation", "fold-1", "result.json")));
            Assert.True(File.Exists(Path.Combine(output, "cross-validation", "fold-2", "checkpoint.mtckpt")));
            Assert.False(File.Exists(Path.Combine(output, "study-report.html")));

            var resumed = SampleProcess.Run(Sample, TimeSpan.FromMinutes(8), "--resume", output);

            Assert.True(resumed.ExitCode == 0, resumed.Output + resumed.Error);
            Assert.Contains("fold 1/2: already complete, not trained again", resumed.Output, StringComparison.Ordinal);
            Assert.Contains("fold 2/2: resuming training from " + Path.Combine(output, "cross-validation", "fold-2", "checkpoint.mtckpt"), resumed.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("fold 2/2 epoch 1/2", resumed.Output, StringComparison.Ordinal);
            Assert.Contains("fold 2/2 epoch 2/2", resumed.Output, StringComparison.Ordinal);
            Assert.Contains("[fold 2/2] Epoch 2:", resumed.Output, StringComparison.Ordinal);
            Assert.Contains("Study report: " + Path.Combine(output, "study-report.html"), resumed.Output, StringComparison.Ordinal);

            // Every train+val image has exactly one out-of-fold prediction; the test split stayed apart.
            var rows = File.ReadAllLines(Path.Combine(output, "out_of_fold_predictions.csv"));
            Assert.Equal("path,patient,fold,label,p_NORMAL,p_PNEUMONIA", rows[0]);
            var paths = rows.Skip(1).Select(r => r.Split("\",")[0].TrimStart('"')).ToArray();
            Assert.Equal(paths.Length, paths.Distinct(StringComparer.Ordinal).Count());
            Assert.Equal(new[] { "1", "2" }, rows.Skip(1).Select(r => r.Split(',')[^4]).Distinct().OrderBy(f => f, StringComparer.Ordinal));
            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
            Assert.Equal(paths.Length, metrics.RootElement.GetProperty("count").GetInt32());
            string html = File.ReadAllText(Path.Combine(output, "study-report.html"));
            Assert.Contains("2-fold patient-level cross-validation", html, StringComparison.Ordinal);
            Assert.Contains("test set (kept apart)", html, StringComparison.Ordinal);
            Assert.Contains("data:image/png;base64,", html, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(output, "study-report.md")));
            using var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "run.json")));
            Assert.Equal(2, run.RootElement.GetProperty("Settings").GetProperty("Folds").GetInt32());
        }

        private sealed record Killable(bool Killed, string Output);

        /// <summary>Runs the sample and kills its whole process tree as soon as a line of its output satisfies <paramref name="killWhen"/>.</summary>
        private static Killable RunUntil(TimeSpan timeout, Func<string, bool> killWhen, params string[] arguments)
        {
            string binaries = AppContext.BaseDirectory;
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = binaries };
            foreach (var a in new[] { "exec", "--runtimeconfig", Path.Combine(binaries, Sample + ".runtimeconfig.json"), "--depsfile", Path.Combine(binaries, Sample + ".deps.json"), Path.Combine(binaries, Sample + ".dll") }.Concat(arguments))
            {
                start.ArgumentList.Add(a);
            }

            var lines = new ConcurrentQueue<string>();
            bool killed = false;
            using var process = new Process { StartInfo = start };
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    return;
                }

                lines.Enqueue(e.Data);
                if (!killed && killWhen(e.Data))
                {
                    killed = true;
                    process.Kill(entireProcessTree: true);
                }
            };
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lines.Enqueue(e.Data);
                }
            };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (!process.WaitForExit((int)timeout.TotalMilliseconds))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{Sample} did not finish in {timeout.TotalSeconds} s: " + string.Join("\n", lines));
            }

            process.WaitForExit();
            return new Killable(killed, string.Join("\n", lines));
        }
    }
}
