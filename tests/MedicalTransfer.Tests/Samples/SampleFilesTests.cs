using System;
using System.IO;
using MedicalTransfer.Samples;
using Xunit;

namespace MedicalTransfer.Tests.Samples
{
    /// <summary>samples/Shared/SampleFiles.cs (as linked into GradCamExplorer, whose internals the tests see): the samples' text outputs are replaced whole.</summary>
    public sealed class SampleFilesTests : IDisposable
    {
        private readonly TestSupport.TempFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Fact]
        public void WriteAllText_ExistingFile_ReplacedWholeAndNoTemporaryFileLeft()
        {
            string path = folder.File("comparison.md");
            File.WriteAllText(path, new string('x', 10_000));

            SampleFiles.WriteAllText(path, "| model | AUC |\n");

            Assert.Equal("| model | AUC |\n", File.ReadAllText(path));
            Assert.Equal(new[] { path }, Directory.GetFiles(folder.Path));
        }

        [Fact]
        public void WriteAllText_RenameFails_PreviousContentKeptAndTemporaryFileRemoved()
        {
            // A folder where the file should go: the temporary file is written, the rename over it fails.
            string path = folder.File("index.html");
            Directory.CreateDirectory(path);
            File.WriteAllText(Path.Combine(path, "keep.txt"), "previous");

            Assert.ThrowsAny<IOException>(() => SampleFiles.WriteAllText(path, "<html></html>"));

            Assert.Equal("previous", File.ReadAllText(Path.Combine(path, "keep.txt")));
            Assert.Empty(Directory.GetFiles(folder.Path));
        }
    }
}
