using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using MedicalTransfer.Prediction;

namespace BatchPrediction
{
    /// <summary>
    /// predictions.csv, appended row by row and flushed after every batch. A kill can leave at most one partial last
    /// row; <see cref="OpenForResume"/> cuts the file back to its last complete row, so a resumed run neither repeats
    /// nor loses an image.
    /// </summary>
    internal sealed class PredictionCsv : IDisposable
    {
        private readonly FileStream _file;
        private readonly StreamWriter _writer;
        private readonly string _root;

        private PredictionCsv(FileStream file, string root)
        {
            _file = file;
            _root = root;
            _writer = new StreamWriter(file, new UTF8Encoding(false)) { NewLine = "\n" };
        }

        public static string Header(IReadOnlyList<string> classes) =>
            string.Join(",", new[] { "path" }.Concat(classes.Select(c => Quote("p_" + c))).Concat(new[] { "predicted", "error" }));

        public static PredictionCsv Create(string path, string root, IReadOnlyList<string> classes)
        {
            var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
            var csv = new PredictionCsv(file, root);
            csv._writer.WriteLine(Header(classes));
            csv.Flush();
            return csv;
        }

        /// <summary>Opens an interrupted run's file: checks its header, drops a partial last row, and returns the images already done.</summary>
        public static PredictionCsv OpenForResume(string path, string root, IReadOnlyList<string> classes, out HashSet<string> done)
        {
            var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
            try
            {
                byte[] bytes = new byte[file.Length];
                file.ReadExactly(bytes);
                int complete = Array.LastIndexOf(bytes, (byte)'\n') + 1;
                var text = Encoding.UTF8.GetString(bytes, 0, complete);
                var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                string header = Header(classes);
                if (complete == 0 && (header + "\n").StartsWith(Encoding.UTF8.GetString(bytes), StringComparison.Ordinal))
                {
                    // Killed between creating the file and writing its header: nothing was done yet, start it over.
                    done = new HashSet<string>(StringComparer.Ordinal);
                    file.SetLength(0);
                    var fresh = new PredictionCsv(file, root);
                    fresh._writer.WriteLine(header);
                    fresh.Flush();
                    return fresh;
                }

                if (lines.Length == 0 || lines[0] != header)
                {
                    throw new ArgumentException($"--out: '{path}' was not written for this model (its header is '{(lines.Length == 0 ? "empty" : lines[0])}', this model's is '{header}'); choose another file.");
                }

                done = new HashSet<string>(lines.Skip(1).Select(FirstField), StringComparer.Ordinal);
                file.SetLength(complete);
                file.Position = complete;
                return new PredictionCsv(file, root);
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }

        public string RelativePath(string path) => Path.GetRelativePath(_root, path).Replace('\\', '/');

        public void Write(ImagePrediction p)
        {
            var fields = new List<string> { Quote(RelativePath(p.Source)) };
            fields.AddRange(p.Succeeded ? p.Probabilities.Select(v => v.ToString("R", CultureInfo.InvariantCulture)) : p.ClassNames.Select(_ => string.Empty));
            fields.Add(Quote(p.PredictedClass ?? string.Empty));
            fields.Add(Quote(p.Error ?? string.Empty));
            _writer.WriteLine(string.Join(",", fields));
        }

        /// <summary>Hands the rows written so far to the operating system: they survive a kill of this process.</summary>
        public void Flush()
        {
            _writer.Flush();
            _file.Flush();
        }

        public void Dispose()
        {
            _writer.Flush();
            _file.Flush(flushToDisk: true);
            _writer.Dispose();
        }

        private static string Quote(string value) =>
            value.IndexOfAny(new[] { ',', '"', '\n', '\r' }) < 0 ? value : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal).Replace("\r", " ", StringComparison.Ordinal) + "\"";

        private static string FirstField(string line)
        {
            if (!line.StartsWith('"'))
            {
                int comma = line.IndexOf(',', StringComparison.Ordinal);
                return comma < 0 ? line : line[..comma];
            }

            var value = new StringBuilder();
            for (int i = 1; i < line.Length; i++)
            {
                if (line[i] == '"')
                {
                    if (i + 1 < line.Length && line[i + 1] == '"')
                    {
                        value.Append('"');
                        i++;
                        continue;
                    }

                    break;
                }

                value.Append(line[i]);
            }

            return value.ToString();
        }
    }
}
