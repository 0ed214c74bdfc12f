//! Letters, fact sheets and invoices as tagged PDF (PDF/UA-1, through the
//! `krilla` crate) in embedded open fonts (Noto Sans, Noto Sans CJK) found on
//! the machine at run time: each run of text is set in the first font that
//! has its glyphs, and a character no font has is an error, never a `?`.
//! Headings, paragraphs that wrap, address lines and tables (right-aligned
//! columns for amounts) over as many A4 pages as needed.

use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use krilla::Document;
use krilla::configure::{Accessibility, ConfigurationBuilder};
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::paint::Stroke;
use krilla::surface::Surface;
use krilla::tagging::{
    Artifact, ArtifactType, ContentTag, Identifier, SpanTag, TableHeaderScope, Tag, TagGroup,
    TagKind, TagTree,
};
use krilla::text::{Font, TextDirection};
use krilla::{SerializeSettings, destination::XyzDestination};
use skrifa::MetadataProvider;
use skrifa::instance::{LocationRef, Size};

/// The documents' language (PDF/UA requires one).
pub const LANGUAGE: &str = "en-GB";

/// One block of a document.
#[derive(Debug, Clone)]
pub enum Block {
    /// The letterhead: the document's first heading, large and bold.
    Title(String),
    Heading(String),
    /// Wraps to the page width; a `\n` starts a new line.
    Paragraph(String),
    /// Lines kept as they are (an address, a reference block), one paragraph.
    Lines(Vec<String>),
    /// Column headers, then rows; columns share the page width by the given
    /// weights; a column whose `right` is true is right-aligned (amounts).
    Table {
        widths: Vec<u32>,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        right: Vec<bool>,
    },
    Space,
}

/// Type sizes: the standard letter, or easy read (large type, wide spacing).
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub body: f32,
    pub leading: f32,
}

impl Style {
    pub const STANDARD: Style = Style { body: 11.0, leading: 1.4 };
    /// Easy read: 16 point type with generous line spacing.
    pub const EASY_READ: Style = Style { body: 16.0, leading: 1.6 };
}

/// Why a PDF could not be made.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PdfError {
    #[error(
        "the {role} font is missing: none of {tried} exists (install the Debian packages fonts-noto-core and fonts-noto-cjk, or set AFTERCARE_FONT_DIR to a folder holding {file})"
    )]
    MissingFont { role: &'static str, file: &'static str, tried: String },
    #[error("the font file {0} could not be read as a font")]
    BadFont(String),
    #[error(
        "no installed font has a glyph for {ch:?} (U+{code:04X}); install a Noto font that covers it"
    )]
    NoGlyph { ch: char, code: u32 },
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

impl From<PdfError> for crate::error::ServiceError {
    fn from(e: PdfError) -> Self {
        crate::error::ServiceError::Internal(e.to_string())
    }
}

// ------------------------------------------------------------------ fonts

/// One font face: the bytes (for measuring) and krilla's handle (for drawing).
struct Face {
    data: Arc<Vec<u8>>,
    index: u32,
    font: Font,
}

impl Face {
    fn load(path: &Path, index: u32) -> Result<Face, PdfError> {
        let bytes =
            std::fs::read(path).map_err(|_| PdfError::BadFont(path.display().to_string()))?;
        let data = Arc::new(bytes);
        skrifa::FontRef::from_index(&data, index)
            .map_err(|_| PdfError::BadFont(path.display().to_string()))?;
        let font = Font::new(data.clone().into(), index)
            .ok_or_else(|| PdfError::BadFont(path.display().to_string()))?;
        Ok(Face { data, index, font })
    }

    fn font_ref(&self) -> skrifa::FontRef<'_> {
        // Checked when loaded.
        skrifa::FontRef::from_index(&self.data, self.index).expect("font checked when loaded")
    }

    fn has(&self, c: char) -> bool {
        self.font_ref().charmap().map(c).is_some()
    }
}

/// The fonts in their fallback order, regular and bold.
struct Fonts {
    regular: Vec<Face>,
    bold: Vec<Face>,
}

/// Folders searched for each font file, `AFTERCARE_FONT_DIR` first.
fn font_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("AFTERCARE_FONT_DIR") {
        dirs.push(PathBuf::from(d));
    }
    dirs.push("/usr/share/fonts/truetype/noto".into());
    dirs.push("/usr/share/fonts/opentype/noto".into());
    dirs.push("/usr/share/fonts/noto".into());
    dirs.push("/usr/share/fonts/noto-cjk".into());
    dirs
}

fn find(file: &str) -> Option<PathBuf> {
    font_dirs().into_iter().map(|d| d.join(file)).find(|p| p.is_file())
}

fn required(role: &'static str, file: &'static str) -> Result<Face, PdfError> {
    match find(file) {
        Some(p) => Face::load(&p, 0),
        None => Err(PdfError::MissingFont {
            role,
            file,
            tried: font_dirs()
                .iter()
                .map(|d| d.join(file).display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Scripts beyond Latin, Greek, Cyrillic, Vietnamese and CJK, used when
/// installed (all in `fonts-noto-core`).
const OPTIONAL: [&str; 9] = [
    "NotoSansArabic",
    "NotoSansHebrew",
    "NotoSansDevanagari",
    "NotoSansBengali",
    "NotoSansGurmukhi",
    "NotoSansGujarati",
    "NotoSansTamil",
    "NotoSansThai",
    "NotoSansSinhala",
];

fn load_fonts() -> Result<Fonts, PdfError> {
    let mut regular = vec![
        required("Latin", "NotoSans-Regular.ttf")?,
        required("CJK", "NotoSansCJK-Regular.ttc")?,
    ];
    let mut bold = vec![
        required("bold Latin", "NotoSans-Bold.ttf")?,
        required("bold CJK", "NotoSansCJK-Bold.ttc")?,
    ];
    for name in OPTIONAL {
        if let Some(p) = find(&format!("{name}-Regular.ttf")) {
            regular.push(Face::load(&p, 0)?);
        }
        if let Some(p) = find(&format!("{name}-Bold.ttf")) {
            bold.push(Face::load(&p, 0)?);
        }
    }
    Ok(Fonts { regular, bold })
}

/// The fonts, read from disk once per process.
fn fonts() -> Result<&'static Fonts, PdfError> {
    static FONTS: OnceLock<Result<Fonts, PdfError>> = OnceLock::new();
    FONTS.get_or_init(load_fonts).as_ref().map_err(Clone::clone)
}

/// Checks that the fonts are installed (for a start-up check or a test).
pub fn check_fonts() -> Result<(), PdfError> {
    fonts().map(|_| ())
}

/// Characters that draw nothing: kept only where the font has them.
fn ignorable(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}' | '\u{AD}')
}

/// Combining marks stay with the base letter's font.
fn combining(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// A line's text cut into runs, each with the index of the face that has
/// all its glyphs.
fn runs(faces: &[Face], text: &str) -> Result<Vec<(usize, String)>, PdfError> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        let current = out.last().map(|(f, _)| *f);
        let keep = |f: usize| c == ' ' || ((combining(c) || ignorable(c)) && faces[f].has(c));
        // The first face with the glyph, so Latin after CJK returns to the
        // Latin font; spaces and marks stay with the run they follow.
        let face = match current {
            Some(f) if keep(f) => f,
            _ => match faces.iter().position(|f| f.has(c)) {
                Some(f) => f,
                None if ignorable(c) => continue,
                None => return Err(PdfError::NoGlyph { ch: c, code: c as u32 }),
            },
        };
        match out.last_mut() {
            Some((f, s)) if *f == face => s.push(c),
            _ => out.push((face, c.to_string())),
        }
    }
    Ok(out)
}

fn run_width(face: &Face, size: f32, text: &str) -> f32 {
    let font = face.font_ref();
    let charmap = font.charmap();
    let metrics = font.glyph_metrics(Size::new(size), LocationRef::default());
    text.chars()
        .filter_map(|c| charmap.map(c))
        .map(|g| metrics.advance_width(g).unwrap_or(0.0))
        .sum()
}

fn width(faces: &[Face], size: f32, text: &str) -> Result<f32, PdfError> {
    Ok(runs(faces, text)?.iter().map(|(f, s)| run_width(&faces[*f], size, s)).sum())
}

/// Breaks text into lines no wider than `max`: at spaces, and inside a word
/// (CJK text has no spaces) only where the word alone is too wide.
fn wrap(faces: &[Face], size: f32, max: f32, text: &str) -> Result<Vec<String>, PdfError> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let candidate =
                if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
            if width(faces, size, &candidate)? <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if width(faces, size, word)? <= max {
                line = word.to_string();
            } else {
                for c in word.chars() {
                    let mut next = line.clone();
                    next.push(c);
                    if !line.is_empty() && width(faces, size, &next)? > max {
                        lines.push(std::mem::replace(&mut line, c.to_string()));
                    } else {
                        line = next;
                    }
                }
            }
        }
        lines.push(line);
    }
    Ok(lines)
}

// ----------------------------------------------------------------- layout

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;

/// A node of the logical structure: its tag and, in reading order, either
/// child nodes or the lines drawn for it.
struct Node {
    kind: Kind,
    children: Vec<usize>,
    lines: Vec<usize>,
}

#[derive(Clone)]
enum Kind {
    Heading(u16, String),
    P,
    Table,
    Tr,
    Th,
    Td,
}

/// One line of text on a page, or a rule (a layout artifact).
enum Draw {
    Text { x: f32, baseline: f32, size: f32, bold: bool, text: String, line: usize },
    Rule { x1: f32, x2: f32, y: f32 },
}

struct Layout<'f> {
    fonts: &'f Fonts,
    style: Style,
    pages: Vec<Vec<Draw>>,
    y: f32,
    nodes: Vec<Node>,
    roots: Vec<usize>,
    lines: usize,
    outline: Vec<(String, usize, f32)>,
}

impl Layout<'_> {
    fn faces(&self, bold: bool) -> &[Face] {
        if bold { &self.fonts.bold } else { &self.fonts.regular }
    }

    fn node(&mut self, kind: Kind, parent: Option<usize>) -> usize {
        self.nodes.push(Node { kind, children: Vec::new(), lines: Vec::new() });
        let id = self.nodes.len() - 1;
        match parent {
            Some(p) => self.nodes[p].children.push(id),
            None => self.roots.push(id),
        }
        id
    }

    fn need(&mut self, height: f32) {
        if self.y + height > PAGE_H - MARGIN - 20.0 {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    /// Draws one line with its top at `top`, for the node.
    fn line(&mut self, node: usize, x: f32, top: f32, size: f32, bold: bool, text: String) {
        let line = self.lines;
        self.lines += 1;
        self.nodes[node].lines.push(line);
        let baseline = top + size;
        if let Some(page) = self.pages.last_mut() {
            page.push(Draw::Text { x, baseline, size, bold, text, line });
        }
    }

    fn text_block(
        &mut self,
        node: usize,
        size: f32,
        bold: bool,
        lines: Vec<String>,
    ) -> Result<(), PdfError> {
        let step = size * self.style.leading;
        for l in lines {
            if l.is_empty() {
                self.y += step;
                continue;
            }
            self.need(step);
            self.line(node, MARGIN, self.y, size, bold, l);
            self.y += step;
        }
        Ok(())
    }

    fn block(&mut self, block: &Block, usable: f32) -> Result<(), PdfError> {
        let body = self.style.body;
        match block {
            Block::Title(t) | Block::Heading(t) => {
                let (level, size) = match block {
                    Block::Title(_) => (1, body * 1.6),
                    _ => (2, body * 1.25),
                };
                let lines = wrap(self.faces(true), size, usable, t)?;
                self.need(size * self.style.leading * lines.len().min(3) as f32 + body);
                let node = self.node(Kind::Heading(level, t.clone()), None);
                self.outline.push((t.clone(), self.pages.len() - 1, self.y));
                self.text_block(node, size, true, lines)?;
                self.y += body * 0.5;
            }
            Block::Paragraph(p) => {
                let node = self.node(Kind::P, None);
                let lines = wrap(self.faces(false), body, usable, p)?;
                self.text_block(node, body, false, lines)?;
                self.y += body * 0.6;
            }
            Block::Lines(ls) => {
                let node = self.node(Kind::P, None);
                let mut lines = Vec::new();
                for l in ls {
                    lines.extend(wrap(self.faces(false), body, usable, l)?);
                }
                self.need(body * self.style.leading * lines.len().min(6) as f32);
                self.text_block(node, body, false, lines)?;
                self.y += body * 0.6;
            }
            Block::Space => self.y += body,
            Block::Table { widths, header, rows, right } => {
                let table = self.node(Kind::Table, None);
                let total: u32 = widths.iter().sum::<u32>().max(1);
                let mut x = MARGIN;
                let cols: Vec<(f32, f32)> = widths
                    .iter()
                    .map(|w| {
                        let col = usable * *w as f32 / total as f32;
                        let start = x;
                        x += col;
                        (start, col - 8.0)
                    })
                    .collect();
                let size = body - 1.0;
                let has_header = header.iter().any(|h| !h.is_empty());
                if has_header {
                    self.row(table, &cols, right, header, size, true)?;
                }
                for r in rows {
                    self.row(table, &cols, right, r, size, false)?;
                }
                self.y += body * 0.8;
            }
        }
        Ok(())
    }

    fn row(
        &mut self,
        table: usize,
        cols: &[(f32, f32)],
        right: &[bool],
        cells: &[String],
        size: f32,
        header: bool,
    ) -> Result<(), PdfError> {
        let step = size * self.style.leading;
        let mut wrapped = Vec::new();
        for (cell, (_, w)) in cells.iter().zip(cols) {
            wrapped.push(wrap(self.faces(header), size, *w, cell)?);
        }
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32 * step;
        self.need(height + 4.0);
        let tr = self.node(Kind::Tr, Some(table));
        let top = self.y;
        for (i, (lines, (x, w))) in wrapped.into_iter().zip(cols).enumerate() {
            let cell = self.node(if header { Kind::Th } else { Kind::Td }, Some(tr));
            let mut y = top;
            for l in lines {
                if !l.is_empty() {
                    let x = if right.get(i).copied().unwrap_or(false) {
                        x + w - width(self.faces(header), size, &l)?
                    } else {
                        *x
                    };
                    self.line(cell, x, y, size, header, l);
                }
                y += step;
            }
        }
        self.y = top + height + 2.0;
        if header {
            let y = self.y;
            if let Some(page) = self.pages.last_mut() {
                let x2 = cols.last().map(|(x, w)| x + w).unwrap_or(PAGE_W - MARGIN);
                page.push(Draw::Rule { x1: MARGIN, x2, y });
            }
            self.y += 3.0;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- drawing

/// Renders the blocks as a PDF in the standard style.
pub fn render(title: &str, blocks: &[Block]) -> Result<Vec<u8>, PdfError> {
    render_styled(title, Style::STANDARD, blocks)
}

/// Renders the blocks as a tagged PDF/UA-1 document titled `title`, in
/// British English.
pub fn render_styled(title: &str, style: Style, blocks: &[Block]) -> Result<Vec<u8>, PdfError> {
    let fonts = fonts()?;
    let mut l = Layout {
        fonts,
        style,
        pages: vec![Vec::new()],
        y: MARGIN,
        nodes: Vec::new(),
        roots: Vec::new(),
        lines: 0,
        outline: Vec::new(),
    };
    let usable = PAGE_W - 2.0 * MARGIN;
    for block in blocks {
        l.block(block, usable)?;
    }

    let configuration = ConfigurationBuilder::new()
        .with_accessibility_validator(Accessibility::UA1)
        .finish()
        .map_err(|e| PdfError::Write(format!("{e:?}")))?;
    let settings = SerializeSettings { configuration, enable_tagging: true, ..Default::default() };
    let mut doc = Document::new_with(settings);
    let mut ids: Vec<Option<Identifier>> = (0..l.lines).map(|_| None).collect();
    let count = l.pages.len();
    for (n, page) in l.pages.iter().enumerate() {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
            .ok_or_else(|| PdfError::Write("page size".into()))?;
        let mut p = doc.start_page_with(settings);
        let mut s = p.surface();
        for d in page {
            match d {
                Draw::Text { x, baseline, size, bold, text, line } => {
                    let faces = if *bold { &fonts.bold } else { &fonts.regular };
                    ids[*line] = Some(s.start_tagged(ContentTag::Span(SpanTag::empty())));
                    draw_runs(&mut s, faces, *x, *baseline, *size, text)?;
                    s.end_tagged();
                }
                Draw::Rule { x1, x2, y } => {
                    s.start_tagged(ContentTag::Artifact(Artifact::with_kind(ArtifactType::Layout)));
                    let mut pb = PathBuilder::new();
                    pb.move_to(*x1, *y);
                    pb.line_to(*x2, *y);
                    if let Some(path) = pb.finish() {
                        s.set_stroke(Some(Stroke { width: 0.75, ..Default::default() }));
                        s.draw_path(&path);
                        s.set_stroke(None);
                    }
                    s.end_tagged();
                }
            }
        }
        if count > 1 {
            let footer = format!("Page {} of {count}", n + 1);
            s.start_tagged(ContentTag::Artifact(Artifact::with_kind(ArtifactType::Footer)));
            draw_runs(&mut s, &fonts.regular, MARGIN, PAGE_H - MARGIN / 2.0, 8.0, &footer)?;
            s.end_tagged();
        }
        s.finish();
        p.finish();
    }

    let mut tree = TagTree::new().with_lang(Some(LANGUAGE.to_string()));
    for &root in &l.roots {
        tree.push(group(&l.nodes, root, &mut ids));
    }
    doc.set_tag_tree(tree);
    let mut outline = Outline::new();
    for (text, page, y) in &l.outline {
        outline.push_child(OutlineNode::new(
            text.clone(),
            XyzDestination::new(*page, Point::from_xy(MARGIN, *y)),
        ));
    }
    doc.set_outline(outline);
    doc.set_metadata(
        Metadata::new()
            .title(title.to_string())
            .language(LANGUAGE.to_string())
            .creator("Aftercare".to_string())
            .producer("Aftercare (krilla)".to_string()),
    );
    doc.finish().map_err(|e| PdfError::Write(e.to_string()))
}

fn draw_runs(
    s: &mut Surface<'_>,
    faces: &[Face],
    x: f32,
    baseline: f32,
    size: f32,
    text: &str,
) -> Result<(), PdfError> {
    let mut x = x;
    for (f, run) in runs(faces, text)? {
        let face = &faces[f];
        s.draw_text(
            Point::from_xy(x, baseline),
            face.font.clone(),
            size,
            &run,
            false,
            TextDirection::Auto,
        );
        x += run_width(face, size, &run);
    }
    Ok(())
}

fn group(nodes: &[Node], id: usize, ids: &mut [Option<Identifier>]) -> TagGroup {
    let node = &nodes[id];
    let tag: TagKind = match &node.kind {
        Kind::Heading(level, title) => {
            Tag::Hn(NonZeroU16::new(*level).unwrap_or(NonZeroU16::MIN), Some(title.clone())).into()
        }
        Kind::P => Tag::P.into(),
        Kind::Table => Tag::Table.into(),
        Kind::Tr => Tag::TR.into(),
        Kind::Th => Tag::TH(TableHeaderScope::Column).into(),
        Kind::Td => Tag::TD.into(),
    };
    let mut g = TagGroup::new(tag);
    for &c in &node.children {
        g.push(group(nodes, c, ids));
    }
    for &line in &node.lines {
        if let Some(i) = ids[line].take() {
            g.push(i);
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_tagged_pdf_over_pages() {
        let rows: Vec<Vec<String>> =
            (0..120).map(|i| vec![format!("client {i}"), "£1,499.99".into()]).collect();
        let pdf = render(
            "Invoice (Q1)",
            &[
                Block::Title("Invoice".into()),
                Block::Paragraph("Amounts in £ – pounds. Łukasz Wójcik, Nguyễn, 王芳".into()),
                Block::Table {
                    widths: vec![3, 1],
                    header: vec!["Client".into(), "Amount".into()],
                    rows,
                    right: vec![false, true],
                },
            ],
        )
        .unwrap();
        assert!(pdf.starts_with(b"%PDF-1.7"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/StructTreeRoot"), "tagged");
        assert!(text.contains("en-GB"), "language");
    }

    #[test]
    fn a_character_no_font_has_is_an_error() {
        let e = render("x", &[Block::Paragraph("\u{E000}".into())]).unwrap_err();
        assert!(matches!(e, PdfError::NoGlyph { code: 0xE000, .. }), "{e}");
    }

    #[test]
    fn cjk_runs_fall_back_to_the_cjk_font() {
        let f = fonts().unwrap();
        let r = runs(&f.regular, "Wang 王芳 Nguyễn").unwrap();
        assert_eq!(r.len(), 3, "{r:?}");
        assert_eq!(r[1].1, "王芳 ");
    }
}
