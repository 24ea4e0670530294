using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Export;
using MedicalTransfer.Tests.Export;
using Xunit;
using Xunit.Abstractions;

namespace MedicalTransfer.Tests.Samples
{
    /// <summary>samples/BatchPrediction run as a process: arguments, the CSV, and resuming after SIGKILL.</summary>
    public sealed class BatchPredictionTests
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(6);
        private readonly ITestOutputHelper _output;

        public BatchPredictionTests(ITestOutputHelper output) => _output = output;

        [Theory]
        [InlineData("--images", "{temp}", "error: --model is required: an exported .onnx file or a saved .safetensors model.")]
        [InlineData("--model", "{temp}/model.onnx", "error: --images is required: the folder of images to classify.")]
        [InlineData("--model", "{temp}/notes.txt", "error: --model: 'notes.txt' is neither an .onnx export nor a .safetensors saved model.")]
        [InlineData("--batch-size", "0", "error: --model is required")]
        [InlineData("--colour", "red", "error: Unrecognized command or argument '--colour'.")]
        public void Main_BadArguments_ExitWith2AndOneLine(string option, string value, string expected)
        {
            using var temp = new TestSupport.TempFolder();
            File.WriteAllText(temp.File("model.onnx"), "checked later");
            File.WriteAllText(temp.File("notes.txt"), "not a model");

            var run = SampleProcess.Run("BatchPrediction", Timeout, option, value.Replace("{temp}", temp.Path, StringComparison.Ordinal));

            Assert.Equal(2, run.ExitCode);
            Assert.StartsWith(expected, run.Error.Trim(), StringComparison.Ordinal);
            Assert.Single(run.Error.Trim().Split('\n'));
            Assert.Contains("Usage:", run.Output, StringComparison.Ordinal);
        }

        [Fact]
        public void Main_ExistingOutputWithoutResume_ExitsWith2AndKeepsTheFile()
        {
            using var temp = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(temp.File("images"), new SyntheticChestXRayOptions { Count = 2, Size = 40, Seed = 1 });
            File.WriteAllText(temp.File("model.onnx"), "x");
            File.WriteAllText(temp.File("predictions.csv"), "earlier results");

            var run = SampleProcess.Run("BatchPrediction", Timeout, "--model", temp.File("model.onnx"), "--images", temp.File("images"), "--out", temp.File("predictions.csv"));

            Assert.Equal(2, run.ExitCode);
            Assert.Contains("exists; pass --resume", run.Error, StringComparison.Ordinal);
            Assert.Equal("earlier results", File.ReadAllText(temp.File("predictions.csv")));
        }

        [Fact]
        public void Main_KilledSeveralTimesAndResumed_WritesEveryImageOnceAsAnUninterruptedRun()
        {
            using var temp = new TestSupport.TempFolder();
            string images = temp.File("archive");
            SyntheticChestXRay.WriteImageFolder(images, new SyntheticChestXRayOptions { Count = 240, Size = 96, Seed = 6 });
            File.WriteAllText(Path.Combine(images, "NORMAL", "broken.png"), "not a png");
            using (var model = OnnxExportTests.Model("mlp"))
            {
                model.ExportOnnx(temp.File("model.onnx"));
            }

            string[] common = { "--model", temp.File("model.onnx"), "--images", images, "--batch-size", "2", "--workers", "1", "--threads", "1" };
            var reference = SampleProcess.Run("BatchPrediction", Timeout, common.Concat(new[] { "--out", temp.File("reference.csv") }).ToArray());
            Assert.True(reference.ExitCode == 0, reference.Output + reference.Error);
            Assert.Contains("progress: 241/241 images", reference.Error, StringComparison.Ordinal);

            string resumed = temp.File("resumed.csv");
            int kills = 0;
            var rowsAtKill = new List<int>();
            for (int attempt = 0; attempt < 12 && kills < 3; attempt++)
            {
                using var process = Start(common.Concat(new[] { "--out", resumed, "--resume" }));
                int before = Rows(resumed);
                var clock = Stopwatch.StartNew();
                while (!process.HasExited && Rows(resumed) < before + 20 && clock.Elapsed < TimeSpan.FromMinutes(3))
                {
                    Thread.Sleep(20);
                }

                if (process.HasExited)
                {
                    break;
                }

                process.Kill(); // SIGKILL: no handler runs, no buffer is flushed
                process.WaitForExit();
                kills++;
                rowsAtKill.Add(Rows(resumed));
            }

            _output.WriteLine($"killed {kills} times, with {string.Join(", ", rowsAtKill)} rows written");
            Assert.True(kills >= 3, $"the run finished before it could be killed three times ({kills}); make it longer");
            var last = SampleProcess.Run("BatchPrediction", Timeout, common.Concat(new[] { "--out", resumed, "--resume" }).ToArray());
            Assert.True(last.ExitCode == 0, last.Output + last.Error);

            var expected = File.ReadAllLines(temp.File("reference.csv"));
            var actual = File.ReadAllLines(resumed);
            Assert.Equal(242, expected.Length);
            Assert.Equal(expected.Length, actual.Length);
            Assert.Equal(expected[0], actual[0]);
            Assert.Equal("path,p_NORMAL,p_PNEUMONIA,predicted,error", expected[0]);
            Assert.Equal(actual.Length - 1, actual.Skip(1).Select(l => l.Split(',')[0]).Distinct().Count()); // no duplicate
            for (int i = 1; i < expected.Length; i++)
            {
                var e = expected[i].Split(',');
                var a = actual[i].Split(',');
                Assert.Equal(e[0], a[0]);
                Assert.Equal(e[^2], a[^2]);
                if (e[1].Length > 0)
                {
                    // Batches start at other images after a resume: float rounding only.
                    Assert.Equal(double.Parse(e[1], CultureInfo.InvariantCulture), double.Parse(a[1], CultureInfo.InvariantCulture), 1e-6);
                }
            }

            var broken = Assert.Single(actual, l => l.StartsWith("NORMAL/broken.png,", StringComparison.Ordinal));
            Assert.Contains("is not a PNG, JPEG, BMP or DICOM image", broken, StringComparison.Ordinal);
        }

        [Fact]
        public void Main_SavedModelAndItsOnnxExport_WriteTheSamePredictions()
        {
            using var temp = new TestSupport.TempFolder();
            SyntheticChestXRay.WriteImageFolder(temp.File("images"), new SyntheticChestXRayOptions { Count = 5, Size = 100, Format = SyntheticImageFormat.Png16, Seed = 2 });
            using (var model = OnnxExportTests.Model("basic-1-1-1-1"))
            {
                model.Save(temp.File("model.safetensors"));
                model.ExportOnnx(temp.File("model.onnx"));
            }

            var torch = SampleProcess.Run("BatchPrediction", Timeout, "--model", temp.File("model.safetensors"), "--images", temp.File("images"), "--out", temp.File("torch.csv"));
            var onnx = SampleProcess.Run("BatchPrediction", Timeout, "--model", temp.File("model.onnx"), "--images", temp.File("images"), "--out", temp.File("onnx.csv"));

            Assert.True(torch.ExitCode == 0, torch.Output + torch.Error);
            Assert.True(onnx.ExitCode == 0, onnx.Output + onnx.Error);
            Assert.Contains("wrote 5 rows (0 unreadable)", torch.Output, StringComparison.Ordinal);
            var a = File.ReadAllLines(temp.File("torch.csv"));
            var b = File.ReadAllLines(temp.File("onnx.csv"));
            Assert.Equal(6, a.Length);
            for (int i = 1; i < a.Length; i++)
            {
                var x = a[i].Split(',');
                var y = b[i].Split(',');
                Assert.Equal((x[0], x[3]), (y[0], y[3]));
                Assert.Equal(double.Parse(x[1], CultureInfo.InvariantCulture), double.Parse(y[1], CultureInfo.InvariantCulture), 1e-5);
            }
        }

        private static Process Start(IEnumerable<string> arguments)
        {
            string folder = AppContext.BaseDirectory;
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = folder };
            foreach (var a in new[] { "exec", "--runtimeconfig", Path.Combine(folder, "BatchPrediction.runtimeconfig.json"), "--depsfile", Path.Combine(folder, "BatchPrediction.deps.json"), Path.Combine(folder, "BatchPrediction.dll") }.Concat(arguments))
            {
                start.ArgumentList.Add(a);
            }

            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return process;
        }

        /// <summary>Complete data rows in the CSV so far (0 when it does not exist yet).</summary>
        private static int Rows(string path)
        {
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                int lines = 0;
                int b;
                while ((b = stream.ReadByte()) >= 0)
                {
                    lines += b == '\n' ? 1 : 0;
                }

                return Math.Max(0, lines - 1);
            }
            catch (FileNotFoundException)
            {
                return 0;
            }
        }
    }
}
