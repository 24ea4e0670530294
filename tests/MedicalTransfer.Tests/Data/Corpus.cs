using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

namespace MedicalTransfer.Tests.Data
{
    /// <summary>Image bytes for the good- and bad-file corpus, made in memory.</summary>
    internal static class Corpus
    {
        public static byte[] Jpeg(int size)
        {
            using Image<Rgb24> image = Noise(size);
            using var stream = new MemoryStream();
            image.SaveAsJpeg(stream, new JpegEncoder { Quality = 90 });
            return stream.ToArray();
        }

        public static byte[] Png(int size)
        {
            using Image<Rgb24> image = Noise(size);
            using var stream = new MemoryStream();
            image.SaveAsPng(stream);
            return stream.ToArray();
        }

        /// <summary>A valid small PNG whose IHDR (with a correct CRC) declares another size.</summary>
        public static byte[] PngWithDeclaredSize(uint width, uint height)
        {
            byte[] png = Png(8);
            WriteBigEndian(png, 16, width);
            WriteBigEndian(png, 20, height);
            uint crc = 0xFFFFFFFF;
            for (int i = 12; i < 12 + 4 + 13; i++)
            {
                crc ^= png[i];
                for (int k = 0; k < 8; k++)
                {
                    crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
                }
            }

            WriteBigEndian(png, 29, crc ^ 0xFFFFFFFF);
            return png;
        }

        /// <summary>
        /// A 16x8 baseline CMYK JPEG with an Adobe APP14 marker, written by hand (ImageSharp cannot
        /// encode CMYK): left block cyan, right block yellow. Values are stored inverted (255 = no
        /// ink), as Photoshop writes Adobe CMYK. Each block is constant, so only DC terms are coded.
        /// </summary>
        public static byte[] CmykJpeg()
        {
            var output = new List<byte> { 0xFF, 0xD8 };
            output.AddRange(new byte[] { 0xFF, 0xEE, 0, 14, (byte)'A', (byte)'d', (byte)'o', (byte)'b', (byte)'e', 0, 100, 0, 0, 0, 0, 0 });
            output.AddRange(new byte[] { 0xFF, 0xDB, 0, 67, 0 });
            output.AddRange(Enumerable.Repeat((byte)1, 64));
            output.AddRange(new byte[] { 0xFF, 0xC0, 0, 20, 8, 0, 8, 0, 16, 4, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0 });
            byte[] dcBits = { 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0 };
            output.AddRange(new byte[] { 0xFF, 0xC4, 0, (byte)(2 + 1 + 16 + 12), 0x00 });
            output.AddRange(dcBits);
            output.AddRange(Enumerable.Range(0, 12).Select(v => (byte)v));
            output.AddRange(new byte[] { 0xFF, 0xC4, 0, 2 + 1 + 16 + 1, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00 });
            output.AddRange(new byte[] { 0xFF, 0xDA, 0, 14, 4, 1, 0x00, 2, 0x00, 3, 0x00, 4, 0x00, 0, 63, 0 });

            string[] dcCodes = { "00", "010", "011", "100", "101", "110", "1110", "11110", "111110", "1111110", "11111110", "111111110" };
            byte[][] blocks = { new byte[] { 0, 255, 255, 255 }, new byte[] { 255, 255, 0, 255 } };
            var bits = new StringBuilder();
            var previous = new int[4];
            foreach (byte[] block in blocks)
            {
                for (int c = 0; c < 4; c++)
                {
                    int dc = 8 * (block[c] - 128);
                    int diff = dc - previous[c];
                    previous[c] = dc;
                    int category = diff == 0 ? 0 : (int)Math.Floor(Math.Log2(Math.Abs(diff))) + 1;
                    bits.Append(dcCodes[category]);
                    if (category > 0)
                    {
                        int value = diff >= 0 ? diff : diff + (1 << category) - 1;
                        bits.Append(Convert.ToString(value, 2).PadLeft(category, '0'));
                    }

                    bits.Append('0'); // AC: end of block
                }
            }

            while (bits.Length % 8 != 0)
            {
                bits.Append('1');
            }

            for (int i = 0; i < bits.Length; i += 8)
            {
                byte b = Convert.ToByte(bits.ToString(i, 8), 2);
                output.Add(b);
                if (b == 0xFF)
                {
                    output.Add(0x00);
                }
            }

            output.AddRange(new byte[] { 0xFF, 0xD9 });
            return output.ToArray();
        }

        private static Image<Rgb24> Noise(int size)
        {
            var random = new Random(size);
            var image = new Image<Rgb24>(size, size);
            for (int y = 0; y < size; y++)
            {
                for (int x = 0; x < size; x++)
                {
                    image[x, y] = new Rgb24((byte)random.Next(256), (byte)x, (byte)y);
                }
            }

            return image;
        }

        private static void WriteBigEndian(byte[] bytes, int offset, uint value)
        {
            bytes[offset] = (byte)(value >> 24);
            bytes[offset + 1] = (byte)(value >> 16);
            bytes[offset + 2] = (byte)(value >> 8);
            bytes[offset + 3] = (byte)value;
        }
    }
}
