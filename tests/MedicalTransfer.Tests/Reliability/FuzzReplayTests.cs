using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Fuzzing;
using Xunit;

namespace MedicalTransfer.Tests.Reliability
{
    /// <summary>
    /// CI's share of the fuzzing (docs/security.md): every committed corpus input and every minimised
    /// finding of every target in <see cref="FuzzTargets.All"/> is replayed through the uninstrumented
    /// parser, which must keep its contract (a value, or a documented exception naming the file, within
    /// the allocation limit). No fuzzing happens here.
    /// </summary>
    public sealed class FuzzReplayTests : IDisposable
    {
        private readonly TestSupport.TempFolder _work = new();

        public static TheoryData<string> Targets()
        {
            var data = new TheoryData<string>();
            foreach (FuzzTarget target in FuzzTargets.All)
            {
                data.Add(target.Name);
            }

            return data;
        }

        [Theory]
        [MemberData(nameof(Targets))]
        public void Corpus_EveryCommittedInput_KeepsTheParserContract(string name)
        {
            FuzzTarget target = FuzzTargets.Find(name);
            string[] inputs = Inputs(target.CorpusFolder);
            Assert.True(inputs.Length > 0, $"target '{name}' has no committed corpus in {target.CorpusFolder}: run tests/MedicalTransfer.Fuzzing/make_seeds.py and the seeds command");

            var findings = new List<string>();
            int accepted = 0;
            foreach (string input in inputs)
            {
                try
                {
                    if (FuzzContract.Execute(target, File.ReadAllBytes(input), _work.Path, out _) == FuzzOutcome.Accepted)
                    {
                        accepted++;
                    }
                }
                catch (FuzzFindingException e)
                {
                    findings.Add(Path.GetFileName(input) + ": " + e.Message);
                }
            }

            Assert.True(findings.Count == 0, string.Join(Environment.NewLine, findings));
            // The formats' own valid seeds parse; the weights targets' model and checkpoint seeds are partial on purpose.
            if (name is not ("model-file" or "training-checkpoint" or "onnx"))
            {
                Assert.True(accepted > 0, $"no input of target '{name}' was accepted: the corpus holds no valid file, so the parser's success path is not replayed");
            }
        }

        [Theory]
        [MemberData(nameof(Targets))]
        public void Regressions_EveryFixedFinding_IsRefusedWithADocumentedException(string name)
        {
            FuzzTarget target = FuzzTargets.Find(name);
            foreach (string input in Inputs(target.RegressionFolder))
            {
                FuzzOutcome outcome = FuzzContract.Execute(target, File.ReadAllBytes(input), _work.Path, out Exception? refusal);

                Assert.True(outcome == FuzzOutcome.Refused, $"{Path.GetFileName(input)} was accepted; every committed finding is a malformed file");
                Assert.Contains(target.FileName, refusal!.Message, StringComparison.Ordinal);
            }
        }

        [Fact]
        public void Targets_NamesAndFileNames_AreUniqueAndEachHasACorpusFolder()
        {
            Assert.Equal(FuzzTargets.All.Count, FuzzTargets.All.Select(t => t.Name).Distinct().Count());
            Assert.Equal(FuzzTargets.All.Count, FuzzTargets.All.Select(t => t.FileName).Distinct().Count());
            foreach (FuzzTarget target in FuzzTargets.All)
            {
                Assert.True(Directory.Exists(Path.Combine(TestSupport.RepositoryRoot(), target.CorpusFolder)), target.CorpusFolder);
                Assert.NotEmpty(target.Documented);
            }
        }

        [Fact]
        public void Execute_UndocumentedException_IsAFinding()
        {
            // The contract check itself: an exception outside the documented list must be reported.
            var broken = new FuzzTarget("broken", "a parser that indexes past its input", "input.bin", new[] { typeof(WeightsFormatException) }, n => 1 << 20, 1000, (path, bytes) => bytes[bytes.Length]);

            var finding = Assert.Throws<FuzzFindingException>(() => FuzzContract.Execute(broken, new byte[] { 1, 2 }, _work.Path, out _));

            Assert.IsType<IndexOutOfRangeException>(finding.InnerException);
        }

        [Fact]
        public void Execute_DocumentedExceptionWithoutTheFileName_IsAFinding()
        {
            var vague = new FuzzTarget("vague", "a parser whose message names nothing", "input.bin", new[] { typeof(WeightsFormatException) }, n => 1 << 20, 1000, (path, bytes) => throw new WeightsFormatException("bad file"));

            Assert.Throws<FuzzFindingException>(() => FuzzContract.Execute(vague, new byte[] { 1 }, _work.Path, out _));
        }

        [Fact]
        public void Execute_AllocationAboveTheLimit_IsAFinding()
        {
            var greedy = new FuzzTarget("greedy", "a parser that allocates 64 MB for one byte", "input.bin", new[] { typeof(WeightsFormatException) }, n => 1 << 20, 1000, (path, bytes) => new byte[64 << 20].Length);

            Assert.Throws<FuzzFindingException>(() => FuzzContract.Execute(greedy, new byte[] { 1 }, _work.Path, out _));
        }

        public void Dispose() => _work.Dispose();

        private static string[] Inputs(string relativeFolder)
        {
            string folder = Path.Combine(TestSupport.RepositoryRoot(), relativeFolder);
            return Directory.Exists(folder)
                ? Directory.GetFiles(folder).Where(f => !Path.GetFileName(f).StartsWith('.') && !f.EndsWith(".md", StringComparison.Ordinal)).OrderBy(f => f, StringComparer.Ordinal).ToArray()
                : Array.Empty<string>();
        }
    }
}
