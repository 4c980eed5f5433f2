//! The crate's error type: every variant names the file, tool or package it is about.

use std::path::PathBuf;

use hvguard_advisory::store::StoreError;
use hvguard_host::packages::exec::ExecError;

/// Why an update step could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// A package tool could not be run, timed out, or printed too much.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A package tool ran and failed; `detail` is the tail of what it printed.
    #[error("{command}: {detail}")]
    Tool { command: String, detail: String },
    /// A tool's output did not have the expected shape.
    #[error("{command}: unexpected output: {detail}")]
    Output { command: String, detail: String },
    /// A file-system operation failed.
    /// The cause is in the message and not exposed again as a `source()`: printed once.
    #[error("{}: {message}: {cause}", .path.display())]
    Io {
        path: PathBuf,
        message: String,
        cause: std::io::Error,
    },
    /// The advisory store (which also holds the journal) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another `hvguard update` holds the update lock.
    #[error("{}: another hvguard update is running ({holder})", .path.display())]
    Busy { path: PathBuf, holder: String },
    /// The package manager stayed locked for longer than the wait bound.
    #[error("{}: the package manager is locked by {holder}; waited {seconds} s", .path.display())]
    PackageManagerLocked {
        path: PathBuf,
        holder: String,
        seconds: u64,
    },
    /// A rollback artifact is missing or its digest changed since it was saved.
    #[error("{}: {reason}", .path.display())]
    Artifact { path: PathBuf, reason: String },
    /// Bad input named by the operator (a tarball, a digest, a version).
    #[error("{0}")]
    Input(String),
}

impl UpdateError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        message: impl Into<String>,
        cause: std::io::Error,
    ) -> Self {
        UpdateError::Io {
            path: path.into(),
            message: message.into(),
            cause,
        }
    }

    /// True for errors that are the operator's input or another holder's lock (exit 2 without
    /// a transaction), as opposed to a step that failed mid-way.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            UpdateError::Busy { .. }
                | UpdateError::PackageManagerLocked { .. }
                | UpdateError::Input(_)
        )
    }
}
