//! Progress of long feed reads (an NVD or Debian dump is hundreds of MB).
//!
//! The importers are a library: they must not draw on a terminal. A front end installs one
//! process-wide observer, and the streaming readers report to it every few MiB.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Called with the file, the bytes read so far and the file's size when known.
pub type ReadObserver = fn(path: &Path, done: u64, total: Option<u64>);

static OBSERVER: OnceLock<ReadObserver> = OnceLock::new();

/// Bytes between two reports.
const STEP: u64 = 8 << 20;

/// Installs the observer; only the first call wins (false when one was already set).
pub fn set_read_observer(observer: ReadObserver) -> bool {
    OBSERVER.set(observer).is_ok()
}

/// A reader that reports its progress to the installed observer, if any.
pub(crate) struct Observed<R> {
    inner: R,
    path: PathBuf,
    done: u64,
    total: Option<u64>,
    next_report: u64,
}

impl<R: Read> Observed<R> {
    pub(crate) fn new(inner: R, path: &Path, total: Option<u64>) -> Self {
        Observed {
            inner,
            path: path.to_path_buf(),
            done: 0,
            total,
            next_report: STEP,
        }
    }
}

impl<R: Read> Read for Observed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if let Some(observer) = OBSERVER.get() {
            if n == 0 || self.done >= self.next_report {
                observer(&self.path, self.done, self.total);
                self.next_report = self.done + STEP;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_byte_and_passes_data_through() {
        let data = vec![7u8; 3 * 1024 * 1024];
        let mut reader = Observed::new(&data[..], Path::new("/feed.json"), Some(data.len() as u64));
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(reader.done, data.len() as u64);
    }
}
