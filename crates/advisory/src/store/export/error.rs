//! Why an export could not be written or a snapshot not taken. Every variant names the file
//! or URL it is about; the store is unchanged whenever one is returned.

use std::path::PathBuf;

use super::super::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store itself could not be read or replaced.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file-system step failed.
    #[error("{}: {action}: {error}", .path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        error: std::io::Error,
    },
    /// SQLite refused a step on a copy.
    #[error("{}: {action}: {error}", .path.display())]
    Sqlite {
        path: PathBuf,
        action: &'static str,
        error: rusqlite::Error,
    },
    /// The file is not a store export at all, or its manifest is malformed.
    #[error("{origin}: not an hvguard store export: {reason}")]
    NotAnExport { origin: String, reason: String },
    /// The content does not hash to what the manifest says: damaged or tampered with.
    #[error("{origin}: content hash mismatch: the manifest says sha256 {expected} ({expected_size} bytes), the content is {found} ({found_size} bytes); the snapshot was damaged or tampered with")]
    HashMismatch {
        origin: String,
        expected: String,
        expected_size: u64,
        found: String,
        found_size: u64,
    },
    /// The content hashes right but does not say what the manifest says.
    #[error("{origin}: the manifest does not match the content ({reason}); refused")]
    ManifestMismatch { origin: String, reason: String },
    /// Written by an hvguard whose formats this one does not read.
    #[error("{origin}: {what} {found} is newer than this hvguard reads ({supported}); upgrade hvguard on this node")]
    Newer {
        origin: String,
        what: &'static str,
        found: String,
        supported: String,
    },
    /// Holds a store of an older schema than this hvguard writes: the publisher runs an
    /// older hvguard.
    #[error("{origin}: the snapshot holds an advisory store of schema {found}, this hvguard takes snapshots of schema {supported} only; upgrade hvguard on the publishing node and export again (the store was kept as it is)")]
    OlderSchema {
        origin: String,
        found: i64,
        supported: i64,
    },
    /// Older than what the store already has, too old, or from the future.
    #[error("{origin}: {reason}; the store was kept as it is")]
    Age { origin: String, reason: String },
}

impl ExportError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
        error: std::io::Error,
    ) -> Self {
        ExportError::Io {
            path: path.into(),
            action,
            error,
        }
    }

    pub(crate) fn sqlite(
        path: impl Into<PathBuf>,
        action: &'static str,
        error: rusqlite::Error,
    ) -> Self {
        ExportError::Sqlite {
            path: path.into(),
            action,
            error,
        }
    }
}
