using MedicalTransfer.Data;
using MedicalTransfer.Models;
using Xunit;

namespace MedicalTransfer.Tests.Data
{
    /// <summary>Found by samples/ChestXrayFindings: Fit on a gray model's own loaders threw IndexOutOfRange in the normalisation check.</summary>
    public class GrayNormalizationTests
    {
        [Fact]
        public void SameAs_GrayNormalizations_ComparesTheOneChannelWithoutThrowing()
        {
            var gray = SingleChannelInput.Preprocessing(Preprocessing.ImageNet);

            Assert.True(InputNormalization.From(gray).SameAs(InputNormalization.From(gray)));
            Assert.False(InputNormalization.From(gray).SameAs(InputNormalization.From(Preprocessing.ImageNet)));
            Assert.False(InputNormalization.From(Preprocessing.ImageNet).SameAs(InputNormalization.From(gray)));
        }
    }
}
