using System;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace MedicalTransfer.Tests.Data
{
    /// <summary>A fresh folder under the temp path, deleted afterwards; helpers to write test images.</summary>
    internal sealed class TempFolder : IDisposable
    {
        public TempFolder()
        {
            Root = Path.Combine(Path.GetTempPath(), "mt-data-tests", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Root);
        }

        public string Root { get; }

        public string PathOf(params string[] parts) => Path.Combine(new[] { Root }.Concat(parts).ToArray());

        public string WriteBytes(string relative, byte[] bytes)
        {
            string path = PathOf(relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
            return path;
        }

        /// <summary>Writes an 8-bit gray PNG whose pixel (x, y) is <paramref name="value"/>(x, y).</summary>
        public string WriteGrayPng(string relative, int width, int height, Func<int, int, byte> value)
        {
            using var image = new Image<L8>(width, height);
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    image[x, y] = new L8(value(x, y));
                }
            }

            string path = PathOf(relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            image.Save(path);
            return path;
        }

        /// <summary>Hash of every file's relative path, size, timestamp and content.</summary>
        public static string HashTree(string root, bool includeTimes = true)
        {
            using var sha = SHA256.Create();
            var text = new StringBuilder();
            foreach (string file in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal))
            {
                text.Append(Path.GetRelativePath(root, file)).Append('|');
                if (File.Exists(file))
                {
                    text.Append(new FileInfo(file).Length).Append('|').Append(includeTimes ? File.GetLastWriteTimeUtc(file).Ticks : 0).Append('|');
                    text.Append(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file))));
                }

                text.Append('\n');
            }

            return Convert.ToHexString(sha.ComputeHash(Encoding.UTF8.GetBytes(text.ToString())));
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp folder is harmless.
            }
        }
    }
}
