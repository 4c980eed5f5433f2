//! Store exports: advisory data for a thousand nodes without a thousand downloads.
//!
//! One node (the publisher) fetches the feeds with `db update` and writes a snapshot with
//! `db export FILE`; an internal web server or object store serves the file; every other node
//! takes it with `db update --source URL`. The file is self-describing: a one-line JSON
//! manifest (`hvguard.db-export/v1`: when it was made, the store schema, the content's
//! SHA-256 and size, the sources with their import times, record counts) followed by the
//! store itself as a gzip'ed SQLite file (docs/fleet.md shows the layout).
//!
//! The store is treated as a file plus a manifest: this module copies it with SQLite
//! (`VACUUM INTO`) under the store's writer lock ([`StoreLock`](super::StoreLock)) and reads
//! it through [`Store`](super::Store)'s API. Which tables are fleet data and which are the
//! node's own is an explicit, tested classification ([`tables`]). An export always holds a
//! store of this build's schema version ([`SCHEMA_VERSION`](super::SCHEMA_VERSION)), and a
//! node takes only an export of its own schema version.

pub mod error;
pub mod manifest;
pub mod tables;
mod take;
mod write;

use std::path::{Path, PathBuf};

pub use error::ExportError;
pub use manifest::{is_export_file, Manifest, EXPORT_SCHEMA};
pub use take::{current_snapshot, take_export, CurrentSnapshot, TakeOptions, Taken};
pub use write::export_store;

/// Keys in the store's `meta` table that record a snapshot's identity.
pub mod meta_keys {
    /// In an export and in a store filled from one: when the export was made.
    pub const CREATED_AT: &str = "export_created_at";
    /// In an export: the hvguard that wrote it.
    pub const HVGUARD_VERSION: &str = "export_hvguard_version";
    /// In a store filled from an export: the content hash it was taken with.
    pub const SHA256: &str = "export_sha256";
    /// In a store filled from an export: the URL or file it came from.
    pub const TAKEN_FROM: &str = "export_taken_from";
    /// In a store filled from an export: when it was taken.
    pub const TAKEN_AT: &str = "export_taken_at";
}

/// `.NAME.SUFFIX-PID` beside `path`: same file system, so the final rename is atomic.
fn scratch_path(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "advisories.db".into());
    path.with_file_name(format!(".{name}.{suffix}-{}", std::process::id()))
}

/// Makes a rename durable. Best effort: some file systems refuse to fsync a folder.
fn sync_dir(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(dir) = std::fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
}

#[cfg(test)]
mod tests;
