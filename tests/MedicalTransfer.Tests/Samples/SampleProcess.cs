using System;
using System.Diagnostics;
using System.IO;
using Xunit;

namespace MedicalTransfer.Tests.Samples
{
    /// <summary>Runs a sample application that the test project references, as a separate process.</summary>
    internal static class SampleProcess
    {
        public sealed record Result(int ExitCode, string Output, string Error);

        public static Result Run(string assemblyName, TimeSpan timeout, params string[] arguments) => Run(assemblyName, timeout, null, arguments);

        /// <summary>Runs the sample with extra environment variables (for example TMPDIR, to start from an empty temp folder).</summary>
        public static Result Run(string assemblyName, TimeSpan timeout, System.Collections.Generic.IReadOnlyDictionary<string, string>? environment, params string[] arguments)
        {
            string folder = AppContext.BaseDirectory;
            Assert.True(File.Exists(Path.Combine(folder, assemblyName + ".dll")), assemblyName + " is referenced by the test project");
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = folder,
            };
            foreach (var (name, value) in environment ?? new System.Collections.Generic.Dictionary<string, string>())
            {
                start.Environment[name] = value;
            }

            start.ArgumentList.Add("exec");
            start.ArgumentList.Add("--runtimeconfig");
            start.ArgumentList.Add(Path.Combine(folder, assemblyName + ".runtimeconfig.json"));
            start.ArgumentList.Add("--depsfile");
            start.ArgumentList.Add(Path.Combine(folder, assemblyName + ".deps.json"));
            start.ArgumentList.Add(Path.Combine(folder, assemblyName + ".dll"));
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{assemblyName} did not finish in {timeout.TotalSeconds} s: {output.Result}{error.Result}");
            }

            return new Result(process.ExitCode, output.Result, error.Result);
        }
    }
}
