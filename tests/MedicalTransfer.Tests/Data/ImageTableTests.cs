using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using MedicalTransfer.Data;
using Xunit;

namespace MedicalTransfer.Tests.Data
{
    public sealed class ImageTableTests : IDisposable
    {
        private readonly TempFolder folder = new();

        public void Dispose() => folder.Dispose();

        [Fact]
        public void Load_SingleLabelTable_IsTheFolderDatasetAndSplitsAndLoadsTheSame()
        {
            string root = folder.PathOf("phantoms");
            SyntheticChestXRay.WriteImageFolder(root, new SyntheticChestXRayOptions { Count = 40, Size = 32, ImagesPerPatient = 2, Seed = 4 });
            ImageDataset fromFolder = ImageFolder.Load(root);
            var csv = new StringBuilder("path,diagnosis\n");
            foreach (ImageSample s in fromFolder.Samples)
            {
                csv.Append(Path.GetRelativePath(root, s.Path).Replace('\\', '/')).Append(',').Append(fromFolder.Classes[s.Label]).Append('\n');
            }

            string table = folder.WriteBytes("phantoms/labels.csv", Encoding.UTF8.GetBytes(csv.ToString()));

            ImageDataset fromTable = ImageTable.Load(table, ImageTableLayouts.ForClasses("path", "diagnosis"));

            Assert.Equal(fromFolder.Classes, fromTable.Classes);
            Assert.Equal(fromFolder.Samples.Select(s => (s.Path, s.Label)), fromTable.Samples.Select(s => (s.Path, s.Label)));
            Assert.False(fromTable.IsMultiLabel);
            Assert.Equal(fromFolder.Statistics.Counts, fromTable.Statistics.Counts);

            var split = new SplitOptions { Seed = 9, GroupPattern = @"^(patient\d+)_" };
            DatasetSplits a = fromFolder.Split(split), b = fromTable.Split(split);
            Assert.Equal(a.Train.Samples.Select(s => s.Path), b.Train.Samples.Select(s => s.Path));
            Assert.Equal(a.Validation.Samples.Select(s => s.Path), b.Validation.Samples.Select(s => s.Path));
            Assert.Equal(a.Test.Samples.Select(s => s.Path), b.Test.Samples.Select(s => s.Path));

            var options = new LoaderOptions { BatchSize = 8, Seed = 3, Workers = 1 };
            using Batch fromFolderBatch = new DataLoader(a.Train, Transforms.ForTraining(Preprocessing.ImageNet), options).GetBatches(0).First();
            using Batch fromTableBatch = new DataLoader(b.Train, Transforms.ForTraining(Preprocessing.ImageNet), options).GetBatches(0).First();
            Assert.True(fromFolderBatch.Images.Equals(fromTableBatch.Images));
            Assert.True(fromFolderBatch.Labels.Equals(fromTableBatch.Labels));
        }

        [Fact]
        public void Load_CheXpertPreset_KeepsUncertainAndMissingApart()
        {
            string header = "Path,Sex,Age,Frontal/Lateral,AP/PA," + string.Join(",", ImageTableLayouts.CheXpertObservations);
            string Row(string path, string sex, string view, params string[] observations) =>
                string.Join(",", new[] { path, sex, "61", view == "Lateral" ? "Lateral" : "Frontal", view == "Lateral" ? string.Empty : view }.Concat(observations));
            string[] blank = Enumerable.Repeat(string.Empty, 14).ToArray();
            string[] first = (string[])blank.Clone();
            first[7] = "1.0";   // Pneumonia
            first[10] = "-1.0"; // Pleural Effusion: uncertain
            first[2] = "0.0";   // Cardiomegaly: negative
            string[] second = (string[])blank.Clone();
            second[0] = "1.0";  // No Finding
            Image("CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg");
            Image("CheXpert-v1.0-small/train/patient00001/study2/view1_lateral.jpg");
            string table = folder.WriteBytes("CheXpert-v1.0-small/train.csv", Encoding.UTF8.GetBytes(string.Join("\n", header,
                Row("CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg", "Female", "PA", first),
                Row("CheXpert-v1.0-small/train/patient00001/study2/view1_lateral.jpg", "Female", "Lateral", second)) + "\n"));

            ImageDataset data = ImageTable.Load(table, ImageTableLayouts.CheXpert, new ImageTableOptions { Root = folder.Root });

            Assert.True(data.IsMultiLabel);
            Assert.Equal(ImageTableLayouts.CheXpertObservations, data.Findings);
            ImageSample a = data.Samples[0], b = data.Samples[1];
            Assert.Equal(-1, a.Label);
            Assert.Equal(FindingState.Positive, a.Findings![7]);
            Assert.Equal(FindingState.Uncertain, a.Findings[10]);
            Assert.Equal(FindingState.Negative, a.Findings[2]);
            Assert.Equal(FindingState.Missing, a.Findings[3]);
            Assert.Equal(FindingState.Positive, b.Findings![0]);
            Assert.All(Enumerable.Range(1, 13), f => Assert.Equal(FindingState.Missing, b.Findings[f]));
            Assert.Equal(("patient00001", "patient00001/study1", "PA"), (a.PatientId, a.StudyId, a.View));
            Assert.Equal(("patient00001/study2", "Lateral"), (b.StudyId, b.View));
            Assert.Equal("Female", a.Metadata!["Sex"]);
            Assert.Equal("61", a.Metadata["Age"]);
            Assert.Equal(1, data.Statistics.Counts[7]); // positives per finding
        }

        [Fact]
        public void Load_NihPreset_ReadsJoinedLabelsAndFindsFilesAnywhereUnderTheRoot()
        {
            Image("images_001/images/00000001_000.png");
            Image("images_001/images/00000001_001.png");
            Image("images_002/images/00000002_000.png");
            string table = folder.WriteBytes("Data_Entry_2017.csv", Encoding.UTF8.GetBytes(
                "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n" +
                "00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143,\n" +
                "00000001_001.png,Effusion|Infiltration,1,1,58,M,AP,2894,2729,0.143,0.143,\n" +
                "00000002_000.png,No Finding,0,2,81,M,PA,2500,2048,0.171,0.171,\n"));

            ImageDataset data = ImageTable.Load(table, ImageTableLayouts.NihChestXray14);

            Assert.Equal(ImageTableLayouts.NihFindings, data.Findings);
            int effusion = data.Findings.ToList().IndexOf("Effusion"), infiltration = data.Findings.ToList().IndexOf("Infiltration"), cardiomegaly = data.Findings.ToList().IndexOf("Cardiomegaly");
            Assert.Equal(FindingState.Positive, data.Samples[0].Findings![cardiomegaly]);
            Assert.Equal(13, data.Samples[0].Findings!.Count(s => s == FindingState.Negative)); // a listed finding is positive, the rest negative
            Assert.Equal(new[] { FindingState.Positive, FindingState.Positive }, new[] { data.Samples[1].Findings![effusion], data.Samples[1].Findings![infiltration] });
            Assert.All(data.Samples[2].Findings!, s => Assert.Equal(FindingState.Negative, s));
            Assert.Equal(new[] { "1", "1", "2" }, data.Samples.Select(s => s.PatientId));
            Assert.Equal(new[] { "PA", "AP", "PA" }, data.Samples.Select(s => s.View));
            Assert.Equal("81", data.Samples[2].Metadata!["Patient Age"]);
            Assert.EndsWith(Path.Combine("images_002", "images", "00000002_000.png"), data.Samples[2].Path, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_BadTable_ListsEveryProblemWithItsRowBeforeAnyImageIsRead()
        {
            // The files that exist are not images at all: a table is checked without decoding anything.
            folder.WriteBytes("img/a.png", new byte[] { 1, 2, 3 });
            folder.WriteBytes("img/b.png", new byte[] { 1, 2, 3 });
            folder.WriteBytes("img/c.png", new byte[] { 1, 2, 3 });
            string table = folder.WriteBytes("t.csv", Encoding.UTF8.GetBytes(
                "Path,Label,Split\n" +
                "img/a.png,NORMAL,train\n" +
                "img/missing.png,NORMAL,train\n" +
                "img/a.png,PNEUMONIA,train\n" +
                "img/b.png,,train\n" +
                "img/b.png,PNEUMONIA\n" +
                "../outside.png,NORMAL,train\n" +
                "/etc/passwd,NORMAL,train\n" +
                "img/c.png,PNEUMONIA,sometimes\n"));

            var e = Assert.Throws<ImageDataException>(() => ImageTable.Load(table, ImageTableLayouts.ForClasses() with { SplitColumn = "Split" }));

            Assert.Equal(table, e.Path);
            string[] lines = e.Message.Split('\n').Select(l => l.Trim()).ToArray();
            Assert.StartsWith($"Table '{table}' has 7 problems (rows count from 1, the header); nothing was loaded:", lines[0], StringComparison.Ordinal);
            Assert.Equal(new[]
            {
                "row 3: file 'img/missing.png' does not exist (no such file)",
                "row 4: path 'img/a.png' is listed again (first at row 2)",
                "row 5: the class ('Label') is empty",
                "row 6: has 2 fields; the header has 3",
                "row 7: path '../outside.png' leads outside the root (" + folder.Root + ")",
                "row 8: path '/etc/passwd' is absolute; paths must be relative to the root (" + folder.Root + ")",
                "row 9: 'Split' is 'sometimes'; expected train, validation or test",
            }, lines.Skip(1));
        }

        [Fact]
        public void Load_ManyProblems_ListsTheFirst20AndCountsTheRest()
        {
            string table = folder.WriteBytes("t.csv", Encoding.UTF8.GetBytes("Path,Label\n" + string.Concat(Enumerable.Range(0, 45).Select(i => $"img/{i}.png,NORMAL\n"))));

            var e = Assert.Throws<ImageDataException>(() => ImageTable.Load(table, ImageTableLayouts.ForClasses()));

            Assert.Contains("has 45 problems", e.Message, StringComparison.Ordinal);
            Assert.Contains("row 21: file 'img/19.png'", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("row 22:", e.Message, StringComparison.Ordinal);
            Assert.EndsWith("... and 25 more.", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_MissingColumnsAndBadFindingValues_AreListed()
        {
            string noColumn = folder.WriteBytes("a.csv", Encoding.UTF8.GetBytes("path,label\nx.png,A\n"));
            Image("x.png");
            string badValues = folder.WriteBytes("b.csv", Encoding.UTF8.GetBytes("Path,Edema,Mass\nx.png,2,yes\n"));

            var columns = Assert.Throws<ImageDataException>(() => ImageTable.Load(noColumn, ImageTableLayouts.ForClasses()));
            var values = Assert.Throws<ImageDataException>(() => ImageTable.Load(badValues, new ImageTableLayout { FindingColumns = new[] { "Edema", "Mass" } }));

            Assert.Contains("row 1: the header has no path column 'Path' (there is 'path': the case differs) (columns: 'path', 'label')", columns.Message, StringComparison.Ordinal);
            Assert.Contains("row 1: the header has no class column 'Label'", columns.Message, StringComparison.Ordinal);
            Assert.Contains("row 2: 'Edema' is '2'; expected 1, 0, -1 (uncertain) or blank (missing)", values.Message, StringComparison.Ordinal);
            Assert.Contains("row 2: 'Mass' is 'yes'", values.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Load_MissingFilesUnderSkip_AreLeftOutLoggedAndListed()
        {
            Image("img/a.png");
            Image("img/b.png");
            string table = folder.WriteBytes("t.csv", Encoding.UTF8.GetBytes("Path,Label\nimg/a.png,NORMAL\nimg/gone.png,NORMAL\nimg/b.png,PNEUMONIA\n"));
            var logger = new ListLogger();

            ImageDataset data = ImageTable.Load(table, ImageTableLayouts.ForClasses(), new ImageTableOptions { MissingFiles = BadImagePolicy.Skip, Logger = logger });

            Assert.Equal(2, data.Count);
            SkippedImage left = Assert.Single(data.LeftOut);
            Assert.Equal(folder.PathOf("img", "gone.png"), left.Path);
            Assert.Contains("row 3 of " + table, left.Reason, StringComparison.Ordinal);
            Assert.Contains(logger.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Id.Id == 3062 && e.Message.Contains("row 3", StringComparison.Ordinal));
        }

        [Fact]
        public void Load_EveryFileMissingUnderTheRoot_SuggestsTheFolderThatHasThem()
        {
            Image("CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg");
            string table = folder.WriteBytes("CheXpert-v1.0-small/t.csv", Encoding.UTF8.GetBytes("Path,Label\nCheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg,A\n"));

            var e = Assert.Throws<ImageDataException>(() => ImageTable.Load(table, ImageTableLayouts.ForClasses()));

            Assert.Contains("pass ImageTableOptions.Root = \"" + folder.Root + "\"", e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void LoadSplits_SplitColumn_DefinesTrainValidationAndTest()
        {
            var rows = new StringBuilder("Path,Label,Split,Patient\n");
            for (int i = 0; i < 24; i++)
            {
                Image($"img/{i}.png");
                rows.Append($"img/{i}.png,{(i % 2 == 0 ? "A" : "B")},{(i < 16 ? "train" : i < 20 ? "valid" : "TEST")},p{i / 2}\n");
            }

            string table = folder.WriteBytes("t.csv", Encoding.UTF8.GetBytes(rows.ToString()));

            DatasetSplits splits = ImageTable.LoadSplits(table, ImageTableLayouts.ForClasses() with { SplitColumn = "Split", PatientColumn = "Patient" });

            Assert.Equal((16, 4, 4), (splits.Train.Count, splits.Validation.Count, splits.Test.Count));
            Assert.Equal(new[] { "A", "B" }, splits.Test.Classes);
            Assert.Contains("Splits from the table's split column", splits.Report.Notes[0], StringComparison.Ordinal);
        }

        [Fact]
        public void LoadSplits_SeparateCheXpertTables_SplitTestOffTrainByPatient()
        {
            SyntheticTable synthetic = SyntheticChestXRay.WriteCheXpertTable(folder.PathOf("chexpert"), new SyntheticChestXRayOptions { Count = 140, Size = 32, ImagesPerPatient = 3, Format = SyntheticImageFormat.Dicom, Seed = 2 });

            DatasetSplits splits = ImageTable.LoadSplits(synthetic.TrainTable, synthetic.ValidationTable, null, ImageTableLayouts.CheXpert, new SplitOptions { Seed = 4, TestFraction = 0.2 }, new ImageTableOptions { Root = synthetic.Root });

            Assert.Equal(ImageTableLayouts.CheXpertObservations, splits.Train.Findings);
            Assert.All(splits.Validation.Samples, s => Assert.Contains("/valid/", s.Path.Replace('\\', '/'), StringComparison.Ordinal));
            Assert.Equal(140, splits.Train.Count + splits.Validation.Count + splits.Test.Count);
            var trainPatients = splits.Train.Samples.Select(s => s.PatientId).ToHashSet();
            Assert.DoesNotContain(splits.Test.Samples, s => trainPatients.Contains(s.PatientId));
            Assert.DoesNotContain(splits.Validation.Samples, s => trainPatients.Contains(s.PatientId));
            Assert.InRange(splits.Test.Count, 15, 40);
            // The table's patient (from the path) and the DICOM header agree.
            Assert.All(splits.Train.Samples, s => Assert.Equal(s.PatientId!.Replace("patient", "SYN", StringComparison.Ordinal), s.Dicom!.PatientId));
        }

        [Theory]
        [InlineData(0)]
        [InlineData(1)]
        [InlineData(2)]
        public void Split_MultiLabelTableWithPatients_NeverPutsAPatientInTwoSplits(int seed)
        {
            SyntheticTable synthetic = SyntheticChestXRay.WriteCheXpertTable(folder.PathOf("s" + seed), new SyntheticChestXRayOptions { Count = 150, Size = 32, ImagesPerPatient = 5, Seed = seed });
            ImageDataset data = ImageTable.Load(synthetic.TrainTable, ImageTableLayouts.CheXpert, new ImageTableOptions { Root = synthetic.Root });

            DatasetSplits grouped = data.Split(new SplitOptions { Seed = seed });
            DatasetSplits ungrouped = data.WithSamples(data.Samples.Select(s => s with { PatientId = null }).ToArray()).Split(new SplitOptions { Seed = seed });

            Assert.Equal(0, PatientsInTwoSplits(grouped));
            Assert.True(PatientsInTwoSplits(ungrouped) > 0, "the control split (no patient) should scatter patients");
            Assert.Equal(data.Count, grouped.Train.Count + grouped.Validation.Count + grouped.Test.Count);
            Assert.True(grouped.Test.Samples.Any(s => s.Findings![7] == FindingState.Positive), "stratified: the test split has pneumonia");

            static int PatientsInTwoSplits(DatasetSplits s)
            {
                string Patient(ImageSample x) => x.Path.Replace('\\', '/').Split('/').First(p => p.StartsWith("patient", StringComparison.Ordinal));
                var sets = new[] { s.Train.Samples, s.Validation.Samples, s.Test.Samples }.Select(x => x.Select(Patient).ToHashSet()).ToArray();
                return sets[0].Intersect(sets[1]).Count() + sets[0].Intersect(sets[2]).Count() + sets[1].Intersect(sets[2]).Count();
            }
        }

        [Fact]
        public void WithViewsAndForFinding_GiveASingleLabelPaOnlyPneumoniaTask()
        {
            SyntheticTable synthetic = SyntheticChestXRay.WriteCheXpertTable(folder.PathOf("c"), new SyntheticChestXRayOptions { Count = 80, Size = 32, Format = SyntheticImageFormat.Dicom, Seed = 1 });
            ImageDataset data = ImageTable.Load(synthetic.TrainTable, ImageTableLayouts.CheXpert, new ImageTableOptions { Root = synthetic.Root });

            ImageDataset pa = data.WithViews("pa");
            ImageDataset task = pa.ForFinding("Pneumonia", "NORMAL", "PNEUMONIA");

            Assert.All(pa.Samples, s => Assert.Equal("PA", s.View));
            Assert.True(pa.Count < data.Count);
            Assert.Equal(new[] { "NORMAL", "PNEUMONIA" }, task.Classes);
            Assert.False(task.IsMultiLabel);
            int pneumonia = data.Findings.ToList().IndexOf("Pneumonia");
            int expected = pa.Samples.Count(s => s.Findings![pneumonia] is FindingState.Positive or FindingState.Negative);
            Assert.Equal(expected, task.Count); // uncertain and missing left out
            Assert.All(task.Samples, s => Assert.Equal(pa.Samples.Single(p => p.Path == s.Path).Findings![pneumonia] == FindingState.Positive ? 1 : 0, s.Label));
            Assert.Throws<ImageDataException>(() => data.WithViews("LL"));
        }

        [Fact]
        public void DataLoader_MultiLabelDataset_DeliversTargetsForEveryFinding()
        {
            // Multi-label loading (issue 13): the batches carry [N, 14] targets and masks instead of class labels.
            SyntheticTable synthetic = SyntheticChestXRay.WriteCheXpertTable(folder.PathOf("c"), new SyntheticChestXRayOptions { Count = 10, Size = 32 });
            ImageDataset data = ImageTable.Load(synthetic.TrainTable, ImageTableLayouts.CheXpert, new ImageTableOptions { Root = synthetic.Root });

            using var loader = new DataLoader(data, Transforms.ForEvaluation(Preprocessing.ImageNet), new LoaderOptions { BatchSize = 4, Workers = 1 });
            using var batch = loader.GetBatches(0).First();

            Assert.True(loader.IsMultiLabel);
            Assert.Equal(new long[] { batch.Count, 14 }, batch.Targets.shape);
            Assert.Equal(new long[] { batch.Count, 14 }, batch.TargetMask.shape);
        }

        private void Image(string relative) => folder.WriteGrayPng(relative, 8, 8, (x, y) => (byte)(x * 20));
    }
}
