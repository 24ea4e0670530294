using System;
using Xunit;

namespace MedicalTransfer.Tests.Samples
{
    /// <summary>
    /// samples/EnsembleComparison's arguments, run as a process. A full run trains three networks (minutes on
    /// a CPU), so it is not a test; its measured output is in the commit that added the sample.
    /// </summary>
    public sealed class EnsembleComparisonTests
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

        [Theory]
        [InlineData("--synthetic-images", "40", "error: --synthetic-images must be at least 100 (the test split needs both classes); found 40.")]
        [InlineData("--image-size", "32", "error: --image-size must be at least 64 (ResNet's layer4 is 1/32 of it); found 32.")]
        [InlineData("--epochs", "0", "error: --epochs must be at least 1; found 0.")]
        [InlineData("--device", "tpu", "error: --device must be cpu or cuda; found 'tpu'.")]
        [InlineData("--epochs", "three", "error: Cannot parse argument 'three' for option '--epochs' as expected type 'System.Int32'.")]
        public void Main_WrongArgument_ExitsWith2AndUsage(string option, string value, string expected)
        {
            var run = SampleProcess.Run("EnsembleComparison", Timeout, option, value);

            Assert.Equal(2, run.ExitCode);
            Assert.Equal(expected, run.Error.Trim());
            Assert.Contains("Usage:", run.Output, StringComparison.Ordinal);
            Assert.Contains("--synthetic-images", run.Output, StringComparison.Ordinal);
        }

        [Fact]
        public void Main_OutIsAFile_ExitsWith2()
        {
            using var temp = new TestSupport.TempFolder();
            System.IO.File.WriteAllText(temp.File("taken"), "x");

            var run = SampleProcess.Run("EnsembleComparison", Timeout, "--out", temp.File("taken"));

            Assert.Equal(2, run.ExitCode);
            Assert.Equal($"error: --out: '{temp.File("taken")}' is a file; expected a folder (it is created if missing).", run.Error.Trim());
        }

        [Fact]
        public void Main_Help_ExitsWith0AndDescribesEveryOption()
        {
            var run = SampleProcess.Run("EnsembleComparison", Timeout, "--help");

            Assert.Equal(0, run.ExitCode);
            foreach (string option in new[] { "--out", "--synthetic-images", "--image-size", "--epochs", "--device", "--seed" })
            {
                Assert.Contains(option, run.Output, StringComparison.Ordinal);
            }

            Assert.Equal(string.Empty, run.Error);
        }
    }
}
