//! The inputs: which files to read (`walk`), and what one file says (`document`).

pub mod document;
pub mod walk;

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use document::{parse_document, Document, DocumentError};

/// A file (or folder) that was not used as it is, and why: `problems[]` of the fleet report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    pub file: PathBuf,
    pub reason: String,
}

impl Problem {
    pub fn new(file: &Path, reason: impl Into<String>) -> Problem {
        Problem {
            file: file.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// A node report with every finding of a busy node stays far below this; anything bigger is
/// not a document a node wrote.
pub const MAX_FILE_BYTES: u64 = 32 << 20;

/// Reads a whole file into `buf` (reused between files), refusing one larger than `limit`.
pub fn read_bounded(path: &Path, limit: u64, buf: &mut Vec<u8>) -> Result<(), String> {
    buf.clear();
    let file = std::fs::File::open(path).map_err(|e| walk::io_reason(&e))?;
    // No fstat for a size hint: `buf` is reused, and after the first files it holds any
    // report in one read.
    buf.reserve(64 << 10);
    file.take(limit + 1)
        .read_to_end(buf)
        .map_err(|e| walk::io_reason(&e))?;
    if buf.len() as u64 > limit {
        return Err(format!("larger than {limit} bytes, not a node document"));
    }
    if buf.is_empty() {
        return Err("empty file".to_owned());
    }
    Ok(())
}
