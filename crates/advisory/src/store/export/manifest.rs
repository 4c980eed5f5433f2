//! The manifest: the first line of an export file, which says what the rest is.
//!
//! ```text
//! {"schema":"hvguard.db-export/v1","created_at":"...","content":{"sha256":"...",...},...}\n
//! <the store as a SQLite database file, gzip-compressed>
//! ```
//!
//! One line of JSON, so that `head -n1 FILE` shows a person (and any tool) what a snapshot
//! holds and how old it is without unpacking it.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use super::error::ExportError;

/// The manifest's own schema.
pub const EXPORT_SCHEMA: &str = "hvguard.db-export/v1";

/// A manifest longer than this is not one hvguard wrote (a source list is a few KiB).
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// How the content is stored after the manifest line.
pub const CONTENT_ENCODING: &str = "sqlite3+gzip";

/// What an export holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`EXPORT_SCHEMA`]. First, so that a reader can tell the format from the first bytes.
    pub schema: String,
    /// When the export was made (RFC 3339, UTC, whole seconds): the snapshot's age.
    pub created_at: String,
    /// The hvguard that wrote it.
    pub hvguard_version: String,
    /// The advisory store's schema version (`meta.schema_version`) of the content.
    pub store_schema_version: i64,
    pub content: Content,
    /// Every feed the store was filled from, with when it was imported.
    pub sources: Vec<ExportedSource>,
    pub counts: Counts,
}

/// The content after the manifest line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// [`CONTENT_ENCODING`].
    pub encoding: String,
    /// SHA-256 of the SQLite file (after decompression), lowercase hex.
    pub sha256: String,
    /// Bytes of the SQLite file.
    pub size: u64,
}

/// One feed the exported store was filled from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExportedSource {
    pub name: String,
    pub location: String,
    pub format: String,
    pub imported_at: String,
    pub records: u64,
    pub sha256: Option<String>,
}

/// Records in the exported store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub advisories: u64,
    pub kev: u64,
    pub epss: u64,
    pub distro: u64,
}

impl Manifest {
    /// The manifest line, newline included.
    pub fn to_line(&self) -> Result<String, serde_json::Error> {
        let mut line = serde_json::to_string(self)?;
        line.push('\n');
        Ok(line)
    }

    /// The newest `imported_at` of the sources, when any parses.
    pub fn newest_source(&self) -> Option<jiff::Timestamp> {
        self.sources
            .iter()
            .filter_map(|s| s.imported_at.parse().ok())
            .max()
    }
}

/// Reads the manifest line from the start of `reader`, leaving the reader at the content.
pub fn read_manifest(reader: &mut impl BufRead, origin: &str) -> Result<Manifest, ExportError> {
    let not_export = |reason: String| ExportError::NotAnExport {
        origin: origin.to_owned(),
        reason,
    };
    let mut line = Vec::new();
    std::io::Read::take(&mut *reader, MAX_MANIFEST_BYTES)
        .read_until(b'\n', &mut line)
        .map_err(|e| not_export(format!("reading the manifest line: {e}")))?;
    if line.last() != Some(&b'\n') {
        return Err(not_export(if line.is_empty() {
            "empty file".to_owned()
        } else if line.len() as u64 >= MAX_MANIFEST_BYTES {
            format!("no manifest line within the first {MAX_MANIFEST_BYTES} bytes")
        } else {
            "the file ends inside the manifest line".to_owned()
        }));
    }
    #[derive(Deserialize)]
    struct Head {
        schema: Option<String>,
    }
    let head: Head = serde_json::from_slice(&line)
        .map_err(|e| not_export(format!("the first line is not a JSON manifest ({e})")))?;
    let schema = head.schema.unwrap_or_default();
    if schema != EXPORT_SCHEMA {
        if let Some(version) = schema.strip_prefix("hvguard.db-export/v") {
            if version.parse::<u32>().is_ok_and(|v| v > 1) {
                return Err(ExportError::Newer {
                    origin: origin.to_owned(),
                    what: "export format",
                    found: schema,
                    supported: EXPORT_SCHEMA.to_owned(),
                });
            }
        }
        return Err(not_export(format!(
            "the manifest's schema is {schema:?}, not {EXPORT_SCHEMA:?}"
        )));
    }
    let manifest: Manifest = serde_json::from_slice(&line)
        .map_err(|e| not_export(format!("malformed manifest: {e}")))?;
    if manifest.content.encoding != CONTENT_ENCODING {
        return Err(not_export(format!(
            "content encoding {:?} (this hvguard reads {CONTENT_ENCODING:?})",
            manifest.content.encoding
        )));
    }
    if manifest.content.sha256.len() != 64
        || !manifest
            .content
            .sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(not_export(
            "the manifest's content sha256 is not 64 lowercase hex digits".to_owned(),
        ));
    }
    Ok(manifest)
}

/// True when the file at `path` starts with a manifest line of [`EXPORT_SCHEMA`]'s family
/// (any version, members in any order): the file is meant as an export, and
/// [`read_manifest`] says whether it is a good one.
pub fn is_export_file(path: &std::path::Path) -> std::io::Result<bool> {
    #[derive(Deserialize)]
    struct Head {
        schema: Option<String>,
    }
    let mut reader = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut line = Vec::new();
    std::io::Read::take(&mut reader, MAX_MANIFEST_BYTES).read_until(b'\n', &mut line)?;
    if line.first() != Some(&b'{') {
        return Ok(false);
    }
    Ok(serde_json::from_slice::<Head>(&line)
        .ok()
        .and_then(|h| h.schema)
        .is_some_and(|s| s.starts_with("hvguard.db-export/")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            schema: EXPORT_SCHEMA.into(),
            created_at: "2026-11-27T12:00:00Z".into(),
            hvguard_version: "0.1.0".into(),
            store_schema_version: 1,
            content: Content {
                encoding: CONTENT_ENCODING.into(),
                sha256: "0".repeat(64),
                size: 4096,
            },
            sources: vec![],
            counts: Counts::default(),
        }
    }

    #[test]
    fn the_manifest_line_round_trips_and_is_recognised() {
        let line = manifest().to_line().unwrap();
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("x.hvdb");
        std::fs::write(&file, [line.as_bytes(), b"\x1f\x8b"].concat()).unwrap();
        assert!(is_export_file(&file).unwrap());
        std::fs::write(
            &file,
            r#"{"vulnerabilities": [], "schema": "hvguard.db-export/v9"}"#,
        )
        .unwrap();
        assert!(is_export_file(&file).unwrap());
        std::fs::write(
            &file,
            r#"{"catalogVersion": "2025.08.25", "vulnerabilities": []}"#,
        )
        .unwrap();
        assert!(!is_export_file(&file).unwrap());
        let mut bytes = line.into_bytes();
        bytes.extend_from_slice(b"\x1f\x8bcontent");
        let mut reader = std::io::Cursor::new(bytes);
        assert_eq!(read_manifest(&mut reader, "x").unwrap(), manifest());
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut rest).unwrap();
        assert_eq!(rest, b"\x1f\x8bcontent");
    }

    #[test]
    fn other_files_are_not_exports() {
        let read = |bytes: &[u8]| {
            read_manifest(&mut std::io::Cursor::new(bytes.to_vec()), "f")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(read(b""), "f: not an hvguard store export: empty file");
        assert!(read(b"SQLite format 3\0").contains("ends inside the manifest line"));
        assert!(read(b"{\"cves\": []}\n").contains("schema is \"\""));
        let newer = manifest().to_line().unwrap().replace("/v1", "/v2");
        assert!(read(newer.as_bytes()).contains("export format hvguard.db-export/v2 is newer"));
        let bad_hash = manifest()
            .to_line()
            .unwrap()
            .replace(&"0".repeat(64), "abc");
        assert!(read(bad_hash.as_bytes()).contains("not 64 lowercase hex digits"));
    }
}
