using System.Text.Json;

namespace MedicalTransfer.Data
{
    /// <summary>Reads and writes <see cref="Preprocessing"/> as JSON for model files and checkpoints.</summary>
    internal static class PreprocessingJson
    {
        public static string Write(Preprocessing p) => JsonSerializer.Serialize(new Dto
        {
            Mean = [.. p.Mean],
            Std = [.. p.Std],
            ResizeSize = p.ResizeSize,
            CropSize = p.CropSize,
            ChannelOrder = p.ChannelOrder.ToString(),
            PixelScale = p.PixelScale,
        });

        public static Preprocessing Parse(string json)
        {
            var dto = JsonSerializer.Deserialize<Dto>(json) ?? throw new JsonException("preprocessing is null");
            return new Preprocessing
            {
                Mean = dto.Mean ?? throw new JsonException("preprocessing.Mean is missing"),
                Std = dto.Std ?? throw new JsonException("preprocessing.Std is missing"),
                ResizeSize = dto.ResizeSize,
                CropSize = dto.CropSize,
                ChannelOrder = System.Enum.Parse<ChannelOrder>(dto.ChannelOrder ?? "Rgb"),
                PixelScale = dto.PixelScale,
            }.Validate();
        }

        private sealed class Dto
        {
            public float[]? Mean { get; set; }

            public float[]? Std { get; set; }

            public int ResizeSize { get; set; }

            public int CropSize { get; set; }

            public string? ChannelOrder { get; set; }

            public float PixelScale { get; set; }
        }
    }
}
