//! The per-run budget for searching binaries: total bytes and time.
//!
//! One binary is capped by [`super::scan::MAX_SCAN_BYTES`], but a root full of large files
//! with hypervisor names (20 sparse 600 MB `qemu-system-*` files took 25 s) needs a cap on the
//! whole run too. Every byte read while searching binaries is counted against one budget;
//! when bytes or time run out, the search stops where it is and the binaries left are
//! reported as cut (a warning, and a version that is unknown unless a package or the Kata
//! release supplies it).

use std::io::{self, Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

/// Bytes of binaries searched per run. Real hosts need a few dozen MB: QEMU's version sits
/// in its 2 MB `.rodata`, and the Rust VMMs whose banners need a whole-file pass are 2-8 MB.
pub const DEFAULT_SCAN_BYTES: u64 = 256 << 20;

/// Time spent searching binaries per run.
pub const DEFAULT_SCAN_TIME: Duration = Duration::from_secs(5);

/// How much binary searching one collection may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLimits {
    pub bytes: u64,
    pub time: Duration,
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits {
            bytes: DEFAULT_SCAN_BYTES,
            time: DEFAULT_SCAN_TIME,
        }
    }
}

impl ScanLimits {
    /// The limits as an operator reads them, for messages.
    pub fn describe(&self) -> String {
        format!(
            "{} MiB or {} s of binary reading per run",
            self.bytes >> 20,
            self.time.as_secs_f64()
        )
    }
}

/// What is left of the limits during one collection.
#[derive(Debug)]
pub(crate) struct Budget {
    pub limits: ScanLimits,
    bytes_left: u64,
    deadline: Instant,
}

impl Budget {
    pub fn new(limits: ScanLimits) -> Self {
        Budget {
            limits,
            bytes_left: limits.bytes,
            deadline: Instant::now() + limits.time,
        }
    }

    fn spent(&self) -> bool {
        self.bytes_left == 0 || Instant::now() >= self.deadline
    }
}

/// A reader that charges every byte to a [`Budget`] and reports end of file once it is spent.
#[derive(Debug)]
pub(crate) struct Budgeted<'b, R> {
    inner: R,
    budget: &'b mut Budget,
    /// True once a read was refused because the budget ran out.
    pub cut: bool,
}

impl<'b, R> Budgeted<'b, R> {
    pub fn new(inner: R, budget: &'b mut Budget) -> Self {
        Budgeted {
            inner,
            budget,
            cut: false,
        }
    }
}

impl<R: Read> Read for Budgeted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.budget.spent() {
            self.cut = true;
            return Ok(0);
        }
        let allowed =
            usize::try_from(self.budget.bytes_left).map_or(buf.len(), |b| b.min(buf.len()));
        let n = self.inner.read(&mut buf[..allowed])?;
        self.budget.bytes_left -= n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Budgeted<'_, R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_charged_across_readers_and_then_refused() {
        let mut budget = Budget::new(ScanLimits {
            bytes: 10,
            time: Duration::from_secs(60),
        });
        let mut out = Vec::new();
        let mut a = Budgeted::new(&[1u8; 6][..], &mut budget);
        a.read_to_end(&mut out).unwrap();
        assert!(!a.cut);
        let mut b = Budgeted::new(&[2u8; 6][..], &mut budget);
        b.read_to_end(&mut out).unwrap();
        assert!(b.cut);
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn time_runs_out_too() {
        let mut budget = Budget::new(ScanLimits {
            bytes: u64::MAX,
            time: Duration::ZERO,
        });
        let mut r = Budgeted::new(&[1u8; 6][..], &mut budget);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert!(r.cut && out.is_empty());
    }
}
