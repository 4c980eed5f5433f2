//! What can go wrong while hardening; every variant names the path it is about.

use hvguard_core::RootError;
use std::io;
use std::path::PathBuf;

/// An error from rendering or writing hardened configuration.
#[derive(Debug, thiserror::Error)]
pub enum HardenError {
    /// A read through the host root failed (the path is inside the error).
    #[error(transparent)]
    Root(#[from] RootError),
    /// A configuration file could not be loaded (the path is inside the error).
    #[error(transparent)]
    Config(#[from] crate::KataError),
    /// A file-system operation failed.
    /// The cause is in the message and not exposed again as a `source()`: printed once.
    #[error("{path}: {action}: {cause}")]
    Io {
        path: PathBuf,
        /// What was being done, in a few words ("create folder", "rename into place").
        action: &'static str,
        cause: io::Error,
    },
    /// The main configuration is not valid TOML.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A file hvguard would read is larger than [`READ_LIMIT`](super::READ_LIMIT).
    #[error("{path}: file is larger than the {limit}-byte limit")]
    TooLarge { path: PathBuf, limit: u64 },
    /// A file hvguard would read is not UTF-8 text.
    #[error("{path}: not valid UTF-8 text")]
    NotText { path: PathBuf },
    /// The file hvguard would replace is a symbolic link: writing through it could change a file
    /// the operator owns elsewhere, and replacing it would silently drop the operator's link.
    #[error("{path}: is a symbolic link; hvguard does not write through links (remove it or point it elsewhere, then run again)")]
    Symlink { path: PathBuf },
    /// Something other than a regular file sits where hvguard would write a file.
    #[error("{path}: exists and is not a regular file")]
    NotAFile { path: PathBuf },
    /// Something other than a folder sits where hvguard needs a folder.
    #[error("{path}: exists and is not a directory")]
    NotADirectory { path: PathBuf },
    /// The main configuration path has no parent folder or no file name.
    #[error("{path}: not a path to a configuration file")]
    BadConfigPath { path: PathBuf },
    /// A plan key cannot be set in the document, e.g. its table is a plain value there.
    #[error("{path}: cannot set `{key}`: {reason}")]
    Shape {
        path: PathBuf,
        key: String,
        reason: String,
    },
}

impl HardenError {
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str, cause: io::Error) -> Self {
        HardenError::Io {
            path: path.into(),
            action,
            cause,
        }
    }
}
