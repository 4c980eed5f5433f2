//! The one error type of the importers: every variant names the file it is about.
//!
//! Each message is complete (the cause's text is part of it) and no variant exposes a
//! `source()`: printing the chain would only repeat the cause.

use std::io;
use std::path::PathBuf;

/// Why a feed file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("{}: {cause}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: io::Error,
    },
    /// The file (or archive entry) is bigger than the limit for its kind.
    #[error("{}: larger than the {limit}-byte limit for this kind of input", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// A JSON feed whose first non-blank byte is not `{` or `[`.
    #[error("{}: not JSON (starts with {found:?})", .path.display())]
    NotJson {
        /// The file.
        path: PathBuf,
        /// The first bytes, for the message.
        found: String,
    },
    /// Malformed JSON, or JSON of the wrong shape, at a position.
    #[error("{}:{line}:{column}: {message}", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown, e.g. at end of input).
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// Well-formed input that breaks the feed's rules (a bad date, a missing field).
    #[error("{}: {message}", .path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A zip archive that is corrupt, unsafe or too large.
    #[error("{}: zip entry {entry:?}: {message}", .path.display())]
    Zip {
        /// The archive.
        path: PathBuf,
        /// The entry name (empty for the archive itself).
        entry: String,
        /// What is wrong.
        message: String,
    },
    /// A CSV feed line that does not parse.
    #[error("{}:{line}: {message}", .path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A file whose format is none of the supported feeds.
    #[error("{}: not a recognised advisory feed ({hint})", .path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// What was seen.
        hint: String,
    },
}

impl ImportError {
    /// The file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            ImportError::Io { path, .. }
            | ImportError::TooLarge { path, .. }
            | ImportError::NotJson { path, .. }
            | ImportError::Json { path, .. }
            | ImportError::Format { path, .. }
            | ImportError::Zip { path, .. }
            | ImportError::Csv { path, .. }
            | ImportError::UnknownFormat { path, .. } => path,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, cause: io::Error) -> Self {
        ImportError::Io {
            path: path.into(),
            cause,
        }
    }

    pub(crate) fn json(path: impl Into<PathBuf>, err: &serde_json::Error) -> Self {
        ImportError::Json {
            path: path.into(),
            line: err.line(),
            column: err.column(),
            message: err.to_string(),
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        ImportError::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}
