using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using MedicalTransfer.Data.Dicom;
using Xunit;

namespace MedicalTransfer.Tests.Data.Dicom
{
    /// <summary>How DICOM files reach the pipeline: value modes, windows, frames, MONOCHROME1, the decoder seam, folders and metadata.</summary>
    public sealed class DicomDecodingTests : IDisposable
    {
        private readonly TempFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Theory]
        [InlineData(DicomValues.FileWindow)]
        [InlineData(DicomValues.ModalityValues)]
        [InlineData(DicomValues.StoredValues)]
        public void Decode_Monochrome1_IsInvertedSoBrightMeansDense(DicomValues values)
        {
            Func<int, int, int> value = (x, y) => (x * 300) + (y * 7);
            string mono2 = folder.WriteBytes("mono2.dcm", DicomTestFiles.Gray16(8, 4, value, "MONOCHROME2", bitsStored: 12).Decimal(DicomTags.RescaleSlope, 2).Decimal(DicomTags.RescaleIntercept, -100).ToBytes());
            string mono1 = folder.WriteBytes("mono1.dcm", DicomTestFiles.Gray16(8, 4, value, "MONOCHROME1", bitsStored: 12).Decimal(DicomTags.RescaleSlope, 2).Decimal(DicomTags.RescaleIntercept, -100).ToBytes());
            var options = new ImageLoadOptions { Dicom = new DicomLoadOptions { Values = values } };

            using FloatImage two = ImageDecoder.Decode(mono2, options);
            using FloatImage one = ImageDecoder.Decode(mono1, options);

            for (int i = 0; i < two.PlaneLength; i++)
            {
                Assert.Equal(1.0, two.Buffer[i] + one.Buffer[i], 6);
            }

            // Stored 0 is black in MONOCHROME2 and white (dense) in MONOCHROME1.
            Assert.Equal(0f, two.Buffer[0]);
            Assert.Equal(1f, one.Buffer[0]);
            Assert.Equal(values switch { DicomValues.FileWindow => 1f, DicomValues.ModalityValues => 2 * 4095f, _ => 4095f }, one.FullScale);
        }

        [Fact]
        public void Decode_StoredValues_MapTheBitsStoredRangeToTheUnitInterval()
        {
            string unsigned12 = folder.WriteBytes("u12.dcm", DicomTestFiles.Gray16(3, 1, (x, y) => new[] { 0, 2048, 4095 }[x], bitsStored: 12).ToBytes());
            string signed12 = folder.WriteBytes("s12.dcm", DicomTestFiles.Gray16(3, 1, (x, y) => new[] { -2048, 0, 2047 }[x] & 0xFFFF, bitsStored: 12, signed: true).ToBytes());
            var options = new ImageLoadOptions { Dicom = new DicomLoadOptions { Values = DicomValues.StoredValues } };

            using FloatImage u = ImageDecoder.Decode(unsigned12, options);
            using FloatImage s = ImageDecoder.Decode(signed12, options);

            double[] expected = { 0, 2048 / 4095.0, 1 };
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(expected[i], u.Buffer[i], 1e-6);
                Assert.Equal(expected[i], s.Buffer[i], 1e-6);
            }

            Assert.Equal(-2048, s.ValueOffset);
        }

        [Fact]
        public void Window_OnModalityValues_TakesHounsfieldUnitsAndKeepsMonochrome1Inverted()
        {
            string ct = Path.Combine(PydicomReference.PydicomFolder, "CT_small.dcm");
            var options = new ImageLoadOptions { Dicom = new DicomLoadOptions { Values = DicomValues.ModalityValues } };
            byte[] bytes = File.ReadAllBytes(ct);
            DicomHeader header = DicomReader.Instance.ReadHeader(ct, bytes, options);
            DicomFrame frame = DicomReader.Instance.DecodeFrame(ct, bytes, header, 0, options);
            ImageTransform window = Transforms.Window(40, 400);
            var random = new SampleRandom(1);

            using FloatImage image = window.Apply(ImageDecoder.Decode(ct, options), ref random);

            for (int i = 0; i < image.PlaneLength; i++)
            {
                double hu = DicomValueMapper.Modality(header, DicomValueMapper.Stored(header, (short)frame.RawValue(i % 128, i / 128, 0)));
                Assert.True(Math.Abs(Math.Clamp((hu - (40 - 200)) / 400, 0, 1) - image.Buffer[i]) < 5e-5, $"pixel {i}: {hu} HU gave {image.Buffer[i]}");
            }

            // The same stored values as MONOCHROME1: the window's output is inverted too.
            string inverted = folder.WriteBytes("inverted.dcm", DicomTestFiles.Gray16(4, 1, (x, y) => new[] { 0, 864, 1064, 1264 }[x], "MONOCHROME1").Decimal(DicomTags.RescaleSlope, 1).Decimal(DicomTags.RescaleIntercept, -1024).ToBytes());
            using FloatImage one = window.Apply(ImageDecoder.Decode(inverted, options), ref random);
            Assert.Equal(new[] { 1f, 1f, 0.5f, 0f }, one.Pixels.ToArray().Select(v => MathF.Round(v, 3)).ToArray());
        }

        [Fact]
        public void Decode_WindowIndex_ChoosesAWindowAndAMissingOneIsReported()
        {
            string path = TestSupport.FixturePath("Dicom", "generated", "signed12_linear_exact.dcm");
            byte[] bytes = File.ReadAllBytes(path);
            DicomHeader header = DicomReader.Instance.ReadHeader(path, bytes, ImageLoadOptions.Default);
            DicomFrame frame = DicomReader.Instance.DecodeFrame(path, bytes, header, 0, ImageLoadOptions.Default);
            Assert.Equal(new[] { "SOFT", "LUNG" }, header.Windows.Select(w => w.Explanation));

            using FloatImage second = ImageDecoder.Decode(path, new ImageLoadOptions { Dicom = new DicomLoadOptions { WindowIndex = 1 } });
            using FloatImage first = ImageDecoder.Decode(path, ImageLoadOptions.Default);

            for (int i = 0; i < second.PlaneLength; i++)
            {
                double modality = DicomValueMapper.Modality(header, DicomValueMapper.Stored(header, frame.RawValue(i % frame.Columns, i / frame.Columns, 0)));
                Assert.Equal(DicomValueMapper.WindowFraction("LINEAR_EXACT", header.Windows[1], modality), second.Buffer[i], 1e-6); // float32 arithmetic
            }

            Assert.NotEqual(first.Pixels.ToArray(), second.Pixels.ToArray());
            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, new ImageLoadOptions { Dicom = new DicomLoadOptions { WindowIndex = 2 } }));
            Assert.Contains("has 2 windows (Window Center/Width); DicomLoadOptions.WindowIndex 2 asks for another", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_Frame_ReadsTheChosenFrameOfAMultiFrameFile()
        {
            string path = TestSupport.FixturePath("Dicom", "generated", "rle_signed12_2frames.dcm");
            var second = new ImageLoadOptions { Dicom = new DicomLoadOptions { Frame = 1, Values = DicomValues.StoredValues } };
            byte[] bytes = File.ReadAllBytes(path);
            DicomHeader header = DicomReader.Instance.ReadHeader(path, bytes, second);
            DicomFrame frame = DicomReader.Instance.DecodeFrame(path, bytes, header, 1, second);

            using FloatImage image = ImageDecoder.Decode(path, second);
            using FloatImage firstFrame = ImageDecoder.Decode(path, new ImageLoadOptions { Dicom = second.Dicom with { Frame = 0 } });

            for (int i = 0; i < image.PlaneLength; i++)
            {
                long stored = DicomValueMapper.Stored(header, frame.RawValue(i % frame.Columns, i / frame.Columns, 0));
                Assert.Equal((stored + 2048) / 4095.0, image.Buffer[i], 1e-6);
            }

            Assert.NotEqual(firstFrame.Pixels.ToArray(), image.Pixels.ToArray());
            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, new ImageLoadOptions { Dicom = second.Dicom with { Frame = 2 } }));
            Assert.Contains("has 2 frames; DicomLoadOptions.Frame 2 asks for another", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Decode_FileWithoutPreamble_GivesTheSameImage()
        {
            byte[] file = DicomTestFiles.Pydicom("MR_small.dcm");
            string withPreamble = folder.WriteBytes("a.dcm", file);
            string withoutPreamble = folder.WriteBytes("b", file[132..]);

            using FloatImage a = ImageDecoder.Decode(withPreamble, ImageLoadOptions.Default);
            using FloatImage b = ImageDecoder.Decode(withoutPreamble, ImageLoadOptions.Default);

            Assert.Equal(a.Pixels.ToArray(), b.Pixels.ToArray());
        }

        [Fact]
        public void Decoder_PluggedIn_IsUsedAndItsOutputIsChecked()
        {
            string path = folder.WriteBytes("plugin.dcm", new byte[] { 1, 2, 3, 4 });
            var fake = new FakeDecoder(new DicomHeader { Rows = 1, Columns = 2, BitsAllocated = 8, BitsStored = 8, HighBit = 7, PhotometricInterpretation = "MONOCHROME1" }, new byte[] { 0, 255 });
            var options = new ImageLoadOptions { Dicom = new DicomLoadOptions { Decoder = fake } };

            using (FloatImage image = ImageDecoder.Decode(path, options))
            {
                Assert.Equal(new[] { 1f, 0f }, image.Pixels.ToArray()); // mapped by the SDK: MONOCHROME1 inverted
            }

            Assert.Equal(1, fake.Frames);

            // The pixel limit is checked on the decoder's header before it is asked for pixels.
            var huge = new FakeDecoder(new DicomHeader { Rows = 60000, Columns = 60000, BitsAllocated = 8, BitsStored = 8, HighBit = 7 }, Array.Empty<byte>());
            var e = Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, new ImageLoadOptions { Dicom = new DicomLoadOptions { Decoder = huge } }));
            Assert.Contains("the limit is 64000000", e.Message, StringComparison.Ordinal);
            Assert.Equal(0, huge.Frames);

            // A frame that does not match the header is refused; a decoder's own defect surfaces as it is.
            var wrong = new FakeDecoder(new DicomHeader { Rows = 2, Columns = 2, BitsAllocated = 8, BitsStored = 8, HighBit = 7 }, new byte[] { 0, 255 }, frameColumns: 1);
            Assert.Contains("decoded by FakeDecoder to a 1x2 frame", Assert.Throws<ImageDataException>(() => ImageDecoder.Decode(path, new ImageLoadOptions { Dicom = new DicomLoadOptions { Decoder = wrong } })).Message, StringComparison.Ordinal);
            var broken = new FakeDecoder(null, Array.Empty<byte>());
            Assert.Throws<InvalidOperationException>(() => ImageDecoder.Decode(path, new ImageLoadOptions { Dicom = new DicomLoadOptions { Decoder = broken } }));
        }

        [Fact]
        public void ReadHeader_SyntheticPhantom_HasTheMetadataTheSamplesCarry()
        {
            string root = folder.PathOf("phantoms");
            SyntheticChestXRay.WriteImageFolder(root, new SyntheticChestXRayOptions { Count = 4, Size = 32, Format = SyntheticImageFormat.Dicom, ImagesPerPatient = 2, Seed = 3 });
            string file = Directory.GetFiles(root, "*.dcm", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).First(f => f.EndsWith("patient0001_1.dcm", StringComparison.Ordinal));

            DicomHeader header = DicomReader.Instance.ReadHeader(file, File.ReadAllBytes(file), ImageLoadOptions.Default);
            DicomMetadata m = header.Metadata;

            Assert.Equal("SYN00001", m.PatientId);
            Assert.Equal("DX", m.Modality);
            Assert.Equal("CHEST", m.BodyPartExamined);
            Assert.Contains(m.ViewPosition, new[] { "PA", "AP" });
            Assert.Contains(m.PatientSex, new[] { "M", "F" });
            Assert.InRange(m.AgeInYears()!.Value, 20, 90);
            Assert.Equal("MedicalTransfer synthetic phantom", m.Manufacturer);
            Assert.Equal("MONOCHROME1", m.PhotometricInterpretation);
            Assert.Equal(new DicomPixelSpacing(0.2, 0.2), m.PixelSpacing);
            Assert.StartsWith("2.25.", m.StudyInstanceUid, StringComparison.Ordinal);
            Assert.NotEqual(m.StudyInstanceUid, m.SeriesInstanceUid);
            Assert.Equal((12, 11, 2.0, -1000.0), (header.BitsStored, header.HighBit, header.RescaleSlope!.Value, header.RescaleIntercept!.Value));
        }

        [Fact]
        public void ImageFolder_DicomFiles_AreListedWithPatientStudyAndView()
        {
            byte[] dicom = DicomTestFiles.Gray16(4, 4, (x, y) => x).Text(DicomTags.StudyInstanceUid, "UI", "1.2.3").Text(DicomTags.ViewPosition, "CS", "PA").ToBytes();
            folder.WriteBytes("data/NORMAL/a.dcm", dicom);
            folder.WriteBytes("data/NORMAL/b.png", File.ReadAllBytes(folder.WriteGrayPng("x.png", 4, 4, (x, y) => 9)));
            folder.WriteBytes("data/PNEUMONIA/IM000001", dicom);
            folder.WriteBytes("data/PNEUMONIA/DICOMDIR", dicom);
            folder.WriteBytes("data/PNEUMONIA/notes", new byte[200]);

            ImageDataset data = ImageFolder.Load(folder.PathOf("data"));

            Assert.Equal(new[] { "a.dcm", "b.png", "IM000001" }, data.Samples.Select(s => Path.GetFileName(s.Path)));
            Assert.Equal(2, data.IgnoredFileCount);
            ImageSample a = data.Samples[0];
            Assert.Equal(("PAT01", "1.2.3", "PA"), (a.PatientId, a.StudyId, a.View));
            Assert.Equal("OT", a.Dicom!.Modality);
            Assert.Null(data.Samples[1].Dicom);
        }

        [Fact]
        public void Split_DicomPatientIds_KeepEachPatientInOneSplit()
        {
            string root = folder.PathOf("phantoms");
            SyntheticChestXRay.WriteImageFolder(root, new SyntheticChestXRayOptions { Count = 120, Size = 32, Format = SyntheticImageFormat.Dicom, ImagesPerPatient = 4, Seed = 5 });
            ImageDataset data = ImageFolder.Load(root);
            Assert.All(data.Samples, s => Assert.StartsWith("SYN", s.PatientId, StringComparison.Ordinal));

            DatasetSplits splits = data.Split(new SplitOptions { Seed = 1 });
            int leaks = Leaks(splits);

            // Without the DICOM patient IDs (each image its own group) the same split scatters patients.
            ImageDataset anonymous = data.WithSamples(data.Samples.Select(s => s with { PatientId = null }).ToArray());
            int anonymousLeaks = Leaks(anonymous.Split(new SplitOptions { Seed = 1 }));

            Assert.Equal(0, leaks);
            Assert.True(anonymousLeaks > 0, "the control split should leak patients");

            static int Leaks(DatasetSplits s)
            {
                string Patient(ImageSample x) => Path.GetFileName(x.Path)[..11];
                var train = s.Train.Samples.Select(Patient).ToHashSet();
                var validation = s.Validation.Samples.Select(Patient).ToHashSet();
                var test = s.Test.Samples.Select(Patient).ToHashSet();
                return train.Intersect(validation).Count() + train.Intersect(test).Count() + validation.Intersect(test).Count();
            }
        }

        [Fact]
        public void Loader_BadDicomUnderSkip_IsLeftOutAndReported()
        {
            byte[] good = DicomTestFiles.Gray16(8, 8, (x, y) => x * 100, bitsStored: 12).ToBytes();
            folder.WriteBytes("data/NORMAL/good.dcm", good);
            folder.WriteBytes("data/NORMAL/cut.dcm", good[..^10]);
            folder.WriteBytes("data/PNEUMONIA/good.dcm", good);
            ImageDataset data = ImageFolder.Load(folder.PathOf("data"));
            var loader = new DataLoader(data, Transforms.Compose(Transforms.Resize(4, 4), Transforms.ToTensor()), new LoaderOptions { BatchSize = 4, Sampling = SamplingMode.Sequential, Workers = 1, Decoding = new ImageLoadOptions { BadImages = BadImagePolicy.Skip } });

            int images = loader.GetBatches(0).Sum(b => { using (b) { return b.Count; } });

            Assert.Equal(2, images);
            SkippedImage skipped = Assert.Single(loader.Report.Skipped);
            Assert.EndsWith("cut.dcm", skipped.Path, StringComparison.Ordinal);
            Assert.Contains("Pixel Data", skipped.Reason, StringComparison.Ordinal);
        }

        private sealed class FakeDecoder : IDicomDecoder
        {
            private readonly DicomHeader? header;
            private readonly byte[] samples;
            private readonly int frameColumns;

            public FakeDecoder(DicomHeader? header, byte[] samples, int frameColumns = 0)
            {
                this.header = header;
                this.samples = samples;
                this.frameColumns = frameColumns;
            }

            public int Frames { get; private set; }

            public DicomHeader ReadHeader(string name, ReadOnlyMemory<byte> file, ImageLoadOptions options) =>
                header ?? throw new InvalidOperationException("a defect in the plug-in");

            public DicomFrame DecodeFrame(string name, ReadOnlyMemory<byte> file, DicomHeader h, int frame, ImageLoadOptions options)
            {
                Frames++;
                return new DicomFrame(frameColumns > 0 ? frameColumns : h.Columns, h.Rows, 1, 8, false, h.PhotometricInterpretation, samples);
            }
        }
    }
}
