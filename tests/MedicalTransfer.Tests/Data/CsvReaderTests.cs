using System;
using System.IO;
using System.Linq;
using MedicalTransfer.Data;
using Xunit;

namespace MedicalTransfer.Tests.Data
{
    public sealed class CsvReaderTests
    {
        private static CsvRecord[] Parse(string text, char delimiter = ',') => CsvReader.Parse("t.csv", new StringReader(text), delimiter).ToArray();

        [Fact]
        public void Parse_Rfc4180Quoting_GivesTheFields()
        {
            CsvRecord[] records = Parse("Path,Label\r\n\"a,b.png\",\"say \"\"hi\"\"\"\n\"multi\nline.png\",x\n,\n\"\",\"\"\n");

            Assert.Equal(new[] { "Path", "Label" }, records[0].Fields);
            Assert.Equal(new[] { "a,b.png", "say \"hi\"" }, records[1].Fields);
            Assert.Equal(new[] { "multi\nline.png", "x" }, records[2].Fields);
            Assert.Equal(new[] { string.Empty, string.Empty }, records[3].Fields);
            Assert.Equal(new[] { string.Empty, string.Empty }, records[4].Fields);
            Assert.Equal(new[] { 1, 2, 3, 4, 5 }, records.Select(r => r.Row));
            Assert.Equal(new[] { 1, 2, 3, 5, 6 }, records.Select(r => r.Line)); // the quoted line break counts as a line
        }

        [Fact]
        public void Parse_TabsBlankLinesAndNoFinalNewline_AreHandled()
        {
            CsvRecord[] records = Parse("a\tb\n\n1\t2", '\t');

            Assert.Equal(2, records.Length);
            Assert.Equal(new[] { "1", "2" }, records[1].Fields);
            Assert.Equal(2, records[1].Row);
        }

        [Theory]
        [InlineData("a,b\n1,x\"y\n", "row 2 (line 2) has a double quote inside unquoted field 2")]
        [InlineData("a,b\n\"1\"x,y\n", "row 2 (line 2) has text after the closing quote of field 1")]
        [InlineData("a,b\n1,\"open\n2,3\n", "row 2 (line 2) a quoted field is never closed")]
        [InlineData("a,b\r1,2\n", "row 1 (line 1) has a carriage return that is not followed by a line feed")]
        public void Parse_MalformedText_NamesTheRowAndTheProblem(string text, string expected)
        {
            var e = Assert.Throws<ImageDataException>(() => Parse(text));

            Assert.Equal("t.csv", e.Path);
            Assert.Contains("Table 't.csv' " + expected, e.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void Read_NotUtf8_IsRefused()
        {
            string path = Path.Combine(Path.GetTempPath(), "mt-csv-" + Guid.NewGuid().ToString("N") + ".csv");
            File.WriteAllBytes(path, new byte[] { (byte)'a', (byte)'\n', 0xC3, 0x28, (byte)'\n' });
            try
            {
                var e = Assert.Throws<ImageDataException>(() => CsvReader.Read(path, ',').ToArray());
                Assert.Contains("is not UTF-8 text", e.Message, StringComparison.Ordinal);
            }
            finally
            {
                File.Delete(path);
            }
        }

        [Fact]
        public void Parse_HugeFieldOrTooManyFields_IsRefusedBeforeItExhaustsMemory()
        {
            var field = Assert.Throws<ImageDataException>(() => Parse("a\n\"" + new string('x', CsvReader.MaxFieldLength + 10)));
            var fields = Assert.Throws<ImageDataException>(() => Parse(string.Join(",", Enumerable.Repeat("x", CsvReader.MaxFields + 5)) + "\n"));

            Assert.Contains("a field longer than 1048576 characters", field.Message, StringComparison.Ordinal);
            Assert.Contains("more than 10000 fields", fields.Message, StringComparison.Ordinal);
        }
    }
}
