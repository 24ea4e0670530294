using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Data;
using Xunit;

namespace MedicalTransfer.Tests.Data
{
    /// <summary>Crop positions against torchvision 0.14 (Fixtures/Data/make_crop_boxes.py).</summary>
    public sealed class CropBoxesTests
    {
        private static JsonElement Fixture(string name)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(TestSupport.FixturePath("Data", "crop_boxes.json")));
            return doc.RootElement.GetProperty(name).Clone();
        }

        [Fact]
        public void FiveCrop_OddAndEvenMargins_MatchTorchvisionFiveCrop()
        {
            foreach (var c in Fixture("fiveCrop").EnumerateArray())
            {
                int h = c.GetProperty("height").GetInt32(), w = c.GetProperty("width").GetInt32();
                int ch = c.GetProperty("cropHeight").GetInt32(), cw = c.GetProperty("cropWidth").GetInt32();
                var expected = c.GetProperty("boxes").EnumerateArray().Select(b => (b[0].GetInt32(), b[1].GetInt32())).ToArray();

                Assert.True(expected.SequenceEqual(CropBoxes.FiveCrop(h, w, ch, cw)), $"five_crop of {ch}x{cw} from {h}x{w}: torchvision [{string.Join(", ", expected)}], ours [{string.Join(", ", CropBoxes.FiveCrop(h, w, ch, cw))}]");
            }
        }

        [Fact]
        public void CenterOffset_SmallerAndLargerCrops_MatchTorchvisionCenterCrop()
        {
            foreach (var c in Fixture("centerCrop").EnumerateArray())
            {
                int h = c.GetProperty("height").GetInt32(), w = c.GetProperty("width").GetInt32();
                int ch = c.GetProperty("cropHeight").GetInt32(), cw = c.GetProperty("cropWidth").GetInt32();
                var box = c.GetProperty("box");

                Assert.Equal((box[0].GetInt32(), box[1].GetInt32()), (CropBoxes.CenterOffset(h, ch), CropBoxes.CenterOffset(w, cw)));
            }
        }

        [Fact]
        public void CenterCrop_Transform_StartsWhereTorchvisionDoes()
        {
            // 67 -> 64 is a margin of 3: torchvision starts at round(1.5) = 2, a floor would start at 1.
            using FloatImage image = FloatImage.Rent(1, 67, 67, 1);
            for (int i = 0; i < image.Length; i++)
            {
                image.Buffer[i] = i / (float)image.Length;
            }

            SampleRandom random = SampleRandom.For(0, 0, 0);
            using FloatImage crop = Transforms.CenterCrop(64).Apply(image.Clone(), ref random);

            Assert.Equal(image.Buffer[(2 * 67) + 2], crop.Buffer[0]);
        }
    }
}
