//! Names from the scanned system as text. A Linux file name is bytes: Kata applies a
//! drop-in whose name is not UTF-8, so hvguard must read it, and then name it in a report,
//! a JSON snapshot and on a terminal. Names are kept as `OsStr` for every file-system call
//! and turned into text only here: a UTF-8 name stays as it is (so it can still be opened by
//! that name; control characters in it are escaped at the output edge by [`crate::escape`],
//! like every other string from the scanned system); one that is not valid UTF-8 is escaped
//! (`\xff`, and `\x1b`, `\u{85}` for control characters next to it), with its backslashes
//! doubled so the escapes cannot be confused with the name's own text.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// `name` as text: itself when UTF-8, escaped otherwise (see the module documentation).
pub fn display_os(name: &OsStr) -> Cow<'_, str> {
    let bytes = name.as_bytes();
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() && (c as u32) < 0x80 => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if c.is_control() => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out)
}

/// `path` with every component shown by [`display_os`]: safe to serialise and to print.
/// Only for records and messages; the file is opened by its real (byte) path.
pub fn display_path(path: &Path) -> PathBuf {
    match display_os(path.as_os_str()) {
        Cow::Borrowed(_) => path.to_path_buf(),
        Cow::Owned(text) => PathBuf::from(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn plain_names_stay_escapes_are_lossless() {
        assert_eq!(
            display_os(OsStr::new("90-operator.toml")),
            "90-operator.toml"
        );
        assert!(matches!(display_os(OsStr::new("a\\b")), Cow::Borrowed(_)));
        let odd = OsString::from_vec(b"90-\xff\xfe-x\\y.toml".to_vec());
        assert_eq!(display_os(&odd), "90-\\xff\\xfe-x\\\\y.toml");
        // UTF-8 with control characters stays openable; the output edge escapes it.
        let esc = OsString::from_vec(b"a\x1b[31mb\xc2\x85".to_vec());
        assert_eq!(display_os(&esc), "a\x1b[31mb\u{85}");
        let mixed = OsString::from_vec(b"a\x1b\xff".to_vec());
        assert_eq!(display_os(&mixed), "a\\x1b\\xff");
        assert_eq!(
            display_path(Path::new(OsStr::from_bytes(b"/etc/\xffx"))),
            Path::new("/etc/\\xffx")
        );
    }
}
