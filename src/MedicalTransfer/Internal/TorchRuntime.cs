using System;
using System.IO;
using System.Runtime.InteropServices;
using TorchSharp;

namespace MedicalTransfer.Internal
{
    /// <summary>
    /// Loads TorchSharp's native library once and turns its misleading failures into a diagnosis that
    /// names the real cause and the remedy.
    /// </summary>
    internal static class TorchRuntime
    {
        private static readonly Lazy<Exception?> LoadFailure = new(TryLoad);

        /// <summary>Throws <see cref="NativeLibraryException"/> when TorchSharp's native library cannot load.</summary>
        public static void EnsureAvailable()
        {
            if (LoadFailure.Value is { } failure)
            {
                throw Diagnose(failure, ProbeNativeLibrary());
            }
        }

        /// <summary>The default device: CUDA when available, else CPU.</summary>
        public static torch.Device DefaultDevice()
        {
            EnsureAvailable();
            return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        }

        private static Exception? TryLoad()
        {
            try
            {
                // Any call that needs the native library forces TorchSharp's static initialiser.
                _ = torch.get_default_dtype();
                return null;
            }
#pragma warning disable CA1031 // The failure is reported, with its cause attached, on every use.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                return ex;
            }
        }

        /// <summary>
        /// TorchSharp's exception does not carry the loader's error, so load libLibTorchSharp.so ourselves
        /// and return what the dynamic loader said (for example "version `GLIBCXX_3.4.32' not found").
        /// </summary>
        internal static string? ProbeNativeLibrary()
        {
            string name = OperatingSystem.IsWindows() ? "LibTorchSharp.dll" : OperatingSystem.IsMacOS() ? "libLibTorchSharp.dylib" : "libLibTorchSharp.so";
            string rid = RuntimeInformation.RuntimeIdentifier;
            string? torchSharpFolder = Path.GetDirectoryName(typeof(torch).Assembly.Location);
            foreach (string? folder in new[] { torchSharpFolder, AppContext.BaseDirectory })
            {
                if (string.IsNullOrEmpty(folder))
                {
                    continue;
                }

                foreach (string candidate in new[] { Path.Combine(folder, "runtimes", rid, "native", name), Path.Combine(folder, "runtimes", "linux-x64", "native", name), Path.Combine(folder, name) })
                {
                    if (!File.Exists(candidate))
                    {
                        continue;
                    }

                    try
                    {
                        NativeLibrary.Load(candidate);
                        return null;
                    }
                    catch (DllNotFoundException ex)
                    {
                        return candidate + ": " + ex.Message;
                    }
                    catch (BadImageFormatException ex)
                    {
                        return candidate + ": " + ex.Message;
                    }
                }
            }

            return null;
        }

        /// <summary>Builds the exception for a failed load from TorchSharp's failure and the dynamic loader's own error.</summary>
        internal static NativeLibraryException Diagnose(Exception failure, string? nativeLoadError)
        {
            string all = failure.ToString() + Environment.NewLine + nativeLoadError;
            if (all.Contains("GLIBCXX", StringComparison.Ordinal))
            {
                return new NativeLibraryException(
                    "TorchSharp's native library libLibTorchSharp.so could not be loaded because this system's libstdc++ is older than the one it was built with: " +
                    "it requires version GLIBCXX_3.4.32 (GCC 13), which Debian 12 and Ubuntu 22.04 do not provide. " +
                    "(TorchSharp reports this as \"doesn't contain a reference to libtorch-cpu-linux-x64\", which is not the cause.) " +
                    "Remedy: build the application with the MedicalTransfer package referenced directly, so its build step marks that single, never-called requirement as weak " +
                    "in the application's own copy of libLibTorchSharp.so (and do not set MedicalTransferPatchLibTorchSharp=false); then rebuild (dotnet build) and run again; an application built on another machine or with -r must be published on the machine that runs it (dotnet publish -c Release -o out, without -r). " +
                    "Alternatives: a newer OS (Ubuntu 24.04, Debian 13), or a libstdc++ from GCC 13 or later. See docs/troubleshooting.md. Loader error: " + nativeLoadError,
                    failure);
            }

            if (all.Contains("libtorch", StringComparison.OrdinalIgnoreCase) || failure is DllNotFoundException || failure.InnerException is DllNotFoundException)
            {
                return new NativeLibraryException(
                    "TorchSharp's native libraries could not be loaded. The application must reference exactly one TorchSharp backend package at the TorchSharp version MedicalTransfer uses: " +
                    "TorchSharp-cpu, TorchSharp-cuda-linux or TorchSharp-cuda-windows (for example: dotnet add package TorchSharp-cpu). " +
                    "The original error is attached as the inner exception. See docs/troubleshooting.md.",
                    failure);
            }

            return new NativeLibraryException("TorchSharp could not be initialised: " + failure.Message + " See docs/troubleshooting.md.", failure);
        }
    }
}
