using System;
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
                throw Diagnose(failure);
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

        /// <summary>Builds the exception for a failed load; public to the tests through InternalsVisibleTo.</summary>
        internal static NativeLibraryException Diagnose(Exception failure)
        {
            string all = failure.ToString();
            if (all.Contains("GLIBCXX_3.4.32", StringComparison.Ordinal) || all.Contains("GLIBCXX", StringComparison.Ordinal))
            {
                return new NativeLibraryException(
                    "TorchSharp's native library libLibTorchSharp.so could not be loaded because this system's libstdc++ is older than the one it was built with: " +
                    "it requires version GLIBCXX_3.4.32 (GCC 13), which Debian 12 and Ubuntu 22.04 do not provide. " +
                    "(TorchSharp reports this as \"doesn't contain a reference to libtorch-cpu-linux-x64\", which is not the cause.) " +
                    "Remedy: build the application with the MedicalTransfer package referenced directly, so its build step marks that single, never-called requirement as weak " +
                    "in the application's own copy of libLibTorchSharp.so (and do not set MedicalTransferPatchLibTorchSharp=false); then rebuild (dotnet build) and run again. " +
                    "Alternatives: a newer OS (Ubuntu 24.04, Debian 13), or a libstdc++ from GCC 13 or later. See docs/troubleshooting.md.",
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
