using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text;

namespace MedicalTransfer.Reporting
{
    /// <summary>
    /// The study report as a small document model (sections of paragraphs, tables, lists and figures), rendered
    /// once to self-contained HTML and once to Markdown, so both say exactly the same.
    /// </summary>
    internal sealed class StudyDocument
    {
        public StudyDocument(string title) => Title = title;

        public string Title { get; }

        public List<string> Subtitle { get; } = new();

        public List<Section> Sections { get; } = new();

        public Section Add(string id, string heading)
        {
            var section = new Section(id, heading);
            Sections.Add(section);
            return section;
        }

        public string ToHtml()
        {
            var sb = new StringBuilder();
            sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
            sb.Append("<title>").Append(E(Title)).Append("</title>\n<style>\n").Append(Css).Append("</style>\n</head>\n<body>\n<main>\n");
            sb.Append("<h1>").Append(E(Title)).Append("</h1>\n");
            foreach (var line in Subtitle)
            {
                sb.Append("<p class=\"meta\">").Append(E(line)).Append("</p>\n");
            }

            sb.Append("<nav><strong>Contents</strong><ol>");
            foreach (var s in Sections)
            {
                sb.Append("<li><a href=\"#").Append(s.Id).Append("\">").Append(E(s.Heading)).Append("</a></li>");
            }

            sb.Append("</ol></nav>\n");
            foreach (var s in Sections)
            {
                sb.Append("<section id=\"").Append(s.Id).Append("\">\n<h2>").Append(E(s.Heading)).Append("</h2>\n");
                foreach (var block in s.Blocks)
                {
                    block.Html(sb);
                }

                sb.Append("</section>\n");
            }

            sb.Append("</main>\n</body>\n</html>\n");
            return sb.ToString();
        }

        public string ToMarkdown(Func<Figure, string> figurePath)
        {
            var sb = new StringBuilder();
            sb.Append("# ").Append(Title).Append("\n\n");
            foreach (var line in Subtitle)
            {
                sb.Append(line).Append("  \n");
            }

            sb.Append('\n');
            foreach (var s in Sections)
            {
                sb.Append("## ").Append(s.Heading).Append("\n\n");
                foreach (var block in s.Blocks)
                {
                    block.Markdown(sb, figurePath);
                }
            }

            return sb.ToString();
        }

        internal static string E(string text) => WebUtility.HtmlEncode(text);

        private const string Css = @"body { font-family: 'DejaVu Sans', 'Segoe UI', Helvetica, Arial, sans-serif; color: #1a1a1a; background: #fff; margin: 0; line-height: 1.45; font-size: 15px; }
main { max-width: 980px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 20px; border-bottom: 2px solid #2b5d8a; padding-bottom: 3px; margin-top: 34px; color: #1f4466; }
h3 { font-size: 16px; margin: 20px 0 6px; }
p.meta { color: #555; margin: 2px 0; font-size: 13px; }
nav { background: #f3f6f9; border: 1px solid #d8e0e8; padding: 8px 14px; margin: 16px 0; font-size: 13px; }
nav ol { columns: 2; margin: 6px 0 0; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 13px; width: auto; max-width: 100%; }
th, td { border: 1px solid #c9d1d9; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef2f6; }
table.checklist { width: 100%; }
table.checklist td:nth-child(3) { width: 40%; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.flag td { background: #fff4e0; }
.filled { color: #1d6b2f; }
.author { color: #8a5a00; font-weight: bold; }
figure { margin: 12px 0 18px; page-break-inside: avoid; break-inside: avoid; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 13px; color: #444; margin-top: 4px; }
.note { background: #fff8e5; border-left: 4px solid #e0a800; padding: 6px 10px; font-size: 13px; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  h2 { page-break-after: avoid; break-after: avoid; }
  table, figure { page-break-inside: avoid; break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
";

        internal sealed class Section
        {
            public Section(string id, string heading)
            {
                Id = id;
                Heading = heading;
            }

            public string Id { get; }

            public string Heading { get; }

            public List<Block> Blocks { get; } = new();

            public Section Heading3(string text)
            {
                Blocks.Add(new SubHeading(text));
                return this;
            }

            public Section Paragraph(string text)
            {
                Blocks.Add(new Paragraph(text, false));
                return this;
            }

            public Section Note(string text)
            {
                Blocks.Add(new Paragraph(text, true));
                return this;
            }

            public Section Bullets(IEnumerable<string> items)
            {
                Blocks.Add(new BulletList(items.ToArray()));
                return this;
            }

            public Table Table(params string[] headers)
            {
                var table = new Table(headers, null);
                Blocks.Add(table);
                return table;
            }

            public Table StyledTable(string cssClass, params string[] headers)
            {
                var table = new Table(headers, cssClass);
                Blocks.Add(table);
                return table;
            }

            public Section Figure(Figure figure)
            {
                Blocks.Add(figure);
                return this;
            }
        }

        internal abstract class Block
        {
            public abstract void Html(StringBuilder sb);

            public abstract void Markdown(StringBuilder sb, Func<Figure, string> figurePath);
        }

        internal sealed class SubHeading : Block
        {
            private readonly string text;

            public SubHeading(string text) => this.text = text;

            public override void Html(StringBuilder sb) => sb.Append("<h3>").Append(E(text)).Append("</h3>\n");

            public override void Markdown(StringBuilder sb, Func<Figure, string> figurePath) => sb.Append("### ").Append(text).Append("\n\n");
        }

        internal sealed class Paragraph : Block
        {
            private readonly string text;
            private readonly bool note;

            public Paragraph(string text, bool note)
            {
                this.text = text;
                this.note = note;
            }

            public override void Html(StringBuilder sb) => sb.Append(note ? "<p class=\"note\">" : "<p>").Append(E(text)).Append("</p>\n");

            public override void Markdown(StringBuilder sb, Func<Figure, string> figurePath) => sb.Append(note ? "> " : string.Empty).Append(text).Append("\n\n");
        }

        internal sealed class BulletList : Block
        {
            private readonly string[] items;

            public BulletList(string[] items) => this.items = items;

            public override void Html(StringBuilder sb)
            {
                sb.Append("<ul>");
                foreach (var item in items)
                {
                    sb.Append("<li>").Append(E(item)).Append("</li>");
                }

                sb.Append("</ul>\n");
            }

            public override void Markdown(StringBuilder sb, Func<Figure, string> figurePath)
            {
                foreach (var item in items)
                {
                    sb.Append("- ").Append(item).Append('\n');
                }

                sb.Append('\n');
            }
        }

        /// <summary>A table; cells that look like numbers are right-aligned, rows can be flagged (highlighted).</summary>
        internal sealed class Table : Block
        {
            private readonly string[] headers;
            private readonly string? cssClass;
            private readonly List<(string[] Cells, bool Flag)> rows = new();

            public Table(string[] headers, string? cssClass)
            {
                this.headers = headers;
                this.cssClass = cssClass;
            }

            public int Count => rows.Count;

            public Table Row(params string[] cells) => Row(false, cells);

            public Table Row(bool flag, params string[] cells)
            {
                if (cells.Length != headers.Length)
                {
                    throw new ArgumentException(string.Format(CultureInfo.InvariantCulture, "A row of this table needs {0} cells; found {1}.", headers.Length, cells.Length), nameof(cells));
                }

                rows.Add((cells, flag));
                return this;
            }

            public override void Html(StringBuilder sb)
            {
                sb.Append(cssClass is null ? "<table>" : "<table class=\"" + cssClass + "\">").Append("\n<thead><tr>");
                foreach (var h in headers)
                {
                    sb.Append("<th>").Append(E(h)).Append("</th>");
                }

                sb.Append("</tr></thead>\n<tbody>\n");
                foreach (var (cells, flag) in rows)
                {
                    sb.Append(flag ? "<tr class=\"flag\">" : "<tr>");
                    foreach (var c in cells)
                    {
                        // A list of ranges ("0.03-0.05, 0.09-0.78") may wrap; single figures never do.
                        string css = IsNumeric(c) && !c.Contains(", ", StringComparison.Ordinal) ? " class=\"num\"" : c.StartsWith("filled", StringComparison.Ordinal) ? " class=\"filled\"" : c.StartsWith("for the author", StringComparison.Ordinal) ? " class=\"author\"" : string.Empty;
                        sb.Append("<td").Append(css).Append('>').Append(E(c)).Append("</td>");
                    }

                    sb.Append("</tr>\n");
                }

                sb.Append("</tbody>\n</table>\n");
            }

            public override void Markdown(StringBuilder sb, Func<Figure, string> figurePath)
            {
                sb.Append("| ").Append(string.Join(" | ", headers.Select(Cell))).Append(" |\n");
                sb.Append('|').Append(string.Join("|", headers.Select(_ => "---"))).Append("|\n");
                foreach (var (cells, flag) in rows)
                {
                    sb.Append("| ").Append(string.Join(" | ", cells.Select((c, i) => i == 0 && flag ? "**" + Cell(c) + "** (!)" : Cell(c)))).Append(" |\n");
                }

                sb.Append('\n');
            }

            private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

            private static bool IsNumeric(string cell) => cell.Length > 0 && (char.IsDigit(cell[0]) || ((cell[0] == '-' || cell[0] == '+') && cell.Length > 1 && char.IsDigit(cell[1])));
        }

        /// <summary>A PNG figure: embedded as base64 in the HTML, written as a file next to the Markdown.</summary>
        internal sealed class Figure : Block
        {
            public Figure(string fileName, string caption, byte[] png)
            {
                FileName = fileName;
                Caption = caption;
                Png = png;
            }

            public string FileName { get; }

            public string Caption { get; }

            public byte[] Png { get; }

            public override void Html(StringBuilder sb) => sb
                .Append("<figure><img alt=\"").Append(E(Caption)).Append("\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(Png)).Append("\">")
                .Append("<figcaption>").Append(E(Caption)).Append("</figcaption></figure>\n");

            public override void Markdown(StringBuilder sb, Func<Figure, string> figurePath) =>
                sb.Append("![").Append(Caption.Replace("]", ")", StringComparison.Ordinal)).Append("](").Append(figurePath(this)).Append(")\n\n*").Append(Caption).Append("*\n\n");
        }
    }
}
