//! The store's error type: every variant names the store file (or the input) it is about.
//! Messages carry their cause's text; no variant exposes it again as a `source()`.

use std::path::PathBuf;

use crate::ImportError;

/// Why the advisory store could not be read or updated.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation on the store.
    #[error("{}: {message}: {cause}", .path.display())]
    Sqlite {
        /// The store file.
        path: PathBuf,
        /// What hvguard was doing.
        message: String,
        /// SQLite's error.
        cause: rusqlite::Error,
    },
    /// A file-system operation on the store or its temporary copy failed.
    #[error("{}: {message}: {cause}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What hvguard was doing.
        message: String,
        /// The cause.
        cause: std::io::Error,
    },
    /// The store was written by a newer hvguard whose schema this one does not know.
    #[error(
        "{}: advisory store schema version {found} is newer than the version {supported} this \
         hvguard understands; upgrade hvguard or point --db at another file",
        .path.display()
    )]
    NewerSchema {
        /// The store file.
        path: PathBuf,
        /// The version recorded in the store.
        found: i64,
        /// The newest version this build reads.
        supported: i64,
    },
    /// The file is not an hvguard advisory store (no `meta` table, garbage, ...).
    #[error("{}: not an hvguard advisory store ({reason})", .path.display())]
    NotAStore {
        /// The file.
        path: PathBuf,
        /// What was missing or wrong.
        reason: String,
    },
    /// A stored record does not deserialize (a damaged or hand-edited store).
    #[error("{}: record {id:?} is damaged: {message}", .path.display())]
    Record {
        /// The store file.
        path: PathBuf,
        /// The record's key.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// The freshly written copy failed verification; the old store was kept.
    #[error("{}: verification of the new store failed ({reason}); the previous store is unchanged", .path.display())]
    Verify {
        /// The temporary file that failed.
        path: PathBuf,
        /// What the check found.
        reason: String,
    },
    /// An input could not be imported; nothing was written.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// The caller stopped the update (progress callback returned an error).
    #[error("{}: update interrupted: {reason}; the previous store is unchanged", .path.display())]
    Interrupted {
        /// The store file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Another writer held the store lock for longer than this one would wait.
    #[error(
        "{}: another hvguard holds the store lock (a db update or import, or an advisories \
         --new/--notify run); gave up after {waited_ms} ms, nothing was changed",
        .path.display()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// How long this writer waited.
        waited_ms: u128,
    },
    /// A feed with no records would wipe (or record as empty) a source: refused unless the
    /// caller asked for it (`--replace`).
    #[error(
        "{source_name}: the feed holds no records; writing it would remove the {existing} \
         record(s) this source brought before (a truncated download or a broken mirror looks \
         exactly like this); pass --replace to write it anyway. The store is unchanged"
    )]
    EmptySource {
        /// The source's name.
        source_name: String,
        /// Records the store holds from it now.
        existing: u64,
    },
    /// No store location could be worked out (no `--db`, no HOME, no XDG_DATA_HOME).
    #[error("no advisory store location: pass --db FILE, or set HOME or XDG_DATA_HOME")]
    NoLocation,
}

impl StoreError {
    pub(crate) fn sqlite(
        path: impl Into<PathBuf>,
        message: impl Into<String>,
        cause: rusqlite::Error,
    ) -> Self {
        StoreError::Sqlite {
            path: path.into(),
            message: message.into(),
            cause,
        }
    }

    pub(crate) fn io(
        path: impl Into<PathBuf>,
        message: impl Into<String>,
        cause: std::io::Error,
    ) -> Self {
        StoreError::Io {
            path: path.into(),
            message: message.into(),
            cause,
        }
    }
}
