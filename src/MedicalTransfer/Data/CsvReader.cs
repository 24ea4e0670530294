using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;

namespace MedicalTransfer.Data
{
    /// <summary>One record of a table: its row number (the header is row 1) and its fields.</summary>
    internal readonly record struct CsvRecord(int Row, int Line, string[] Fields);

    /// <summary>
    /// A strict reader of delimited text (RFC 4180): fields separated by the delimiter, records by
    /// LF or CRLF; a field that starts with a double quote is quoted and runs to the next lone
    /// quote, "" standing for one quote, and may hold delimiters and line breaks. Anything else is
    /// an error naming the table, the row and the line: a quote inside an unquoted field, text after
    /// a closing quote, a quote left open at the end, text that is not UTF-8. Tables come from
    /// outside, so field length and field count are bounded. Blank lines are skipped.
    /// </summary>
    internal static class CsvReader
    {
        public const int MaxFieldLength = 1 << 20;
        public const int MaxFields = 10_000;

        public static char DelimiterFor(string path) => Path.GetExtension(path).ToLowerInvariant() is ".tsv" or ".tab" ? '\t' : ',';

        public static IEnumerable<CsvRecord> Read(string path, char delimiter)
        {
            var encoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
            StreamReader reader;
            try
            {
                reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 65536, FileOptions.SequentialScan), encoding, detectEncodingFromByteOrderMarks: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ImageDataException(path, string.Format(CultureInfo.InvariantCulture, "Table '{0}' cannot be read: {1} Check that it exists and is readable.", path, e.Message), e);
            }

            using (reader)
            {
                foreach (CsvRecord record in Parse(path, reader, delimiter))
                {
                    yield return record;
                }
            }
        }

        /// <summary>Parses delimited text from a reader (the table's name is for messages).</summary>
        public static IEnumerable<CsvRecord> Parse(string name, TextReader reader, char delimiter)
        {
            var fields = new List<string>();
            var field = new StringBuilder();
            int line = 1, recordLine = 1, row = 0;
            bool quoted = false, afterQuote = false, fieldStarted = false;
            while (true)
            {
                int next = Next(reader, peek: false, name, line);

                if (next < 0)
                {
                    if (quoted && !afterQuote)
                    {
                        throw Fail(name, row + 1, recordLine, "a quoted field is never closed: the table ends inside it. Close the quote (a quote inside a quoted field is written \"\").");
                    }

                    if (fieldStarted || fields.Count > 0)
                    {
                        fields.Add(field.ToString());
                        row++;
                        yield return new CsvRecord(row, recordLine, fields.ToArray());
                    }

                    yield break;
                }

                char c = (char)next;
                if (quoted && !afterQuote)
                {
                    if (c == '"')
                    {
                        afterQuote = true;
                    }
                    else
                    {
                        if (c == '\n')
                        {
                            line++;
                        }

                        Append(field, c, name, row + 1, recordLine);
                    }

                    continue;
                }

                if (quoted && afterQuote && c == '"')
                {
                    // "" inside a quoted field: one quote.
                    afterQuote = false;
                    Append(field, '"', name, row + 1, recordLine);
                    continue;
                }

                if (c == delimiter || c == '\n' || c == '\r')
                {
                    if (c == '\r')
                    {
                        if (Next(reader, peek: true, name, line) == '\n')
                        {
                            reader.Read();
                        }
                        else
                        {
                            throw Fail(name, row + 1, recordLine, "has a carriage return that is not followed by a line feed; records end with LF or CRLF.");
                        }
                    }

                    fields.Add(field.ToString());
                    field.Clear();
                    quoted = afterQuote = fieldStarted = false;
                    if (fields.Count > MaxFields)
                    {
                        throw Fail(name, row + 1, recordLine, string.Format(CultureInfo.InvariantCulture, "has more than {0} fields; this is not a label table.", MaxFields));
                    }

                    if (c != delimiter)
                    {
                        line++;
                        bool blank = fields.Count == 1 && fields[0].Length == 0;
                        if (!blank)
                        {
                            row++;
                            yield return new CsvRecord(row, recordLine, fields.ToArray());
                        }

                        fields.Clear();
                        recordLine = line;
                    }

                    continue;
                }

                if (afterQuote)
                {
                    throw Fail(name, row + 1, recordLine, string.Format(CultureInfo.InvariantCulture, "has text after the closing quote of field {0}; a quoted field must end at a delimiter or the end of the line (a quote inside it is written \"\").", fields.Count + 1));
                }

                if (c == '"')
                {
                    if (fieldStarted)
                    {
                        throw Fail(name, row + 1, recordLine, string.Format(CultureInfo.InvariantCulture, "has a double quote inside unquoted field {0}; quote the whole field and write the quote as \"\" (RFC 4180).", fields.Count + 1));
                    }

                    quoted = true;
                    fieldStarted = true;
                    continue;
                }

                fieldStarted = true;
                Append(field, c, name, row + 1, recordLine);
            }
        }

        /// <summary>Reads or peeks one character; bytes that are not UTF-8 (found by either, as the reader decodes ahead) are the table's fault.</summary>
        private static int Next(TextReader reader, bool peek, string name, int line)
        {
            try
            {
                return peek ? reader.Peek() : reader.Read();
            }
            catch (DecoderFallbackException e)
            {
                throw new ImageDataException(name, string.Format(CultureInfo.InvariantCulture, "Table '{0}' is not UTF-8 text (line {1}: {2}). Save it as UTF-8 (Excel: 'CSV UTF-8').", name, line, e.Message), e);
            }
        }

        private static void Append(StringBuilder field, char c, string name, int row, int line)
        {
            if (field.Length >= MaxFieldLength)
            {
                throw Fail(name, row, line, string.Format(CultureInfo.InvariantCulture, "has a field longer than {0} characters; this is not a label table (or a quote was left open).", MaxFieldLength));
            }

            field.Append(c);
        }

        private static ImageDataException Fail(string name, int row, int line, string problem) =>
            new(name, string.Format(CultureInfo.InvariantCulture, "Table '{0}' row {1} (line {2}) {3}", name, row, line, problem));
    }
}
