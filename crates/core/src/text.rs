//! Bounded, printable text: the limits on names and free text that every
//! edge (forms, API, imports) applies through the same parsers, and the
//! excerpt an error message quotes, so hostile input can neither grow every
//! page that shows it nor be echoed back whole.

/// Longest family or given name accepted. Real names are far shorter; a
/// longer one is a pasted note or an attack on every page that lists it.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest free text (a reason, evidence, a note, a place) accepted.
pub const MAX_FREE_TEXT_CHARS: usize = 4000;
/// Longest letter text accepted from its sender (a fact sheet is about
/// 2,000 characters; five pages of edits fit).
pub const MAX_LETTER_CHARS: usize = 20000;
/// The one form field that carries a letter's whole text.
pub const LETTER_FIELD: &str = "letter_body";
/// How many characters of a value an error message quotes.
pub const EXCERPT_CHARS: usize = 100;

/// Why a piece of text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("longer than {limit} characters")]
    TooLong { limit: usize },
    /// Control characters and the bidirectional overrides (U+202E) can make
    /// a name display as something else; no name needs them.
    #[error(
        "contains an invisible control or text-direction character (U+{0:04X}), which is not allowed"
    )]
    Control(u32),
}

/// At most [`EXCERPT_CHARS`] characters of `s`, with `…` when cut, and with
/// control and direction characters shown as `�` so a quoted value cannot
/// reorder or hide the message around it.
///
/// ```
/// use aftercare_core::text::excerpt;
/// assert_eq!(excerpt("short"), "short");
/// assert_eq!(excerpt(&"x".repeat(500)).chars().count(), 101);
/// assert_eq!(excerpt("a\u{202E}b"), "a\u{FFFD}b");
/// ```
pub fn excerpt(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| if is_forbidden(c) { '\u{FFFD}' } else { c })
        .collect();
    if s.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Characters no name or single-line field may hold: C0/C1 controls
/// (tab and line ends included), the bidirectional embeddings, overrides
/// and isolates, the direction marks, the line and paragraph separators and
/// the byte-order mark. Zero-width joiners stay: some scripts need them.
pub fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Checks a name (or other single-line field): at most `limit` characters,
/// none of them forbidden (see [`is_forbidden`]).
///
/// ```
/// use aftercare_core::text::{check_line, TextError, MAX_NAME_CHARS};
/// assert_eq!(check_line("Ann-Marie O'Neill", MAX_NAME_CHARS), Ok(()));
/// assert_eq!(check_line("evil\u{202E}gnp.exe", MAX_NAME_CHARS), Err(TextError::Control(0x202E)));
/// assert!(check_line(&"a".repeat(101), MAX_NAME_CHARS).is_err());
/// ```
pub fn check_line(s: &str, limit: usize) -> Result<(), TextError> {
    if let Some(c) = s.chars().find(|c| is_forbidden(*c)) {
        return Err(TextError::Control(c as u32));
    }
    if s.chars().nth(limit).is_some() {
        return Err(TextError::TooLong { limit });
    }
    Ok(())
}

/// Checks free text: at most [`MAX_FREE_TEXT_CHARS`] characters; line
/// breaks and tabs are allowed, other forbidden characters are not.
///
/// ```
/// use aftercare_core::text::check_free_text;
/// assert!(check_free_text("line one\r\nline two\tend").is_ok());
/// assert!(check_free_text("\u{202E}").is_err());
/// assert!(check_free_text(&"a".repeat(4001)).is_err());
/// ```
pub fn check_free_text(s: &str) -> Result<(), TextError> {
    check_text(s, MAX_FREE_TEXT_CHARS)
}

/// Checks a letter's text as its sender edited it: free text of at most
/// [`MAX_LETTER_CHARS`] characters.
pub fn check_letter_text(s: &str) -> Result<(), TextError> {
    check_text(s, MAX_LETTER_CHARS)
}

fn check_text(s: &str, limit: usize) -> Result<(), TextError> {
    if let Some(c) = s.chars().find(|c| is_forbidden(*c) && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(TextError::Control(c as u32));
    }
    if s.chars().nth(limit).is_some() {
        return Err(TextError::TooLong { limit });
    }
    Ok(())
}

/// A person's name as written: "Ann Smith", but family name first and
/// with no space when both names are written in Chinese, Japanese or Korean
/// script ("王芳", family name 王, given name 芳), the order those names are
/// written in. The register stores the two parts apart and says nothing of
/// order, so the script is the only evidence; a romanised name
/// ("Fang Wang", "Nguyễn Văn An" entered as given "Văn An", family
/// "Nguyễn") is printed given name first, as it was given for a UK record.
pub fn full_name(given: &str, family: &str) -> String {
    let given = given.trim();
    let family = family.trim();
    if given.is_empty() || family.is_empty() {
        return format!("{given}{family}");
    }
    if is_east_asian(given) && is_east_asian(family) {
        format!("{family}{given}")
    } else {
        format!("{given} {family}")
    }
}

/// Whether every letter of `s` is Han, Kana or Hangul.
fn is_east_asian(s: &str) -> bool {
    s.chars().filter(|c| !c.is_whitespace()).all(|c| {
        matches!(c as u32,
            0x1100..=0x11FF      // Hangul Jamo
            | 0x2E80..=0x2FDF    // CJK radicals
            | 0x3005..=0x3007    // 々 〆 〇
            | 0x3040..=0x30FF    // Hiragana, Katakana
            | 0x3130..=0x318F    // Hangul compatibility Jamo
            | 0x3400..=0x4DBF    // CJK extension A
            | 0x4E00..=0x9FFF    // CJK unified ideographs
            | 0xAC00..=0xD7AF    // Hangul syllables
            | 0xF900..=0xFAFF    // CJK compatibility ideographs
            | 0x20000..=0x3FFFF) // CJK extensions B onwards
    })
}

/// A name as the register searches it: lower case, accents and other marks
/// taken off, and the letters that do not decompose written plainly
/// ("Wójcik" → "wojcik", "Łukasz" → "lukasz", "Zoë" → "zoe", "Nguyễn" →
/// "nguyen", "Strauß" → "strauss"), so a name typed without its accents
/// finds the person. Stored beside the name when it is written.
pub fn search_fold(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let mut out = String::with_capacity(s.len());
    for c in s.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'ł' | 'Ł' => out.push('l'),
            'ø' | 'Ø' => out.push('o'),
            'đ' | 'Đ' | 'ð' | 'Ð' => out.push('d'),
            'ħ' | 'Ħ' => out.push('h'),
            'ı' => out.push('i'),
            'ß' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'œ' | 'Œ' => out.push_str("oe"),
            'þ' | 'Þ' => out.push_str("th"),
            '\u{2018}' | '\u{2019}' | '`' => out.push('\''),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_for_search() {
        for (name, folded) in [
            ("Wójcik", "wojcik"),
            ("Łukasz", "lukasz"),
            ("Zoë", "zoe"),
            ("Nguyễn", "nguyen"),
            ("Thị Minh Khai", "thi minh khai"),
            ("Strauß", "strauss"),
            ("Søren", "soren"),
            ("O\u{2019}Neill", "o'neill"),
            ("王", "王"),
        ] {
            assert_eq!(search_fold(name), folded, "{name}");
        }
    }

    #[test]
    fn names_are_written_in_their_own_order() {
        assert_eq!(full_name("Ann", "Smith"), "Ann Smith");
        assert_eq!(full_name("芳", "王"), "王芳");
        assert_eq!(full_name("지민", "박"), "박지민");
        assert_eq!(full_name("Văn An", "Nguyễn"), "Văn An Nguyễn");
        assert_eq!(full_name("Fang", "王"), "Fang 王");
        assert_eq!(full_name(" Zoë ", "Wójcik"), "Zoë Wójcik");
        assert_eq!(full_name("", "Smith"), "Smith");
    }
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn an_excerpt_is_short_and_printable(s in any::<String>()) {
            let e = excerpt(&s);
            prop_assert!(e.chars().count() <= EXCERPT_CHARS + 1);
            prop_assert!(!e.chars().any(is_forbidden));
        }
    }
}
