using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using MedicalTransfer.Data;
using MedicalTransfer.Ensembles;
using MedicalTransfer.Evaluation;
using MedicalTransfer.Explainability;
using MedicalTransfer.Models;
using MedicalTransfer.Weights;
using TorchSharp;
using Xunit;

namespace MedicalTransfer.Tests
{
    /// <summary>
    /// What the SDK hands out as a read-only list must not be its own array: an array typed as
    /// IReadOnlyList can be cast back and written, changing the SDK's state (for static values, the whole process's).
    /// </summary>
    public sealed class ReadOnlyStateTests
    {
        [Fact]
        public void StaticLists_InTheLibrary_AreNotArraysThatCanBeCastBack()
        {
            var offenders = new List<string>();
            foreach (var type in typeof(TransferModel).Assembly.GetTypes().Where(t => !t.IsGenericTypeDefinition))
            {
                foreach (var property in type.GetProperties(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    if (IsReadOnlyList(property.PropertyType) && property.GetIndexParameters().Length == 0 && property.GetValue(null) is Array)
                    {
                        offenders.Add(type.FullName + "." + property.Name);
                    }
                }
            }

            Assert.True(offenders.Count == 0, "These static properties hand out a writable array: " + string.Join(", ", offenders));
        }

        [Fact]
        public void InstanceLists_OfModelPreprocessingMapsPredictionsAndEnsembles_AreNotArraysThatCanBeCastBack()
        {
            using var model = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForClasses("A", "B").OnDevice(torch.CPU).WithSeed(1).Build();
            using var other = TransferBuilder.FromResNet(ResNetArchitecture.Custom(BlockKind.Basic, 1, 1, 1, 1)).ForClasses("A", "B").OnDevice(torch.CPU).WithSeed(2).Build();
            var instances = new object[]
            {
                model,
                model.Architecture,
                ResNetArchitecture.ForDepth(50),
                Preprocessing.ImageNet,
                ResNetWeights.MLNetResNet18.Preprocessing,
                new Preprocessing { Mean = new[] { 0.5f, 0.5f, 0.5f } },
                new Heatmap(2, 1, new[] { 0f, 1f }),
                new Predictions(new[] { "A", "B" }, new[] { 0, 1 }, new IReadOnlyList<double>[] { new[] { 0.7, 0.3 }, new[] { 0.2, 0.8 } }),
                Ensemble.Of(model, other).WithWeights(1, 3),
            };

            var offenders = new List<string>();
            foreach (var instance in instances)
            {
                foreach (var property in instance.GetType().GetProperties(BindingFlags.Instance | BindingFlags.Public))
                {
                    if (IsReadOnlyList(property.PropertyType) && property.GetIndexParameters().Length == 0 && property.GetValue(instance) is Array)
                    {
                        offenders.Add(instance.GetType().Name + "." + property.Name);
                    }
                }
            }

            Assert.True(offenders.Count == 0, "These properties hand out the object's own writable array: " + string.Join(", ", offenders.Distinct()));
        }

        [Fact]
        public void Preprocessing_CallersArraysChangedAfterInit_KeepsTheValuesItWasGiven()
        {
            var mean = new[] { 0.1f, 0.2f, 0.3f };
            var std = new[] { 0.4f, 0.5f, 0.6f };
            var preprocessing = new Preprocessing { Mean = mean, Std = std }.Validate();

            mean[0] = 99f;
            std[2] = -1f;

            Assert.Equal(new[] { 0.1f, 0.2f, 0.3f }, preprocessing.Mean);
            Assert.Equal(new[] { 0.4f, 0.5f, 0.6f }, preprocessing.Std);
            Assert.Equal(new[] { 0.485f, 0.456f, 0.406f }, Preprocessing.ImageNet.Mean);
        }

        [Fact]
        public void Heatmap_CallersArrayChangedAfterConstruction_KeepsTheValidatedValues()
        {
            var values = new[] { 0f, 0.5f, 1f, 0.25f };
            var map = new Heatmap(2, 2, values);

            values[1] = 7f; // out of range: the map validated and must keep its own copy

            Assert.Equal(new[] { 0f, 0.5f, 1f, 0.25f }, map.Values);
            Assert.Equal(0.5f, map[1, 0]);
        }

        private static bool IsReadOnlyList(Type type) =>
            type.IsGenericType && (type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) || type.GetGenericTypeDefinition() == typeof(IReadOnlyCollection<>) || type.GetGenericTypeDefinition() == typeof(IEnumerable<>));
    }
}
