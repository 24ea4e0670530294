using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using MedicalTransfer.Internal;
using Microsoft.Extensions.Logging;

namespace MedicalTransfer.Data
{
    /// <summary>
    /// Datasets from label tables (CSV or TSV): a path column, labels (a class column, several
    /// 0/1 finding columns, or one column of joined labels), optional patient, study, view and split
    /// columns, and metadata columns kept on the samples. Presets for CheXpert and NIH ChestX-ray14
    /// are in <see cref="ImageTableLayouts"/>. The whole table is checked before anything else
    /// happens, and every problem (a missing column, a missing or duplicate file, an unreadable
    /// label) is reported in one <see cref="ImageDataException"/> with its row number; no image is
    /// decoded. Tables and image folders are only read.
    /// <code>
    /// ImageDataset all = ImageTable.Load("CheXpert-v1.0-small/train.csv", ImageTableLayouts.CheXpert,
    ///     new ImageTableOptions { Root = "/data" });   // the folder holding CheXpert-v1.0-small/
    /// </code>
    /// </summary>
    public static class ImageTable
    {
        /// <summary>Reads a table into one dataset (single-label with a class column, multi-label with finding columns).</summary>
        /// <param name="table">The CSV or TSV file.</param>
        /// <param name="layout">Which columns mean what, for example <see cref="ImageTableLayouts.CheXpert"/>.</param>
        /// <param name="options">Root folder, missing-file policy, delimiter, logger; <see langword="null"/> for the defaults.</param>
        /// <returns>The dataset; images are not decoded.</returns>
        /// <exception cref="ImageDataException">The table has problems (all listed, with row numbers), or fewer than two classes.</exception>
        /// <exception cref="ArgumentException">The layout or options are invalid.</exception>
        public static ImageDataset Load(string table, ImageTableLayout layout, ImageTableOptions? options = null)
        {
            Guard.NotNullOrWhiteSpace(table);
            layout = Guard.NotNull(layout).Validate();
            options = (options ?? new ImageTableOptions()).Validate();
            TableRows rows = Read(table, layout, options);
            rows.ThrowIfProblems();
            return Build(new[] { rows }, layout, options)[0];
        }

        /// <summary>
        /// Reads a table whose <see cref="ImageTableLayout.SplitColumn"/> says which rows train, which
        /// validate and which test. Without test rows, test images are split off the training rows
        /// with <see cref="SplitOptions.TestFraction"/> (stratified, seeded, a patient never in two splits).
        /// </summary>
        /// <param name="table">The CSV or TSV file.</param>
        /// <param name="layout">Which columns mean what; <see cref="ImageTableLayout.SplitColumn"/> must be set.</param>
        /// <param name="split">Test fraction, seed, grouping when test rows must be split off; <see langword="null"/> for the defaults.</param>
        /// <param name="options">Root folder, missing-file policy, delimiter, logger; <see langword="null"/> for the defaults.</param>
        /// <returns>The three sets and a report.</returns>
        /// <exception cref="ImageDataException">The table has problems, or a split has no rows.</exception>
        public static DatasetSplits LoadSplits(string table, ImageTableLayout layout, SplitOptions? split = null, ImageTableOptions? options = null)
        {
            Guard.NotNullOrWhiteSpace(table);
            layout = Guard.NotNull(layout).Validate();
            if (layout.SplitColumn is null)
            {
                throw new ArgumentException("ImageTable.LoadSplits(table, ...) needs ImageTableLayout.SplitColumn; for separate train and validation tables use LoadSplits(trainTable, validationTable, testTable, ...).", nameof(layout));
            }

            options = (options ?? new ImageTableOptions()).Validate();
            split = (split ?? new SplitOptions()).Validate();
            TableRows rows = Read(table, layout, options);
            rows.ThrowIfProblems();
            ImageDataset all = Build(new[] { rows }, layout, options)[0];
            string[] assignment = all.Samples.Select(s => rows.SplitOf[s.Path]).ToArray();
            ImageDataset Part(string name) => all.WithSamples(all.Samples.Where((_, i) => assignment[i] == name).ToArray());
            ImageDataset train = Part("train"), validation = Part("validation"), test = Part("test");
            foreach ((string name, ImageDataset part) in new[] { ("train", train), ("validation", validation) })
            {
                if (part.Count == 0)
                {
                    throw new ImageDataException(table, string.Format(CultureInfo.InvariantCulture, "Table '{0}' has no {1} rows in its split column '{2}'; expected train, validation and optionally test.", table, name, layout.SplitColumn));
                }
            }

            return Combine(table, train, validation, test.Count == 0 ? null : test, split, options.Logger, "the table's split column");
        }

        /// <summary>
        /// Reads separate tables for training, validation and (optionally) test, as CheXpert ships
        /// train.csv and valid.csv. Without a test table, test images are split off the training
        /// table with <see cref="SplitOptions.TestFraction"/> (stratified, seeded, patient-grouped).
        /// Classes (or findings) are those of all tables together, so label indices agree.
        /// </summary>
        /// <param name="trainTable">The training table.</param>
        /// <param name="validationTable">The validation table.</param>
        /// <param name="testTable">The test table, or <see langword="null"/> to split test images off the training table.</param>
        /// <param name="layout">Which columns mean what (the same for every table).</param>
        /// <param name="split">Test fraction, seed and grouping; <see langword="null"/> for the defaults.</param>
        /// <param name="options">Root folder, missing-file policy, delimiter, logger; <see langword="null"/> for the defaults.</param>
        /// <returns>The three sets and a report; patients found in both validation (or test) and training are noted.</returns>
        /// <exception cref="ImageDataException">A table has problems (all tables' problems are listed together).</exception>
        public static DatasetSplits LoadSplits(string trainTable, string validationTable, string? testTable, ImageTableLayout layout, SplitOptions? split = null, ImageTableOptions? options = null)
        {
            Guard.NotNullOrWhiteSpace(trainTable);
            Guard.NotNullOrWhiteSpace(validationTable);
            layout = Guard.NotNull(layout).Validate();
            options = (options ?? new ImageTableOptions()).Validate();
            split = (split ?? new SplitOptions()).Validate();
            var tables = new List<TableRows> { Read(trainTable, layout, options), Read(validationTable, layout, options) };
            if (testTable is not null)
            {
                tables.Add(Read(testTable, layout, options));
            }

            TableRows.ThrowIfProblems(tables);
            IReadOnlyList<ImageDataset> sets = Build(tables, layout, options);
            return Combine(trainTable, sets[0], sets[1], testTable is null ? null : sets[2], split, options.Logger, "separate tables");
        }

        private static DatasetSplits Combine(string table, ImageDataset train, ImageDataset validation, ImageDataset? test, SplitOptions split, ILogger logger, string how)
        {
            var notes = new List<string>();
            if (test is null)
            {
                // Assign's "validation" share is the test share here: train splits in two.
                double fraction = split.TestFraction > 0 ? split.TestFraction : 0.15;
                int[] assignment = Splitter.Assign(train, split, fraction, 0);
                test = Splitter.Subset(train, assignment, 1);
                train = Splitter.Subset(train, assignment, 0);
                notes.Add(string.Format(CultureInfo.InvariantCulture, "No test rows: split {0} test images off the training rows ({1:P0}, seed {2}, stratified, grouped by patient).", test.Count, fraction, split.Seed));
            }

            notes.Insert(0, string.Format(CultureInfo.InvariantCulture, "Splits from {0} ({1}).", how, table));
            var trainingGroups = new HashSet<string>(train.Samples.Select(split.GroupOf), StringComparer.Ordinal);
            foreach ((string name, ImageDataset part) in new[] { ("validation", validation), ("test", test) })
            {
                string[] leaked = part.Samples.Where(s => s.PatientId is not null || split.GroupRegex is not null).Select(split.GroupOf).Where(trainingGroups.Contains).Distinct(StringComparer.Ordinal).OrderBy(g => g, StringComparer.Ordinal).ToArray();
                if (leaked.Length > 0)
                {
                    notes.Add(string.Format(CultureInfo.InvariantCulture, "Group leak: {0} patients have images in both {1} and train (for example {2}); {1} results may be optimistic.", leaked.Length, name, leaked[0]));
                    Log.GroupLeak(logger, leaked.Length, leaked[0]);
                }
            }

            var testSet = new TestSet(test);
            return new DatasetSplits(train, validation, testSet, new SplitReport(train.Classes, train.Statistics, validation.Statistics, testSet.Statistics, false, notes));
        }

        /// <summary>Rows of one table, before classes are known: the parsed values and every problem found.</summary>
        private sealed class TableRows
        {
            public TableRows(string table, string root)
            {
                Table = table;
                Root = root;
            }

            public string Table { get; }

            public string Root { get; }

            public List<Row> Rows { get; } = new();

            public List<(int Row, string Problem)> Problems { get; } = new();

            public List<SkippedImage> LeftOut { get; } = new();

            public Dictionary<string, string> SplitOf { get; } = new(StringComparer.Ordinal);

            public static void ThrowIfProblems(IReadOnlyList<TableRows> tables)
            {
                int total = tables.Sum(t => t.Problems.Count);
                if (total == 0)
                {
                    return;
                }

                var text = new StringBuilder();
                text.AppendFormat(CultureInfo.InvariantCulture, "{0} {1} {2} problem{3} (rows count from 1, the header); nothing was loaded:", tables.Count == 1 ? "Table '" + tables[0].Table + "'" : "The tables", tables.Count == 1 ? "has" : "have", total, total == 1 ? string.Empty : "s");
                int listed = 0;
                foreach (TableRows t in tables)
                {
                    foreach ((int row, string problem) in t.Problems.OrderBy(p => p.Row))
                    {
                        if (listed == Preflight.ListedInMessage)
                        {
                            break;
                        }

                        text.AppendLine().Append("  ").Append(tables.Count == 1 ? string.Empty : Path.GetFileName(t.Table) + " ").Append("row ").Append(row.ToString(CultureInfo.InvariantCulture)).Append(": ").Append(problem);
                        listed++;
                    }
                }

                if (total > listed)
                {
                    text.AppendLine().AppendFormat(CultureInfo.InvariantCulture, "  ... and {0} more.", total - listed);
                }

                throw new ImageDataException(tables[0].Table, text.ToString());
            }

            public void ThrowIfProblems() => ThrowIfProblems(new[] { this });
        }

        private sealed record Row(int Number, string Path, string? Class, FindingState[]? States, string[]? Labels, string? Patient, string? Study, string? View, IReadOnlyDictionary<string, string>? Metadata);

        private static TableRows Read(string table, ImageTableLayout layout, ImageTableOptions options)
        {
            string fullTable = Path.GetFullPath(table);
            string root = Path.GetFullPath(options.Root ?? Path.GetDirectoryName(fullTable) ?? ".");
            var result = new TableRows(table, root);
            if (!File.Exists(fullTable))
            {
                throw new ImageDataException(table, string.Format(CultureInfo.InvariantCulture, "Table '{0}' does not exist; expected a CSV or TSV file with a header row.", table));
            }

            if (!Directory.Exists(root))
            {
                throw new ImageDataException(root, string.Format(CultureInfo.InvariantCulture, "The image root '{0}' of table '{1}' does not exist (ImageTableOptions.Root).", root, table));
            }

            char delimiter = options.Delimiter ?? CsvReader.DelimiterFor(table);
            using IEnumerator<CsvRecord> records = CsvReader.Read(fullTable, delimiter).GetEnumerator();
            if (!records.MoveNext())
            {
                throw new ImageDataException(table, string.Format(CultureInfo.InvariantCulture, "Table '{0}' is empty; expected a header row naming the columns ({1}).", table, layout.PathColumn));
            }

            string[] header = records.Current.Fields.Select(h => h.Trim()).ToArray();
            var columns = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < header.Length; i++)
            {
                if (header[i].Length > 0 && !columns.TryAdd(header[i], i))
                {
                    result.Problems.Add((1, string.Format(CultureInfo.InvariantCulture, "the header names column '{0}' twice", header[i])));
                }
            }

            int Column(string name, string role)
            {
                if (columns.TryGetValue(name, out int index))
                {
                    return index;
                }

                string? similar = header.FirstOrDefault(h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));
                result.Problems.Add((1, string.Format(CultureInfo.InvariantCulture, "the header has no {0} column '{1}'{2} (columns: {3})", role, name, similar is null ? string.Empty : " (there is '" + similar + "': the case differs)", string.Join(", ", header.Take(30).Select(h => "'" + h + "'")))));
                return -1;
            }

            int pathColumn = Column(layout.PathColumn, "path");
            int classColumn = layout.ClassColumn is null ? -1 : Column(layout.ClassColumn, "class");
            int[] findingColumns = layout.FindingColumns?.Select(c => Column(c, "finding")).ToArray() ?? Array.Empty<int>();
            int findingsColumn = layout.FindingsColumn is null ? -1 : Column(layout.FindingsColumn, "findings");
            int patientColumn = layout.PatientColumn is null ? -1 : Column(layout.PatientColumn, "patient");
            int studyColumn = layout.StudyColumn is null ? -1 : Column(layout.StudyColumn, "study");
            int splitColumn = layout.SplitColumn is null ? -1 : Column(layout.SplitColumn, "split");
            int[] viewColumns = layout.ViewColumns.Select(c => Column(c, "view")).ToArray();
            (string Name, int Index)[] metadataColumns = layout.MetadataColumns.Select(c => (c, Column(c, "metadata"))).ToArray();
            if (result.Problems.Count > 0)
            {
                return result; // without its columns the rows cannot be checked
            }

            Dictionary<string, string>? byName = layout.PathsAreFileNames ? IndexFiles(root) : null;
            var firstRow = new Dictionary<string, int>(StringComparer.Ordinal);
            var pool = new Dictionary<string, string>(StringComparer.Ordinal); // one string per distinct metadata value
            string rootPrefix = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
            int missingFiles = 0;
            string? firstMissing = null;
            while (records.MoveNext())
            {
                CsvRecord record = records.Current;
                int number = record.Row;
                string[] f = record.Fields;
                if (f.Length != header.Length)
                {
                    result.Problems.Add((number, string.Format(CultureInfo.InvariantCulture, "has {0} fields; the header has {1}", f.Length, header.Length)));
                    continue;
                }

                int before = result.Problems.Count;
                string relative = f[pathColumn].Trim();
                string? full = null;
                if (relative.Length == 0)
                {
                    result.Problems.Add((number, "the path is empty"));
                }
                else if (byName is not null)
                {
                    if (!byName.TryGetValue(relative, out full))
                    {
                        missingFiles++;
                        firstMissing ??= relative;
                        MissingFile(result, options, number, relative, Path.Combine(root, relative), "no file of that name under " + root);
                    }
                    else if (full.Length == 0)
                    {
                        result.Problems.Add((number, string.Format(CultureInfo.InvariantCulture, "file name '{0}' is found more than once under {1}; give paths relative to the root instead", relative, root)));
                        full = null;
                    }
                }
                else if (relative.AsSpan().IndexOfAny(Path.GetInvalidPathChars()) >= 0)
                {
                    // Path.GetFullPath throws on these (a NUL byte on Linux): the cell, not the caller, is wrong.
                    result.Problems.Add((number, string.Format(CultureInfo.InvariantCulture, "path '{0}' holds a character no file path can hold (a NUL or control character); the cell is damaged", relative.Replace("\0", "\\0", StringComparison.Ordinal))));
                }
                else if (Path.IsPathRooted(relative))
                {
                    result.Problems.Add((number, string.Format(CultureInfo.InvariantCulture, "path '{0}' is absolute; paths must be relative to the root ({1})", relative, root)));
                }
                else
                {
                    full = Path.GetFullPath(Path.Combine(root, relative));
                    if (!full.StartsWith(rootPrefix, StringComparison.Ordinal))
                    {
                        result.Problems.Add((number, string.Format(CultureInfo.InvariantCulture, "path '{0}' leads outside the root ({1})", relative, root)));
                        full = null;
                    }
                    else if (!File.Exists(full))
                    {
                        missingFiles++;
                        firstMissing ??= relative;
                        MissingFile(result, options, number, relative, full, "no such file");
                        full = null;
                    }
                }

                if (full is not null && !firstRow.TryAdd(full, number))
                {
                    result.Problems.Add((number, string.Format(CultureInfo.InvariantCulture, "path '{0}' is listed again (first at row {1})", relative, firstRow[full])));
                    full = null;
                }

                string? className = null;
                if (classColumn >= 0)
                {
                    className = f[classColumn].Trim();
                    if (className.Length == 0)
                    {
                        result.Problems.Add((number, string.Format(CultureInfo.InvariantCulture, "the class ('{0}') is empty", layout.ClassColumn)));
                    }
                }

                FindingState[]? states = null;
                if (findingColumns.Length > 0)
                {
                    states = new FindingState[findingColumns.Length];
                    for (int k = 0; k < findingColumns.Length; k++)
                    {
                        string cell = f[findingColumns[k]].Trim();
                        FindingState? state = ParseState(cell);
                        if (state is null)
                        {
                            result.Problems.Add((number, string.Format(CultureInfo.InvariantCulture, "'{0}' is '{1}'; expected 1, 0, -1 (uncertain) or blank (missing)", layout.FindingColumns![k], Shorten(cell))));
                        }

                        states[k] = state ?? FindingState.Missing;
                    }
                }

                string[]? labels = null;
                if (findingsColumn >= 0)
                {
                    labels = f[findingsColumn].Split(layout.FindingsSeparator, StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                    if (labels.Length == 0)
                    {
                        result.Problems.Add((number, string.Format(CultureInfo.InvariantCulture, "'{0}' is empty{1}", layout.FindingsColumn, layout.NoFindingLabel is null ? string.Empty : "; write '" + layout.NoFindingLabel + "' for an image without findings")));
                    }
                    else if (layout.NoFindingLabel is not null && labels.Contains(layout.NoFindingLabel, StringComparer.Ordinal))
                    {
                        if (labels.Length > 1)
                        {
                            result.Problems.Add((number, string.Format(CultureInfo.InvariantCulture, "'{0}' lists '{1}' together with findings ('{2}')", layout.FindingsColumn, layout.NoFindingLabel, Shorten(f[findingsColumn]))));
                        }

                        labels = Array.Empty<string>();
                    }
                    else if (layout.Findings is not null)
                    {
                        foreach (string label in labels.Where(l => !layout.Findings.Contains(l, StringComparer.Ordinal)))
                        {
                            result.Problems.Add((number, string.Format(CultureInfo.InvariantCulture, "'{0}' names '{1}', which is not one of the findings ({2})", layout.FindingsColumn, Shorten(label), string.Join(", ", layout.Findings))));
                        }
                    }
                }

                string? splitName = null;
                if (splitColumn >= 0)
                {
                    splitName = f[splitColumn].Trim().ToLowerInvariant() switch
                    {
                        "train" or "training" => "train",
                        "validation" or "valid" or "val" => "validation",
                        "test" or "testing" => "test",
                        _ => null,
                    };
                    if (splitName is null)
                    {
                        result.Problems.Add((number, string.Format(CultureInfo.InvariantCulture, "'{0}' is '{1}'; expected train, validation or test", layout.SplitColumn, Shorten(f[splitColumn]))));
                    }
                }

                if (full is null || result.Problems.Count > before)
                {
                    continue;
                }

                string? patient = patientColumn >= 0 ? NullIfEmpty(f[patientColumn]) : Match(layout.PatientRegex, relative);
                string? study = studyColumn >= 0 ? NullIfEmpty(f[studyColumn]) : Match(layout.StudyRegex, relative);
                string? view = viewColumns.Select(c => NullIfEmpty(f[c])).FirstOrDefault(v => v is not null);
                Dictionary<string, string>? metadata = null;
                if (metadataColumns.Length > 0)
                {
                    metadata = new Dictionary<string, string>(metadataColumns.Length, StringComparer.Ordinal);
                    foreach ((string name, int index) in metadataColumns)
                    {
                        string value = f[index].Trim();
                        metadata[name] = pool.TryGetValue(value, out string? shared) ? shared : pool[value] = value;
                    }
                }

                result.Rows.Add(new Row(number, full, className, states, labels, patient, study, view, metadata));
                if (splitName is not null)
                {
                    result.SplitOf[full] = splitName;
                }
            }

            if (missingFiles > 0 && result.Rows.Count == 0 && firstMissing is not null && !layout.PathsAreFileNames)
            {
                // Every file is missing: most likely the root is wrong (CheXpert's paths start with its own folder).
                string? parent = Path.GetDirectoryName(root);
                if (parent is not null && File.Exists(Path.Combine(parent, firstMissing)))
                {
                    result.Problems.Insert(0, (1, string.Format(CultureInfo.InvariantCulture, "none of the {0} files exists under the root {1}, but '{2}' exists under {3}: pass ImageTableOptions.Root = \"{3}\"", missingFiles, root, firstMissing, parent)));
                }
            }

            return result;
        }

        private static void MissingFile(TableRows result, ImageTableOptions options, int number, string relative, string full, string why)
        {
            string problem = string.Format(CultureInfo.InvariantCulture, "file '{0}' does not exist ({1})", relative, why);
            if (options.MissingFiles == BadImagePolicy.Skip)
            {
                result.LeftOut.Add(new SkippedImage(full, string.Format(CultureInfo.InvariantCulture, "row {0} of {1}: {2}", number, result.Table, problem)));
                Log.TableRowLeftOut(options.Logger, result.Table, number, problem);
            }
            else
            {
                result.Problems.Add((number, problem));
            }
        }

        private static IReadOnlyList<ImageDataset> Build(IReadOnlyList<TableRows> tables, ImageTableLayout layout, ImageTableOptions options)
        {
            string[] classes;
            string[] findings;
            if (layout.ClassColumn is not null)
            {
                classes = tables.SelectMany(t => t.Rows).Select(r => r.Class!).Distinct(StringComparer.Ordinal).OrderBy(c => c, StringComparer.Ordinal).ToArray();
                findings = Array.Empty<string>();
                if (classes.Length < 2)
                {
                    throw new ImageDataException(tables[0].Table, string.Format(CultureInfo.InvariantCulture, "Table '{0}' has {1} class{2} in column '{3}'{4}; a classifier needs at least two.", tables[0].Table, classes.Length, classes.Length == 1 ? string.Empty : "es", layout.ClassColumn, classes.Length == 1 ? " ('" + classes[0] + "')" : string.Empty));
                }
            }
            else
            {
                findings = layout.FindingColumns?.ToArray()
                    ?? layout.Findings?.ToArray()
                    ?? tables.SelectMany(t => t.Rows).SelectMany(r => r.Labels!).Distinct(StringComparer.Ordinal).OrderBy(c => c, StringComparer.Ordinal).ToArray();
                classes = findings;
                if (findings.Length == 0)
                {
                    throw new ImageDataException(tables[0].Table, string.Format(CultureInfo.InvariantCulture, "Table '{0}' names no findings in column '{1}'.", tables[0].Table, layout.FindingsColumn));
                }
            }

            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < classes.Length; i++)
            {
                index[classes[i]] = i;
            }

            var datasets = new List<ImageDataset>();
            foreach (TableRows table in tables)
            {
                var samples = new List<ImageSample>(table.Rows.Count);
                foreach (Row row in table.Rows)
                {
                    FindingState[]? states = row.States;
                    if (row.Labels is not null)
                    {
                        states = new FindingState[findings.Length];
                        Array.Fill(states, FindingState.Negative);
                        foreach (string label in row.Labels)
                        {
                            states[index[label]] = FindingState.Positive;
                        }
                    }

                    samples.Add(new ImageSample(row.Path, row.Class is null ? -1 : index[row.Class])
                    {
                        PatientId = row.Patient,
                        StudyId = row.Study,
                        View = row.View,
                        Findings = states is null ? null : Array.AsReadOnly(states),
                        Metadata = row.Metadata,
                    });
                }

                if (samples.Count == 0)
                {
                    throw new ImageDataException(table.Table, string.Format(CultureInfo.InvariantCulture, "Table '{0}' lists no image{1}.", table.Table, table.LeftOut.Count > 0 ? string.Format(CultureInfo.InvariantCulture, " whose file exists ({0} rows left out)", table.LeftOut.Count) : string.Empty));
                }

                samples = ImageFolder.WithDicomMetadata(table.Root, samples, options.Logger);
                var dataset = new ImageDataset(table.Root, classes, samples, 0, findings, table.LeftOut);
                Log.TableLoaded(options.Logger, table.Table, dataset.Count, dataset.IsMultiLabel
                    ? string.Format(CultureInfo.InvariantCulture, "{0} findings, {1} rows left out", findings.Length, table.LeftOut.Count)
                    : string.Join(", ", classes.Select((c, i) => c + " " + dataset.Statistics.Counts[i].ToString(CultureInfo.InvariantCulture))) + string.Format(CultureInfo.InvariantCulture, "; {0} rows left out", table.LeftOut.Count));
                datasets.Add(dataset);
            }

            return datasets;
        }

        /// <summary>Every file under the root by file name; a name found twice maps to "" (ambiguous).</summary>
        private static Dictionary<string, string> IndexFiles(string root)
        {
            var index = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
            {
                string name = Path.GetFileName(file);
                index[name] = index.ContainsKey(name) ? string.Empty : file;
            }

            return index;
        }

        private static FindingState? ParseState(string cell)
        {
            if (cell.Length == 0)
            {
                return FindingState.Missing;
            }

            if (!double.TryParse(cell, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value))
            {
                return null;
            }

            return value switch
            {
                1 => FindingState.Positive,
                0 => FindingState.Negative,
                -1 => FindingState.Uncertain,
                _ => null,
            };
        }

        private static string? Match(System.Text.RegularExpressions.Regex? regex, string path)
        {
            if (regex is null)
            {
                return null;
            }

            System.Text.RegularExpressions.Match match = regex.Match(path.Replace('\\', '/'));
            return !match.Success ? null : match.Groups.Count > 1 && match.Groups[1].Success ? match.Groups[1].Value : match.Value;
        }

        private static string? NullIfEmpty(string value)
        {
            string trimmed = value.Trim();
            return trimmed.Length == 0 ? null : trimmed;
        }

        private static string Shorten(string text) => text.Length <= 40 ? text : text.Substring(0, 40) + "...";
    }
}
