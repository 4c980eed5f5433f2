//! Reading files under a host root: bounded, stat'ed, and with real paths for de-duplication.

use crate::error::KataError;
use crate::load::{parse_config_str, ParsedConfig, MAX_CONFIG_BYTES};
use hvguard_core::{FileKind, FileStat, HostRoot};
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Reads (bounded) and parses one configuration file under `root`.
pub fn load_file(root: &HostRoot, host_path: &Path) -> Result<(ParsedConfig, FileStat), KataError> {
    let text = root.read_text(host_path, MAX_CONFIG_BYTES)?;
    let parsed = parse_config_str(host_path, &text)?;
    let meta = root.metadata(host_path)?;
    Ok((parsed, file_stat(host_path, &meta)))
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

/// The host path of the file `host_path` finally names, every symlink followed.
///
/// Two names for one file (`configuration.toml -> configuration-qemu.toml`) give the same
/// answer, which is what de-duplication needs.
pub fn real_host_path(root: &HostRoot, host_path: &Path) -> Result<PathBuf, KataError> {
    if root.is_live() {
        return std::fs::canonicalize(host_path).map_err(|source| {
            KataError::from(hvguard_core::RootError::Io {
                path: host_path.to_path_buf(),
                source,
            })
        });
    }
    let resolved = root.resolve(host_path)?;
    let inside = resolved.strip_prefix(root.base()).unwrap_or(&resolved);
    Ok(Path::new("/").join(inside))
}

/// True when `host_path` names a regular file (after symlinks) under `root`.
pub fn is_regular_file(root: &HostRoot, host_path: &Path) -> bool {
    root.metadata(host_path).is_ok_and(|m| m.is_file())
}

/// Names in `dir` matching `pred`, sorted; a missing directory is empty.
pub fn list_dir(
    root: &HostRoot,
    dir: &Path,
    pred: impl Fn(&str) -> bool,
) -> Result<Vec<String>, KataError> {
    match root.read_dir_names(dir) {
        Ok(names) => Ok(names.into_iter().filter(|n| pred(n)).collect()),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}
