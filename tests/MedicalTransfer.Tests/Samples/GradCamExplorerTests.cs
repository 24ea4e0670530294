using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace MedicalTransfer.Tests.Samples
{
    /// <summary>samples/GradCamExplorer run as a process, as a user runs it.</summary>
    public sealed class GradCamExplorerTests
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

        [Fact]
        public void Main_MissingModelFile_ExitsWith2AndUsage()
        {
            using var temp = new TestSupport.TempFolder();
            string missing = temp.File("missing.safetensors");

            var run = SampleProcess.Run("GradCamExplorer", Timeout, "--model", missing, "--images", temp.Path, "--out", temp.File("out"));

            Assert.Equal(2, run.ExitCode);
            Assert.Equal($"error: --model: the file '{missing}' does not exist. Expected a model saved with TransferModel.Save (for example model.safetensors from the ChestXrayPneumonia sample).", run.Error.Trim());
            Assert.Contains("Usage:", run.Output, StringComparison.Ordinal);
            Assert.Contains("--method", run.Output, StringComparison.Ordinal);
            Assert.False(Directory.Exists(temp.File("out")), "nothing is written after an argument error");
        }

        [Fact]
        public void Main_MissingImagesFolder_ExitsWith2AndUsage()
        {
            using var temp = new TestSupport.TempFolder();
            File.WriteAllText(temp.File("model.safetensors"), "not checked before the folder");
            string missing = temp.File("no-such-folder");

            var run = SampleProcess.Run("GradCamExplorer", Timeout, "--model", temp.File("model.safetensors"), "--images", missing);

            Assert.Equal(2, run.ExitCode);
            Assert.StartsWith($"error: --images: the folder '{missing}' does not exist.", run.Error.Trim(), StringComparison.Ordinal);
            Assert.Contains("Usage:", run.Output, StringComparison.Ordinal);
        }

        [Theory]
        [InlineData("--method", "lime", "error: --method must be gradcam or gradcam++; found 'lime'.")]
        [InlineData("--layer", "fc", "error: --layer: Layer 'fc' cannot be explained: expected a stage with a spatial output")]
        [InlineData("--colour", "red", "error: Unrecognized command or argument '--colour'.")]
        public void Main_WrongArgument_ExitsWith2AndUsage(string option, string value, string expected)
        {
            var run = SampleProcess.Run("GradCamExplorer", Timeout, option, value);

            Assert.Equal(2, run.ExitCode);
            Assert.StartsWith(expected, run.Error.Trim(), StringComparison.Ordinal);
            Assert.Single(run.Error.Trim().Split('\n'));
            Assert.Contains("Usage:", run.Output, StringComparison.Ordinal);
        }

        [Fact]
        public void Execute_ImagesFolderGoneAfterTheModelLoaded_ThrowsAndReleasesTheModel()
        {
            // The folder is checked when the arguments are read; here it disappears before the run lists it.
            using var temp = new TestSupport.TempFolder();
            string modelPath = temp.File("tiny.safetensors");
            using (var model = TransferBuilder.FromResNet(18).ForClasses("A", "B").OnDevice(TorchSharp.torch.CPU).WithSeed(3).Build())
            {
                model.Save(modelPath);
            }

            var settings = new GradCamExplorer.ExplorerSettings { Model = modelPath, Images = temp.File("gone"), Output = temp.File("out") };
            long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;

            Assert.Throws<DirectoryNotFoundException>(() => new GradCamExplorer.Explorer(settings).Execute(default));

            Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }

        [Fact]
        public void Main_SavedModelAndThreeImages_WritesOneOverlayPerImageAndAnIndex()
        {
            using var temp = new TestSupport.TempFolder();
            string modelPath = temp.File("tiny.safetensors");
            using (var model = TransferBuilder.FromResNet(18)
                .ForClasses(SyntheticChestXRay.NormalClass, SyntheticChestXRay.PneumoniaClass)
                .WithPreprocessing(new Preprocessing { ResizeSize = 72, CropSize = 64 })
                .WithSeed(3)
                .Build())
            {
                model.Save(modelPath);
            }

            // Three 80 px phantoms in class subfolders (the search is recursive), one renamed so that its
            // name needs HTML escaping, and a text file that is not an image.
            string images = temp.File("images");
            SyntheticChestXRay.WriteImageFolder(images, new SyntheticChestXRayOptions { Count = 3, Size = 80, Seed = 5 });
            var files = Directory.GetFiles(images, "*.png", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            Assert.Equal(3, files.Length);
            string odd = Path.Combine(Path.GetDirectoryName(files[0])!, "a&b <1>.png");
            File.Move(files[0], odd);
            File.WriteAllText(Path.Combine(images, "notes.txt"), "not an image");
            string output = temp.File("out");

            var run = SampleProcess.Run("GradCamExplorer", Timeout, "--model", modelPath, "--images", images, "--out", output, "--method", "gradcam++", "--layer", "layer3");

            Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}: {run.Output}{run.Error}");
            var overlays = Directory.GetFiles(output, "*.png").OrderBy(f => f, StringComparer.Ordinal).ToArray();
            Assert.Equal(3, overlays.Length);
            foreach (string overlay in overlays)
            {
                using var image = Image.Load<Rgb24>(overlay);
                Assert.Equal(80, image.Width);
                Assert.Equal(80, image.Height);
            }

            string index = File.ReadAllText(temp.File("out/index.html"));
            Assert.StartsWith("<!DOCTYPE html>", index, StringComparison.Ordinal);
            Assert.Contains("Grad-CAM++ on layer3", index, StringComparison.Ordinal);
            foreach (string overlay in overlays)
            {
                Assert.Contains($"<img src=\"{Path.GetFileName(overlay)}\"", index, StringComparison.Ordinal);
            }

            Assert.Contains("a&amp;b &lt;1&gt;.png", index, StringComparison.Ordinal);
            Assert.DoesNotContain("a&b <1>", index, StringComparison.Ordinal);
            Assert.Equal(3, index.Split("<span class=\"pred\">").Length - 1);
            Assert.DoesNotContain("notes.txt", index, StringComparison.Ordinal);
        }
    }
}
