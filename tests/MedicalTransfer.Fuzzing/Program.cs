using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using SharpFuzz;

namespace MedicalTransfer.Fuzzing
{
    /// <summary>
    /// <c>fuzz TARGET</c>: the AFL++ loop (run through run-fuzz.sh, which instruments a copy of this build);
    /// <c>replay TARGET FILE...</c>: runs inputs and prints each outcome (exit 1 on a finding);
    /// <c>seeds REPO</c>: writes the C#-made seeds; <c>list</c>: the target names.
    /// </summary>
    internal static class Program
    {
        private static unsafe int Main(string[] args)
        {
            // Instrumented code writes its coverage through this pointer; until Fuzzer.Run points it at
            // afl-fuzz's shared memory, a scratch map keeps code that runs first (the warm-up, `list`) valid.
            SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 16);
            if (args.Length == 0)
            {
                Console.Error.WriteLine("usage: fuzz TARGET | replay TARGET FILE... | seeds REPOSITORY_ROOT | list");
                return 2;
            }

            switch (args[0])
            {
                case "list":
                    foreach (FuzzTarget t in FuzzTargets.All)
                    {
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{t.Name}\t{t.TimeLimitMs}\t{t.Parser}"));
                    }

                    return 0;
                case "seeds":
                    SeedWriter.WriteAll(args[1]);
                    return 0;
                case "fuzz":
                    return Fuzz(FuzzTargets.Find(args[1]));
                case "replay":
                    return Replay(FuzzTargets.Find(args[1]), args.Skip(2).ToArray());
                default:
                    Console.Error.WriteLine($"unknown command '{args[0]}'");
                    return 2;
            }
        }

        private static int Fuzz(FuzzTarget target)
        {
            string work = WorkFolder(target);
            // Warm up once (TorchSharp's native load, static tables) before afl-fuzz starts timing inputs.
            try
            {
                FuzzContract.Execute(target, Array.Empty<byte>(), work, out _);
            }
            catch (FuzzFindingException)
            {
            }

            // Out of process: an input that kills the process (an access violation, a stack overflow) is
            // reported as a crash instead of taking the fork server down with it.
            Fuzzer.OutOfProcess.Run(stream =>
            {
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                FuzzContract.Execute(target, buffer.ToArray(), work, out _);
            });
            return 0;
        }

        private static int Replay(FuzzTarget target, string[] files)
        {
            string work = WorkFolder(target);
            int findings = 0;
            foreach (string file in files)
            {
                var watch = Stopwatch.StartNew();
                try
                {
                    FuzzOutcome outcome = FuzzContract.Execute(target, File.ReadAllBytes(file), work, out Exception? refusal);
                    string detail = refusal is null ? string.Empty : refusal.GetType().Name + ": " + First(refusal.Message);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{outcome,-8} {watch.ElapsedMilliseconds,6} ms  {Path.GetFileName(file)}  {detail}"));
                }
                catch (FuzzFindingException e)
                {
                    findings++;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"FINDING  {watch.ElapsedMilliseconds,6} ms  {Path.GetFileName(file)}  {e.Message}"));
                    Console.WriteLine(e.InnerException?.ToString());
                }
            }

            return findings == 0 ? 0 : 1;
        }

        private static string First(string message) => message.Length <= 160 ? message : message[..160] + "...";

        private static string WorkFolder(FuzzTarget target)
        {
            string root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
            string work = Path.Combine(root, string.Create(CultureInfo.InvariantCulture, $"medicaltransfer-fuzz-{target.Name}-{Environment.ProcessId}"));
            Directory.CreateDirectory(work);
            return work;
        }
    }
}
