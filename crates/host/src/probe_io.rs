//! Turning [`RootError`]s into [`Probe`]s, so every probe reports an unreadable fact the same way.

use hvguard_core::os_name::display_path;
use hvguard_core::root::SMALL_READ_LIMIT;
use hvguard_core::{HostRoot, Probe, RootError};
use std::path::Path;

/// The [`Probe`] a failed read stands for.
///
/// A missing file is `Absent`, a refused one `Denied`; anything else (too large, a directory,
/// not text, a symlink loop, an I/O error) cannot be judged and becomes `Unsupported`, with a
/// reason that names the path because the error's own text starts with it.
pub fn probe_from_error<T>(err: RootError) -> Probe<T> {
    // The path goes into the Snapshot, which is JSON: a name that is not UTF-8 is escaped.
    if err.is_not_found() {
        Probe::absent(display_path(err.path()))
    } else if err.is_permission_denied() {
        Probe::denied(display_path(err.path()))
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
/// A thin name for [`HostRoot::read_text`], which the probes share: only a regular file is
/// read (on the live root the procfs and sysfs files are regular), so a FIFO, a device or a
/// directory planted where a fact should be is unknown, never read as empty.
pub fn read_attr(root: &HostRoot, host_path: &Path, limit: u64) -> Result<String, RootError> {
    root.read_text(host_path, limit)
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

    /// Issue 11, item 6: a FIFO (no writer) where a fact file should be read as empty, and
    /// the rules passed. It is unknown now, and never blocks.
    #[test]
    fn item6_a_fifo_is_unknown_not_empty() {
        let (dir, root) = root();
        let fifo = dir.path().join("proc/fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        match read_small(&root, "/proc/fifo") {
            Probe::Unsupported { reason } => {
                assert!(
                    reason.contains("/proc/fifo: not a regular file"),
                    "{reason}"
                )
            }
            other => panic!("a FIFO must be unknown, got {other:?}"),
        }
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
