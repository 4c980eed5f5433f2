//! Text that came from outside hvguard (file names and contents under the root, snapshot
//! strings, advisory feeds) made safe to show on a terminal.
//!
//! A hostile file name such as `50-\x1b]0;owned\x07.toml` or a snapshot string carrying
//! `\x1b[2J` must not be able to retitle, clear or recolour the operator's terminal, nor hide
//! text from them. Every printer (the text report, warnings and errors on stderr, `harden`
//! and `advisories` output) passes such text through this one module at the output edge.
//! Escaped characters are shown as `\u{1b}`: visible, unambiguous, and never a control again.

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for characters a terminal acts on instead of showing: C0 controls (except tab), DEL,
/// C1 controls (`\u{9b}` is a CSI on its own), and the Unicode bidirectional overrides and
/// isolates that reorder what is shown (the "Trojan Source" characters).
pub fn is_terminal_unsafe(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Appends `text` to `out` with every [`is_terminal_unsafe`] character (newlines included)
/// escaped, for text that must stay on one line.
pub fn push_escaped(out: &mut String, text: &str) {
    if !text.chars().any(is_terminal_unsafe) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        push_char(out, c);
    }
}

/// `text` on one line with every unsafe character escaped; borrowed when nothing needed it.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_terminal_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    push_escaped(&mut out, text);
    Cow::Owned(out)
}

/// Like [`escape`], but keeps line feeds: for multi-line output (the `harden` plan, the
/// `advisories` list) whose lines hvguard itself laid out.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_terminal_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\n' {
            out.push(c);
        } else {
            push_char(&mut out, c);
        }
    }
    Cow::Owned(out)
}

/// JSON text (already valid) with the characters JSON leaves raw but terminals act on (DEL,
/// C1 controls, bidi overrides) written as `\uXXXX` escapes. Outside strings JSON holds only
/// ASCII punctuation, so every such character is inside a string and the result is the same
/// JSON value.
pub fn escape_json(json: &str) -> Cow<'_, str> {
    if !json.chars().any(is_terminal_unsafe) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        // serde_json already escapes C0 controls; only what it leaves raw is rewritten.
        if is_terminal_unsafe(c) && !c.is_ascii_control() {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else if c == '\u{7f}' {
            out.push_str("\\u007f");
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn push_char(out: &mut String, c: char) {
    if is_terminal_unsafe(c) {
        // Writing to a String cannot fail.
        let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_become_visible_text() {
        assert_eq!(
            escape("50-\u{1b}]0;owned\u{7}.toml"),
            "50-\\u{1b}]0;owned\\u{7}.toml"
        );
        assert_eq!(escape("a\u{9b}31mb"), "a\\u{9b}31mb");
        assert_eq!(escape("tab\tstays"), "tab\tstays");
        assert_eq!(escape("line\nbreak\r"), "line\\u{a}break\\u{d}");
        assert_eq!(escape("abc\u{202e}cba"), "abc\\u{202e}cba");
        assert!(matches!(escape("/etc/kata-containers"), Cow::Borrowed(_)));
    }

    #[test]
    fn lines_keep_their_breaks() {
        assert_eq!(
            escape_lines("one \u{1b}[2J\ntwo\u{7f}\n"),
            "one \\u{1b}[2J\ntwo\\u{7f}\n"
        );
    }

    #[test]
    fn json_keeps_its_value() {
        let value = serde_json::json!({"name": "a\u{1b}]0;x\u{7}b\u{7f}\u{9b}\u{202e}"});
        let json = serde_json::to_string(&value).unwrap_or_default();
        let safe = escape_json(&json);
        assert!(!safe.chars().any(is_terminal_unsafe), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap_or_default();
        assert_eq!(back, value);
    }
}
