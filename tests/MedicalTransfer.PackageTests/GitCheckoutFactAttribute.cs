using System;
using System.IO;
using System.Linq;
using System.Reflection;
using Xunit;

namespace MedicalTransfer.PackageTests
{
    /// <summary>
    /// A fact about what a git checkout adds (the commit SourceLink points at): built from a source archive, there
    /// is no commit, and the test is reported as skipped with that reason, never as passed.
    /// </summary>
    [AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
    public sealed class GitCheckoutFactAttribute : FactAttribute
    {
        /// <summary>Creates the attribute; skips when the repository root recorded at build time holds no <c>.git</c>.</summary>
        public GitCheckoutFactAttribute()
        {
            string? root = typeof(GitCheckoutFactAttribute).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == "RepositoryRoot")?.Value;
            if (root is null || !Directory.Exists(Path.Combine(root, ".git")))
            {
                Skip = $"'{root}' is not a git checkout (a source archive, or a work tree whose repository lives elsewhere): there is no commit for SourceLink to point at.";
            }
            else if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("GIT_DIR")))
            {
                Skip = "GIT_DIR points the build at a repository outside the work tree, which SourceLink's git reader does not follow: there is no commit for it to point at.";
            }
        }
    }
}
