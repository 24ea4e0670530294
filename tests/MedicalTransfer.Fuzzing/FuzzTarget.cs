using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace MedicalTransfer.Fuzzing
{
    /// <summary>
    /// One parser of untrusted bytes and its contract: for any input it returns a value or throws one
    /// of <see cref="Documented"/> (whose message names the file); it allocates no more than
    /// <see cref="AllocationLimit"/> allows for an input of that length; and it finishes within
    /// <see cref="TimeLimitMs"/> (enforced by afl-fuzz's <c>-t</c>, not by the replay tests).
    /// </summary>
    /// <param name="Name">The target's name on the command line and the folder of its corpus.</param>
    /// <param name="Parser">What it parses, for the tables.</param>
    /// <param name="FileName">The name the input gets on disk; every documented exception must name it.</param>
    /// <param name="Documented">The exception types the parser's contract allows.</param>
    /// <param name="AllocationLimit">Bytes the parser may allocate (managed, plus the tensors/pixels it returns) for an input of n bytes.</param>
    /// <param name="TimeLimitMs">The per-input time limit; longer is a hang.</param>
    /// <param name="Run">Parses the input (already written to the path) and returns the bytes of what it returned and still holds.</param>
    public sealed record FuzzTarget(
        string Name,
        string Parser,
        string FileName,
        IReadOnlyList<Type> Documented,
        Func<long, long> AllocationLimit,
        int TimeLimitMs,
        Func<string, byte[], long> Run)
    {
        /// <summary>Where the committed inputs of this target live, relative to the repository root.</summary>
        public string CorpusFolder => Path.Combine("tests", "MedicalTransfer.Fuzzing", "corpus", Name);

        /// <summary>Where the minimised inputs of fixed findings live, relative to the repository root.</summary>
        public string RegressionFolder => Path.Combine("tests", "MedicalTransfer.Fuzzing", "regressions", Name);
    }

    /// <summary>How one input ended when its parser kept the contract.</summary>
    public enum FuzzOutcome
    {
        /// <summary>The parser returned a value.</summary>
        Accepted,

        /// <summary>The parser threw one of its documented exceptions, naming the file.</summary>
        Refused,
    }

    /// <summary>A broken contract: what the fuzzer reports as a crash and the replay tests as a failure.</summary>
    public sealed class FuzzFindingException : Exception
    {
        /// <summary>Creates the finding.</summary>
        /// <param name="message">The target and what broke.</param>
        /// <param name="inner">The parser's exception, if it threw one.</param>
        public FuzzFindingException(string message, Exception? inner) : base(message, inner) { }
    }

    /// <summary>Runs inputs through a target and checks its contract.</summary>
    public static class FuzzContract
    {
        /// <summary>
        /// Writes <paramref name="input"/> to <paramref name="workFolder"/> under the target's file name,
        /// parses it and checks the contract; throws <see cref="FuzzFindingException"/> when it is broken.
        /// </summary>
        /// <param name="target">The target.</param>
        /// <param name="input">The input bytes.</param>
        /// <param name="workFolder">A folder the input may be written to (a tmpfs is fastest).</param>
        /// <param name="refusal">The documented exception when the parser refused the input.</param>
        /// <returns>Whether the parser accepted or refused the input.</returns>
        public static FuzzOutcome Execute(FuzzTarget target, byte[] input, string workFolder, out Exception? refusal)
        {
            ArgumentNullException.ThrowIfNull(target);
            ArgumentNullException.ThrowIfNull(input);
            string path = Path.Combine(workFolder, target.FileName);
            File.WriteAllBytes(path, input);
            refusal = null;
            long limit = target.AllocationLimit(input.Length);
            long before = GC.GetAllocatedBytesForCurrentThread();
            long kept;
            try
            {
                kept = target.Run(path, input);
            }
            catch (Exception e) when (target.Documented.Any(t => t.IsInstanceOfType(e)))
            {
                if (!e.Message.Contains(target.FileName, StringComparison.Ordinal))
                {
                    throw new FuzzFindingException($"{target.Name}: the {e.GetType().Name} does not name the file '{target.FileName}': {e.Message}", e);
                }

                refusal = e;
                kept = 0;
            }
            catch (Exception e)
            {
                throw new FuzzFindingException($"{target.Name}: undocumented {e.GetType().FullName}: {e.Message}", e);
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before + kept;
            if (allocated > limit)
            {
                throw new FuzzFindingException(
                    string.Format(CultureInfo.InvariantCulture, "{0}: a {1}-byte input made the parser allocate {2} bytes; the limit for it is {3}", target.Name, input.Length, allocated, limit),
                    refusal);
            }

            return refusal is null ? FuzzOutcome.Accepted : FuzzOutcome.Refused;
        }
    }
}
