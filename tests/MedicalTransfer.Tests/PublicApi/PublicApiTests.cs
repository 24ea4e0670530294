using System;
using System.IO;
using System.Linq;
using System.Reflection;
using PublicApiGenerator;
using Xunit;

namespace MedicalTransfer.Tests.PublicApi
{
    /// <summary>
    /// Pins the public surface of the shipped packages: every public type and member, as PublicApiGenerator prints
    /// it, must equal the approved file beside this test, so every API change shows up in review as a diff of that
    /// file. To accept a deliberate change, regenerate the files with one command from the repository root:
    /// <c>MEDICALTRANSFER_ACCEPT_API=1 dotnet test tests/MedicalTransfer.Tests --filter FullyQualifiedName~PublicApiTests</c>
    /// and commit them.
    /// </summary>
    public sealed class PublicApiTests
    {
        private const string AcceptVariable = "MEDICALTRANSFER_ACCEPT_API";

        [Theory]
        [InlineData("MedicalTransfer")]
        [InlineData("MedicalTransfer.Reporting")]
        [InlineData("MedicalTransfer.Onnx")]
        public void PublicApi_OfPackage_EqualsTheApprovedFile(string assemblyName)
        {
            var assembly = Assembly.Load(assemblyName);
            string actual = Normalize(assembly.GeneratePublicApi(new ApiGeneratorOptions { IncludeAssemblyAttributes = false }));
            string file = Path.Combine(TestSupport.RepositoryRoot(), "tests", "MedicalTransfer.Tests", "PublicApi", assemblyName + ".approved.txt");
            if (Environment.GetEnvironmentVariable(AcceptVariable) == "1")
            {
                File.WriteAllText(file, actual);
                return;
            }

            string approved = File.Exists(file) ? Normalize(File.ReadAllText(file)) : string.Empty;
            if (approved == actual)
            {
                return;
            }

            var approvedLines = approved.Split('\n');
            var actualLines = actual.Split('\n');
            var removed = approvedLines.Except(actualLines, StringComparer.Ordinal).Take(20).Select(l => "  - " + l.Trim());
            var added = actualLines.Except(approvedLines, StringComparer.Ordinal).Take(20).Select(l => "  + " + l.Trim());
            Assert.Fail(
                $"The public API of {assemblyName} differs from {Path.GetRelativePath(TestSupport.RepositoryRoot(), file)}." + Environment.NewLine +
                string.Join(Environment.NewLine, removed.Concat(added)) + Environment.NewLine +
                "If the change is deliberate, regenerate the approved files from the repository root with" + Environment.NewLine +
                $"  {AcceptVariable}=1 dotnet test tests/MedicalTransfer.Tests --filter FullyQualifiedName~PublicApiTests" + Environment.NewLine +
                "and commit them (review the diff: every line is a public type or member users will depend on).");
        }

        private static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd() + "\n";
    }
}
