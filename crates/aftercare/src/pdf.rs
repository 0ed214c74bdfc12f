//! A small PDF writer for letters and invoices: text in the standard
//! Helvetica fonts (no font files, nothing downloaded), headings, paragraphs
//! that wrap, and simple tables, over as many A4 pages as needed. Pure: bytes
//! out, no IO.

/// One block of a document.
#[derive(Debug, Clone)]
pub enum Block {
    Heading(String),
    Paragraph(String),
    /// Column headers, then rows; columns share the page width by the given weights.
    Table {
        widths: Vec<u32>,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Space,
}

const PAGE_W: i64 = 595;
const PAGE_H: i64 = 842;
const MARGIN: i64 = 56;
const BODY: i64 = 10;
const HEAD: i64 = 15;

/// Maps a character to WinAnsiEncoding (the standard fonts' encoding).
fn win_ansi(c: char) -> u8 {
    match c {
        ' '..='~' => c as u8,
        '£' => 0xA3,
        '–' => 0x96,
        '—' => 0x97,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '€' => 0x80,
        c if ('\u{A0}'..='\u{FF}').contains(&c) => c as u32 as u8,
        _ => b'?',
    }
}

/// A PDF string literal, escaped, non-ASCII bytes as octal.
fn literal(s: &str) -> String {
    let mut out = String::from("(");
    for c in s.chars() {
        match win_ansi(c) {
            b'(' => out.push_str("\\("),
            b')' => out.push_str("\\)"),
            b'\\' => out.push_str("\\\\"),
            b if b.is_ascii() && b >= 0x20 => out.push(b as char),
            b => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out.push(')');
    out
}

/// Approximate width of text in points (Helvetica averages about half the
/// font size per character); good enough to wrap and to fit columns.
fn width(text: &str, size: i64) -> i64 {
    text.chars().count() as i64 * size * 52 / 100
}

fn wrap(text: &str, size: i64, max: i64) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let candidate =
                if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
            if width(&candidate, size) > max && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line = word.to_string();
            } else {
                line = candidate;
            }
        }
        lines.push(line);
    }
    lines
}

struct Layout {
    pages: Vec<String>,
    current: String,
    y: i64,
}

impl Layout {
    fn new() -> Layout {
        Layout { pages: Vec::new(), current: String::new(), y: PAGE_H - MARGIN }
    }

    fn need(&mut self, height: i64) {
        if self.y - height < MARGIN {
            self.pages.push(std::mem::take(&mut self.current));
            self.y = PAGE_H - MARGIN;
        }
    }

    fn text(&mut self, x: i64, font: &str, size: i64, s: &str) {
        self.current.push_str(&format!(
            "BT /{font} {size} Tf {x} {} Td {} Tj ET\n",
            self.y,
            literal(s)
        ));
    }
}

/// Renders the blocks as a PDF with a title in its metadata.
pub fn render(title: &str, blocks: &[Block]) -> Vec<u8> {
    let mut l = Layout::new();
    let usable = PAGE_W - 2 * MARGIN;
    for block in blocks {
        match block {
            Block::Heading(h) => {
                for line in wrap(h, HEAD, usable) {
                    l.need(HEAD + 8);
                    l.y -= HEAD + 4;
                    l.text(MARGIN, "F2", HEAD, &line);
                }
                l.y -= 6;
            }
            Block::Paragraph(p) => {
                for line in wrap(p, BODY, usable) {
                    l.need(BODY + 4);
                    l.y -= BODY + 4;
                    l.text(MARGIN, "F1", BODY, &line);
                }
                l.y -= 6;
            }
            Block::Space => l.y -= BODY,
            Block::Table { widths, header, rows } => {
                let total: i64 = widths.iter().map(|w| i64::from(*w)).sum::<i64>().max(1);
                let xs: Vec<(i64, i64)> = widths
                    .iter()
                    .scan(MARGIN, |x, w| {
                        let col = usable * i64::from(*w) / total;
                        let start = *x;
                        *x += col;
                        Some((start, col - 6))
                    })
                    .collect();
                let draw_row = |l: &mut Layout, cells: &[String], font: &str| {
                    let wrapped: Vec<Vec<String>> =
                        cells.iter().zip(&xs).map(|(c, (_, w))| wrap(c, BODY - 1, *w)).collect();
                    let height = wrapped.iter().map(Vec::len).max().unwrap_or(1) as i64;
                    l.need(height * (BODY + 3) + 4);
                    let top = l.y;
                    for (cell, (x, _)) in wrapped.iter().zip(&xs) {
                        l.y = top;
                        for line in cell {
                            l.y -= BODY + 3;
                            l.text(*x, font, BODY - 1, line);
                        }
                    }
                    l.y = top - height * (BODY + 3) - 4;
                };
                draw_row(&mut l, header, "F2");
                for row in rows {
                    draw_row(&mut l, row, "F1");
                }
                l.y -= 6;
            }
        }
    }
    l.pages.push(l.current);

    // Objects: 1 catalog, 2 pages, 3 and 4 fonts, 5 info, then page/content pairs.
    let mut objects: Vec<String> = Vec::new();
    let page_ids: Vec<usize> = (0..l.pages.len()).map(|i| 6 + 2 * i).collect();
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    objects.push(format!(
        "<< /Type /Pages /Kids [{}] /Count {} >>",
        page_ids.iter().map(|i| format!("{i} 0 R")).collect::<Vec<_>>().join(" "),
        l.pages.len()
    ));
    objects.push(
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into(),
    );
    objects.push(
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
            .into(),
    );
    objects.push(format!("<< /Title {} /Producer (Aftercare) >>", literal(title)));
    for (i, content) in l.pages.iter().enumerate() {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
            page_ids[i] + 1
        ));
        objects.push(format!("<< /Length {} >>\nstream\n{content}endstream", content.len()));
    }
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{o}\nendobj\n", i + 1));
    }
    let xref = out.len();
    out.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1));
    for off in offsets {
        out.push_str(&format!("{off:010} 00000 n \n"));
    }
    out.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_well_formed_pdf() {
        let rows: Vec<Vec<String>> =
            (0..120).map(|i| vec![format!("client {i}"), "£1,499.99".into()]).collect();
        let pdf = render(
            "Invoice (Q1)",
            &[
                Block::Heading("Invoice".into()),
                Block::Paragraph("Amounts in £ – pounds".into()),
                Block::Table {
                    widths: vec![3, 1],
                    header: vec!["Client".into(), "Amount".into()],
                    rows,
                },
            ],
        );
        let text = String::from_utf8(pdf).unwrap();
        assert!(text.starts_with("%PDF-1.4") && text.ends_with("%%EOF\n"));
        assert!(text.contains("/Count 3"), "120 rows need more than one page");
        assert!(text.contains("(\\2431,499.99)"), "the pound sign is WinAnsi 0xA3");
        // Every xref offset points at an object header.
        let xref = text.find("xref\n").unwrap();
        for line in text[xref..].lines().skip(3).take_while(|l| l.ends_with(" n ")) {
            let off: usize = line[..10].parse().unwrap();
            assert!(text[off..].split_whitespace().nth(1) == Some("0"), "{line}");
        }
    }

    #[test]
    fn escapes_brackets() {
        assert_eq!(literal("a (b) \\"), "(a \\(b\\) \\\\)");
    }
}
