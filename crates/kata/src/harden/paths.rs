//! Where hardened files go.
//!
//! Both Kata runtimes canonicalise the configuration path before looking for drop-ins (Go:
//! `katautils.decodeConfig` calls `ResolvePath`, i.e. `filepath.EvalSymlinks`; runtime-rs:
//! `TomlConfig::load_raw_from_file` calls `fs::canonicalize`), so `config.d/` is the one beside
//! the *real* file: for `/etc/kata-containers/configuration.toml -> /opt/kata/.../configuration-qemu.toml`
//! the drop-in belongs in `/opt/kata/.../config.d/`. Paths are resolved inside the host root the
//! same way.

use super::error::HardenError;
use hvguard_core::HostRoot;
use std::fs;
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

/// The real (on this machine) locations for one main configuration.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    /// The folder holding the real main configuration file.
    pub config_dir: PathBuf,
    /// Name of the real main configuration file.
    pub main_name: String,
    /// `config_dir/config.d`.
    pub dropin_dir: PathBuf,
    /// `config_dir/config.d/80-hvguard-hardening.toml`.
    pub dropin: PathBuf,
    /// `config_dir/hvguard-backups`.
    pub backup_dir: PathBuf,
}

impl Placement {
    /// Resolves `main` (a host path) inside `root` and checks that it is a regular file.
    pub fn for_main(root: &HostRoot, main: &Path) -> Result<Self, HardenError> {
        let mut real = root.resolve(main)?;
        if root.is_live() {
            // On the live root `resolve` leaves links to the kernel; Kata canonicalises, so do we.
            real = fs::canonicalize(&real)
                .map_err(|e| HardenError::io(main, "read main configuration", e))?;
        }
        let meta =
            fs::metadata(&real).map_err(|e| HardenError::io(main, "read main configuration", e))?;
        if !meta.is_file() {
            return Err(HardenError::NotAFile {
                path: main.to_path_buf(),
            });
        }
        let (Some(config_dir), Some(name)) = (real.parent(), real.file_name()) else {
            return Err(HardenError::BadConfigPath {
                path: main.to_path_buf(),
            });
        };
        let Some(main_name) = name.to_str() else {
            return Err(HardenError::BadConfigPath {
                path: main.to_path_buf(),
            });
        };
        // A `config.d` link is followed the way Kata follows it, but inside the root, so an
        // absolute link in a mounted image never leads to this machine's own files.
        let host_dir = host_path(root, config_dir);
        let dropin_dir = root.resolve(host_dir.join(DROPIN_DIR))?;
        let backup_dir = root.resolve(host_dir.join(BACKUP_DIR))?;
        Ok(Placement {
            config_dir: config_dir.to_path_buf(),
            main_name: main_name.to_string(),
            dropin: dropin_dir.join(DROPIN_NAME),
            dropin_dir,
            backup_dir,
        })
    }
}

/// Where hvguard's drop-in for `main` goes, as a host path (what Kata itself would open).
pub fn dropin_path(root: &HostRoot, main: &Path) -> Result<PathBuf, HardenError> {
    let placement = Placement::for_main(root, main)?;
    Ok(host_path(root, &placement.dropin))
}

/// The host path of a real path under `root` (the path as the host itself would see it).
pub(crate) fn host_path(root: &HostRoot, real: &Path) -> PathBuf {
    match real.strip_prefix(root.base()) {
        Ok(rel) => Path::new("/").join(rel),
        Err(_) => real.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
