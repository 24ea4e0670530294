using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using MedicalTransfer.Data;
using MedicalTransfer.Data.Dicom;
using Xunit;

namespace MedicalTransfer.Tests.Data.Dicom
{
    /// <summary>
    /// The synthetic DICOM phantoms read by independent tools: pydicom (python3-pydicom, run here)
    /// gives the same stored values, modality and VOI values, and DCMTK's dcmdump parses every file
    /// without a warning; the SDK's file window reproduces the rendered phantom.
    /// </summary>
    public sealed class SyntheticDicomTests : IDisposable
    {
        // For each file: pixel_array, the VOI output of apply_voi_lut(apply_modality_lut(...)), and header values.
        private const string Script = @"
import json, sys, warnings
import numpy as np, pydicom
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut
out = []
for path in sys.argv[1:]:
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    voi = apply_voi_lut(apply_modality_lut(arr, ds), ds)
    out.append({'path': path, 'pixels': arr.astype(int).ravel().tolist(), 'voi': np.asarray(voi, dtype=float).ravel().tolist(),
                'photometric': ds.PhotometricInterpretation, 'bitsStored': int(ds.BitsStored), 'patient': str(ds.PatientID),
                'study': str(ds.StudyInstanceUID), 'view': str(ds.ViewPosition), 'sex': str(ds.PatientSex), 'age': str(ds.PatientAge),
                'slope': float(ds.RescaleSlope), 'intercept': float(ds.RescaleIntercept), 'center': float(ds.WindowCenter), 'width': float(ds.WindowWidth),
                'syntax': str(ds.file_meta.TransferSyntaxUID), 'sop': str(ds.SOPClassUID)})
print(json.dumps(out))
";

        private readonly TempFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Fact]
        public void SyntheticDicom_ReadByPydicomAndDcmdump_AgreesWithTheSdk()
        {
            string root = folder.PathOf("phantoms");
            SyntheticChestXRay.WriteImageFolder(root, new SyntheticChestXRayOptions { Count = 4, Size = 48, Format = SyntheticImageFormat.Dicom, ImagesPerPatient = 2, Seed = 11 });
            string[] files = Directory.GetFiles(root, "*.dcm", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            Assert.Equal(4, files.Length);

            using JsonDocument reference = JsonDocument.Parse(Run("/usr/bin/python3", new[] { "-c", Script }.Concat(files).ToArray()));
            var photometrics = new System.Collections.Generic.HashSet<string>();
            foreach (JsonElement file in reference.RootElement.EnumerateArray())
            {
                string path = file.GetProperty("path").GetString()!;
                byte[] bytes = File.ReadAllBytes(path);
                DicomHeader header = DicomReader.Instance.ReadHeader(path, bytes, ImageLoadOptions.Default);
                DicomFrame frame = DicomReader.Instance.DecodeFrame(path, bytes, header, 0, ImageLoadOptions.Default);
                int[] pixels = file.GetProperty("pixels").EnumerateArray().Select(v => v.GetInt32()).ToArray();
                double[] voi = file.GetProperty("voi").EnumerateArray().Select(v => v.GetDouble()).ToArray();
                photometrics.Add(file.GetProperty("photometric").GetString()!);

                Assert.Equal(header.PhotometricInterpretation, file.GetProperty("photometric").GetString());
                Assert.Equal(12, file.GetProperty("bitsStored").GetInt32());
                Assert.Equal(header.Metadata.PatientId, file.GetProperty("patient").GetString());
                Assert.Equal(header.Metadata.StudyInstanceUid, file.GetProperty("study").GetString());
                Assert.Equal(header.Metadata.ViewPosition, file.GetProperty("view").GetString());
                Assert.Equal((2.0, -1000.0, 3000.5, 6001.0), (file.GetProperty("slope").GetDouble(), file.GetProperty("intercept").GetDouble(), file.GetProperty("center").GetDouble(), file.GetProperty("width").GetDouble()));
                Assert.Equal(SyntheticDicom.DigitalXRayForPresentation, file.GetProperty("sop").GetString());
                Assert.Equal(DicomTransferSyntax.ExplicitVrLittleEndianUid, file.GetProperty("syntax").GetString());

                using FloatImage image = ImageDecoder.Decode(path, ImageLoadOptions.Default);
                bool mono1 = header.PhotometricInterpretation == "MONOCHROME1";
                (double min, double max) = DicomValueMapper.ModalityRange(header);
                Assert.Equal((-1000.0, 7190.0), (min, max));

                // What the writer encoded: the phantom the renderer draws for this patient and image.
                string name = Path.GetFileNameWithoutExtension(path); // patientNNNN_K
                int patient = int.Parse(name.AsSpan(7, 4), provider: System.Globalization.CultureInfo.InvariantCulture);
                int index = (patient * 2) + (name[^1] - '0');
                var rendered = new float[48 * 48];
                SyntheticChestXRay.Render(rendered, 48, 11, patient, index, path.Contains("PNEUMONIA", StringComparison.Ordinal));
                for (int i = 0; i < pixels.Length; i++)
                {
                    Assert.Equal(pixels[i], frame.RawValue(i % 48, i / 48, 0));

                    // The SDK's value is pydicom's VOI output as a fraction of its range, inverted for MONOCHROME1 ...
                    double fraction = (voi[i] - min) / (max - min);
                    Assert.True(Math.Abs(image.Buffer[i] - (mono1 ? 1 - fraction : fraction)) < 1e-6, $"{name} pixel {i}: SDK {image.Buffer[i]}, pydicom {fraction} ({header.PhotometricInterpretation})");

                    // ... which is the rendered phantom, to the 12-bit quantisation (3000 levels over [0, 1]).
                    Assert.True(Math.Abs(image.Buffer[i] - rendered[i]) <= (0.5 / 3000) + 1e-6, $"{name} pixel {i}: SDK {image.Buffer[i]}, rendered {rendered[i]}");
                }
            }

            Assert.Equal(new[] { "MONOCHROME1", "MONOCHROME2" }, photometrics.OrderBy(p => p, StringComparer.Ordinal));
            foreach (string file in files)
            {
                string dump = Run("dcmdump", "+L", file);
                Assert.Contains("(0028,0004) CS [MONOCHROME", dump, StringComparison.Ordinal);
                Assert.Contains("(0010,0020) LO [SYN0000", dump, StringComparison.Ordinal);
            }
        }

        private static string Run(string program, params string[] arguments)
        {
            var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd();
            string error = process.StandardError.ReadToEnd();
            Assert.True(process.WaitForExit(60_000), program + " did not finish");
            Assert.True(process.ExitCode == 0 && error.Trim().Length == 0, $"{program} failed ({process.ExitCode}): {error}");
            return output;
        }
    }
}
