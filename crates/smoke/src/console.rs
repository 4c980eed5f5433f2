//! Watching a guest console for the marker in bounded memory.
//!
//! The console is untrusted input of any size: a guest (or a VMM gone wrong) may print
//! forever. The watcher keeps only what it needs: the last `marker.len() - 1` bytes so that a
//! marker split across two reads is still found, and a fixed-size tail for the report.

use memchr::memmem;

/// Bytes of console output kept for a failure report.
pub const CONSOLE_TAIL_BYTES: usize = 4096;

/// Finds the marker in a stream of console chunks.
#[derive(Debug, Clone)]
pub struct ConsoleWatch {
    marker: Vec<u8>,
    /// The end of the previous chunks, shorter than the marker.
    carry: Vec<u8>,
    /// The last [`CONSOLE_TAIL_BYTES`] bytes seen, as a ring.
    tail: Vec<u8>,
    tail_start: usize,
    total: u64,
    found: bool,
}

impl ConsoleWatch {
    /// A watcher for `marker` (non-empty; see [`crate::spec::marker_problem`]).
    pub fn new(marker: &str) -> ConsoleWatch {
        ConsoleWatch {
            marker: marker.as_bytes().to_vec(),
            carry: Vec::with_capacity(marker.len()),
            tail: Vec::with_capacity(CONSOLE_TAIL_BYTES),
            tail_start: 0,
            total: 0,
            found: false,
        }
    }

    /// Feeds one chunk; true once the marker has been seen (in this chunk or before).
    pub fn feed(&mut self, chunk: &[u8]) -> bool {
        self.total += chunk.len() as u64;
        self.keep_tail(chunk);
        if self.found || self.marker.is_empty() {
            self.found |= self.marker.is_empty();
            return self.found;
        }
        let keep = self.marker.len() - 1;
        // Search the carried bytes joined with the start of this chunk: the only place a
        // marker can straddle the boundary.
        if !self.carry.is_empty() {
            let head = &chunk[..chunk.len().min(keep)];
            let mut joined = Vec::with_capacity(self.carry.len() + head.len());
            joined.extend_from_slice(&self.carry);
            joined.extend_from_slice(head);
            if memmem::find(&joined, &self.marker).is_some() {
                self.found = true;
                return true;
            }
        }
        if memmem::find(chunk, &self.marker).is_some() {
            self.found = true;
            return true;
        }
        if chunk.len() >= keep {
            self.carry.clear();
            self.carry.extend_from_slice(&chunk[chunk.len() - keep..]);
        } else {
            self.carry.extend_from_slice(chunk);
            let excess = self.carry.len().saturating_sub(keep);
            self.carry.drain(..excess);
        }
        false
    }

    fn keep_tail(&mut self, chunk: &[u8]) {
        let chunk = &chunk[chunk.len().saturating_sub(CONSOLE_TAIL_BYTES)..];
        for &b in chunk {
            if self.tail.len() < CONSOLE_TAIL_BYTES {
                self.tail.push(b);
            } else {
                self.tail[self.tail_start] = b;
                self.tail_start = (self.tail_start + 1) % CONSOLE_TAIL_BYTES;
            }
        }
    }

    /// True once the marker was seen.
    pub fn found(&self) -> bool {
        self.found
    }

    /// Console bytes seen so far.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// The last bytes seen, as text (invalid UTF-8 and control characters replaced).
    pub fn tail_text(&self) -> String {
        let mut bytes = Vec::with_capacity(self.tail.len());
        bytes.extend_from_slice(&self.tail[self.tail_start..]);
        bytes.extend_from_slice(&self.tail[..self.tail_start]);
        printable(&bytes)
    }
}

/// Lossy UTF-8 with terminal control sequences made harmless for a report.
pub fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '.'
            } else {
                c
            }
        })
        .collect()
}

/// Keeps the last `limit` bytes of a stream (a VMM's stderr).
#[derive(Debug, Clone)]
pub struct TailBuffer {
    limit: usize,
    bytes: Vec<u8>,
}

impl TailBuffer {
    pub fn new(limit: usize) -> TailBuffer {
        TailBuffer {
            limit,
            bytes: Vec::new(),
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > self.limit * 2 {
            let cut = self.bytes.len() - self.limit;
            self.bytes.drain(..cut);
        }
    }

    pub fn text(&self) -> String {
        printable(&self.bytes[self.bytes.len().saturating_sub(self.limit)..])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_marker_split_across_every_boundary() {
        let text = b"booting...\nHVGUARD-SMOKE-OK\npower down\n";
        for split in 0..text.len() {
            for split2 in split..text.len() {
                let mut w = ConsoleWatch::new("HVGUARD-SMOKE-OK");
                let found =
                    w.feed(&text[..split]) | w.feed(&text[split..split2]) | w.feed(&text[split2..]);
                assert!(found, "split at {split}/{split2}");
            }
        }
        let mut byte_by_byte = ConsoleWatch::new("HVGUARD-SMOKE-OK");
        assert!(text.iter().any(|b| byte_by_byte.feed(&[*b])));
    }

    #[test]
    fn no_false_positive_and_bounded_memory() {
        let mut w = ConsoleWatch::new("HVGUARD-SMOKE-OK");
        let line = b"HVGUARD-SMOKE-O\nHVGUARD-SMOKE-\n";
        for _ in 0..100_000 {
            assert!(!w.feed(line));
        }
        assert_eq!(w.total_bytes(), 100_000 * line.len() as u64);
        assert!(w.carry.len() < "HVGUARD-SMOKE-OK".len());
        assert_eq!(w.tail.len(), CONSOLE_TAIL_BYTES);
        assert!(w.tail_text().ends_with("HVGUARD-SMOKE-\n"));
    }

    #[test]
    fn tail_is_printable_and_in_order() {
        let mut w = ConsoleWatch::new("X");
        w.feed(b"\x1b[2Jhello\x07");
        assert_eq!(w.tail_text(), ".[2Jhello.");
        let mut t = TailBuffer::new(4);
        for c in [b"ab".as_slice(), b"cdef", b"gh"] {
            t.push(c);
        }
        assert_eq!(t.text(), "efgh");
    }
}
