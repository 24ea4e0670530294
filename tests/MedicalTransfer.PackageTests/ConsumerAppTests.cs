using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace MedicalTransfer.PackageTests
{
    /// <summary>
    /// The consumer path end to end: a fresh console app installs the packed library from a local feed, adds
    /// TorchSharp-cpu, builds and runs a ten-line TransferBuilder program. On a host whose libstdc++ lacks
    /// GLIBCXX_3.4.32 (Debian 12, Ubuntu 22.04) the run also proves that the package's buildTransitive remedy
    /// reaches the consumer's output with no manual step.
    /// </summary>
    [Collection(PackedLibraryCollection.Name)]
    [Trait("Category", "Package")]
    public sealed class ConsumerAppTests
    {
        private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(5);

        // What a user writes first: build a model, forward a batch, look at the summary.
        private const string Program = """
            using MedicalTransfer;
            using TorchSharp;

            torch.manual_seed(7);
            using var model = TransferBuilder.FromResNet(18).Freeze(Layers.UpTo(2)).ForClasses("NORMAL", "PNEUMONIA").Build();
            model.eval();
            using var batch = torch.randn(4, 3, 64, 64);
            using var logits = model.forward(batch);
            using var sums = torch.nn.functional.softmax(logits, 1).sum(1);
            Console.WriteLine($"logits [{string.Join(", ", logits.shape)}], probabilities sum to {sums.min().item<float>():F4}..{sums.max().item<float>():F4}");
            Console.WriteLine(model.Summary());
            """;

        private readonly PackedLibrary _packed;
        private readonly ITestOutputHelper _log;

        public ConsumerAppTests(PackedLibrary packed, ITestOutputHelper log)
        {
            _packed = packed;
            _log = log;
        }

        [Fact]
        public void ConsoleApp_PackageFromLocalFeed_BuildsAndRunsTransferBuilderProgram()
        {
            // Outside the repository, and fenced: MSBuild and NuGet look for Directory.*.props and NuGet.config in
            // every parent folder, and the repository's (central package versions, an ignored local NuGet.Config)
            // must not shape what a consumer gets. The feed is ADDED to the normal sources, which serve TorchSharp-cpu.
            var consumer = Path.Combine(_packed.WorkRoot, "consumer");
            Directory.CreateDirectory(consumer);
            foreach (var fence in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
            {
                File.WriteAllText(Path.Combine(consumer, fence), "<Project />\n");
            }

            File.WriteAllText(Path.Combine(consumer, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="medicaltransfer-test-feed" value="{_packed.Feed}" />
                  </packageSources>
                </configuration>
                """);

            Step(consumer, "new", "console", "-n", "App", "-o", "App", "-f", "net10.0");
            var app = Path.Combine(consumer, "App");
            Step(app, "add", "package", PackedLibrary.PackageId, "--version", _packed.Version, "--source", _packed.Feed);
            Step(app, "add", "package", "TorchSharp-cpu", "--version", _packed.TorchSharpVersion);
            File.WriteAllText(Path.Combine(app, "Program.cs"), Program + "\n");

            var build = Step(app, "build");
            Assert.Empty(DotNetCli.Warnings(build.Output));
            if (HostLibStdCxxLacksGlibcxx3432())
            {
                // The package's own target, not anything in this test, made the app runnable.
                Assert.Contains("MedicalTransfer: host libstdc++ lacks GLIBCXX_3.4.32; marked that requirement weak", build.Output, StringComparison.Ordinal);
            }

            var run = Step(app, "run", "--no-build");
            Assert.Contains("logits [4, 2], probabilities sum to 1.0000..1.0000", run.Output, StringComparison.Ordinal);
            Assert.Contains("ResNet-18, 2 classes (NORMAL, PNEUMONIA)", run.Output, StringComparison.Ordinal);
            Assert.Matches(new Regex(@"stem\s+9,536\s+0\s+frozen"), run.Output);
            Assert.Matches(new Regex(@"layer3\s+2,099,712\s+2,099,712\s+trainable"), run.Output);
            Assert.Matches(new Regex(@"total\s+11,177,538\s+10,494,466"), run.Output);
        }

        // Exports a small model and prints the TorchSharp model's probabilities for a few images. The images are JPEGs,
        // so both apps decode through libjpeg-turbo and must find SkiaSharp's native library in the packages' assets.
        private const string ExporterProgram = """
            using System.Globalization;
            using MedicalTransfer;
            using MedicalTransfer.Data;
            using MedicalTransfer.Export;
            using MedicalTransfer.Models;
            using MedicalTransfer.Prediction;

            string root = args[0];
            SyntheticChestXRay.WriteImageFolder(Path.Combine(root, "images"), new SyntheticChestXRayOptions { Count = 4, Size = 96, Seed = 3, Format = SyntheticImageFormat.Jpeg });
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).WithHead(Head.Mlp(16))
                .ForClasses("NORMAL", "PNEUMONIA").WithSeed(5).Build();
            model.ExportOnnx(Path.Combine(root, "model.onnx"));
            await foreach (var p in model.PredictFolder(Path.Combine(root, "images")))
            {
                Console.WriteLine($"{Path.GetFileName(p.Source)}\t{p.Probabilities[1].ToString("R", CultureInfo.InvariantCulture)}");
            }
            """;

        // Predicts the same images from the exported file with ONNX Runtime only: no TorchSharp backend in this app.
        private const string PredictorProgram = """
            using System.Globalization;
            using MedicalTransfer.Onnx;
            using MedicalTransfer.Prediction;

            string root = args[0];
            using var classifier = OnnxImageClassifier.Load(Path.Combine(root, "model.onnx"));
            await foreach (var p in classifier.PredictFolder(Path.Combine(root, "images")))
            {
                Console.WriteLine($"{Path.GetFileName(p.Source)}\t{p.Probabilities[1].ToString("R", CultureInfo.InvariantCulture)}");
            }

            bool torch = File.ReadAllLines("/proc/self/maps").Any(l => l.Contains("libtorch", StringComparison.Ordinal) || l.Contains("LibTorchSharp", StringComparison.Ordinal));
            Console.WriteLine("torch native loaded: " + torch);
            Console.WriteLine("skia native loaded: " + File.ReadAllLines("/proc/self/maps").Any(l => l.Contains("libSkiaSharp", StringComparison.Ordinal)));
            """;

        [Fact]
        public void OnnxConsoleApps_ExportWithTorchSharpThenPredictWithOnnxPackageOnly_AgreeWithin1e5()
        {
            var consumer = Fence(Path.Combine(_packed.WorkRoot, "onnx-consumer"));
            Step(consumer, "new", "console", "-n", "Exporter", "-o", "Exporter", "-f", "net10.0");
            Step(consumer, "new", "console", "-n", "Predictor", "-o", "Predictor", "-f", "net10.0");
            var exporter = Path.Combine(consumer, "Exporter");
            var predictor = Path.Combine(consumer, "Predictor");
            Step(exporter, "add", "package", PackedLibrary.PackageId, "--version", _packed.Version, "--source", _packed.Feed);
            Step(exporter, "add", "package", "TorchSharp-cpu", "--version", _packed.TorchSharpVersion);
            Step(predictor, "add", "package", "MedicalTransfer.Onnx", "--version", _packed.Version, "--source", _packed.Feed);
            File.WriteAllText(Path.Combine(exporter, "Program.cs"), ExporterProgram + "\n");
            File.WriteAllText(Path.Combine(predictor, "Program.cs"), PredictorProgram + "\n");
            Assert.Empty(DotNetCli.Warnings(Step(exporter, "build").Output));
            Assert.Empty(DotNetCli.Warnings(Step(predictor, "build").Output));
            Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(predictor, "bin"), "*", SearchOption.AllDirectories), f => Path.GetFileName(f).StartsWith("libtorch", StringComparison.Ordinal));

            var data = Path.Combine(consumer, "data");
            Directory.CreateDirectory(data);
            var exported = Step(exporter, "run", "--no-build", "--", data);
            var predicted = Step(predictor, "run", "--no-build", "--", data);

            var torch = Rows(exported.Output);
            var onnx = Rows(predicted.Output);
            Assert.Equal(4, torch.Count);
            Assert.Equal(torch.Keys.OrderBy(k => k, StringComparer.Ordinal), onnx.Keys.OrderBy(k => k, StringComparer.Ordinal));
            foreach (var (file, p) in torch)
            {
                Assert.True(Math.Abs(p - onnx[file]) <= 1e-5, $"{file}: TorchSharp {p}, ONNX Runtime {onnx[file]}");
            }

            Assert.Contains("torch native loaded: False", predicted.Output, StringComparison.Ordinal);
            Assert.Contains("skia native loaded: True", predicted.Output, StringComparison.Ordinal);
        }

        private static Dictionary<string, double> Rows(string output) => output.Split('\n')
            .Select(l => l.Trim().Split('\t'))
            .Where(f => f.Length == 2 && f[0].EndsWith(".jpeg", StringComparison.Ordinal))
            .ToDictionary(f => f[0], f => double.Parse(f[1], CultureInfo.InvariantCulture), StringComparer.Ordinal);

        /// <summary>A consumer folder outside the repository, fenced from its Directory.*.props, with the test feed added.</summary>
        private string Fence(string consumer)
        {
            Directory.CreateDirectory(consumer);
            foreach (var fence in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
            {
                File.WriteAllText(Path.Combine(consumer, fence), "<Project />\n");
            }

            File.WriteAllText(Path.Combine(consumer, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="medicaltransfer-test-feed" value="{_packed.Feed}" />
                  </packageSources>
                </configuration>
                """);
            return consumer;
        }

        private CommandResult Step(string workingDirectory, params string[] arguments)
        {
            var result = DotNetCli.Run(workingDirectory, StepTimeout, arguments);
            _log.WriteLine($"{result.Command}: exit {result.ExitCode}, {result.Duration.TotalSeconds:F1} s");
            Assert.True(result.ExitCode == 0, result.Describe());
            return result;
        }

        /// <summary>Whether the remedy applies here: the same test as the package's target (the first libstdc++ found).</summary>
        private static bool HostLibStdCxxLacksGlibcxx3432()
        {
            if (!OperatingSystem.IsLinux())
            {
                return false;
            }

            string[] candidates =
            {
                "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
            };
            foreach (var candidate in candidates)
            {
                if (File.Exists(candidate))
                {
                    var library = File.ReadAllBytes(candidate);
                    return library.AsSpan().IndexOf(Encoding.ASCII.GetBytes("GLIBCXX_3.4.32\0")) < 0;
                }
            }

            return false;
        }
    }
}
