using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Explainability;
using Xunit;

namespace MedicalTransfer.Tests.Reliability
{
    /// <summary>
    /// Heatmap overlays replace an existing PNG atomically (through AtomicFile): a reader that had the previous file
    /// open still reads it whole, the new file is a complete PNG, and no temporary file is left.
    /// </summary>
    public sealed class AtomicOutputTests : IDisposable
    {
        private readonly TestSupport.TempFolder _folder = new();

        [Fact]
        public void HeatmapOverlaySaveImageFrame_OverAnOpenFile_ReplacesItAtomically()
        {
            SyntheticChestXRay.WriteImageFolder(_folder.File("images"), new SyntheticChestXRayOptions { Count = 2, Size = 32, Seed = 3 });
            string image = Directory.GetFiles(_folder.File("images"), "*.png", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).First();
            var map = new Heatmap(32, 32, Enumerable.Range(0, 32 * 32).Select(i => (i % 32) / 31f).ToArray());
            string path = _folder.File("overlay.png");
            byte[] previous = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray();
            File.WriteAllBytes(path, previous);

            using (var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                HeatmapOverlay.SaveImageFrame(image, map, path);

                using var seen = new MemoryStream();
                reader.CopyTo(seen);
                Assert.Equal(previous, seen.ToArray());
            }

            using (var decoded = SixLabors.ImageSharp.Image.Load(path))
            {
                Assert.Equal((32, 32), (decoded.Width, decoded.Height));
            }

            Assert.Empty(ReliabilitySupport.TempFiles(_folder.Path, "overlay.png"));
        }

        public void Dispose() => _folder.Dispose();
    }
}
