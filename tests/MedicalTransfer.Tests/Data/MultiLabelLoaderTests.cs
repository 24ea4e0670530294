using System;
using System.IO;
using System.Linq;
using System.Text;
using MedicalTransfer.Data;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Data
{
    public class MultiLabelLoaderTests
    {
        private static readonly string[] Findings = { "A", "B", "C" };

        // Per image: A, B, C as a CheXpert table writes them (1.0, 0.0, -1.0 uncertain, blank missing).
        private static readonly string[][] Cells =
        {
            new[] { "1.0", "0.0", "-1.0" },
            new[] { "-1.0", "", "1.0" },
            new[] { "0.0", "1.0", "" },
            new[] { "1.0", "-1.0", "0.0" },
            new[] { "0.0", "0.0", "1.0" },
            new[] { "", "1.0", "-1.0" },
        };

        private static ImageDataset Table(TestSupport.TempFolder folder)
        {
            SyntheticChestXRay.WriteImageFolder(folder.File("img"), new SyntheticChestXRayOptions { Count = Cells.Length, Size = 32, Seed = 1 });
            var files = Directory.GetFiles(folder.File("img"), "*.png", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            var csv = new StringBuilder("Path,A,B,C\n");
            for (int i = 0; i < Cells.Length; i++)
            {
                csv.Append(Path.GetRelativePath(folder.Path, files[i]).Replace('\\', '/')).Append(',').Append(string.Join(",", Cells[i])).Append('\n');
            }

            File.WriteAllText(folder.File("labels.csv"), csv.ToString());
            return ImageTable.Load(folder.File("labels.csv"), new ImageTableLayout { PathColumn = "Path", FindingColumns = Findings });
        }

        private static (float[] Targets, float[] Mask) ReadAll(DataLoader loader)
        {
            using var scope = NewDisposeScope();
            var batches = loader.GetBatches(0).ToList();
            var targets = batches.SelectMany(b => b.Targets.data<float>().ToArray()).ToArray();
            var mask = batches.SelectMany(b => b.TargetMask.data<float>().ToArray()).ToArray();
            return (targets, mask);
        }

        [Theory]
        [InlineData(UncertainLabel.Ignore, "1 0 0 | 0 0 1 | 0 1 0 | 1 0 0 | 0 0 1 | 0 1 0", "1 1 0 | 0 0 1 | 1 1 0 | 1 0 1 | 1 1 1 | 0 1 0")]
        [InlineData(UncertainLabel.Zeros, "1 0 0 | 0 0 1 | 0 1 0 | 1 0 0 | 0 0 1 | 0 1 0", "1 1 1 | 1 0 1 | 1 1 0 | 1 1 1 | 1 1 1 | 0 1 1")]
        [InlineData(UncertainLabel.Ones, "1 0 1 | 1 0 1 | 0 1 0 | 1 1 0 | 0 0 1 | 0 1 1", "1 1 1 | 1 0 1 | 1 1 0 | 1 1 1 | 1 1 1 | 0 1 1")]
        public void GetBatches_CheXpertStates_TargetsAndMaskFollowThePolicy(UncertainLabel policy, string targets, string mask)
        {
            using var folder = new TestSupport.TempFolder();
            var dataset = Table(folder);
            var uncertainty = policy switch { UncertainLabel.Zeros => UncertaintyPolicy.Zeros, UncertainLabel.Ones => UncertaintyPolicy.Ones, _ => UncertaintyPolicy.Ignore };
            using var loader = new DataLoader(dataset, Transforms.Compose(Transforms.Resize(32), Transforms.CenterCrop(32), Transforms.ToTensor()), new LoaderOptions { BatchSize = 4, Workers = 1, Sampling = SamplingMode.Sequential, Uncertainty = uncertainty });

            var (t, m) = ReadAll(loader);

            Assert.True(loader.IsMultiLabel);
            Assert.Equal(Findings, loader.Findings);
            Assert.Equal(Parse(targets), t);
            Assert.Equal(Parse(mask), m);
        }

        [Fact]
        public void GetBatches_PerFindingPolicy_OnlyThatFindingsUncertainLabelsChange()
        {
            using var folder = new TestSupport.TempFolder();
            var dataset = Table(folder);
            var policy = UncertaintyPolicy.Ignore.With("C", UncertainLabel.Ones);
            using var loader = new DataLoader(dataset, Transforms.Compose(Transforms.Resize(32), Transforms.CenterCrop(32), Transforms.ToTensor()), new LoaderOptions { BatchSize = 6, Workers = 1, Sampling = SamplingMode.Sequential, Uncertainty = policy });

            var (t, m) = ReadAll(loader);

            // C's uncertain labels (images 0 and 5) are positive and observed; A's and B's stay masked.
            Assert.Equal(Parse("1 0 1 | 0 0 1 | 0 1 0 | 1 0 0 | 0 0 1 | 0 1 1"), t);
            Assert.Equal(Parse("1 1 1 | 0 0 1 | 1 1 0 | 1 0 1 | 1 1 1 | 0 1 1"), m);
        }

        [Fact]
        public void Labels_MultiLabelBatch_ThrowsPointingToTargets()
        {
            using var folder = new TestSupport.TempFolder();
            using var loader = new DataLoader(Table(folder), Transforms.Compose(Transforms.Resize(32), Transforms.CenterCrop(32), Transforms.ToTensor()), new LoaderOptions { BatchSize = 6, Workers = 1 });
            using var batch = loader.GetBatches(0).First();
            var ex = Assert.Throws<InvalidOperationException>(() => batch.Labels);
            Assert.Contains("Batch.Targets", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Constructor_ClassBalancedOnMultiLabel_RefusedWithTheAlternative()
        {
            using var folder = new TestSupport.TempFolder();
            var ex = Assert.Throws<ArgumentException>(() => new DataLoader(Table(folder), Transforms.ToTensor(), new LoaderOptions { Sampling = SamplingMode.ClassBalanced }));
            Assert.Contains("SamplingMode.ClassBalanced", ex.Message, StringComparison.Ordinal);
            Assert.Contains("PositiveWeights", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Constructor_PolicyNamesUnknownFinding_RefusedListingTheFindings()
        {
            using var folder = new TestSupport.TempFolder();
            var ex = Assert.Throws<ArgumentException>(() => new DataLoader(Table(folder), Transforms.ToTensor(), new LoaderOptions { Uncertainty = UncertaintyPolicy.Ignore.With("Edema", UncertainLabel.Ones) }));
            Assert.Contains("'Edema'", ex.Message, StringComparison.Ordinal);
            Assert.Contains("its findings are A, B, C", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void PositiveWeights_IgnorePolicy_NegativesOverPositivesOfObservedLabels()
        {
            using var folder = new TestSupport.TempFolder();
            using var loader = new DataLoader(Table(folder), Transforms.ToTensor(), new LoaderOptions { Workers = 1 });
            // A: observed 1,0,1,0 -> 2/2; B: 0,1,0,1 -> 2/2; C: 1,0,1 -> 1/2.
            Assert.Equal(new[] { 1f, 1f, 0.5f }, loader.PositiveWeights());
        }

        private static float[] Parse(string rows) => rows.Replace("|", " ", StringComparison.Ordinal).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(float.Parse).ToArray();
    }
}
