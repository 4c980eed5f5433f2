//! The operator's policy file (`/etc/hvguard/policy.toml`): reading it, and pointing into it.
//!
//! One TOML file holds every table an operator sets: `[[accept]]` (accepted advisory risks,
//! parsed by `hvguard-advisory`) and `[smoke]` (boot-test defaults, parsed by `hvguard-smoke`).
//! Each crate deserialises only its own table from the same text; this module is the one place
//! that reads the file (bounded, UTF-8) and turns byte offsets into the line numbers that errors
//! print, so every table reports `path:line: message` the same way. Each parser names the
//! other crates' tables as known-but-ignored, so a typo in a table name is still an error.

use std::path::{Path, PathBuf};

/// Where hvguard looks for a policy when `--policy` is not given.
pub const DEFAULT_POLICY_PATH: &str = "/etc/hvguard/policy.toml";

/// A policy file larger than this is not a hand-written policy.
pub const POLICY_READ_LIMIT: u64 = 1 << 20;

/// Why a policy file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PolicyFileError {
    /// The file could not be opened or read.
    #[error("{}: {cause}", .path.display())]
    Io {
        /// The policy file.
        path: PathBuf,
        /// The cause (in the message, not a `source()`: printed once).
        cause: std::io::Error,
    },
    /// The file exceeds [`POLICY_READ_LIMIT`].
    #[error("{}: larger than the {limit}-byte limit for a policy file", .path.display())]
    TooLarge {
        /// The policy file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error("{}: not UTF-8 text: {message}", .path.display())]
    NotText {
        /// The policy file.
        path: PathBuf,
        /// Where the first bad byte is.
        message: String,
    },
}

impl PolicyFileError {
    /// True when the file does not exist (a missing default policy is no policy at all).
    pub fn is_not_found(&self) -> bool {
        matches!(self, PolicyFileError::Io { cause, .. } if cause.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Reads a policy file: at most [`POLICY_READ_LIMIT`] bytes of UTF-8 text.
pub fn read_policy_text(path: &Path) -> Result<String, PolicyFileError> {
    let io = |cause| PolicyFileError::Io {
        path: path.to_path_buf(),
        cause,
    };
    // Regular files only: a FIFO named by --policy would hang the run.
    let bytes = match crate::operator_file::read_regular(path, POLICY_READ_LIMIT) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
            return Err(PolicyFileError::TooLarge {
                path: path.to_path_buf(),
                limit: POLICY_READ_LIMIT,
            })
        }
        Err(e) => return Err(io(e)),
    };
    String::from_utf8(bytes).map_err(|e| PolicyFileError::NotText {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Reads the policy named explicitly, else the default one; `Ok(None)` when the default does
/// not exist. Returns the path actually read with its text.
pub fn resolve_policy_text(
    explicit: Option<&Path>,
) -> Result<Option<(PathBuf, String)>, PolicyFileError> {
    match explicit {
        Some(path) => read_policy_text(path).map(|text| Some((path.to_path_buf(), text))),
        None => {
            let path = Path::new(DEFAULT_POLICY_PATH);
            match read_policy_text(path) {
                Ok(text) => Ok(Some((path.to_path_buf(), text))),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        }
    }
}

/// 1-based line of byte `offset` in `text` (offsets past the end count as the last line).
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one() {
        let text = "a\nb\nc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 4), 3);
        assert_eq!(line_of(text, 999), 3);
    }

    #[test]
    fn reads_bounded_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        let missing = read_policy_text(&path).unwrap_err();
        assert!(missing.is_not_found(), "{missing}");
        assert!(missing.to_string().contains("policy.toml"), "{missing}");
        std::fs::write(&path, "[smoke]\n").unwrap();
        assert_eq!(read_policy_text(&path).unwrap(), "[smoke]\n");
        assert_eq!(
            resolve_policy_text(Some(&path)).unwrap().unwrap().0,
            path.clone()
        );
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(matches!(
            read_policy_text(&path),
            Err(PolicyFileError::NotText { .. })
        ));
        std::fs::write(&path, vec![b'#'; (POLICY_READ_LIMIT + 1) as usize]).unwrap();
        assert!(matches!(
            read_policy_text(&path),
            Err(PolicyFileError::TooLarge { .. })
        ));
    }
}
