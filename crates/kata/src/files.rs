//! Reading files under a host root: bounded, stat'ed, and with real paths for de-duplication.

use crate::error::KataError;
use crate::load::{parse_config_str, ParsedConfig, MAX_CONFIG_BYTES};
use hvguard_core::os_name::display_path;
use hvguard_core::{FileKind, FileStat, HostRoot, RootError};
use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Reads (bounded) and parses one configuration file under `root`.
///
/// The mode and owner are those of the file that was read (one descriptor for both). The
/// file is opened by its real name, which need not be UTF-8 (Kata applies such drop-ins);
/// positions and records name it by [`display_path`].
pub fn load_file(root: &HostRoot, host_path: &Path) -> Result<(ParsedConfig, FileStat), KataError> {
    let label = display_path(host_path);
    let (bytes, meta) = root
        .read_bytes_with_metadata(host_path, MAX_CONFIG_BYTES)
        .map_err(|e| relabel(e, &label))?;
    let text = String::from_utf8(bytes).map_err(|_| RootError::NotText {
        path: label.clone(),
    })?;
    let parsed = parse_config_str(&label, &text)?;
    Ok((parsed, file_stat(&label, &meta)))
}

/// A read error about `label` rather than the raw (possibly non-UTF-8) path.
fn relabel(e: RootError, label: &Path) -> RootError {
    if e.path() == label {
        return e;
    }
    match e {
        RootError::Io { cause, .. } => RootError::Io {
            path: label.to_path_buf(),
            cause,
        },
        RootError::TooLarge { limit, .. } => RootError::TooLarge {
            path: label.to_path_buf(),
            limit,
        },
        RootError::IsADirectory { .. } => RootError::IsADirectory {
            path: label.to_path_buf(),
        },
        RootError::NotARegularFile { .. } => RootError::NotARegularFile {
            path: label.to_path_buf(),
        },
        RootError::SymlinkLoop { .. } => RootError::SymlinkLoop {
            path: label.to_path_buf(),
        },
        other => other,
    }
}

/// `stat` facts of `meta`, labelled with the host path.
pub fn file_stat(host_path: &Path, meta: &Metadata) -> FileStat {
    let ft = meta.file_type();
    let kind = if ft.is_file() {
        FileKind::Regular
    } else if ft.is_dir() {
        FileKind::Directory
    } else if ft.is_symlink() {
        FileKind::Symlink
    } else {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_char_device() {
            FileKind::CharDevice
        } else if ft.is_block_device() {
            FileKind::BlockDevice
        } else {
            FileKind::Other
        }
    };
    FileStat {
        path: host_path.to_path_buf(),
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
    }
}

/// The host path of the file `host_path` finally names, every symlink followed (inside the
/// root, see [`HostRoot::canonical`]).
///
/// Two names for one file (`configuration.toml -> configuration-qemu.toml`) give the same
/// answer, which is what de-duplication needs.
pub fn real_host_path(root: &HostRoot, host_path: &Path) -> Result<PathBuf, KataError> {
    Ok(root.canonical(host_path)?)
}

/// True when `host_path` names a regular file (after symlinks) under `root`.
pub fn is_regular_file(root: &HostRoot, host_path: &Path) -> bool {
    root.metadata(host_path).is_ok_and(|m| m.is_file())
}

/// Every name in `dir`, as bytes, sorted bytewise; a missing directory is empty.
pub fn list_dir(root: &HostRoot, dir: &Path) -> Result<Vec<OsString>, KataError> {
    match root.read_dir_os(dir) {
        Ok(names) => Ok(names),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}
