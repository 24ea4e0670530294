using System;
using MedicalTransfer.Models;
using Xunit;

namespace MedicalTransfer.Tests.Models
{
    public class ResNetArchitectureTests
    {
        [Theory]
        [InlineData(18, BlockKind.Basic, new[] { 2, 2, 2, 2 })]
        [InlineData(34, BlockKind.Basic, new[] { 3, 4, 6, 3 })]
        [InlineData(50, BlockKind.Bottleneck, new[] { 3, 4, 6, 3 })]
        [InlineData(101, BlockKind.Bottleneck, new[] { 3, 4, 23, 3 })]
        [InlineData(152, BlockKind.Bottleneck, new[] { 3, 8, 36, 3 })]
        public void ForDepth_StandardDepth_HasTorchvisionLayout(int depth, BlockKind block, int[] stages)
        {
            var arch = ResNetArchitecture.ForDepth(depth);
            Assert.Equal(block, arch.Block);
            Assert.Equal(stages, arch.StageDepths);
            Assert.Equal(depth, arch.Depth);
            Assert.Equal("ResNet-" + depth, arch.Name);
        }

        [Theory]
        [InlineData(20)]
        [InlineData(0)]
        [InlineData(-50)]
        public void ForDepth_UnsupportedDepth_ThrowsListingSupportedDepths(int depth)
        {
            var ex = Assert.Throws<ArgumentException>(() => ResNetArchitecture.ForDepth(depth));
            Assert.Contains("18, 34, 50, 101, 152", ex.Message, StringComparison.Ordinal);
            Assert.Equal("depth", ex.ParamName);
        }

        [Fact]
        public void Custom_MlNetLayout_IsCustomWithFeatureCount512()
        {
            var arch = ResNetArchitecture.Custom(BlockKind.Basic, 2, 2, 2, 3);
            Assert.Null(arch.Depth);
            Assert.Equal(512, arch.FeatureCount);
            Assert.Equal("basic:2,2,2,3", arch.ToString());
            Assert.Equal("ResNet (basic, 2-2-2-3)", arch.Name);
            Assert.Equal(arch, ResNetArchitecture.Parse(arch.ToString()));
        }

        [Fact]
        public void Custom_StandardLayout_ReportsItsDepth()
        {
            Assert.Equal(50, ResNetArchitecture.Custom(BlockKind.Bottleneck, 3, 4, 6, 3).Depth);
        }

        [Theory]
        [InlineData(new[] { 2, 2, 2 })]
        [InlineData(new[] { 2, 0, 2, 2 })]
        [InlineData(new[] { 2, -1, 2, 2 })]
        public void Custom_BadStageDepths_Throws(int[] depths)
        {
            var ex = Assert.Throws<ArgumentException>(() => ResNetArchitecture.Custom(BlockKind.Basic, depths));
            Assert.Contains("four positive stage depths", ex.Message, StringComparison.Ordinal);
        }
    }
}
