using System;
using System.IO;
using System.Linq;

namespace MedicalTransfer.Models
{
    /// <summary>What the CPU this process runs on can do natively, as far as the SDK's precision choices care.</summary>
    public static class CpuCapabilities
    {
        private static readonly Lazy<string[]> Flags = new(() => ReadFlags("/proc/cpuinfo"));

        /// <summary>
        /// Whether the CPU computes bfloat16 natively (the <c>avx512_bf16</c> or <c>amx_bf16</c> flag of
        /// <c>/proc/cpuinfo</c>). <see langword="false"/> where the flags cannot be read (Windows, macOS): there the
        /// SDK assumes bfloat16 is emulated.
        /// </summary>
        public static bool HasNativeBFloat16 => HasNativeBFloat16In(Flags.Value);

        /// <summary>A line for benchmark tables and warnings: which bfloat16-related flags the CPU reports.</summary>
        public static string Describe() => Describe(Flags.Value);

        internal static bool HasNativeBFloat16In(string[] flags) => flags.Contains("avx512_bf16") || flags.Contains("amx_bf16");

        internal static string Describe(string[] flags)
        {
            var relevant = new[] { "avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile" }.Where(flags.Contains).ToArray();
            return (HasNativeBFloat16In(flags) ? "native bfloat16" : "bfloat16 emulated (no avx512_bf16/amx_bf16)") + "; flags: " + (relevant.Length == 0 ? "none of avx2/avx512f/avx512_bf16/amx" : string.Join(" ", relevant));
        }

        /// <summary>The first <c>flags</c> line of a cpuinfo file, split; empty when the file is missing or has none.</summary>
        internal static string[] ReadFlags(string cpuinfoPath)
        {
            try
            {
                if (!File.Exists(cpuinfoPath))
                {
                    return Array.Empty<string>();
                }

                foreach (var line in File.ReadLines(cpuinfoPath))
                {
                    int colon = line.IndexOf(':', StringComparison.Ordinal);
                    if (colon > 0 && line[..colon].Trim() == "flags")
                    {
                        return line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // An unreadable /proc (a sandbox) means "unknown": the caller treats bfloat16 as emulated, the safe side.
            }

            return Array.Empty<string>();
        }
    }
}
