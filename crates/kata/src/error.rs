//! The one error type of this crate: every variant names the file it is about.

use hvguard_core::RootError;
use std::path::{Path, PathBuf};

/// Why a Kata or containerd configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KataError {
    /// Invalid TOML, reported where an editor can jump to it.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file, as the host sees it.
        path: PathBuf,
        /// 1-based line.
        line: u32,
        /// 1-based column (characters).
        column: u32,
        /// What the parser expected.
        message: String,
    },
    /// The file could not be read (missing, too large, not text, symlink loop, ...).
    #[error("{error}")]
    Read {
        /// Carries the path and the cause in its own message (so not a `source()` too).
        error: RootError,
    },
    /// Tables or arrays nested deeper than any real configuration goes.
    #[error("{}:{line}:{column}: nesting deeper than {limit} levels", path.display())]
    TooDeep {
        /// The file.
        path: PathBuf,
        /// Where the limit was crossed.
        line: u32,
        /// Column of that place.
        column: u32,
        /// The limit.
        limit: usize,
    },
    /// Well-formed TOML with a value of the wrong shape where the format requires one.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What is wrong.
        message: String,
    },
}

impl KataError {
    /// The file this error is about.
    pub fn path(&self) -> &Path {
        match self {
            KataError::Parse { path, .. }
            | KataError::TooDeep { path, .. }
            | KataError::Invalid { path, .. } => path,
            KataError::Read { error } => error.path(),
        }
    }
}

impl From<RootError> for KataError {
    fn from(error: RootError) -> Self {
        KataError::Read { error }
    }
}
