using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace MedicalTransfer.Tests.Docs
{
    /// <summary>
    /// Every C# block in README.md and docs/*.md must appear, as the same text, in DocsSnippets.cs, which
    /// the test project compiles: code in the docs cannot drift from the API without breaking the build.
    /// </summary>
    public class DocsSnippetsTests
    {
        private static readonly Regex Block = new(@"```csharp\r?\n(.*?)```", RegexOptions.Singleline | RegexOptions.CultureInvariant);
        private static readonly Regex NamespaceImport = new(@"^using [A-Z][\w.]*;$", RegexOptions.CultureInvariant);

        public static IEnumerable<object[]> Documents()
        {
            string root = TestSupport.RepositoryRoot();
            yield return new object[] { "README.md" };
            foreach (var file in Directory.GetFiles(Path.Combine(root, "docs"), "*.md").OrderBy(f => f, StringComparer.Ordinal))
            {
                yield return new object[] { Path.GetRelativePath(root, file).Replace('\\', '/') };
            }
        }

        [Theory]
        [MemberData(nameof(Documents))]
        public void CSharpBlocks_AreCompiledInDocsSnippets(string document)
        {
            string root = TestSupport.RepositoryRoot();
            string snippets = Normalize(File.ReadAllText(Path.Combine(root, "tests", "MedicalTransfer.Tests", "Docs", "DocsSnippets.cs")));
            var missing = Block.Matches(File.ReadAllText(Path.Combine(root, document)))
                .Select(m => m.Groups[1].Value)
                .Where(code => !snippets.Contains(Normalize(code), StringComparison.Ordinal))
                .Select(code => code.Split('\n').First(l => l.Trim().Length > 0 && !NamespaceImport.IsMatch(l.Trim())).Trim())
                .ToArray();
            Assert.True(missing.Length == 0, $"{document}: these C# blocks are not in tests/MedicalTransfer.Tests/Docs/DocsSnippets.cs (copy each block there verbatim so it is compiled): " + string.Join(" | ", missing));
        }

        /// <summary>One line per non-empty line, trimmed; namespace imports dropped (DocsSnippets.cs has them at the top).</summary>
        private static string Normalize(string code) => string.Join("\n", code.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !NamespaceImport.IsMatch(l)));
    }
}
