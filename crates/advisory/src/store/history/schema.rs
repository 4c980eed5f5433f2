//! The history tables (schema version 3).
//!
//! Records hold the summary columns `history` lists, so listing never decodes a snapshot.
//! Snapshots and reports live in `history_blobs`, keyed by the SHA-256 of their JSON with the
//! timestamps taken out: a host that did not change between two scans stores its state once,
//! however many records point at it.

pub(crate) const TABLES: &str = "
CREATE TABLE history_blobs (
    sha256 TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE history_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at TEXT NOT NULL,
    recorded_unix INTEGER NOT NULL,
    collected_at TEXT NOT NULL,
    generated_at TEXT NOT NULL,
    hvguard_version TEXT NOT NULL,
    hostname TEXT,
    root TEXT NOT NULL,
    critical INTEGER NOT NULL,
    high INTEGER NOT NULL,
    medium INTEGER NOT NULL,
    low INTEGER NOT NULL,
    info INTEGER NOT NULL,
    unknown INTEGER NOT NULL,
    drift_changes INTEGER,
    snapshot TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX history_records_time ON history_records(recorded_unix);
CREATE TABLE history_baseline (
    slot INTEGER PRIMARY KEY CHECK (slot = 1),
    record INTEGER NOT NULL,
    approved_at TEXT NOT NULL,
    note TEXT,
    integrity TEXT NOT NULL
);
CREATE TABLE digest_cache (
    device INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    algorithm TEXT NOT NULL,
    digest TEXT NOT NULL,
    stored_unix INTEGER NOT NULL,
    PRIMARY KEY (device, inode, size, mtime_ns, ctime_ns, algorithm)
) WITHOUT ROWID;
";
