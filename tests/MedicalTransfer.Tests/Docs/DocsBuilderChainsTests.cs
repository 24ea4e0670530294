using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using MedicalTransfer.Data;
using MedicalTransfer.Models;
using MedicalTransfer.Weights;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Scripting;
using Microsoft.Extensions.Logging;
using TorchSharp;
using Xunit;

namespace MedicalTransfer.Tests.Docs
{
    /// <summary>
    /// Compiling the docs' code (DocsSnippetsTests) does not show that it works: a chain that compiles can still
    /// throw at <see cref="TransferBuilder.Build"/> ("No classes were given"). Every <c>TransferBuilder.From...(...)
    /// ... .Build()</c> chain of README.md and docs/*.md is cut out of its block with Roslyn's parser and run as a
    /// C# script, as written, except that pretrained weights come from <see cref="DocsOfflineWeights"/>: the SDK
    /// resolves them offline (so every check of weights against architecture still runs), and a checkpoint that would
    /// be downloaded is replaced by random weights of the same architecture. Free variables of a chain are
    /// <see cref="DocsChainGlobals"/>'s members.
    /// </summary>
    public class DocsBuilderChainsTests
    {
        private static readonly Regex Block = new(@"```csharp\r?\n(.*?)```", RegexOptions.Singleline | RegexOptions.CultureInvariant);

        // The namespaces DocsSnippets.cs imports, which the docs' blocks assume.
        private static readonly string[] Imports =
        {
            "System", "System.Collections.Generic", "System.IO", "System.Linq", "MedicalTransfer", "MedicalTransfer.Data",
            "MedicalTransfer.Data.Dicom", "MedicalTransfer.Ensembles", "MedicalTransfer.Evaluation", "MedicalTransfer.Explainability",
            "MedicalTransfer.Freezing", "MedicalTransfer.Models", "MedicalTransfer.Studies", "MedicalTransfer.Training",
            "MedicalTransfer.Weights", "MedicalTransfer.Tests.Docs", "TorchSharp",
        };

        public static IEnumerable<object[]> Chains()
        {
            string root = MedicalTransfer.Tests.TestSupport.RepositoryRoot();
            var documents = new[] { "README.md" }.Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md")
                .OrderBy(f => f, StringComparer.Ordinal).Select(f => Path.GetRelativePath(root, f).Replace('\\', '/')));
            foreach (string document in documents)
            {
                foreach (var (line, chain) in ExtractChains(File.ReadAllText(Path.Combine(root, document))))
                {
                    yield return new object[] { document, line, chain };
                }
            }
        }

        /// <summary>The builder chains of a Markdown document's C# blocks, each with the line it starts on.</summary>
        internal static IEnumerable<(int Line, string Chain)> ExtractChains(string markdown)
        {
            foreach (Match block in Block.Matches(markdown))
            {
                int blockLine = markdown.Take(block.Groups[1].Index).Count(c => c == '\n') + 1;
                var tree = CSharpSyntaxTree.ParseText(block.Groups[1].Value, new CSharpParseOptions(kind: SourceCodeKind.Script));
                foreach (var build in tree.GetRoot().DescendantNodes().OfType<InvocationExpressionSyntax>().Where(IsBuilderChain))
                {
                    int line = blockLine + build.GetLocation().GetLineSpan().StartLinePosition.Line;
                    yield return (line, new OfflineRewriter().Visit(build).ToFullString().Trim());
                }
            }
        }

        [Fact]
        public void Chains_DocsHaveBuilderChains_AllFound()
        {
            var found = Chains().Select(c => (string)c[0]).ToList();
            // The README's quick start, the pretrained-weights page and the architectures page each show some.
            Assert.Contains("README.md", found);
            Assert.Contains("docs/pretrained-weights.md", found);
            Assert.Contains("docs/architectures.md", found);
            Assert.True(found.Count >= 10, $"only {found.Count} builder chains found in the docs");
        }

        [Fact]
        public async Task Run_ChainWithoutClasses_FailsWithBuildersMessage()
        {
            // The mechanism catches what issue 19 found in docs/pretrained-weights.md.
            var (_, chain) = ExtractChains("```csharp\nvar model = TransferBuilder.FromResNet(18)\n    .WithPretrained(ResNetWeights.ImageNet)\n    .Build();\n```\n").Single();
            Assert.Contains("DocsOfflineWeights.Substitute(ResNetWeights.ImageNet)", chain, StringComparison.Ordinal);

            var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => Run(chain));
            Assert.Contains("No classes were given", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public async Task Run_WeightsForAnotherDepth_StillRefusedOffline()
        {
            var (_, chain) = ExtractChains("```csharp\nvar model = TransferBuilder.FromResNet(18).WithPretrained(ResNetWeights.ImageNetV2).ForClasses(\"a\", \"b\").Build();\n```\n").Single();

            await Assert.ThrowsAsync<WeightsMismatchException>(() => Run(chain));
        }

        [Theory]
        [MemberData(nameof(Chains))]
        public async Task BuilderChain_RunsThroughBuild(string document, int line, string chain)
        {
            try
            {
                await Run(chain);
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                throw new Xunit.Sdk.XunitException($"{document}, line {line}: the builder chain throws {ex.GetType().Name}: {ex.Message}{Environment.NewLine}The chain as run:{Environment.NewLine}{chain}");
            }
        }

        private static async Task Run(string chain)
        {
            var options = ScriptOptions.Default
                .AddReferences(typeof(TransferBuilder).Assembly, typeof(DocsChainGlobals).Assembly, typeof(torch).Assembly, typeof(Enumerable).Assembly)
                .AddImports(Imports);
            using var globals = new DocsChainGlobals();
            using var model = await CSharpScript.EvaluateAsync<TransferModel>(chain, options, globals, typeof(DocsChainGlobals));
            Assert.NotNull(model);
        }

        private static bool IsBuilderChain(InvocationExpressionSyntax invocation)
        {
            if (invocation.Expression is not MemberAccessExpressionSyntax { Name.Identifier.Text: "Build" })
            {
                return false;
            }

            ExpressionSyntax receiver = invocation;
            while (receiver is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax access })
            {
                receiver = access.Expression;
            }

            return receiver is IdentifierNameSyntax { Identifier.Text: nameof(TransferBuilder) };
        }

        /// <summary>Wraps the weights given to WithPretrained/FromPretrained in <see cref="DocsOfflineWeights.Substitute"/>.</summary>
        private sealed class OfflineRewriter : CSharpSyntaxRewriter
        {
            public override SyntaxNode? VisitInvocationExpression(InvocationExpressionSyntax node)
            {
                var visited = (InvocationExpressionSyntax)base.VisitInvocationExpression(node)!;
                if (visited.Expression is MemberAccessExpressionSyntax { Name.Identifier.Text: "WithPretrained" or "FromPretrained" } && visited.ArgumentList.Arguments.Count > 0)
                {
                    var weights = visited.ArgumentList.Arguments[0];
                    var wrapped = SyntaxFactory.ParseExpression($"{nameof(DocsOfflineWeights)}.{nameof(DocsOfflineWeights.Substitute)}({weights.Expression.WithoutTrivia()})")
                        .WithTriviaFrom(weights.Expression);
                    return visited.WithArgumentList(visited.ArgumentList.WithArguments(visited.ArgumentList.Arguments.Replace(weights, weights.WithExpression(wrapped))));
                }

                return visited;
            }
        }
    }

    /// <summary>The free variables the docs' builder chains may use, named as in the docs.</summary>
#pragma warning disable CA1051, CA1707, IDE1006, SA1300, SA1307 // members are named as the docs' variables
    public sealed class DocsChainGlobals : IDisposable
    {
        private readonly TestSupport.TempFolder _folder = new();

        /// <summary>A chest_xray-like folder (train, val, test; NORMAL and PNEUMONIA), listed, never decoded.</summary>
        public DocsChainGlobals()
        {
            foreach (string split in new[] { "train", "val", "test" })
            {
                foreach (string label in new[] { "NORMAL", "PNEUMONIA" })
                {
                    Directory.CreateDirectory(Path.Combine(_folder.Path, split, label));
                    for (int i = 0; i < 24; i++)
                    {
                        File.WriteAllBytes(Path.Combine(_folder.Path, split, label, $"person{i}_{label}.png"), Array.Empty<byte>());
                    }
                }
            }

            splits = ImageFolder.LoadSplits(_folder.Path);
            var table = SyntheticChestXRay.WriteCheXpertTable(Path.Combine(_folder.Path, "chexpert"), new SyntheticChestXRayOptions { Count = 14, Size = 32, Seed = 1 });
            dataset = ImageTable.Load(table.TrainTable, ImageTableLayouts.CheXpert, new ImageTableOptions { Root = table.Root });
        }

        public DatasetSplits splits { get; }

        /// <summary>A CheXpert-style multi-finding table (docs/multi-label.md's <c>dataset</c>).</summary>
        public ImageDataset dataset { get; }

        public void Dispose() => _folder.Dispose();
    }
#pragma warning restore CA1051, CA1707, IDE1006, SA1300, SA1307

    /// <summary>Pretrained weights for the docs' chains that never download.</summary>
    public static class DocsOfflineWeights
    {
        /// <summary>
        /// The same weights (name, preprocessing, fixed architecture), resolved by the SDK in offline mode with an empty
        /// cache: weights that do not exist for the model's architecture are refused exactly as online, weights read
        /// from a file or a package (ML.NET's ResNet-18) are read, and a catalogue checkpoint that would be downloaded
        /// is replaced by random weights of the architecture in torchvision's layout.
        /// </summary>
        /// <param name="weights">The weights the docs name.</param>
        /// <returns>Weights that resolve offline.</returns>
        public static PretrainedWeights Substitute(PretrainedWeights weights) =>
            new(weights.Name, weights.Preprocessing, new OfflineSource(weights ?? throw new ArgumentNullException(nameof(weights))));

        private sealed class OfflineSource : WeightsSource
        {
            private readonly PretrainedWeights _weights;

            public OfflineSource(PretrainedWeights weights) => _weights = weights;

            public override BackboneArchitecture? Architecture => _weights.Architecture;

            public override Preprocessing? PreprocessingFor(BackboneArchitecture architecture) => _weights.PreprocessingFor(architecture);

            public override ResolvedWeights Resolve(PretrainedWeights weights, BackboneArchitecture architecture, PretrainedWeightsOptions options, ILogger logger, CancellationToken ct)
            {
                using var emptyCache = new TestSupport.TempFolder();
                var offline = new PretrainedWeightsOptions { Offline = true, CacheDirectory = emptyCache.Path, EnvironmentReader = _ => null };
                try
                {
                    return _weights.Resolve(architecture, offline, logger, ct);
                }
                catch (WeightsUnavailableException)
                {
                    // The catalogue has a checkpoint for this architecture; it is not here.
                }

                using var random = TransferBuilder.From(architecture)
                    .ForClasses(Enumerable.Range(0, 1000).Select(i => "class" + i).ToArray())
                    .OnDevice(torch.CPU)
                    .Build(ct);
                var state = random.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
                return new ResolvedWeights(state, _weights.PreprocessingFor(architecture), "random weights standing in for " + _weights.Name);
            }
        }
    }
}
