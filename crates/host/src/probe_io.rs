//! Turning [`RootError`]s into [`Probe`]s, so every probe reports an unreadable fact the same way.

use hvguard_core::root::SMALL_READ_LIMIT;
use hvguard_core::{HostRoot, Probe, RootError};
use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Most procfs/sysfs files fit in this; it is only the first allocation, not a limit.
const INITIAL_BUFFER: usize = 8 << 10;

/// The [`Probe`] a failed read stands for.
///
/// A missing file is `Absent`, a refused one `Denied`; anything else (too large, a directory,
/// not text, a symlink loop, an I/O error) cannot be judged and becomes `Unsupported`, with a
/// reason that names the path because the error's own text starts with it.
pub fn probe_from_error<T>(err: RootError) -> Probe<T> {
    if err.is_not_found() {
        Probe::absent(err.path())
    } else if err.is_permission_denied() {
        Probe::denied(err.path())
    } else {
        Probe::unsupported(err.to_string())
    }
}

/// Wraps a read result as a probe.
pub fn probe_result<T>(result: Result<T, RootError>) -> Probe<T> {
    match result {
        Ok(value) => Probe::found(value),
        Err(err) => probe_from_error(err),
    }
}

/// Reads the text file `host_path` (resolved inside `root`) of at most `limit` bytes.
///
/// The same contract as [`HostRoot::read_text`], in fewer system calls: host facts are a few
/// dozen tiny procfs/sysfs files, where the `fstat` per file and the 32-byte probe reads that a
/// zero-size procfs file causes are most of the cost. `O_NONBLOCK` keeps a FIFO planted under
/// `--root` from blocking the open; it changes nothing for regular, procfs or sysfs files.
pub fn read_attr(root: &HostRoot, host_path: &Path, limit: u64) -> Result<String, RootError> {
    let io_err = |source: io::Error| {
        if source.raw_os_error() == Some(libc::EISDIR) {
            RootError::IsADirectory {
                path: host_path.to_path_buf(),
            }
        } else {
            RootError::Io {
                path: host_path.to_path_buf(),
                source,
            }
        }
    };
    let real = root.resolve(host_path)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&real)
        .map_err(io_err)?;
    let cap =
        usize::try_from(limit.saturating_add(1)).map_or(INITIAL_BUFFER, |l| l.min(INITIAL_BUFFER));
    let mut buf = Vec::with_capacity(cap);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(io_err)?;
    if buf.len() as u64 > limit {
        return Err(RootError::TooLarge {
            path: host_path.to_path_buf(),
            limit,
        });
    }
    String::from_utf8(buf).map_err(|_| RootError::NotText {
        path: host_path.to_path_buf(),
    })
}

/// A small text attribute (sysfs, procfs), trimmed.
pub fn read_small(root: &HostRoot, path: impl AsRef<Path>) -> Probe<String> {
    probe_result(read_attr(root, path.as_ref(), SMALL_READ_LIMIT)).map(|text| {
        let trimmed = text.trim();
        if trimmed.len() == text.len() {
            text
        } else {
            trimmed.to_string()
        }
    })
}

/// The first line of a small text attribute, trimmed.
pub fn read_first_line(root: &HostRoot, path: impl AsRef<Path>) -> Probe<String> {
    read_small(root, path).map(|text| match text.lines().next() {
        Some(line) if line.len() != text.len() => line.trim_end().to_string(),
        _ => text,
    })
}

/// A text file of at most `limit` bytes, untrimmed.
pub fn read_text(root: &HostRoot, path: &str, limit: u64) -> Probe<String> {
    probe_result(read_attr(root, Path::new(path), limit))
}

/// A fact parsed from a text file: a parse error is `Unsupported`, prefixed with the path.
pub fn parse_text<T, E: std::fmt::Display>(
    root: &HostRoot,
    path: &str,
    limit: u64,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Probe<T> {
    read_text(root, path, limit).and_then(|text| match parse(&text) {
        Ok(value) => Probe::found(value),
        Err(err) => Probe::unsupported(format!("{path}: {err}")),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::fs;

    fn root() -> (tempfile::TempDir, HostRoot) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("proc/sub")).unwrap();
        fs::write(dir.path().join("proc/two"), "first \nsecond\n").unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        (dir, root)
    }

    #[test]
    fn errors_map_to_the_right_probe() {
        let (_dir, root) = root();
        assert_eq!(read_small(&root, "/proc/none"), Probe::absent("/proc/none"));
        match read_small(&root, "/proc/sub") {
            Probe::Unsupported { reason } => assert!(reason.contains("/proc/sub"), "{reason}"),
            other => panic!("expected unsupported, got {other:?}"),
        }
    }

    #[test]
    fn bounded_and_text_only() {
        let (dir, root) = root();
        fs::write(dir.path().join("proc/big"), vec![b'x'; 100]).unwrap();
        fs::write(dir.path().join("proc/bin"), [0xff, 0xfe]).unwrap();
        let big = Path::new("/proc/big");
        assert_eq!(read_attr(&root, big, 100).unwrap().len(), 100);
        assert!(matches!(
            read_attr(&root, big, 99),
            Err(RootError::TooLarge { limit: 99, .. })
        ));
        assert!(matches!(
            read_attr(&root, Path::new("/proc/bin"), 10),
            Err(RootError::NotText { .. })
        ));
        let dir_err = read_attr(&root, Path::new("/proc/sub"), 10).unwrap_err();
        assert_eq!(
            dir_err.to_string(),
            "/proc/sub: is a directory, expected a file"
        );
    }

    #[test]
    fn a_fifo_does_not_block() {
        let (dir, root) = root();
        let fifo = dir.path().join("proc/fifo");
        // mkfifo(1) rather than libc::mkfifo: the project's only unsafe code is the KVM ioctl.
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(read_small(&root, "/proc/fifo"), Probe::found(String::new()));
    }

    #[test]
    fn first_line_only() {
        let (_dir, root) = root();
        assert_eq!(
            read_first_line(&root, "/proc/two"),
            Probe::found("first".to_string())
        );
    }

    #[test]
    fn parse_errors_name_the_path() {
        let (_dir, root) = root();
        let p: Probe<u32> = parse_text(&root, "/proc/two", 64, |t| t.trim().parse::<u32>());
        assert_eq!(
            p.unknown_reason().unwrap(),
            "/proc/two: invalid digit found in string"
        );
    }
}
