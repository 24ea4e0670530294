using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Tasks;
using MedicalTransfer.Training;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace ChestXrayPneumonia
{
    /// <summary>
    /// One live progress display on a terminal (phase, epoch, batch, loss, images/s, ETA; a row per finished
    /// epoch); plain lines when the output is redirected to a file or a pipe (as in the tests).
    /// </summary>
    internal sealed class ConsoleUi
    {
        /// <summary>The training engine's "epoch completed" log event: the progress display prints each epoch already.</summary>
        private const int EpochCompletedEvent = 5002;

        /// <summary>In plain mode, at most one batch line per this many seconds.</summary>
        private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(15);

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

        /// <summary>The logger for training: everything but the per-epoch line, which the progress display shows once.</summary>
        public static ILogger ForTraining(ILogger logger) => new WithoutEvent(logger, EpochCompletedEvent);

        /// <summary>Runs <paramref name="work"/> on a worker thread, showing <paramref name="done"/> of <paramref name="total"/> until it ends.</summary>
        public void RunCounting(string description, int total, Func<int> done, Action work)
        {
            var running = Task.Run(work);
            if (_interactive)
            {
                AnsiConsole.Progress()
                    .AutoClear(false)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(context =>
                    {
                        var task = context.AddTask(Markup.Escape(description), maxValue: total);
                        while (!running.Wait(250))
                        {
                            task.Value = Math.Min(total, done());
                        }

                        task.Value = total;
                    });
            }
            else
            {
                Line($"{description}: 0 of {total}");
                var watch = Stopwatch.StartNew();
                while (!running.Wait(PlainInterval))
                {
                    int n = Math.Min(total, done());
                    Line(string.Create(CultureInfo.InvariantCulture, $"{description}: {n} of {total}{Eta(n, total, watch.Elapsed)}"));
                }

                running.GetAwaiter().GetResult(); // rethrows the worker's exception, if any
                Line(string.Create(CultureInfo.InvariantCulture, $"{description}: {total} of {total} ({watch.Elapsed.TotalSeconds:F0} s)"));
            }

            running.GetAwaiter().GetResult();
        }

        public TrainingResult? RunWithProgress(Func<IProgress<TrainingProgress>, TrainingResult> train)
        {
            if (!_interactive)
            {
                return train(new PlainProgress(this));
            }

            TrainingResult? result = null;
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context => result = train(new LiveProgress(context)));
            return result;
        }

        /// <summary>The epoch's summary, as both displays print it once per epoch.</summary>
        private static string EpochLine(TrainingProgress value, EpochRecord e) => string.Create(CultureInfo.InvariantCulture,
            $"epoch {value.Epoch}/{value.TotalEpochs} [{value.PhaseName}] train loss {e.TrainLoss:F4} acc {e.TrainAccuracy:P1} | val loss {e.ValidationLoss:F4} acc {e.ValidationAccuracy:P1} auc {e.ValidationAuc:F3} | {e.ImagesPerSecond:F1} img/s, {e.Seconds:F0} s");

        private static string BatchLine(TrainingProgress value) => string.Create(CultureInfo.InvariantCulture,
            $"phase {value.Phase} [{value.PhaseName}] epoch {value.Epoch}/{value.TotalEpochs} batch {value.Batch}/{value.BatchesPerEpoch} loss {value.Loss:F4} {value.ImagesPerSecond:F1} img/s");

        private static string Eta(int done, int total, TimeSpan elapsed)
        {
            if (done <= 0 || done >= total)
            {
                return string.Empty;
            }

            var left = TimeSpan.FromSeconds(elapsed.TotalSeconds * (total - done) / done);
            return string.Create(CultureInfo.InvariantCulture, $", ETA {(int)left.TotalMinutes}m{left.Seconds:D2}s");
        }

        /// <summary>Redirected output: a batch line every 15 s at most, one line per epoch.</summary>
        private sealed class PlainProgress : IProgress<TrainingProgress>
        {
            private readonly ConsoleUi _ui;
            private readonly Stopwatch _watch = Stopwatch.StartNew();
            private TimeSpan _last;
            private int _first = -1;

            public PlainProgress(ConsoleUi ui) => _ui = ui;

            public void Report(TrainingProgress value)
            {
                int step = ((value.Epoch - 1) * value.BatchesPerEpoch) + value.Batch, total = value.TotalEpochs * value.BatchesPerEpoch;
                if (_first < 0)
                {
                    _first = step - 1; // a resumed run starts part-way: the ETA counts this process's steps only
                }

                if (value.Kind == TrainingProgressKind.Epoch && value.EpochRecord is { } e)
                {
                    _ui.Line(EpochLine(value, e));
                    _last = _watch.Elapsed;
                }
                else if (_watch.Elapsed - _last >= PlainInterval)
                {
                    _last = _watch.Elapsed;
                    _ui.Line(BatchLine(value) + Eta(step - _first, total - _first, _watch.Elapsed));
                }
            }
        }

        /// <summary>One overall row (phase, epoch, batch, loss, images/s, ETA) and a finished row per epoch above it.</summary>
        private sealed class LiveProgress : IProgress<TrainingProgress>
        {
            private readonly ProgressContext _context;
            private ProgressTask? _overall;

            public LiveProgress(ProgressContext context) => _context = context;

            public void Report(TrainingProgress value)
            {
                _overall ??= _context.AddTask("training", maxValue: value.TotalEpochs * value.BatchesPerEpoch);
                _overall.Value = ((value.Epoch - 1) * value.BatchesPerEpoch) + value.Batch;
                _overall.Description = Markup.Escape(BatchLine(value));
                if (value.Kind == TrainingProgressKind.Epoch && value.EpochRecord is { } e)
                {
                    var row = _context.AddTaskBefore(Markup.Escape(EpochLine(value, e)), _overall, autoStart: true, maxValue: 1);
                    row.Value = 1;
                    row.StopTask();
                    if (value.Epoch == value.TotalEpochs)
                    {
                        _overall.StopTask();
                    }
                }
            }
        }

        /// <summary>Passes every log entry on except one event id.</summary>
        private sealed class WithoutEvent : ILogger
        {
            private readonly ILogger _inner;
            private readonly int _eventId;

            public WithoutEvent(ILogger inner, int eventId) => (_inner, _eventId) = (inner, eventId);

            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => _inner.BeginScope(state);

            public bool IsEnabled(LogLevel logLevel) => _inner.IsEnabled(logLevel);

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (eventId.Id != _eventId)
                {
                    _inner.Log(logLevel, eventId, state, exception, formatter);
                }
            }
        }
    }
}
