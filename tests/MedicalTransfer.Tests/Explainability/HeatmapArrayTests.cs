using MedicalTransfer.Explainability;
using Xunit;

namespace MedicalTransfer.Tests.Explainability
{
    public sealed class HeatmapArrayTests
    {
        [Fact]
        public void ToArray_ThreeByTwoMap_IsIndexedRowThenColumnAndIsACopy()
        {
            var map = new Heatmap(3, 2, new[] { 0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f });

            float[,] values = map.ToArray();

            Assert.Equal(2, values.GetLength(0));
            Assert.Equal(3, values.GetLength(1));
            for (int y = 0; y < 2; y++)
            {
                for (int x = 0; x < 3; x++)
                {
                    Assert.Equal(map[x, y], values[y, x]);
                }
            }

            Assert.Equal(0.5f, values[1, 2]);
            values[1, 2] = 1f;
            Assert.Equal(0.5f, map[2, 1]);
        }
    }
}
