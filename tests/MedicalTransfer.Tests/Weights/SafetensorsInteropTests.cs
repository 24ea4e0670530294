using System;
using System.Collections.Generic;
using System.Linq;
using MedicalTransfer.Models;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit;
using static TorchSharp.torch;

namespace MedicalTransfer.Tests.Weights
{
    /// <summary>
    /// Whole models through safetensors files between the SDK and another implementation, TorchSharp.PyBridge
    /// (its own header writer and parser): PyBridge writes a network's file, the SDK builds a model from it; the SDK
    /// saves a model, PyBridge reads it and loads it into a network. Values, and the logits they give, are compared.
    /// SafetensorsTests covers single tensors of several dtypes the same way.
    /// </summary>
    public sealed class SafetensorsInteropTests : IDisposable
    {
        private readonly TestSupport.TempFolder folder = new();

        private static readonly string[] ImageNetClasses = Enumerable.Range(0, 1000).Select(i => "c" + i).ToArray();

        public void Dispose() => folder.Dispose();

        [Fact]
        public void WithWeights_FileSavedByPyBridge_BuildsTheSameNetwork()
        {
            using var source = new ResNet(ResNetArchitecture.ForDepth(18), numClasses: 1000);
            var keys = source.state_dict().Keys.ToArray();
            TestSupport.FillWithFormula(source, keys);
            string path = folder.File("pybridge-resnet18.safetensors");
            source.save_safetensors(path);

            using var model = TransferBuilder.FromResNet(18).WithWeights(path).ForClasses(ImageNetClasses).OnDevice(CPU).Build();

            var written = Safetensors.LoadStateDict(path);
            var loaded = model.state_dict();
            Assert.Equal(written.Keys.OrderBy(k => k, StringComparer.Ordinal), loaded.Keys.OrderBy(k => k, StringComparer.Ordinal));
            foreach (var (key, tensor) in written)
            {
                Assert.True(tensor.Equals(loaded[key]), $"{key} differs after the SDK read PyBridge's file");
            }

            source.eval();
            model.eval();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var input = TestSupport.FormulaInput(2, 64);
            Assert.Equal(0.0, (source.call(input) - model.call(input)).abs().max().item<float>(), 1e-6);
        }

        [Fact]
        public void Save_ThenPyBridgeLoadsIntoANetwork_SameValuesAndLogits()
        {
            using var model = TransferBuilder.FromResNet(18).ForClasses(ImageNetClasses).OnDevice(CPU).WithSeed(19).Build();
            string path = folder.File("ours.safetensors");
            model.Save(path);

            Dictionary<string, Tensor> read = Safetensors.LoadStateDict(path);
            var saved = model.state_dict();
            foreach (var (key, tensor) in saved)
            {
                Assert.True(read.ContainsKey(key), $"PyBridge does not see '{key}' in the SDK's file");
                Assert.Equal(tensor.dtype, read[key].dtype);
                Assert.Equal(tensor.bytes.ToArray(), read[key].bytes.ToArray());
            }

            using var network = new ResNet(ResNetArchitecture.ForDepth(18), numClasses: 1000);
            network.load_safetensors(path, strict: true);

            network.eval();
            model.eval();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var input = TestSupport.FormulaInput(2, 64);
            Assert.Equal(0.0, (network.call(input) - model.call(input)).abs().max().item<float>(), 1e-6);
        }
    }
}
