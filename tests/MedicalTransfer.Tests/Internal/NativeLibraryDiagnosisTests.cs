using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using MedicalTransfer.Internal;
using Xunit;

namespace MedicalTransfer.Tests.Internal
{
    public class NativeLibraryDiagnosisTests
    {
        private const string TorchSharpMessage = "This application or script uses TorchSharp but doesn't contain a reference to libtorch-cpu-linux-x64, Version=2.10.0.";

        [Fact]
        public void Diagnose_GlibcxxInTrace_NamesRealCauseAndRemedy()
        {
            const string loaderError = "/app/runtimes/linux-x64/native/libLibTorchSharp.so: /lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by /app/runtimes/linux-x64/native/libLibTorchSharp.so)";
            var failure = new TypeInitializationException("TorchSharp.torch", new NotSupportedException(TorchSharpMessage));
            var ex = TorchRuntime.Diagnose(failure, loaderError);
            Assert.Contains("GLIBCXX_3.4.32", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Debian 12 and Ubuntu 22.04", ex.Message, StringComparison.Ordinal);
            Assert.Contains("docs/troubleshooting.md", ex.Message, StringComparison.Ordinal);
            Assert.Contains("which is not the cause", ex.Message, StringComparison.Ordinal);
            Assert.Same(failure, ex.InnerException);
        }

        [Fact]
        public void Diagnose_NoBackendPackage_SaysWhichPackageToAdd()
        {
            var ex = TorchRuntime.Diagnose(new TypeInitializationException("TorchSharp.torch", new NotSupportedException(TorchSharpMessage)), null);
            Assert.Contains("dotnet add package TorchSharp-cpu", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("GLIBCXX", ex.Message, StringComparison.Ordinal);
        }

        /// <summary>
        /// Runs a small application against the library exactly as NuGet ships it (unpatched). On a host
        /// whose libstdc++ lacks GLIBCXX_3.4.32 (Debian 12, Ubuntu 22.04) it must fail with the SDK's own
        /// diagnosis; on a newer host it must simply work. Either way the assertion is real.
        /// </summary>
        [LinuxFact("the libstdc++ remedy and the load failure it diagnoses exist only on Linux")]
        public void FirstUse_UnpatchedLibraryOnThisHost_FailsWithDiagnosisOrLoads()
        {
            string output = AppContext.BaseDirectory;
            string pristine = Path.Combine(output, "pristine", "libLibTorchSharp.so");
            Assert.True(File.Exists(pristine), "the test project copies the NuGet cache's libLibTorchSharp.so to " + pristine);
            Assert.True(File.Exists(Path.Combine(output, "NativeLoadProbe.dll")), "NativeLoadProbe is referenced by the test project");

            using var app = new TestSupport.TempFolder();
            foreach (string file in Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(output, file);
                if (relative.StartsWith("pristine", StringComparison.Ordinal))
                {
                    continue;
                }

                string target = Path.Combine(app.Path, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                if (relative == Path.Combine("runtimes", "linux-x64", "native", "libLibTorchSharp.so"))
                {
                    File.Copy(pristine, target);
                }
                else if (new FileInfo(file).Length > 8_000_000)
                {
                    // libtorch's large libraries: linked, not copied. Managed files are copied so that the
                    // host does not resolve the application back to the (patched) test output folder.
                    File.CreateSymbolicLink(target, file);
                }
                else
                {
                    File.Copy(file, target);
                }
            }

            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = app.Path,
            };
            start.ArgumentList.Add("exec");
            start.ArgumentList.Add("--runtimeconfig");
            start.ArgumentList.Add(Path.Combine(app.Path, "NativeLoadProbe.runtimeconfig.json"));
            start.ArgumentList.Add("--depsfile");
            start.ArgumentList.Add(Path.Combine(app.Path, "NativeLoadProbe.deps.json"));
            start.ArgumentList.Add(Path.Combine(app.Path, "NativeLoadProbe.dll"));
            using var process = Process.Start(start)!;
            string stdout = process.StandardOutput.ReadToEnd();
            string stderr = process.StandardError.ReadToEnd();
            Assert.True(process.WaitForExit(120_000), "the probe did not finish in 2 minutes");

            if (HostLibstdcxxHas("GLIBCXX_3.4.32"))
            {
                Assert.True(process.ExitCode == 0, "probe failed on a host with a new libstdc++: " + stdout + stderr);
                Assert.Contains("LOADED ResNet-18", stdout, StringComparison.Ordinal);
            }
            else
            {
                Assert.True(process.ExitCode == 3, $"exit code {process.ExitCode}: {stdout}{stderr}");
                Assert.Contains("NativeLibraryException: TorchSharp's native library libLibTorchSharp.so could not be loaded because this system's libstdc++ is older", stdout, StringComparison.Ordinal);
                Assert.Contains("GLIBCXX_3.4.32", stdout, StringComparison.Ordinal);
            }
        }

        private static bool HostLibstdcxxHas(string version)
        {
            string[] candidates = { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6" };
            string? path = candidates.FirstOrDefault(File.Exists);
            Assert.NotNull(path);
            byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
            return File.ReadAllBytes(path!).AsSpan().IndexOf(needle) >= 0;
        }
    }
}
