//! A document as a PDF (a letter, a contract): A4 pages of a title and paragraphs, set in a CJK
//! font that is embedded (subset to the characters used), so the customer's Chinese name reads the
//! same on any machine and its text can be searched and copied.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use krilla::Document;
use krilla::geom::Point;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};

/// Where the letters' font is read from: a TrueType/OpenType file or collection, and the face.
#[derive(Debug)]
pub struct LetterFont {
    path: PathBuf,
    index: u32,
    loaded: OnceLock<Result<Font, String>>,
}

impl LetterFont {
    /// Debian's Noto Sans CJK (package `fonts-noto-cjk`), its Simplified Chinese face.
    pub const DEFAULT_PATH: &'static str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
    /// The Simplified Chinese face in that collection.
    pub const DEFAULT_INDEX: u32 = 2;

    /// The font at `path`, face `index`, read on first use.
    pub fn new(path: impl Into<PathBuf>, index: u32) -> Arc<Self> {
        Arc::new(Self { path: path.into(), index, loaded: OnceLock::new() })
    }

    /// The font, read once; why not, when it cannot be.
    pub fn font(&self) -> Result<Font, String> {
        self.loaded
            .get_or_init(|| {
                let bytes = std::fs::read(&self.path).map_err(|e| {
                    format!(
                        "the letters' font {} cannot be read ({e}): install fonts-noto-cjk or set admin.letter_font",
                        self.path.display()
                    )
                })?;
                let data: krilla::Data = Arc::new(bytes).into();
                Font::new(data, self.index)
                    .ok_or_else(|| format!("{} face {} is not a font", self.path.display(), self.index))
            })
            .clone()
    }
}

impl Default for LetterFont {
    fn default() -> Self {
        Self { path: PathBuf::from(Self::DEFAULT_PATH), index: Self::DEFAULT_INDEX, loaded: OnceLock::new() }
    }
}

const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 72.0;
const TITLE_SIZE: f32 = 18.0;
const BODY_SIZE: f32 = 12.0;
const LEADING: f32 = 1.7;

/// The width of `c` in ems: CJK and full-width characters one, the rest about half.
fn em_width(c: char) -> f32 {
    if c.is_ascii() { 0.55 } else { 1.0 }
}

/// `paragraph` broken into lines no wider than `width` ems: Chinese at any character (it has no
/// spaces), a run of Latin letters and digits (a number, a VIN) kept whole unless longer than a line.
pub fn wrap(paragraph: &str, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line: Vec<char> = Vec::new();
    let mut used = 0.0;
    for c in paragraph.chars() {
        let w = em_width(c);
        if used + w > width && !line.is_empty() {
            // Where the run of word characters this one continues began on the line.
            let run =
                if is_word(c) { line.iter().rposition(|l| !is_word(*l)).map_or(0, |p| p + 1) } else { line.len() };
            let carried = if run > 0 { line.split_off(run) } else { Vec::new() };
            lines.push(line.iter().collect());
            used = carried.iter().copied().map(em_width).sum();
            line = carried;
        }
        line.push(c);
        used += w;
    }
    lines.push(line.iter().collect());
    lines
}

/// A character of a Latin word or a number, not to be broken inside.
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == ','
}

/// The PDF of a letter: `title` centred at the top, then `body`'s paragraphs (one per line of it).
pub fn render(font: &Font, title: &str, body: &str) -> Result<Vec<u8>, String> {
    let mut document = Document::new();
    let settings = || PageSettings::from_wh(PAGE.0, PAGE.1).ok_or_else(|| "page size".to_owned());
    let columns = (PAGE.0 - 2.0 * MARGIN) / BODY_SIZE;
    let mut lines: Vec<String> = Vec::new();
    for paragraph in body.lines() {
        lines.extend(wrap(paragraph.trim_end(), columns));
    }
    let per_page = ((PAGE.1 - 2.0 * MARGIN - TITLE_SIZE * 2.0) / (BODY_SIZE * LEADING)).floor().max(1.0) as usize;
    for (n, chunk) in lines.chunks(per_page).enumerate() {
        let mut page = document.start_page_with(settings()?);
        let mut surface = page.surface();
        let mut y = MARGIN;
        if n == 0 {
            let width: f32 = title.chars().map(em_width).sum::<f32>() * TITLE_SIZE;
            y += TITLE_SIZE;
            let x = ((PAGE.0 - width) / 2.0).max(MARGIN);
            surface.draw_text(Point::from_xy(x, y), font.clone(), TITLE_SIZE, title, false, TextDirection::Auto);
            y += TITLE_SIZE;
        }
        for line in chunk {
            y += BODY_SIZE * LEADING;
            if !line.is_empty() {
                surface.draw_text(Point::from_xy(MARGIN, y), font.clone(), BODY_SIZE, line, false, TextDirection::Auto);
            }
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| format!("the letter could not be written: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_wraps_at_characters_and_latin_counts_half() {
        let lines = wrap("尊敬的客户您好您的合同已逾期", 5.0);
        assert_eq!(lines, ["尊敬的客户", "您好您的合", "同已逾期"]);
        assert_eq!(wrap("HT-0001 ABCDEFGH", 5.0), ["HT-0001 ", "ABCDEFGH"], "a Latin word is kept whole");
        assert_eq!(wrap("首付 30000.00 元", 5.0), ["首付 ", "30000.00 ", "元"], "so is a number");
        assert_eq!(wrap("ABCDEFGHIJKLMNOPQRST", 5.0), ["ABCDEFGHI", "JKLMNOPQR", "ST"], "unless longer than a line");
        assert_eq!(wrap("", 5.0), [""]);
    }
}
