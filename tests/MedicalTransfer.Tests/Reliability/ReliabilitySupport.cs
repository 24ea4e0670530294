using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;

namespace MedicalTransfer.Tests.Reliability
{
    /// <summary>Helpers of the reliability tests: hashes, the child process, tmpfs and bind mounts.</summary>
    internal static class ReliabilitySupport
    {
        public static string Sha256(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant();

        /// <summary>The temporary files the atomic-write helper makes for <paramref name="fileName"/> in <paramref name="folder"/>.</summary>
        public static string[] TempFiles(string folder, string fileName) =>
            Directory.GetFiles(folder, "." + fileName + ".*").Where(f => f.EndsWith(".tmp", StringComparison.Ordinal) || f.EndsWith(".partial", StringComparison.Ordinal)).ToArray();

        /// <summary>Runs a command (mount, umount, chmod) and returns its exit code and error output.</summary>
        public static (int ExitCode, string Error) Run(string program, params string[] arguments)
        {
            var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string a in arguments)
            {
                start.ArgumentList.Add(a);
            }

            try
            {
                using Process process = Process.Start(start)!;
                string error = process.StandardError.ReadToEnd();
                process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                return (process.ExitCode, error.Trim());
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                return (-1, e.Message);
            }
        }
    }

    /// <summary>
    /// The fault host (tests/MedicalTransfer.FaultHost) as a child process: its output lines are collected as
    /// they come, so a test can wait for "ready" and then SIGKILL it at a chosen moment.
    /// </summary>
    internal sealed class HostProcess : IDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _lines = new();
        private readonly ConcurrentQueue<string> _errors = new();

        private HostProcess(Process process)
        {
            _process = process;
        }

        public IReadOnlyList<string> Lines => _lines.ToArray();

        public string Errors => string.Join(Environment.NewLine, _errors);

        public bool HasExited => _process.HasExited;

        public int ExitCode => _process.ExitCode;

        public static HostProcess Start(params string[] arguments) =>
            Launch(new[] { Path.Combine(AppContext.BaseDirectory, "MedicalTransfer.FaultHost.dll") }.Concat(arguments));

        /// <summary>Starts a sample the test project references, as <c>dotnet exec</c> with its own runtime config (as <c>SampleProcess</c> does).</summary>
        public static HostProcess StartSample(string assemblyName, params string[] arguments)
        {
            string folder = AppContext.BaseDirectory;
            return Launch(new[] { "exec", "--runtimeconfig", Path.Combine(folder, assemblyName + ".runtimeconfig.json"), "--depsfile", Path.Combine(folder, assemblyName + ".deps.json"), Path.Combine(folder, assemblyName + ".dll") }.Concat(arguments));
        }

        private static HostProcess Launch(IEnumerable<string> arguments)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = AppContext.BaseDirectory };
            foreach (string a in arguments)
            {
                start.ArgumentList.Add(a);
            }

            var process = new Process { StartInfo = start };
            var host2 = new HostProcess(process);
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    host2._lines.Enqueue(e.Data);
                }
            };
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    host2._errors.Enqueue(e.Data);
                }
            };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return host2;
        }

        /// <summary>Waits until <paramref name="count"/> lines starting with <paramref name="prefix"/> have been printed.</summary>
        public void WaitForLines(string prefix, int count, TimeSpan timeout)
        {
            var watch = Stopwatch.StartNew();
            while (_lines.Count(l => l.StartsWith(prefix, StringComparison.Ordinal)) < count)
            {
                if (_process.HasExited || watch.Elapsed > timeout)
                {
                    throw new TimeoutException($"The fault host printed fewer than {count} '{prefix}' lines (exited: {_process.HasExited}). Output: {string.Join(" | ", _lines)}. Errors: {Errors}");
                }

                Thread.Sleep(2);
            }
        }

        /// <summary>Waits until a line equal to <paramref name="line"/> has been printed.</summary>
        public void WaitForLine(string line, TimeSpan timeout)
        {
            var watch = Stopwatch.StartNew();
            while (!_lines.Contains(line))
            {
                if (_process.HasExited && !_lines.Contains(line))
                {
                    Thread.Sleep(50); // the last lines may still be in flight
                    if (_lines.Contains(line))
                    {
                        return;
                    }

                    throw new InvalidOperationException($"The fault host exited ({_process.ExitCode}) without printing '{line}'. Output: {string.Join(" | ", _lines)}. Errors: {Errors}");
                }

                if (watch.Elapsed > timeout)
                {
                    throw new TimeoutException($"The fault host did not print '{line}' within {timeout}. Output: {string.Join(" | ", _lines)}. Errors: {Errors}");
                }

                Thread.Sleep(5);
            }
        }

        /// <summary>SIGKILL (Process.Kill on Unix): no finally block, no flush, no cleanup runs in the child.</summary>
        public void Kill()
        {
            try
            {
                _process.Kill();
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            _process.WaitForExit();
        }

        public bool WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout))
            {
                return false;
            }

            _process.WaitForExit(); // drains the output events
            return true;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                Kill();
            }

            _process.Dispose();
        }
    }

    /// <summary>
    /// A small tmpfs mounted for one test (root and a container that allows mounts: as in this project's
    /// machines and CI). <see cref="Mount"/> returns null with the reason where it cannot be mounted.
    /// </summary>
    internal sealed class Tmpfs : IDisposable
    {
        private readonly TestSupport.TempFolder _folder;

        private Tmpfs(TestSupport.TempFolder folder)
        {
            _folder = folder;
        }

        public string Path => _folder.Path;

        public static Tmpfs? Mount(long bytes, out string reason)
        {
            reason = string.Empty;
            if (!OperatingSystem.IsLinux())
            {
                reason = "a tmpfs can be mounted on Linux only";
                return null;
            }

            var folder = new TestSupport.TempFolder();
            (int code, string error) = ReliabilitySupport.Run("mount", "-t", "tmpfs", "-o", "size=" + bytes, "tmpfs", folder.Path);
            if (code != 0)
            {
                folder.Dispose();
                reason = $"mounting a {bytes}-byte tmpfs failed (exit {code}: {error}); it needs root and a container that allows mounts";
                return null;
            }

            return new Tmpfs(folder);
        }

        public void Dispose()
        {
            if (ReliabilitySupport.Run("umount", Path).ExitCode != 0)
            {
                ReliabilitySupport.Run("umount", "-l", Path);
            }

            _folder.Dispose();
        }
    }
}
