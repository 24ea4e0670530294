using System;
using Xunit;

namespace MedicalTransfer.Tests
{
    /// <summary>A fact that only means something on Linux: elsewhere it is reported as skipped, with the reason, never as passed.</summary>
    [AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
    public sealed class LinuxFactAttribute : FactAttribute
    {
        /// <summary>Creates the attribute.</summary>
        /// <param name="reason">Why the test needs Linux.</param>
        public LinuxFactAttribute(string reason)
        {
            Reason = reason;
            if (!OperatingSystem.IsLinux())
            {
                Skip = "Runs on Linux only: " + reason;
            }
        }

        /// <summary>Why the test needs Linux.</summary>
        public string Reason { get; }
    }
}
