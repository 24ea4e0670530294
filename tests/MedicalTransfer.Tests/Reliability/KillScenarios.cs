using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using MedicalTransfer.Data;
using MedicalTransfer.Export;
using MedicalTransfer.Internal;
using MedicalTransfer.Models;
using MedicalTransfer.Onnx;
using MedicalTransfer.Tests.Export;
using MedicalTransfer.Tests.Samples;
using MedicalTransfer.Tests.Training;
using MedicalTransfer.Tests.Weights;
using MedicalTransfer.Training;
using Xunit;

namespace MedicalTransfer.Tests.Reliability
{
    /// <summary>
    /// One file-writing operation that <see cref="KillTests"/> kills at random points: what the fault host
    /// runs, what must hold after every kill, and the run that follows the last one. Another writer (ONNX
    /// export, batch prediction output) is one more subclass and one more line in <see cref="All"/>.
    /// </summary>
    internal abstract class KillScenario : IDisposable
    {
        /// <summary>The scenarios, by name.</summary>
        public static readonly IReadOnlyList<Func<KillScenario>> All = new Func<KillScenario>[]
        {
            () => new ModelSaveScenario(),
            () => new CheckpointScenario(),
            () => new DownloadScenario(),
            () => new OnnxExportScenario(),
            () => new BatchPredictionScenario(),
        };

        public abstract string Name { get; }

        /// <summary>How many times the host is started and killed.</summary>
        public abstract int Kills { get; }

        /// <summary>
        /// The kill comes a seeded random 0 to this many milliseconds after the host printed a seeded random
        /// number (<see cref="MinProgressLines"/> to <see cref="MaxProgressLines"/>) of <see cref="ProgressPrefix"/> lines after "ready": kills
        /// follow the host's progress, so they land inside writes however loaded the machine is.
        /// </summary>
        public abstract int MaxDelayMs { get; }

        /// <summary>The shortest delay after the progress lines (see <see cref="MaxDelayMs"/>); 0 by default.</summary>
        public virtual int MinDelayMs => 0;

        /// <summary>The start of the lines the host prints after each completed step, or null.</summary>
        public virtual string? ProgressPrefix => null;

        public virtual int MinProgressLines => 0;

        public virtual int MaxProgressLines => 0;

        /// <summary>The seed of the kill schedule (fixed, so a failure replays the same schedule).</summary>
        public abstract int Seed { get; }

        /// <summary>The file whose integrity the scenario checks.</summary>
        public abstract string Target { get; }

        protected TestSupport.TempFolder Folder { get; } = new();

        /// <summary>Called once before the first kill.</summary>
        public virtual void Prepare()
        {
        }

        /// <summary>Called before each start of the host (for example to damage a cached file).</summary>
        public virtual void BeforeRun(int run)
        {
        }

        public abstract string[] HostArguments();

        /// <summary>The line the host prints when the work a kill may interrupt begins; null: the kill schedule starts at the host's start.</summary>
        public virtual string? ReadyLine => "ready";

        /// <summary>Starts the host: the fault host with <see cref="HostArguments"/>, unless the scenario runs another program.</summary>
        public virtual HostProcess StartHost() => HostProcess.Start(HostArguments());

        /// <summary>Whether the kill just done landed inside a write: by default, a new temporary file of the atomic-write helper appeared.</summary>
        /// <param name="tempFilesBefore">The temporary files before the host was started.</param>
        public virtual bool LandedInsideWrite(string[] tempFilesBefore) => TempFiles().Except(tempFilesBefore).Any();

        /// <summary>Asserts what must hold after a kill: the previous file intact or the new one complete.</summary>
        public abstract void AfterKill(int run, IReadOnlyList<string> output);

        /// <summary>The next run after the last kill, uninterrupted; afterwards no temporary file may remain.</summary>
        public abstract void RunToCompletion();

        public string[] TempFiles() => ReliabilitySupport.TempFiles(Path.GetDirectoryName(Target)!, Path.GetFileName(Target));

        public virtual void Dispose() => Folder.Dispose();

        public override string ToString() => Name;
    }

    /// <summary>TransferModel.Save over the same file, alternating two models: the file is always A or B, bit for bit.</summary>
    internal sealed class ModelSaveScenario : KillScenario
    {
        public override string Name => "model-save";

        public override int Kills => 16;

        public override int MaxDelayMs => 300;

        public override string? ProgressPrefix => "saved ";

        public override int MaxProgressLines => 3;

        public override int Seed => 1801;

        public override string Target => Folder.File("model.safetensors");

        public override string[] HostArguments() => new[] { "save-model", Target };

        public override void AfterKill(int run, IReadOnlyList<string> output)
        {
            string hash = ReliabilitySupport.Sha256(Target);
            Assert.True(
                hash == ReliabilitySupport.Sha256(Target + ".a") || hash == ReliabilitySupport.Sha256(Target + ".b"),
                $"run {run}: after the kill the model file is neither of the two complete saves (it has SHA-256 {hash}, {new FileInfo(Target).Length} bytes)");
        }

        public override void RunToCompletion()
        {
            using TransferModel loaded = TransferModel.Load(Target, TorchSharp.torch.CPU);
            loaded.Save(Target);
            using TransferModel again = TransferModel.Load(Target, TorchSharp.torch.CPU);
        }
    }

    /// <summary>The trainer's checkpoint per epoch: after a kill the checkpoint reads back and is at most one epoch behind.</summary>
    internal sealed class CheckpointScenario : KillScenario
    {
        private TransferModel? _model;

        public override string Name => "training-checkpoint";

        public override int Kills => 10;

        public override int MaxDelayMs => 350;

        // "epoch N" comes just before epoch N's checkpoint is written.
        public override string? ProgressPrefix => "epoch ";

        public override int MinProgressLines => 1;

        public override int MaxProgressLines => 3;

        public override int Seed => 1802;

        public override string Target => Folder.File("checkpoint.safetensors");

        public override void Prepare() => _model = TrainingFixtures.TinyModel(3, null, "NORMAL", "PNEUMONIA");

        public override string[] HostArguments() => new[] { "train", Target, "1000" };

        public override void AfterKill(int run, IReadOnlyList<string> output)
        {
            int printed = output.Where(l => l.StartsWith("epoch ", StringComparison.Ordinal)).Select(l => int.Parse(l[6..], System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
            if (!File.Exists(Target))
            {
                Assert.True(printed <= 1, $"run {run}: {printed} epochs finished, but there is no checkpoint");
                return;
            }

            // ReadFor validates the whole file (header coverage, every tensor against the model) before anything is applied.
            using TrainingCheckpoint checkpoint = TrainingCheckpoint.ReadFor(Target, _model!);
            if (printed >= 2)
            {
                Assert.True(checkpoint.State.EpochsDone >= printed - 1, $"run {run}: {printed} epochs finished, but the checkpoint holds epoch {checkpoint.State.EpochsDone}");
            }
        }

        public override void RunToCompletion()
        {
            using TransferModel model = TrainingFixtures.TinyModel(3, null, "NORMAL", "PNEUMONIA");
            TrainingFixtures.Fit(model, TrainingFixtures.Source(8), TrainingFixtures.Source(8, shuffle: false), new TrainingOptions { Epochs = 1, CheckpointPath = Target });
            using TrainingCheckpoint checkpoint = TrainingCheckpoint.ReadFor(Target, model);
            Assert.Equal(1, checkpoint.State.EpochsDone);
        }

        public override void Dispose()
        {
            _model?.Dispose();
            base.Dispose();
        }
    }

    /// <summary>
    /// A download into the weights cache from a slow loopback server: the cached file is always absent, the
    /// damaged file that was there before (every other run), or the complete verified checkpoint.
    /// </summary>
    internal sealed class DownloadScenario : KillScenario
    {
        private byte[] _bytes = Array.Empty<byte>();
        private byte[] _damaged = Array.Empty<byte>();
        private string _sha = string.Empty;
        private DownloadTestServer? _server;

        public override string Name => "weights-download";

        public override int Kills => 20;

        public override int MaxDelayMs => 1200;

        public override int Seed => 1803;

        public override string Target => Path.Combine(Folder.Path, "cache", "resnet18-test.pth");

        public override void Prepare()
        {
            var random = new Random(18);
            _bytes = new byte[6 << 20];
            random.NextBytes(_bytes);
            _damaged = _bytes.Take(1 << 20).ToArray();
            _sha = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(_bytes)).ToLowerInvariant();
            // About 0.5 s per download: kills land before, during and after the body.
            _server = new DownloadTestServer((_, _) => new ServerReply.Throttled(_bytes, 64 << 10, TimeSpan.FromMilliseconds(5)));
            Directory.CreateDirectory(Path.GetDirectoryName(Target)!);
        }

        public override void BeforeRun(int run)
        {
            if (run % 2 == 0)
            {
                File.WriteAllBytes(Target, _damaged); // a damaged cached copy: replaced only by a verified download
            }
            else if (File.Exists(Target))
            {
                File.Delete(Target);
            }
        }

        public override string[] HostArguments() => new[] { "download", Path.GetDirectoryName(Target)!, _server!.BaseAddress.ToString(), Path.GetFileName(Target), _sha };

        public override void AfterKill(int run, IReadOnlyList<string> output)
        {
            if (!File.Exists(Target))
            {
                Assert.True(run % 2 == 1, $"run {run}: the damaged cached file was removed without a verified replacement");
                return;
            }

            byte[] now = File.ReadAllBytes(Target);
            bool complete = now.AsSpan().SequenceEqual(_bytes);
            bool previous = run % 2 == 0 && now.AsSpan().SequenceEqual(_damaged);
            Assert.True(complete || previous, $"run {run}: the cached file ({now.Length} bytes) is neither the previous file nor the complete download");
        }

        public override void RunToCompletion()
        {
            using var host = HostProcess.Start(HostArguments());
            Assert.True(host.WaitForExit(TimeSpan.FromMinutes(2)), "the last download did not finish");
            Assert.Equal(0, host.ExitCode);
            Assert.Contains($"done {Target} {_sha}", host.Lines);
        }

        public override void Dispose()
        {
            _server?.Dispose();
            base.Dispose();
        }
    }
}

namespace MedicalTransfer.Tests.Reliability
{
    /// <summary>ExportOnnx (through AtomicFile) over the same file, alternating two models: the file is always A's or B's export, bit for bit.</summary>
    internal sealed class OnnxExportScenario : KillScenario
    {
        private int _cycleMs = 300;

        public override string Name => "onnx-export";

        public override int Kills => 16;

        // An export builds the whole graph in memory and only then writes it, in the last part of each cycle: the
        // kills come 60% to 110% of a measured cycle after an "exported" line, so that they land in writes however
        // loaded the machine is (a fixed window landed none in 16 under a load average of 60).
        public override int MinDelayMs => _cycleMs * 6 / 10;

        public override int MaxDelayMs => (_cycleMs * 11 / 10) + 1;

        public override string? ProgressPrefix => "exported ";

        public override int MinProgressLines => 1;

        public override int MaxProgressLines => 3;

        public override void Prepare()
        {
            using HostProcess host = StartHost();
            host.WaitForLine("ready", TimeSpan.FromMinutes(2));
            host.WaitForLines(ProgressPrefix!, 1, TimeSpan.FromMinutes(2));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            host.WaitForLines(ProgressPrefix!, 3, TimeSpan.FromMinutes(2));
            _cycleMs = Math.Max(20, (int)clock.ElapsedMilliseconds / 2);
        }

        public override int Seed => 1804;

        public override string Target => Folder.File("model.onnx");

        public override string[] HostArguments() => new[] { "export-onnx", Target };

        public override void AfterKill(int run, IReadOnlyList<string> output)
        {
            string hash = ReliabilitySupport.Sha256(Target);
            Assert.True(
                hash == ReliabilitySupport.Sha256(Target + ".a") || hash == ReliabilitySupport.Sha256(Target + ".b"),
                $"run {run}: after the kill the ONNX file is neither of the two complete exports (it has SHA-256 {hash}, {new FileInfo(Target).Length} bytes)");
        }

        public override void RunToCompletion()
        {
            // The fault host's model A, built here: its export over the file is A's, bit for bit, and ONNX Runtime opens it.
            using (TransferModel a = TrainingFixtures.TinyModel(1, null, "NORMAL", "PNEUMONIA"))
            {
                a.ExportOnnx(Target);
            }

            Assert.Equal(ReliabilitySupport.Sha256(Target + ".a"), ReliabilitySupport.Sha256(Target));
            using OnnxImageClassifier classifier = OnnxImageClassifier.Load(Target);
            Assert.Equal(new[] { "NORMAL", "PNEUMONIA" }, classifier.ClassNames);
        }
    }

    /// <summary>
    /// samples/BatchPrediction with --resume, killed at random moments from its start (model load, header, rows),
    /// then started again: predictions.csv is appended row by row and flushed after every batch, so after every kill
    /// the file must be a byte prefix of an uninterrupted run's file (complete rows, at most one partial last row, which
    /// the next run cuts off) and never shorter than before the run; the run after the last kill must leave exactly the
    /// uninterrupted run's file. One image per batch, one thread: every row is bit-identical to the reference.
    /// A run that finds the file complete starts over, so that every kill lands in a run with work to do.
    /// </summary>
    internal sealed class BatchPredictionScenario : KillScenario
    {
        private byte[] _reference = Array.Empty<byte>();
        private int _referenceMs;
        private long _completeBefore;

        public override string Name => "batch-prediction";

        public override int Kills => 14;

        // From the start of the process: the uninterrupted run's time covers start-up, the header and the rows.
        public override int MaxDelayMs => Math.Max(500, _referenceMs);

        public override int Seed => 1805;

        public override string Target => Folder.File("predictions.csv");

        public override string? ReadyLine => null;

        private string Images => Folder.File("archive");

        private string Model => Folder.File("model.onnx");

        public override void Prepare()
        {
            SyntheticChestXRay.WriteImageFolder(Images, new SyntheticChestXRayOptions { Count = 160, Size = 64, Seed = 6 });
            File.WriteAllText(Path.Combine(Images, "NORMAL", "broken.png"), "not a png");
            using (TransferModel model = OnnxExportTests.Model("mlp"))
            {
                model.ExportOnnx(Model);
            }

            var clock = System.Diagnostics.Stopwatch.StartNew();
            var reference = SampleProcess.Run("BatchPrediction", TimeSpan.FromMinutes(6), Common(Folder.File("reference.csv")));
            _referenceMs = (int)clock.ElapsedMilliseconds;
            Assert.True(reference.ExitCode == 0, reference.Output + reference.Error);
            _reference = File.ReadAllBytes(Folder.File("reference.csv"));
            Assert.Equal(162, _reference.Count(b => b == (byte)'\n')); // the header, 160 images and the broken one
        }

        public override void BeforeRun(int run)
        {
            if (File.Exists(Target) && File.ReadAllBytes(Target).AsSpan().SequenceEqual(_reference))
            {
                File.Delete(Target);
            }

            _completeBefore = CompleteBytes();
        }

        public override string[] HostArguments() => Common(Target).Concat(new[] { "--resume" }).ToArray();

        public override HostProcess StartHost() => HostProcess.StartSample("BatchPrediction", HostArguments());

        /// <summary>The kill landed while the run was writing: it had added rows and not yet finished.</summary>
        public override bool LandedInsideWrite(string[] tempFilesBefore)
        {
            long now = CompleteBytes();
            return now > Math.Max(0, _completeBefore) && now < _reference.Length;
        }

        public override void AfterKill(int run, IReadOnlyList<string> output)
        {
            if (!File.Exists(Target))
            {
                Assert.True(_completeBefore < 0, $"run {run}: the predictions file ({_completeBefore} bytes of complete rows before the run) is gone after the kill");
                return;
            }

            byte[] now = File.ReadAllBytes(Target);
            int complete = Array.LastIndexOf(now, (byte)'\n') + 1;
            Assert.True(
                now.Length <= _reference.Length && now.AsSpan().SequenceEqual(_reference.AsSpan(0, now.Length)),
                $"run {run}: after the kill the predictions file ({now.Length} bytes, {complete} in complete lines) is not a prefix of the uninterrupted run's file ({_reference.Length} bytes)");
            // Resuming may cut a partial last row, never a complete one.
            Assert.True(complete >= _completeBefore, $"run {run}: the complete rows shrank from {_completeBefore} to {complete} bytes: rows written before were lost");
        }

        public override void RunToCompletion()
        {
            using HostProcess host = StartHost();
            Assert.True(host.WaitForExit(TimeSpan.FromMinutes(6)), "the last run did not finish");
            Assert.True(host.ExitCode == 0, host.Errors);
            Assert.True(File.ReadAllBytes(Target).AsSpan().SequenceEqual(_reference), "after the last run the predictions file differs from the uninterrupted run's");
        }

        private long CompleteBytes() => File.Exists(Target) ? Array.LastIndexOf(File.ReadAllBytes(Target), (byte)'\n') + 1 : -1;

        private string[] Common(string output) => new[] { "--model", Model, "--images", Images, "--out", output, "--batch-size", "1", "--workers", "1", "--threads", "1" };
    }
}
