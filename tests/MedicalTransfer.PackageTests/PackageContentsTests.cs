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
    /// <summary>What <c>dotnet pack -c Release</c> puts into each package's .nupkg and .snupkg.</summary>
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
            Assert.Contains(PackedLibrary.PackageId, _packed.PackageIds);
            foreach (var id in _packed.PackageIds)
            {
                Assert.True(File.Exists(_packed.PackagePath(id)), $"No {_packed.PackagePath(id)}. {string.Join("\n", _packed.Packs.Select(p => p.Describe()))}");
                Assert.True(File.Exists(_packed.SymbolPackagePath(id)), $"No {_packed.SymbolPackagePath(id)}.");
            }

            foreach (var pack in _packed.Packs)
            {
                Assert.True(DotNetCli.ProjectWarnings(pack.Output, _packed.RepositoryRoot).Count == 0, pack.Describe());
            }
        }

        [Fact]
        public void Nuspec_Metadata_IsPublishable()
        {
            foreach (var id in _packed.PackageIds)
            {
                var metadata = Metadata(id);
                string Value(string name) => metadata.Elements().Single(e => e.Name.LocalName == name).Value;

                Assert.Equal(id, Value("id"));
                Assert.Equal(_packed.Version, Value("version"));
                var license = metadata.Elements().Single(e => e.Name.LocalName == "license");
                Assert.Equal("expression", license.Attribute("type")?.Value);
                Assert.Equal("MIT", license.Value);
                Assert.Equal("README.md", Value("readme"));
                Assert.Equal(RepositoryUrl, Value("projectUrl"));
                Assert.True(Value("description").Length > 40, $"{id}: the description is too short to explain the package.");
                Assert.Contains("transfer-learning", Value("tags").Split(' '));
                var repository = metadata.Elements().Single(e => e.Name.LocalName == "repository");
                Assert.Equal("git", repository.Attribute("type")?.Value);
                Assert.Equal(RepositoryUrl, repository.Attribute("url")?.Value);

                // The package page shows the repository's README, unchanged.
                using var package = ZipFile.OpenRead(_packed.PackagePath(id));
                Assert.Equal(File.ReadAllText(Path.Combine(_packed.RepositoryRoot, "README.md")), ReadText(package, "README.md"));
            }
        }

        [Fact]
        public void Nuspec_Dependencies_CoreIsManagedOnlyWithoutBackend()
        {
            var groups = DependencyGroups(PackedLibrary.PackageId);

            Assert.Equal(TargetFrameworks.OrderBy(t => t, StringComparer.Ordinal), groups.Keys.OrderBy(t => t, StringComparer.Ordinal));
            foreach (var (framework, group) in groups)
            {
                var ids = group.Keys.OrderBy(i => i, StringComparer.Ordinal).ToList();
                // SkiaSharp is the JPEG decoder (libjpeg-turbo); its Linux natives come in the NoDependencies
                // package (Windows and macOS natives come with SkiaSharp itself), at the version ScottPlot uses.
                Assert.True(
                    ids.SequenceEqual(new[] { "Google.Protobuf", "Microsoft.Extensions.Logging.Abstractions", "SixLabors.ImageSharp", "SkiaSharp", "SkiaSharp.NativeAssets.Linux.NoDependencies", "TorchSharp" }),
                    $"{framework}: expected exactly the four managed dependencies and SkiaSharp with its Linux native assets (no TorchSharp.PyBridge: the SDK reads checkpoints itself), no TorchSharp backend and no build-time tool (Grpc.Tools), found {string.Join(", ", ids)}.");
                Assert.Equal(_packed.TorchSharpVersion, group["TorchSharp"]);
                Assert.Equal(group["SkiaSharp"], group["SkiaSharp.NativeAssets.Linux.NoDependencies"]);
            }
        }

        [Fact]
        public void Nuspec_Dependencies_OtherPackagesNeedTheSameReleaseOfTheCoreAndNoBackend()
        {
            foreach (var id in _packed.PackageIds.Where(i => i != PackedLibrary.PackageId))
            {
                foreach (var (framework, group) in DependencyGroups(id))
                {
                    Assert.True(group.TryGetValue(PackedLibrary.PackageId, out var core), $"{id} {framework}: no dependency on {PackedLibrary.PackageId}.");
                    Assert.Equal(_packed.Version, core);
                    Assert.DoesNotContain(group.Keys, d => d.StartsWith("TorchSharp-", StringComparison.Ordinal) || d.StartsWith("libtorch", StringComparison.Ordinal));
                }
            }
        }

        [Fact]
        public void Package_Files_HoldBothFrameworksWithDocsAndNoNativePayload()
        {
            foreach (var id in _packed.PackageIds)
            {
                using var package = ZipFile.OpenRead(_packed.PackagePath(id));
                var names = package.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);

                foreach (var framework in TargetFrameworks)
                {
                    Assert.Contains($"lib/{framework}/{id}.dll", names);
                    var docs = ReadText(package, $"lib/{framework}/{id}.xml");
                    Assert.Contains($"<member name=\"T:{id}.", docs, StringComparison.Ordinal);
                }

                // The backend is the application's choice and PDBs go to the .snupkg.
                Assert.DoesNotContain(names, n => n.StartsWith("runtimes/", StringComparison.Ordinal) || n.EndsWith(".so", StringComparison.Ordinal) || n.EndsWith(".pdb", StringComparison.Ordinal));
            }
        }

        [Fact]
        public void Package_Core_CarriesTheLibStdCxxRemedyForDirectAndTransitiveConsumers()
        {
            using var package = ZipFile.OpenRead(_packed.PackagePath(PackedLibrary.PackageId));
            Assert.Contains("<member name=\"T:MedicalTransfer.TransferBuilder\">", ReadText(package, "lib/net8.0/MedicalTransfer.xml"), StringComparison.Ordinal);

            // NuGet imports build/<id>.targets into projects that reference the package and buildTransitive/<id>.targets
            // into projects that get it through another package or project: byte for byte the repository's file.
            var remedy = File.ReadAllText(Path.Combine(_packed.RepositoryRoot, "src", "MedicalTransfer", "build", "MedicalTransfer.targets"));
            Assert.Equal(remedy, ReadText(package, "build/MedicalTransfer.targets"));
            Assert.Equal(remedy, ReadText(package, "buildTransitive/MedicalTransfer.targets"));
        }

        [Fact]
        public void SymbolPackage_Pdbs_ListTheSourceDocuments()
        {
            foreach (var id in _packed.PackageIds)
            {
                foreach (var framework in TargetFrameworks)
                {
                    var reader = OpenPdb(id, framework, out var provider);
                    using (provider)
                    {
                        Assert.True(reader.Documents.Count > 1, $"{id} {framework}: the PDB lists {reader.Documents.Count} source documents.");
                    }
                }
            }
        }

        [GitCheckoutFact]
        public void SymbolPackage_Pdbs_LinkSourcesToTheBuiltCommit()
        {
            var commits = _packed.PackedCommits;
            Assert.NotEmpty(commits);
            foreach (var id in _packed.PackageIds)
            {
                foreach (var framework in TargetFrameworks)
                {
                    var reader = OpenPdb(id, framework, out var provider);
                    using (provider)
                    {
                        var sourceLink = reader.GetCustomDebugInformation(EntityHandle.ModuleDefinition)
                            .Select(reader.GetCustomDebugInformation)
                            .Where(c => reader.GetGuid(c.Kind) == SourceLinkKind)
                            .Select(c => Encoding.UTF8.GetString(reader.GetBlobBytes(c.Value)))
                            .SingleOrDefault();
                        Assert.True(sourceLink is not null, $"{id} {framework}: the PDB has no SourceLink record.");
                        using var json = JsonDocument.Parse(sourceLink!);
                        var targets = json.RootElement.GetProperty("documents").EnumerateObject().Select(p => p.Value.GetString()).ToList();
                        var expected = commits.Select(c => $"https://raw.githubusercontent.com/medicaltransfer/medicaltransfer/{c}/*").ToList();
                        Assert.True(targets.Count == 1 && expected.Contains(targets[0]!), $"{id} {framework}: expected SourceLink to {string.Join(" or ", expected)}, found {sourceLink}.");
                    }
                }

                var repository = Metadata(id).Elements().Single(e => e.Name.LocalName == "repository");
                Assert.Contains(repository.Attribute("commit")?.Value, commits);
            }
        }

        private MetadataReader OpenPdb(string id, string framework, out MetadataReaderProvider provider)
        {
            using var symbols = ZipFile.OpenRead(_packed.SymbolPackagePath(id));
            var entry = symbols.GetEntry($"lib/{framework}/{id}.pdb");
            Assert.True(entry is not null, $"{_packed.SymbolPackagePath(id)} has no lib/{framework}/{id}.pdb.");
            var pdb = new MemoryStream();
            using (var stream = entry!.Open())
            {
                stream.CopyTo(pdb);
            }

            pdb.Position = 0;
            provider = MetadataReaderProvider.FromPortablePdbStream(pdb);
            return provider.GetMetadataReader();
        }

        private XElement Metadata(string id)
        {
            using var package = ZipFile.OpenRead(_packed.PackagePath(id));
            var nuspec = XDocument.Parse(ReadText(package, $"{id}.nuspec"));
            return nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        }

        /// <summary>Target framework to (dependency id to minimum version).</summary>
        private Dictionary<string, Dictionary<string, string>> DependencyGroups(string id) =>
            Metadata(id).Elements().Single(e => e.Name.LocalName == "dependencies").Elements()
                .ToDictionary(
                    g => g.Attribute("targetFramework")!.Value,
                    g => g.Elements().ToDictionary(d => d.Attribute("id")!.Value, d => d.Attribute("version")!.Value, StringComparer.Ordinal),
                    StringComparer.Ordinal);

        private static string ReadText(ZipArchive archive, string name)
        {
            var entry = archive.GetEntry(name);
            Assert.True(entry is not null, $"The package has no '{name}'; it has: {string.Join(", ", archive.Entries.Select(e => e.FullName))}.");
            using var reader = new StreamReader(entry!.Open(), Encoding.UTF8);
            return reader.ReadToEnd();
        }
    }
}
