//! Bounded, printable text: the limits on names and free text that every
//! edge (forms, API, imports) applies through the same parsers, and the
//! excerpt an error message quotes, so hostile input can neither grow every
//! page that shows it nor be echoed back whole.

/// Longest family or given name accepted. Real names are far shorter; a
/// longer one is a pasted note or an attack on every page that lists it.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest free text (a reason, evidence, a note, a place) accepted.
pub const MAX_FREE_TEXT_CHARS: usize = 4000;
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
    if let Some(c) = s.chars().find(|c| is_forbidden(*c) && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(TextError::Control(c as u32));
    }
    if s.chars().nth(MAX_FREE_TEXT_CHARS).is_some() {
        return Err(TextError::TooLong { limit: MAX_FREE_TEXT_CHARS });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
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
