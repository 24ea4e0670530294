using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Xml.Linq;
using Xunit;

namespace MedicalTransfer.PackageTests
{
    /// <summary>The tests that share one pack of the packages (they run one after another).</summary>
    [CollectionDefinition(Name)]
    public sealed class PackedLibraryCollection : ICollectionFixture<PackedLibrary>
    {
        public const string Name = "Packed library";
    }

    /// <summary>
    /// Packs every project under src/ once, in Release, into a temporary feed, with a version no earlier run used
    /// (0.1.0-test-&lt;guid&gt;), so that the global packages folder can never serve a stale copy. Disposal
    /// removes the temporary folder and that version from the global packages folder.
    /// </summary>
    public sealed class PackedLibrary : IDisposable
    {
        /// <summary>The core package, the one applications install.</summary>
        public const string PackageId = "MedicalTransfer";

        private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(8);

        public PackedLibrary()
        {
            RepositoryRoot = FindRepositoryRoot();
            Version = $"0.1.0-test-{Guid.NewGuid():N}";
            WorkRoot = Directory.CreateTempSubdirectory("medicaltransfer-package-").FullName;
            Feed = Path.Combine(WorkRoot, "feed");
            TorchSharpVersion = ReadTorchSharpVersion(RepositoryRoot);

            try
            {
                (Packs, PackageIds, PackedCommits) = PackAll(RepositoryRoot, Feed, Path.Combine(WorkRoot, "artifacts"), Version);
                GlobalPackagesFolder = FindGlobalPackagesFolder(WorkRoot);
            }
            catch
            {
                // xUnit does not dispose a fixture whose constructor failed.
                Directory.Delete(WorkRoot, recursive: true);
                throw;
            }
        }

        /// <summary>The checkout the package is built from (the folder holding MedicalTransfer.sln).</summary>
        public string RepositoryRoot { get; }

        /// <summary>The unique prerelease version of this run's package.</summary>
        public string Version { get; }

        /// <summary>A temporary folder outside the repository for everything this run writes.</summary>
        public string WorkRoot { get; }

        /// <summary>The local feed that holds the .nupkg and .snupkg files.</summary>
        public string Feed { get; }

        /// <summary>The TorchSharp version pinned in Directory.Packages.props.</summary>
        public string TorchSharpVersion { get; }

        /// <summary>The <c>dotnet pack</c> commands' results, one per package.</summary>
        internal IReadOnlyList<CommandResult> Packs { get; }

        /// <summary>The packages built: MedicalTransfer and every other project under src/.</summary>
        public IReadOnlyList<string> PackageIds { get; }

        /// <summary>
        /// The commit checked out when the pack started and when it ended (one value unless someone committed
        /// meanwhile); empty when the repository root is not a git checkout (a source archive).
        /// </summary>
        public IReadOnlyList<string> PackedCommits { get; }

        /// <summary>Where NuGet extracts packages on this machine.</summary>
        public string GlobalPackagesFolder { get; }

        public string PackagePath(string id) => Path.Combine(Feed, $"{id}.{Version}.nupkg");

        public string SymbolPackagePath(string id) => Path.Combine(Feed, $"{id}.{Version}.snupkg");

        public void Dispose()
        {
            // NuGet extracts into <root>/<lower-case id>/<normalised version>; only this run's version is removed.
            foreach (var packageId in PackageIds)
            {
                var id = Path.Combine(GlobalPackagesFolder, packageId.ToLowerInvariant());
                var extracted = Path.Combine(id, Version.ToLowerInvariant());
                if (Directory.Exists(extracted))
                {
                    Directory.Delete(extracted, recursive: true);
                }

                if (Directory.Exists(id) && !Directory.EnumerateFileSystemEntries(id).Any())
                {
                    Directory.Delete(id);
                }
            }

            if (Directory.Exists(WorkRoot))
            {
                Directory.Delete(WorkRoot, recursive: true);
            }
        }

        private static (IReadOnlyList<CommandResult> Packs, IReadOnlyList<string> Ids, IReadOnlyList<string> Commits) PackAll(
            string repositoryRoot, string feed, string artifacts, string version)
        {
            // Every project under src/ is a package. Its own artifacts folder: nothing shared with the solution's
            // Debug build running beside it. Later packs reuse the first one's build of MedicalTransfer.
            var headBefore = GitHead(repositoryRoot);
            var projects = Directory.GetDirectories(Path.Combine(repositoryRoot, "src"))
                .Select(d => Path.Combine(d, Path.GetFileName(d) + ".csproj"))
                .Where(File.Exists)
                .OrderBy(p => p, StringComparer.Ordinal)
                .ToList();
            var packs = new List<CommandResult>();
            foreach (var project in projects)
            {
                var pack = DotNetCli.Run(
                    repositoryRoot,
                    PackTimeout,
                    "pack", Path.GetRelativePath(repositoryRoot, project),
                    "-c", "Release",
                    "-o", feed,
                    "--artifacts-path", artifacts,
                    $"-p:Version={version}");
                if (pack.ExitCode != 0)
                {
                    throw new InvalidOperationException($"Packing {Path.GetFileName(project)} failed. " + pack.Describe());
                }

                packs.Add(pack);
            }

            // In a shared working copy someone may commit while the pack runs; the packages name one of these.
            var commits = new[] { headBefore, GitHead(repositoryRoot) }.OfType<string>().Distinct().ToList();
            return (packs, projects.Select(p => Path.GetFileNameWithoutExtension(p)).ToList(), commits);
        }

        private static string FindGlobalPackagesFolder(string workingDirectory)
        {
            var result = DotNetCli.Run(workingDirectory, TimeSpan.FromMinutes(1), "nuget", "locals", "global-packages", "--list");
            const string Prefix = "global-packages:";
            var line = result.Output.Split('\n').FirstOrDefault(l => l.Trim().StartsWith(Prefix, StringComparison.Ordinal));
            if (result.ExitCode != 0 || line is null)
            {
                throw new InvalidOperationException("Could not find the NuGet global packages folder. " + result.Describe());
            }

            return line.Trim()[Prefix.Length..].Trim();
        }

        private static string FindRepositoryRoot()
        {
            var root = typeof(PackedLibrary).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .Single(a => a.Key == "RepositoryRoot").Value;
            if (root is null || !File.Exists(Path.Combine(root, "MedicalTransfer.sln")))
            {
                throw new InvalidOperationException($"The repository root recorded at build time ('{root}') does not hold MedicalTransfer.sln; rebuild the test project from the checkout.");
            }

            return root;
        }

        /// <summary>The checked-out commit, or null when the repository root is not a git checkout.</summary>
        private static string? GitHead(string repositoryRoot)
        {
            if (!Directory.Exists(Path.Combine(repositoryRoot, ".git")) && !File.Exists(Path.Combine(repositoryRoot, ".git")))
            {
                return null;
            }

            var start = new ProcessStartInfo("git") { WorkingDirectory = repositoryRoot, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add("rev-parse");
            start.ArgumentList.Add("HEAD");
            using var git = Process.Start(start)!;
            var error = git.StandardError.ReadToEndAsync();
            var head = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            if (git.ExitCode != 0)
            {
                throw new InvalidOperationException($"`git rev-parse HEAD` in {repositoryRoot} failed with exit code {git.ExitCode}: {error.Result}");
            }

            return head;
        }

        private static string ReadTorchSharpVersion(string repositoryRoot)
        {
            var props = XDocument.Load(Path.Combine(repositoryRoot, "Directory.Packages.props"));
            return props.Descendants("TorchSharpVersion").Single().Value.Trim();
        }
    }
}
