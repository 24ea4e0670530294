using System;
using MedicalTransfer.Training;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace ChestXrayPneumonia
{
    /// <summary>
    /// A live progress bar per epoch (loss, accuracy, images/s) on a terminal; plain log lines when the
    /// output is redirected to a file or a pipe.
    /// </summary>
    internal sealed class ConsoleUi
    {
        private readonly bool _interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

        public void Line(string text)
        {
            if (_interactive)
            {
                AnsiConsole.WriteLine(text);
            }
            else
            {
                Console.WriteLine(text);
            }
        }

        public ILoggerFactory CreateLoggerFactory() => LoggerFactory.Create(builder => builder
            .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
            .SetMinimumLevel(_interactive ? LogLevel.Warning : LogLevel.Information));

        public TrainingResult? RunWithProgress(Func<IProgress<TrainingProgress>, TrainingResult> train)
        {
            if (!_interactive)
            {
                return train(new PlainProgress(this));
            }

            TrainingResult? result = null;
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var bars = new BarProgress(context);
                    result = train(bars);
                });
            return result;
        }

        /// <summary>One line per epoch.</summary>
        private sealed class PlainProgress : IProgress<TrainingProgress>
        {
            private readonly ConsoleUi _ui;

            public PlainProgress(ConsoleUi ui) => _ui = ui;

            public void Report(TrainingProgress value)
            {
                if (value.Kind == TrainingProgressKind.Epoch && value.EpochRecord is { } e)
                {
                    _ui.Line(FormattableString.Invariant(
                        $"epoch {value.Epoch}/{value.TotalEpochs} [{value.PhaseName}] train loss {e.TrainLoss:F4} acc {e.TrainAccuracy:P1} | val loss {e.ValidationLoss:F4} acc {e.ValidationAccuracy:P1} auc {e.ValidationAuc:F3} | {e.ImagesPerSecond:F1} img/s"));
                }
            }
        }

        /// <summary>A progress bar per epoch whose caption shows the running loss and throughput.</summary>
        private sealed class BarProgress : IProgress<TrainingProgress>
        {
            private readonly ProgressContext _context;
            private ProgressTask? _task;
            private int _epoch;

            public BarProgress(ProgressContext context) => _context = context;

            public void Report(TrainingProgress value)
            {
                if (_task is null || value.Epoch != _epoch)
                {
                    _epoch = value.Epoch;
                    _task = _context.AddTask(FormattableString.Invariant($"epoch {value.Epoch}/{value.TotalEpochs}"), maxValue: value.BatchesPerEpoch);
                }

                _task.Value = value.Batch;
                _task.Description = value.Kind == TrainingProgressKind.Epoch && value.EpochRecord is { } e
                    ? FormattableString.Invariant($"epoch {value.Epoch}/{value.TotalEpochs} loss {e.TrainLoss:F3} acc {e.TrainAccuracy:P0} | val acc {e.ValidationAccuracy:P0} auc {e.ValidationAuc:F3}")
                    : FormattableString.Invariant($"epoch {value.Epoch}/{value.TotalEpochs} loss {value.Loss:F3} {value.ImagesPerSecond:F0} img/s");
                if (value.Kind == TrainingProgressKind.Epoch)
                {
                    _task.StopTask();
                }
            }
        }
    }
}
