//! Files an operator names on the command line (`--policy`, `--snapshot`, `db import`):
//! regular files only, looked at before they are opened, opened without blocking, read with
//! a bound.
//!
//! A FIFO given by mistake (or by someone who may write the path) would hang a read with no
//! writer on the other end, and a device can do anything when opened; both are refused from
//! their `stat` before any `open`. The file is then opened with `O_NONBLOCK` and checked
//! again on the descriptor (`fstat`), in case the path was swapped in between.
//!
//! Errors are `io::Error`s, so callers keep their own error type with the path attached:
//! `InvalidInput` for a special file, `IsADirectory`, `FileTooLarge` past the limit.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

fn refuse(meta: &Metadata) -> io::Result<()> {
    if meta.is_dir() {
        Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory, expected a file",
        ))
    } else if !meta.is_file() {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, device or socket)",
        ))
    } else {
        Ok(())
    }
}

/// Opens `path` for reading when it is a regular file (symlinks followed, as an operator
/// expects); anything else is an error without being opened.
pub fn open_regular(path: &Path) -> io::Result<(File, Metadata)> {
    refuse(&std::fs::metadata(path)?)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    refuse(&meta)?;
    Ok((file, meta))
}

/// Reads the regular file `path` whole; more than `limit` bytes is an error.
pub fn read_regular(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let (file, meta) = open_regular(path)?;
    let hint = meta.size().min(limit.saturating_add(1));
    let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than the {limit}-byte limit"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use rustix::fs::{mknodat, FileType, Mode, CWD};

    #[test]
    fn regular_files_only_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.toml");
        std::fs::write(&file, "0123456789").unwrap();
        assert_eq!(read_regular(&file, 10).unwrap(), b"0123456789");
        let e = read_regular(&file, 9).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        let e = read_regular(dir.path(), 9).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::IsADirectory);
        let fifo = dir.path().join("fifo");
        mknodat(CWD, &fifo, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
        let e = read_regular(&fifo, 9).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        let e = read_regular(Path::new("/dev/zero"), 9).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        assert_eq!(
            read_regular(&dir.path().join("none"), 9)
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
    }
}
