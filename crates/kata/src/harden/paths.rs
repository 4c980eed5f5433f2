//! Where hardened files go, held open.
//!
//! Both Kata runtimes canonicalise the configuration path before looking for drop-ins (Go:
//! `katautils.decodeConfig` calls `ResolvePath`, i.e. `filepath.EvalSymlinks`; runtime-rs:
//! `TomlConfig::load_raw_from_file` calls `fs::canonicalize`), so `config.d/` is the one beside
//! the *real* file: for `/etc/kata-containers/configuration.toml -> /opt/kata/.../configuration-qemu.toml`
//! the drop-in belongs in `/opt/kata/.../config.d/`. Paths are resolved inside the host root the
//! same way.
//!
//! The folders are opened once, as directory descriptors ([`RootDir`]), and every read and
//! write below goes through them: a folder swapped for a symlink while hvguard runs cannot
//! lead a write out of the root.

use super::error::HardenError;
use hvguard_core::{HostRoot, RootDir, RootError};
use std::io;
use std::path::{Path, PathBuf};

/// The drop-in folder Kata reads, beside the main configuration.
pub const DROPIN_DIR: &str = "config.d";

/// hvguard's drop-in. kata-deploy writes its own drop-ins as `10-`, `20-`, `30-` and `50-`
/// prefixes; `80-` sorts after them so the hardened values win, and leaves `90-` and up for an
/// operator who must override hvguard.
pub const DROPIN_NAME: &str = "80-hvguard-hardening.toml";

/// Folder for backups of files hvguard replaces, beside the main configuration.
///
/// Not inside `config.d/`: both runtimes parse *every* entry of `config.d/` as TOML (Go's
/// `decodeDropIns` and runtime-rs's `update_from_dropins` filter on no suffix), so a
/// `80-hvguard-hardening.toml.bak` there would be read too, and, sorting after the live file,
/// would win over it. A sub-folder of `config.d/` is no better: runtime-rs refuses one, and Go
/// fails reading it as a file.
pub const BACKUP_DIR: &str = "hvguard-backups";

/// The folders for one main configuration, open.
#[derive(Debug)]
pub(crate) struct Placement {
    /// The folder holding the real main configuration file.
    pub config_dir: RootDir,
    /// Name of the real main configuration file.
    pub main_name: String,
    /// `config.d/`, when it exists (a link to a folder inside the root is followed).
    pub dropin_dir: Option<RootDir>,
    /// Host path of `config.d/` (where the link leads, when it is one), for messages.
    pub dropin_dir_path: PathBuf,
}

impl Placement {
    /// Resolves `main` (a host path) inside `root`, checks that it is a regular file, and
    /// opens its folder and its `config.d/`.
    pub fn for_main(root: &HostRoot, main: &Path) -> Result<Self, HardenError> {
        let real = root.canonical(main)?;
        if !root.metadata(&real)?.is_file() {
            return Err(HardenError::NotAFile {
                path: main.to_path_buf(),
            });
        }
        let (Some(host_dir), Some(name)) = (real.parent(), real.file_name()) else {
            return Err(HardenError::BadConfigPath {
                path: main.to_path_buf(),
            });
        };
        let Some(main_name) = name.to_str() else {
            return Err(HardenError::BadConfigPath {
                path: main.to_path_buf(),
            });
        };
        let config_dir = root.open_dir(host_dir)?;
        let link = host_dir.join(DROPIN_DIR);
        let (dropin_dir, dropin_dir_path) = match open_folder(root, &link)? {
            Some(dir) => {
                // A `config.d` link is followed the way Kata follows it, but inside the root,
                // so an absolute link in a mounted image never leads to this machine's files.
                let path = root.canonical(&link).unwrap_or_else(|_| link.clone());
                (Some(dir), path)
            }
            None => (None, link),
        };
        Ok(Placement {
            config_dir,
            main_name: main_name.to_string(),
            dropin_dir,
            dropin_dir_path,
        })
    }

    /// Creates `config.d/` (mode `mode`) when missing; true when this call created it.
    pub fn ensure_dropin_dir(&mut self, mode: u32) -> Result<bool, HardenError> {
        if self.dropin_dir.is_some() {
            return Ok(false);
        }
        let dir = self
            .config_dir
            .create_subdir(DROPIN_DIR.as_ref(), mode)
            .map_err(|e| as_io(e, &self.dropin_dir_path, "create folder"))?;
        self.dropin_dir = Some(dir);
        Ok(true)
    }
}

/// The folder at `host_path`, `None` when nothing is there; something else there is an error.
pub(crate) fn open_folder(
    root: &HostRoot,
    host_path: &Path,
) -> Result<Option<RootDir>, HardenError> {
    match root.open_dir(host_path) {
        Ok(dir) => Ok(Some(dir)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(RootError::Io { cause, .. }) if cause.kind() == io::ErrorKind::NotADirectory => {
            Err(HardenError::NotADirectory {
                path: host_path.to_path_buf(),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// A [`RootError`] as an I/O error of `action` on `path` (the messages operators know).
pub(crate) fn as_io(e: RootError, path: &Path, action: &'static str) -> HardenError {
    match e {
        RootError::Io { cause, .. } => HardenError::io(path, action, cause),
        other => HardenError::Root(other),
    }
}

/// Where hvguard's drop-in for `main` goes, as a host path (what Kata itself would open).
pub fn dropin_path(root: &HostRoot, main: &Path) -> Result<PathBuf, HardenError> {
    let placement = Placement::for_main(root, main)?;
    Ok(placement.dropin_dir_path.join(DROPIN_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn dropin_goes_beside_the_real_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("opt/kata/share")).unwrap();
        fs::create_dir_all(dir.path().join("etc/kata-containers")).unwrap();
        fs::write(
            dir.path().join("opt/kata/share/configuration-qemu.toml"),
            "",
        )
        .unwrap();
        symlink(
            "/opt/kata/share/configuration-qemu.toml",
            dir.path().join("etc/kata-containers/configuration.toml"),
        )
        .unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let p = dropin_path(&root, Path::new("/etc/kata-containers/configuration.toml")).unwrap();
        assert_eq!(
            p,
            Path::new("/opt/kata/share/config.d/80-hvguard-hardening.toml")
        );
    }

    #[test]
    fn missing_main_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let err =
            dropin_path(&root, Path::new("/etc/kata-containers/configuration.toml")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/etc/kata-containers/configuration.toml:"),
            "{err}"
        );
    }
}
