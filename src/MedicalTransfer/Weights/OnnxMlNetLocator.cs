using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// Finds <c>ResNet18.onnx</c> from NuGet package <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c>:
    /// in the application's output folder (the package copies it to <c>DnnImageModels/</c>) or in
    /// the NuGet package cache.
    /// </summary>
    internal static class OnnxMlNetLocator
    {
        public const string PackageId = "Microsoft.ML.DnnImageFeaturizer.ResNet18";
        public const string PreferredVersion = "0.23.1";
        private static readonly string[] RelativePath = { "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx" };

        public static string Locate() => Locate(Candidates(Environment.GetEnvironmentVariable));

        public static string Locate(IReadOnlyList<string> candidates)
        {
            var found = candidates.FirstOrDefault(File.Exists);
            if (found is not null)
            {
                return found;
            }

            throw new WeightsUnavailableException(string.Format(
                CultureInfo.InvariantCulture,
                "The ImageNet ResNet-18 ONNX file of NuGet package {0} was not found. Looked in:{1}{2}{1}Add <PackageReference Include=\"{0}\" Version=\"{3}\" /> to the application's project (it copies the file to DnnImageModels/ in the output folder), or pass the file's path to ResNetWeights.FromOnnx.",
                PackageId, Environment.NewLine, string.Join(Environment.NewLine, candidates.Select(c => "  " + c)), PreferredVersion));
        }

        /// <summary>The places looked at, in order.</summary>
        public static IReadOnlyList<string> Candidates(Func<string, string?> env)
        {
            var result = new List<string>
            {
                Path.Combine(AppContext.BaseDirectory, Path.Combine(RelativePath)),
                Path.Combine(AppContext.BaseDirectory, "tools", Path.Combine(RelativePath)),
            };

            string? nugetRoot = env("NUGET_PACKAGES");
            if (string.IsNullOrWhiteSpace(nugetRoot))
            {
                string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify);
                nugetRoot = string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".nuget", "packages");
            }

            if (nugetRoot is not null)
            {
                string packageFolder = Path.Combine(nugetRoot, PackageId.ToLowerInvariant());
                var versions = new List<string> { PreferredVersion };
                if (Directory.Exists(packageFolder))
                {
                    versions.AddRange(Directory.GetDirectories(packageFolder)
                        .Select(Path.GetFileName)
                        .OfType<string>()
                        .Where(v => v != PreferredVersion)
                        .OrderByDescending(v => Version.TryParse(v.Split('-')[0], out var parsed) ? parsed : new Version(0, 0)));
                }

                result.AddRange(versions.Select(v => Path.Combine(packageFolder, v, "tools", Path.Combine(RelativePath))));
            }

            return result;
        }
    }
}
