using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using MedicalTransfer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests
{
    /// <summary>Helpers shared by the tests.</summary>
    internal static class TestSupport
    {
        public static string FixturePath(params string[] parts) => Path.Combine(new[] { AppContext.BaseDirectory, "Fixtures" }.Concat(parts).ToArray());

        /// <summary>
        /// The clone the tests were built from (recorded at build time as the RepositoryRoot assembly metadata, or found
        /// above the test binaries): docs, corpora and approved files are read from there.
        /// </summary>
        public static string RepositoryRoot()
        {
            var recorded = typeof(TestSupport).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
                .Cast<System.Reflection.AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "RepositoryRoot")?.Value;
            if (recorded is not null && File.Exists(Path.Combine(recorded, "MedicalTransfer.sln")))
            {
                return Path.GetFullPath(recorded);
            }

            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "MedicalTransfer.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("MedicalTransfer.sln not found above " + AppContext.BaseDirectory + "; these tests read the repository's files (docs, corpora, approved API).");
        }

        /// <summary>A fresh temporary folder, deleted when disposed.</summary>
        public sealed class TempFolder : IDisposable
        {
            public TempFolder()
            {
                Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mt-tests-" + Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(Path);
            }

            public string Path { get; }

            public string File(string name) => System.IO.Path.Combine(Path, name);

            public void Dispose()
            {
                try
                {
                    Directory.Delete(Path, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }

        /// <summary>Deterministic input [n, 3, size, size]: x_j = sin(0.013 j) + 0.5 cos(0.007 j), as make_resnet_parity.py.</summary>
        public static Tensor FormulaInput(int n, int size)
        {
            var j = torch.arange(n * 3 * size * size, dtype: ScalarType.Float64);
            return (torch.sin(0.013 * j) + 0.5 * torch.cos(0.007 * j)).to(ScalarType.Float32).reshape(n, 3, size, size);
        }

        /// <summary>
        /// Fills a module's state dict with the formula documented in Fixtures/Parity/make_resnet_parity.py,
        /// using the given key order (torchvision's) for the tensor index t.
        /// </summary>
        public static void FillWithFormula(nn.Module module, IReadOnlyList<string> keysInTorchvisionOrder)
        {
            var sd = module.state_dict();
            using var noGrad = torch.no_grad();
            for (int t = 0; t < keysInTorchvisionOrder.Count; t++)
            {
                string name = keysInTorchvisionOrder[t];
                var tensor = sd[name];
                long n = tensor.numel();
                using var scope = torch.NewDisposeScope();
                var j = torch.arange(n, dtype: ScalarType.Float64);
                var u = torch.sin(0.37 * j + 1.3 * t + 0.5);
                var parts = name.Split('.');
                string leaf = parts[^1];
                string owner = parts[^2];
                bool isBn = owner.StartsWith("bn", StringComparison.Ordinal) || (owner == "1" && name.Contains("downsample", StringComparison.Ordinal));
                Tensor v;
                if (leaf == "num_batches_tracked")
                {
                    tensor.zero_();
                    continue;
                }
                else if (leaf == "running_mean")
                {
                    v = 0.1 * u;
                }
                else if (leaf == "running_var")
                {
                    v = 1 + 0.5 * (u + 1) / 2;
                }
                else if (leaf == "weight" && isBn)
                {
                    v = 1 + 0.2 * u;
                }
                else if (leaf == "bias")
                {
                    v = 0.05 * u;
                }
                else
                {
                    double fanIn = (double)n / tensor.shape[0];
                    v = u * Math.Sqrt(3.0 / fanIn);
                }

                tensor.copy_(v.reshape(tensor.shape).to(tensor.dtype));
            }
        }

        /// <summary>
        /// Fills a module's state dict with the formula of Fixtures/Parity/make_backbone_parity.py (the ResNet formula with
        /// BatchNorm weights told apart by being 1-D, and conv/linear weights scaled by <paramref name="gain"/>), using the
        /// given key order (torchvision's) for the tensor index t.
        /// </summary>
        public static void FillWithBackboneFormula(nn.Module module, IReadOnlyList<string> keysInTorchvisionOrder, double gain)
        {
            var sd = module.state_dict();
            using var noGrad = torch.no_grad();
            for (int t = 0; t < keysInTorchvisionOrder.Count; t++)
            {
                string name = keysInTorchvisionOrder[t];
                var tensor = sd[name];
                long n = tensor.numel();
                using var scope = torch.NewDisposeScope();
                var j = torch.arange(n, dtype: ScalarType.Float64);
                var u = torch.sin(0.37 * j + 1.3 * t + 0.5);
                string leaf = name[(name.LastIndexOf('.') + 1)..];
                Tensor v;
                if (leaf == "num_batches_tracked")
                {
                    tensor.zero_();
                    continue;
                }
                else if (leaf == "running_mean")
                {
                    v = 0.1 * u;
                }
                else if (leaf == "running_var")
                {
                    v = 1 + 0.5 * (u + 1) / 2;
                }
                else if (leaf == "bias")
                {
                    v = 0.05 * u;
                }
                else if (leaf == "weight" && tensor.dim() == 1)
                {
                    v = 1 + 0.2 * u;
                }
                else
                {
                    double fanIn = (double)n / tensor.shape[0];
                    v = u * Math.Sqrt(3.0 * gain / fanIn);
                }

                tensor.copy_(v.reshape(tensor.shape).to(tensor.dtype));
            }
        }

        /// <summary>max |a - b| / max |b|.</summary>
        public static double RelativeError(Tensor actual, Tensor expected)
        {
            using var scope = torch.NewDisposeScope();
            double diff = (actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)).abs().max().item<double>();
            double scale = expected.to(ScalarType.Float64).abs().max().item<double>();
            return diff / scale;
        }

        public static Dictionary<string, Tensor> CloneState(nn.Module module) =>
            module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

        public static bool StatesEqual(Dictionary<string, Tensor> a, nn.Module module)
        {
            var b = module.state_dict();
            return a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var t) && t.Equals(kv.Value));
        }

        public static TransferModel SmallModel(int depth = 18, MedicalTransfer.Freezing.FreezeSpec? freeze = null, HeadSpec? head = null)
        {
            var builder = TransferBuilder.FromResNet(depth).ForClasses("NORMAL", "PNEUMONIA").OnDevice(torch.CPU).WithSeed(7);
            if (freeze is not null)
            {
                builder.Freeze(freeze);
            }

            if (head is not null)
            {
                builder.WithHead(head);
            }

            return builder.Build();
        }
    }
}
