using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace MedicalTransfer.Tests.Data
{
    /// <summary>The loader delivers as many channels as the pipeline's normalisation has means: 3, or 1 for a model built for gray images.</summary>
    public class LoaderChannelsTests
    {
        private static readonly Preprocessing Gray = new() { ResizeSize = 8, CropSize = 8, Mean = new[] { 0.5f }, Std = new[] { 0.25f } };

        private static ImageDataset Folder(TestSupport.TempFolder folder)
        {
            Directory.CreateDirectory(folder.File("A"));
            Directory.CreateDirectory(folder.File("B"));
            using (var colour = new Image<Rgb24>(8, 8, new Rgb24(200, 100, 50)))
            {
                colour.SaveAsPng(folder.File(Path.Combine("A", "a-colour.png")));
            }

            using (var gray = new Image<L8>(8, 8, new L8(64)))
            {
                gray.SaveAsPng(folder.File(Path.Combine("B", "b-gray.png")));
            }

            return ImageFolder.Load(folder.Path);
        }

        [Fact]
        public void GetBatches_OneMeanPipeline_DeliversOneChannelWithColourReducedToLuminance()
        {
            using var folder = new TestSupport.TempFolder();
            var loader = new DataLoader(Folder(folder), Transforms.ForEvaluation(Gray), new LoaderOptions { BatchSize = 2, Workers = 1, Sampling = SamplingMode.Sequential });
            using var batch = loader.GetBatches(0).Single();
            Assert.Equal(new long[] { 2, 1, 8, 8 }, batch.Images.shape);
            float luminance = ((0.2989f * 200) + (0.587f * 100) + (0.114f * 50)) / 255f;
            Assert.Equal((luminance - 0.5f) / 0.25f, batch.Images[0, 0, 3, 3].item<float>(), 5);
            Assert.Equal(((64 / 255f) - 0.5f) / 0.25f, batch.Images[1, 0, 3, 3].item<float>(), 5);
        }

        [Fact]
        public void GetBatches_ThreeMeanPipeline_StillReplicatesGrayImagesToThreeChannels()
        {
            using var folder = new TestSupport.TempFolder();
            var rgb = new Preprocessing { ResizeSize = 8, CropSize = 8 };
            var loader = new DataLoader(Folder(folder), Transforms.ForEvaluation(rgb), new LoaderOptions { BatchSize = 2, Workers = 1, Sampling = SamplingMode.Sequential });
            using var batch = loader.GetBatches(0).Single();
            Assert.Equal(new long[] { 2, 3, 8, 8 }, batch.Images.shape);
            Assert.Equal(((64 / 255f) - 0.485f) / 0.229f, batch.Images[1, 0, 3, 3].item<float>(), 5);
            Assert.Equal(((64 / 255f) - 0.406f) / 0.225f, batch.Images[1, 2, 3, 3].item<float>(), 5);
        }

        [Fact]
        public void GetBatches_PipelineWithoutNormalisation_DeliversThreeChannelsAsBefore()
        {
            using var folder = new TestSupport.TempFolder();
            var loader = new DataLoader(Folder(folder), Transforms.Compose(Transforms.Resize(8), Transforms.ToTensor()), new LoaderOptions { BatchSize = 2, Workers = 1, Sampling = SamplingMode.Sequential });
            using var batch = loader.GetBatches(0).Single();
            Assert.Equal(new long[] { 2, 3, 8, 8 }, batch.Images.shape);
        }
    }
}
