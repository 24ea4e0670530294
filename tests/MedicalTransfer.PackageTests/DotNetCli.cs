using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;

namespace MedicalTransfer.PackageTests
{
    /// <summary>The outcome of one dotnet CLI command: exit code, stdout and stderr interleaved, and how long it took.</summary>
    internal sealed record CommandResult(string Command, int ExitCode, string Output, TimeSpan Duration)
    {
        /// <summary>The command, its exit code and the last lines of its output, for assertion messages.</summary>
        public string Describe(int tailLines = 60)
        {
            var lines = Output.Split('\n');
            var tail = string.Join('\n', lines.Skip(Math.Max(0, lines.Length - tailLines)));
            return $"`{Command}` exited with {ExitCode} after {Duration.TotalSeconds:F0} s. Last output:\n{tail}";
        }
    }

    /// <summary>
    /// Runs the dotnet CLI as a consumer would, isolated from the test host: the MSBuild variables that
    /// <c>dotnet test</c> puts into the environment are removed (they would point the child at the test's own
    /// MSBuild), and no build server or node outlives the command (a lingering node keeps the output pipes
    /// open and the test waiting).
    /// </summary>
    internal static class DotNetCli
    {
        private static readonly TimeSpan OutputDrainTimeout = TimeSpan.FromSeconds(30);

        /// <summary>The dotnet executable that runs the tests, else the one on PATH.</summary>
        public static string Executable
        {
            get
            {
                var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
                return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
            }
        }

        public static CommandResult Run(string workingDirectory, TimeSpan timeout, params string[] arguments)
        {
            var start = new ProcessStartInfo(Executable)
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            {
                start.Environment.Remove(key);
            }

            start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
            start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
            start.Environment["UseSharedCompilation"] = "false"; // MSBuild reads it as a property: no VBCSCompiler server
            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            start.Environment["DOTNET_NOLOGO"] = "1";
            start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
            start.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";

            var command = "dotnet " + string.Join(' ', arguments);
            var output = new StringBuilder();
            using var stdoutClosed = new ManualResetEventSlim();
            using var stderrClosed = new ManualResetEventSlim();
            using var process = new Process { StartInfo = start };
            process.OutputDataReceived += (_, e) => Append(output, e.Data, stdoutClosed);
            process.ErrorDataReceived += (_, e) => Append(output, e.Data, stderrClosed);

            var clock = Stopwatch.StartNew();
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                throw new TimeoutException($"`{command}` in {workingDirectory} did not finish within {timeout.TotalSeconds:F0} s and was stopped. Output so far:\n{Snapshot(output)}");
            }

            // The process has exited; give its pipes a bounded time to deliver the last lines.
            WaitHandle.WaitAll(new[] { stdoutClosed.WaitHandle, stderrClosed.WaitHandle }, OutputDrainTimeout);
            clock.Stop();
            return new CommandResult(command, process.ExitCode, Snapshot(output), clock.Elapsed);
        }

        private static void Append(StringBuilder output, string? line, ManualResetEventSlim closed)
        {
            if (line is null)
            {
                closed.Set();
                return;
            }

            lock (output)
            {
                output.Append(line).Append('\n');
            }
        }

        private static string Snapshot(StringBuilder output)
        {
            lock (output)
            {
                return output.ToString();
            }
        }

        /// <summary>Lines of MSBuild or NuGet output that report a warning.</summary>
        public static IReadOnlyList<string> Warnings(string output) =>
            output.Split('\n').Where(l => l.Contains(": warning ", StringComparison.Ordinal)).Distinct().ToList();

        /// <summary>
        /// <see cref="Warnings"/> less the one that describes the checkout, not the project: when origin is a local
        /// bare repository (a clone of <c>/somewhere/repo.git</c>, as CI machines make), Microsoft.Build.Tasks.Git
        /// follows it, finds no working directory there and warns "Unable to locate repository with working
        /// directory that contains directory '/somewhere/repo.git'". The build is unaffected: src/Package.targets
        /// then maps SourceLink to RepositoryUrl, which <c>SymbolPackage_Pdbs_LinkSourcesToTheBuiltCommit</c> checks.
        /// </summary>
        public static IReadOnlyList<string> ProjectWarnings(string output, string repositoryRoot)
        {
            var root = Path.GetFullPath(repositoryRoot).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
            var remote = new Regex("Microsoft\\.Build\\.Tasks\\.Git\\.targets.*: warning : Unable to locate repository with working directory that contains directory '(?<dir>[^']+)'");
            return Warnings(output)
                .Where(w => remote.Match(w) is not { Success: true } m
                    || (Path.GetFullPath(m.Groups["dir"].Value) + Path.DirectorySeparatorChar).StartsWith(root, StringComparison.Ordinal))
                .ToList();
        }
    }
}
