using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace MedicalTransfer.Tests.Data.Dicom
{
    /// <summary>
    /// The committed pydicom reference (Fixtures/Dicom/pydicom_conformance.json, written by
    /// make_pydicom_conformance.py) and where the files it describes live: pydicom's own test
    /// files from the installed python3-pydicom package, and the generated files beside the fixture.
    /// </summary>
    internal sealed class PydicomReference
    {
        private static readonly Lazy<PydicomReference> Instance = new(() => new PydicomReference());
        private readonly JsonElement arrays;

        private PydicomReference()
        {
            using var document = JsonDocument.Parse(File.ReadAllText(TestSupport.FixturePath("Dicom", "pydicom_conformance.json")));
            JsonElement root = document.RootElement.Clone();
            PydicomVersion = root.GetProperty("pydicom").GetString()!;
            arrays = root.GetProperty("arrays");
            Files = root.GetProperty("files").EnumerateArray().Select(e => new Entry(e)).ToArray();
        }

        public static PydicomReference Load() => Instance.Value;

        /// <summary>Debian's python3-pydicom test files, or the folder named by PYDICOM_TEST_FILES.</summary>
        public static string PydicomFolder => Environment.GetEnvironmentVariable("PYDICOM_TEST_FILES") is { Length: > 0 } custom
            ? custom
            : "/usr/lib/python3/dist-packages/pydicom/data/test_files";

        public string PydicomVersion { get; }

        public IReadOnlyList<Entry> Files { get; }

        public Entry this[string key] => Files.Single(f => f.Key == key);

        public static string PathOf(Entry entry) => entry.Source == "pydicom"
            ? Path.Combine(PydicomFolder, entry.File)
            : TestSupport.FixturePath("Dicom", "generated", entry.File);

        public long[] Int64s(string key) => Decode(key, "<i8", b => MemoryMarshal.Cast<byte, long>(b).ToArray());

        public double[] Doubles(string key) => Decode(key, "<f8", b => MemoryMarshal.Cast<byte, double>(b).ToArray());

        public byte[] Bytes(string key) => Decode(key, "|u1", b => b.ToArray());

        private T Decode<T>(string key, string dtype, Func<ReadOnlySpan<byte>, T> convert)
        {
            JsonElement array = arrays.GetProperty(key);
            if (array.GetProperty("dtype").GetString() != dtype)
            {
                throw new InvalidDataException($"Array {key} is {array.GetProperty("dtype").GetString()}, not {dtype}.");
            }

            byte[] compressed = Convert.FromBase64String(array.GetProperty("zlib").GetString()!);
            using var input = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress);
            using var output = new MemoryStream();
            input.CopyTo(output);
            return convert(output.ToArray());
        }

        /// <summary>What pydicom made of one file.</summary>
        internal sealed class Entry
        {
            public Entry(JsonElement e)
            {
                Source = e.GetProperty("source").GetString()!;
                File = e.GetProperty("file").GetString()!;
                FileSha256 = e.GetProperty("fileSha256").GetString()!;
                Pydicom = e.GetProperty("pydicom").GetString()!;
                PydicomError = e.TryGetProperty("pydicomError", out JsonElement error) ? error.GetString() : null;
                TransferSyntax = e.TryGetProperty("transferSyntax", out JsonElement ts) ? ts.GetString() : null;
                Photometric = e.TryGetProperty("photometric", out JsonElement pi) ? pi.GetString() : null;
                if (Pydicom == "decoded")
                {
                    Shape = e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32()).ToArray();
                    Dtype = e.GetProperty("dtype").GetString();
                    Sha256 = e.GetProperty("sha256").GetString();
                    Min = e.GetProperty("min").GetInt64();
                    Max = e.GetProperty("max").GetInt64();
                    Frames = e.GetProperty("frames").GetInt32();
                }

                Pixels = e.TryGetProperty("pixels", out JsonElement px) ? px.GetString() : null;
                Rgb = e.TryGetProperty("rgb", out JsonElement rgb) ? rgb.GetString() : null;
                Values = e.TryGetProperty("values", out JsonElement values) ? values.GetString() : null;
                Modality = e.TryGetProperty("modality", out JsonElement modality) ? modality.GetString() : null;
                Voi = e.TryGetProperty("voi", out JsonElement voi)
                    ? voi.EnumerateArray().Select(v => (v.GetProperty("index").GetInt32(), v.TryGetProperty("outputs", out JsonElement o) ? o.GetString() : null, v.TryGetProperty("error", out JsonElement err) ? err.GetString() : null)).ToArray()
                    : Array.Empty<(int, string?, string?)>();
            }

            public string Key => Source + ":" + File;

            public string Source { get; }

            public string File { get; }

            public string FileSha256 { get; }

            /// <summary>decoded, no pixel data, or cannot decode.</summary>
            public string Pydicom { get; }

            public string? PydicomError { get; }

            public string? TransferSyntax { get; }

            public string? Photometric { get; }

            public int[]? Shape { get; }

            public string? Dtype { get; }

            public string? Sha256 { get; }

            public long Min { get; }

            public long Max { get; }

            public int Frames { get; } = 1;

            public string? Pixels { get; }

            public string? Rgb { get; }

            public string? Values { get; }

            public string? Modality { get; }

            public IReadOnlyList<(int Index, string? Outputs, string? Error)> Voi { get; }

            public override string ToString() => Key;
        }
    }
}
