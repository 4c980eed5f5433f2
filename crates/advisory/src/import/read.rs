//! Bounded reads and JSON decoding shared by the importers.
//!
//! Every feed file is opened here with a byte limit for its kind, so a wrong path (a disk
//! image, `/dev/zero`, a 200 MB file of junk) fails fast with the file's name instead of
//! exhausting memory.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use hvguard_core::operator_file::open_regular;

use serde::de::DeserializeOwned;

use super::progress::Observed;
use crate::ImportError;

/// Limit for one OSV record (a record is a few KiB; 16 MiB leaves room for giant ones).
pub const OSV_RECORD_LIMIT: u64 = 16 << 20;
/// Limit for a whole-feed dump read by streaming (NVD pages and trees, the Debian tracker).
pub const DUMP_LIMIT: u64 = 512 << 20;
/// Limit for a small single-record file (CVE 5, one NVD `cve` object, KEV, snapshots).
pub const RECORD_LIMIT: u64 = 64 << 20;
/// Below this size a JSON file is read whole and parsed from memory (faster than a reader).
const IN_MEMORY_LIMIT: u64 = 64 << 20;

/// Opens `path` (a regular file only: a FIFO would hang the import, a device is never
/// opened) and refuses it early when its size already exceeds `limit`.
pub fn open_bounded(path: &Path, limit: u64) -> Result<File, ImportError> {
    let (file, meta) = open_regular(path).map_err(|e| ImportError::io(path, e))?;
    if meta.len() > limit {
        return Err(ImportError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(file)
}

/// Reads at most `limit` bytes of `reader`; more is an error naming `path`.
pub fn read_capped(reader: impl Read, path: &Path, limit: u64) -> Result<Vec<u8>, ImportError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ImportError::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(ImportError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}

/// Reads the whole file, bounded.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, ImportError> {
    read_capped(open_bounded(path, limit)?, path, limit)
}

/// Fails unless the first non-blank byte opens a JSON object or array.
pub fn check_json_start(path: &Path, head: &[u8]) -> Result<(), ImportError> {
    let first = head.iter().position(|b| !b.is_ascii_whitespace());
    match first.map(|i| head[i]) {
        Some(b'{') | Some(b'[') => Ok(()),
        Some(_) | None => {
            let start = first.unwrap_or(0);
            let shown = &head[start..head.len().min(start + 16)];
            Err(ImportError::NotJson {
                path: path.to_path_buf(),
                found: String::from_utf8_lossy(shown).into_owned(),
            })
        }
    }
}

/// Decodes JSON bytes into `T`, naming the file and position on error.
pub fn json_from_slice<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, ImportError> {
    check_json_start(path, bytes)?;
    serde_json::from_slice(bytes).map_err(|e| ImportError::json(path, &e))
}

/// Decodes a JSON file into `T`: small files from memory, big ones streaming from a buffered
/// reader so memory stays bounded by what `T` keeps, not by the file size.
pub fn json_from_file<T: DeserializeOwned>(path: &Path, limit: u64) -> Result<T, ImportError> {
    let file = open_bounded(path, limit)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    if size <= IN_MEMORY_LIMIT {
        let bytes = read_capped(file, path, limit)?;
        return json_from_slice(path, &bytes);
    }
    let observed = Observed::new(file.take(limit), path, Some(size));
    let mut reader = BufReader::with_capacity(1 << 20, observed);
    let head = reader.fill_buf().map_err(|e| ImportError::io(path, e))?;
    check_json_start(path, head)?;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let value = T::deserialize(&mut de).map_err(|e| ImportError::json(path, &e))?;
    de.end().map_err(|e| ImportError::json(path, &e))?;
    Ok(value)
}

/// The first bytes of a file, for format detection.
pub fn read_head(path: &Path, len: usize) -> Result<Vec<u8>, ImportError> {
    let (file, _) = open_regular(path).map_err(|e| ImportError::io(path, e))?;
    let mut head = Vec::with_capacity(len);
    file.take(len as u64)
        .read_to_end(&mut head)
        .map_err(|e| ImportError::io(path, e))?;
    Ok(head)
}

/// Runs a `DeserializeSeed` over a JSON file, from memory when small and streaming when
/// big, for importers that convert records while they are read instead of after.
pub fn json_seed_from_file<S>(path: &Path, limit: u64, seed: S) -> Result<(), ImportError>
where
    S: for<'de> serde::de::DeserializeSeed<'de, Value = ()>,
{
    let file = open_bounded(path, limit)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    if size <= IN_MEMORY_LIMIT {
        let bytes = read_capped(file, path, limit)?;
        return json_seed_from_slice(path, &bytes, seed);
    }
    let observed = Observed::new(file.take(limit), path, Some(size));
    let mut reader = BufReader::with_capacity(1 << 20, observed);
    let head = reader.fill_buf().map_err(|e| ImportError::io(path, e))?;
    check_json_start(path, head)?;
    let mut de = serde_json::Deserializer::from_reader(reader);
    seed.deserialize(&mut de)
        .map_err(|e| ImportError::json(path, &e))?;
    de.end().map_err(|e| ImportError::json(path, &e))
}

/// Runs a `DeserializeSeed` over JSON bytes.
pub fn json_seed_from_slice<S>(path: &Path, bytes: &[u8], seed: S) -> Result<(), ImportError>
where
    S: for<'de> serde::de::DeserializeSeed<'de, Value = ()>,
{
    check_json_start(path, bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    seed.deserialize(&mut de)
        .map_err(|e| ImportError::json(path, &e))?;
    de.end().map_err(|e| ImportError::json(path, &e))
}
