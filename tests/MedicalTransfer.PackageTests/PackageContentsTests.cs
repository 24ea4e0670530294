using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Reflection.Metadata;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Xunit;

namespace MedicalTransfer.PackageTests
{
    /// <summary>What <c>dotnet pack -c Release</c> puts into MedicalTransfer's .nupkg and .snupkg.</summary>
    [Collection(PackedLibraryCollection.Name)]
    [Trait("Category", "Package")]
    public sealed class PackageContentsTests
    {
        private static readonly string[] TargetFrameworks = { "net8.0", "net10.0" };
        private static readonly Guid SourceLinkKind = new("CC110556-A091-4D38-9FEC-25AB9A351A6A");
        private const string RepositoryUrl = "https://github.com/medicaltransfer/medicaltransfer";

        private readonly PackedLibrary _packed;

        public PackageContentsTests(PackedLibrary packed) => _packed = packed;

        [Fact]
        public void Pack_Release_WritesPackageAndSymbolPackageWithoutWarnings()
        {
            Assert.True(File.Exists(_packed.PackagePath), $"No {_packed.PackagePath}. {_packed.Pack.Describe()}");
            Assert.True(File.Exists(_packed.SymbolPackagePath), $"No {_packed.SymbolPackagePath}. {_packed.Pack.Describe()}");
            Assert.Empty(DotNetCli.Warnings(_packed.Pack.Output));
        }

        [Fact]
        public void Nuspec_Metadata_IsPublishable()
        {
            var metadata = ReadNuspec().Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            string Value(string name) => metadata.Elements().Single(e => e.Name.LocalName == name).Value;

            Assert.Equal("MedicalTransfer", Value("id"));
            Assert.Equal(_packed.Version, Value("version"));
            var license = metadata.Elements().Single(e => e.Name.LocalName == "license");
            Assert.Equal("expression", license.Attribute("type")?.Value);
            Assert.Equal("MIT", license.Value);
            Assert.Equal("README.md", Value("readme"));
            Assert.Equal(RepositoryUrl, Value("projectUrl"));
            Assert.Contains("TorchSharp", Value("description"), StringComparison.Ordinal);
            Assert.Contains("transfer-learning", Value("tags").Split(' '));
            var repository = metadata.Elements().Single(e => e.Name.LocalName == "repository");
            Assert.Equal("git", repository.Attribute("type")?.Value);
            Assert.Equal(RepositoryUrl, repository.Attribute("url")?.Value);

            // The package page shows the repository's README, unchanged.
            using var package = ZipFile.OpenRead(_packed.PackagePath);
            Assert.Equal(File.ReadAllText(Path.Combine(_packed.RepositoryRoot, "README.md")), ReadText(package, "README.md"));
        }

        [Fact]
        public void Nuspec_Dependencies_AreManagedPackagesOnlyWithoutBackend()
        {
            var dependencies = ReadNuspec().Root!.Descendants().Single(e => e.Name.LocalName == "dependencies");
            var groups = dependencies.Elements().ToDictionary(g => g.Attribute("targetFramework")!.Value, g => g.Elements().ToList());

            Assert.Equal(TargetFrameworks.OrderBy(t => t, StringComparer.Ordinal), groups.Keys.OrderBy(t => t, StringComparer.Ordinal));
            foreach (var (framework, group) in groups)
            {
                var ids = group.Select(d => d.Attribute("id")!.Value).OrderBy(i => i, StringComparer.Ordinal).ToList();
                Assert.True(
                    ids.SequenceEqual(new[] { "Microsoft.Extensions.Logging.Abstractions", "SixLabors.ImageSharp", "TorchSharp", "TorchSharp.PyBridge" }),
                    $"{framework}: expected the four managed dependencies and no TorchSharp backend, found {string.Join(", ", ids)}.");
                var torchSharp = group.Single(d => d.Attribute("id")!.Value == "TorchSharp");
                Assert.Equal(_packed.TorchSharpVersion, torchSharp.Attribute("version")!.Value);
            }
        }

        [Fact]
        public void Package_Files_HoldBothFrameworksWithDocsAndTheLibStdCxxRemedy()
        {
            using var package = ZipFile.OpenRead(_packed.PackagePath);
            var names = package.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);

            foreach (var framework in TargetFrameworks)
            {
                Assert.Contains($"lib/{framework}/MedicalTransfer.dll", names);
                var docs = ReadText(package, $"lib/{framework}/MedicalTransfer.xml");
                Assert.Contains("<member name=\"T:MedicalTransfer.TransferBuilder\">", docs, StringComparison.Ordinal);
            }

            // The remedy reaches direct (build/) and transitive (buildTransitive/) consumers, byte for byte the repository's file.
            var remedy = File.ReadAllText(Path.Combine(_packed.RepositoryRoot, "src", "MedicalTransfer", "build", "MedicalTransfer.targets"));
            Assert.Equal(remedy, ReadText(package, "build/MedicalTransfer.targets"));
            Assert.Equal(remedy, ReadText(package, "buildTransitive/MedicalTransfer.targets"));

            // No native payload and no symbols in the main package: the backend is the application's choice, PDBs go to the .snupkg.
            Assert.DoesNotContain(names, n => n.StartsWith("runtimes/", StringComparison.Ordinal) || n.EndsWith(".so", StringComparison.Ordinal) || n.EndsWith(".pdb", StringComparison.Ordinal));
        }

        [Fact]
        public void SymbolPackage_Pdbs_LinkSourcesToTheBuiltCommit()
        {
            using var symbols = ZipFile.OpenRead(_packed.SymbolPackagePath);
            var commits = _packed.PackedCommits;

            foreach (var framework in TargetFrameworks)
            {
                var entry = symbols.GetEntry($"lib/{framework}/MedicalTransfer.pdb");
                Assert.True(entry is not null, $"{_packed.SymbolPackagePath} has no lib/{framework}/MedicalTransfer.pdb.");
                using var pdb = new MemoryStream();
                using (var stream = entry!.Open())
                {
                    stream.CopyTo(pdb);
                }

                pdb.Position = 0;
                using var provider = MetadataReaderProvider.FromPortablePdbStream(pdb);
                var reader = provider.GetMetadataReader();
                var documents = reader.Documents.Select(d => reader.GetString(reader.GetDocument(d).Name)).ToList();
                Assert.Contains(documents, d => d.EndsWith("TransferBuilder.cs", StringComparison.Ordinal));

                if (commits.Count == 0)
                {
                    continue; // not a git checkout (a source archive): there is no commit to link to
                }

                var sourceLink = reader.GetCustomDebugInformation(EntityHandle.ModuleDefinition)
                    .Select(reader.GetCustomDebugInformation)
                    .Where(c => reader.GetGuid(c.Kind) == SourceLinkKind)
                    .Select(c => Encoding.UTF8.GetString(reader.GetBlobBytes(c.Value)))
                    .SingleOrDefault();
                Assert.True(sourceLink is not null, $"lib/{framework}/MedicalTransfer.pdb has no SourceLink record.");
                using var json = JsonDocument.Parse(sourceLink!);
                var targets = json.RootElement.GetProperty("documents").EnumerateObject().Select(p => p.Value.GetString()).ToList();
                var expected = commits.Select(c => $"https://raw.githubusercontent.com/medicaltransfer/medicaltransfer/{c}/*").ToList();
                Assert.True(targets.Count == 1 && expected.Contains(targets[0]!), $"lib/{framework}/MedicalTransfer.pdb: expected SourceLink to {string.Join(" or ", expected)}, found {sourceLink}.");
            }

            if (commits.Count > 0)
            {
                var repository = ReadNuspec().Root!.Descendants().Single(e => e.Name.LocalName == "repository");
                Assert.Contains(repository.Attribute("commit")?.Value, commits);
            }
        }

        private XDocument ReadNuspec()
        {
            using var package = ZipFile.OpenRead(_packed.PackagePath);
            return XDocument.Parse(ReadText(package, "MedicalTransfer.nuspec"));
        }

        private static string ReadText(ZipArchive archive, string name)
        {
            var entry = archive.GetEntry(name);
            Assert.True(entry is not null, $"The package has no '{name}'; it has: {string.Join(", ", archive.Entries.Select(e => e.FullName))}.");
            using var reader = new StreamReader(entry!.Open(), Encoding.UTF8);
            return reader.ReadToEnd();
        }
    }
}
