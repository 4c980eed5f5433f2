//! The earlier review a new one is compared with: a `--since DATE`, or the state lines a
//! previous Markdown document carries.
//!
//! The Markdown renderer writes, as HTML comments a Markdown viewer does not show:
//!
//! ```text
//! <!-- hvguard-compare date=2026-11-30 -->
//! <!-- hvguard-compare counted qemu CVE-2018-19665 CVE-2019-14378 ... -->
//! ```
//!
//! The document is outside input (an operator may have edited it): this parser takes at most
//! [`MAX_DOCUMENT`] bytes, refuses anything but those two line shapes among its own lines,
//! and ignores every other line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use jiff::civil::Date;

use crate::error::CompareError;
use crate::facts::CompareKind;

/// The largest previous document read (a real one is a few tens of KiB).
pub const MAX_DOCUMENT: usize = 4 << 20;

/// The most advisory ids a document may list.
const MAX_IDS: usize = 200_000;

/// The longest advisory id accepted.
const MAX_ID_LEN: usize = 64;

/// What the state lines start with.
pub const STATE_PREFIX: &str = "<!-- hvguard-compare ";
/// What they end with.
pub const STATE_SUFFIX: &str = " -->";

/// The earlier review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Since {
    /// Its day.
    pub date: Date,
    /// `--since` or the document's path.
    pub from: String,
    /// The advisories it counted per hypervisor, when the document lists them.
    pub counted: Option<BTreeMap<CompareKind, BTreeSet<String>>>,
}

impl Since {
    /// A bare date (`--since`).
    pub fn date(date: Date) -> Since {
        Since {
            date,
            from: "--since".to_owned(),
            counted: None,
        }
    }
}

/// True for an id the state lines can carry: no spaces, nothing that could end an HTML
/// comment, nothing a terminal interprets.
pub fn is_listable_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && !id.contains("--")
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Reads the state lines of a previous document.
pub fn parse_previous(path: &Path, text: &str) -> Result<Since, CompareError> {
    let error = |line: usize, message: String| CompareError::Previous {
        path: path.to_path_buf(),
        message: if line == 0 {
            message
        } else {
            format!("line {line}: {message}")
        },
    };
    if text.len() > MAX_DOCUMENT {
        return Err(error(
            0,
            format!("larger than {MAX_DOCUMENT} bytes: not a comparison document"),
        ));
    }
    let mut date: Option<Date> = None;
    let mut counted: Option<BTreeMap<CompareKind, BTreeSet<String>>> = None;
    let mut ids = 0usize;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let Some(rest) = line.strip_prefix(STATE_PREFIX) else {
            continue;
        };
        let number = index + 1;
        let Some(body) = rest.strip_suffix(STATE_SUFFIX) else {
            return Err(error(
                number,
                "hvguard-compare line without its closing ` -->`".into(),
            ));
        };
        let mut words = body.split_ascii_whitespace();
        match words.next() {
            Some(word) if word.starts_with("date=") => {
                if date.is_some() {
                    return Err(error(number, "a second date line".into()));
                }
                let value = &word["date=".len()..];
                let parsed: Date = value
                    .parse()
                    .map_err(|_| error(number, format!("date {value:?} is not YYYY-MM-DD")))?;
                if words.next().is_some() {
                    return Err(error(number, "unexpected words after the date".into()));
                }
                date = Some(parsed);
            }
            Some("counted") => {
                let kind_word = words
                    .next()
                    .ok_or_else(|| error(number, "counted line names no hypervisor".into()))?;
                let kind = kind_from(kind_word)
                    .ok_or_else(|| error(number, format!("unknown hypervisor {kind_word:?}")))?;
                let set = counted
                    .get_or_insert_with(BTreeMap::new)
                    .entry(kind)
                    .or_default();
                for id in words {
                    if !is_listable_id(id) {
                        return Err(error(number, format!("{id:?} is not an advisory id")));
                    }
                    ids += 1;
                    if ids > MAX_IDS {
                        return Err(error(number, format!("more than {MAX_IDS} advisory ids")));
                    }
                    set.insert(id.to_owned());
                }
            }
            other => {
                return Err(error(
                    number,
                    format!("unknown hvguard-compare line {:?}", other.unwrap_or("")),
                ))
            }
        }
    }
    let date = date.ok_or_else(|| {
        error(
            0,
            "no `<!-- hvguard-compare date=YYYY-MM-DD -->` line: not a document written by `hvguard hypervisors compare --format markdown`".into(),
        )
    })?;
    Ok(Since {
        date,
        from: path.display().to_string(),
        counted,
    })
}

fn kind_from(word: &str) -> Option<CompareKind> {
    CompareKind::ALL.into_iter().find(|k| k.as_str() == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Since, String> {
        parse_previous(Path::new("prev.md"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_the_date_and_the_lists() {
        let since = parse(
            "# Title\n<!-- hvguard-compare date=2026-11-30 -->\n| a | b |\n  <!-- hvguard-compare counted qemu CVE-1 CVE-2 -->\n<!-- hvguard-compare counted dragonball -->\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(since.date.to_string(), "2026-11-30");
        let counted = since.counted.unwrap_or_default();
        assert_eq!(counted[&CompareKind::Qemu].len(), 2);
        assert!(counted[&CompareKind::Dragonball].is_empty());
        let bare =
            parse("<!-- hvguard-compare date=2026-01-02 -->").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bare.counted, None);
    }

    #[test]
    fn refuses_what_it_did_not_write() {
        for (text, expected) in [
            ("# nothing", "prev.md: no `<!-- hvguard-compare date=YYYY-MM-DD -->` line"),
            ("<!-- hvguard-compare date=2026-13-01 -->", "prev.md: line 1: date \"2026-13-01\" is not YYYY-MM-DD"),
            ("<!-- hvguard-compare date=2026-01-01", "prev.md: line 1: hvguard-compare line without its closing"),
            ("<!-- hvguard-compare date=2026-01-01 -->\n<!-- hvguard-compare date=2026-01-02 -->", "prev.md: line 2: a second date line"),
            ("<!-- hvguard-compare counted xen CVE-1 -->", "prev.md: line 1: unknown hypervisor \"xen\""),
            ("<!-- hvguard-compare counted qemu a--b -->", "prev.md: line 1: \"a--b\" is not an advisory id"),
            ("<!-- hvguard-compare what -->", "prev.md: line 1: unknown hvguard-compare line \"what\""),
        ] {
            let err = parse(text).err().unwrap_or_default();
            assert!(err.starts_with(expected), "{text:?}: {err}");
        }
    }
}
