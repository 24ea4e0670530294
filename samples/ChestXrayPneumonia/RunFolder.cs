using System;
using System.Globalization;
using System.IO;
using System.Text.Json;
using MedicalTransfer;
using TorchSharp;

namespace ChestXrayPneumonia
{
    /// <summary>
    /// The report folder's bookkeeping: run.json with the run's status ("running", "completed", "stopped",
    /// "failed" with its error), a FAILED.txt marker beside it while the last attempt failed, and the
    /// training checkpoint, which only --resume needs.
    /// </summary>
    internal sealed class RunFolder
    {
        /// <summary>The marker a failed run leaves; a later successful --resume removes it.</summary>
        public const string FailedMarker = "FAILED.txt";

        /// <summary>The trainer's checkpoint (weights, optimizer state, random generators) of a single run.</summary>
        public const string Checkpoint = "checkpoint.mtckpt";

        private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
        private readonly RunSettings _settings;
        private string _started = string.Empty;
        private string _device = string.Empty;

        public RunFolder(RunSettings settings) => _settings = settings;

        private string Out(string name) => Path.Combine(_settings.Output, name);

        public void Started(torch.Device device)
        {
            _started = Now();
            _device = device.ToString();
            Write("running", null, null, null);
        }

        public void Completed(double seconds)
        {
            Write("completed", Now(), seconds, null);
            File.Delete(Out(FailedMarker));
        }

        public void Stopped(double seconds) => Write("stopped", Now(), seconds, null);

        public void Failed(Exception error, double seconds)
        {
            string message = error.GetType().Name + ": " + error.Message;
            Write("failed", Now(), seconds, message);
            MedicalTransfer.Samples.SampleFiles.WriteAllText(Out(FailedMarker), string.Create(CultureInfo.InvariantCulture, $"This run FAILED at {Now()} UTC; the files in this folder are not a complete result.\n\n{message}\n\n{ResumeHint()}\n"));
        }

        /// <summary>Deletes the training checkpoint of a complete run (keep it with --keep-checkpoint).</summary>
        public void DeleteCheckpoint() => File.Delete(Out(Checkpoint));

        /// <summary>How to go on: --resume when there is something to resume from, otherwise a fresh run.</summary>
        public string ResumeHint()
        {
            string resume = $"dotnet run --project samples/ChestXrayPneumonia -- --resume \"{_settings.Output}\"";
            if (_settings.Folds > 0 && Directory.Exists(Out("cross-validation")))
            {
                return "the cross-validation continues where it stopped (completed folds are kept) with: " + resume;
            }

            return File.Exists(Out(Checkpoint))
                ? $"the last checkpoint is {Out(Checkpoint)}; after fixing the cause, continue from it with: {resume}"
                : "nothing was trained yet, so there is nothing to resume: fix the cause and start the run again.";
        }

        private void Write(string status, string? finished, double? seconds, string? error)
        {
            var run = new RunFile(
                _settings,
                _started,
                finished,
                _device,
                typeof(TransferModel).Assembly.GetName().Version?.ToString() ?? "unknown",
                typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown",
                Environment.Version.ToString(),
                System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                seconds)
            {
                Status = status,
                Error = error,
            };
            MedicalTransfer.Samples.SampleFiles.WriteAllText(Out("run.json"), JsonSerializer.Serialize(run, Indented));
        }

        private static string Now() => DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);
    }
}
