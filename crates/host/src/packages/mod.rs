//! Package databases: dpkg and rpm. Which packages are installed, and which one owns a binary.

pub mod changelog;
pub mod dpkg;
pub mod dpkg_owner;
pub mod exec;
pub mod rpm;

use hvguard_core::{HostRoot, Package, PackageManager, PackageRef, Probe};
use std::path::{Path, PathBuf};

/// Why a package database could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{path}: line {line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// The installed packages of the host under `root`.
///
/// dpkg's status file wins when it exists. Otherwise an RPM database directory means an RPM
/// host (read on the live root only); with neither, the dpkg status path is reported absent.
pub fn read_installed(root: &HostRoot) -> Probe<Vec<Package>> {
    let status = dpkg::read_status(root);
    if status.is_absent() && root.exists(rpm::DB_DIR) {
        return rpm::read_installed(root);
    }
    status
}

/// The package owning `binary` (a path as the host sees it), found through the database the
/// packages came from.
pub fn owner_of(root: &HostRoot, packages: &[Package], binary: &Path) -> Option<PackageRef> {
    match packages.first()?.manager {
        PackageManager::Dpkg => dpkg_owner::owner_of(root, packages, binary),
        PackageManager::Rpm => rpm::owner_of(root, packages, binary),
    }
}

/// The upstream part of a package version: epoch, distribution revision and repack suffixes
/// removed (`1:7.2+dfsg-7+deb12u18+b3` => `7.2`, `8.2.0-11.el9_4` => `8.2.0`,
/// `1:8.2.2+ds-0ubuntu1.4` => `8.2.2`).
pub fn upstream_version(version: &str) -> &str {
    let no_epoch = version.split_once(':').map_or(version, |(_, v)| v);
    let no_revision = no_epoch.rsplit_once('-').map_or(no_epoch, |(v, _)| v);
    no_revision.split(['+', '~']).next().unwrap_or(no_revision)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn upstream_parts() {
        assert_eq!(upstream_version("1:7.2+dfsg-7+deb12u18+b3"), "7.2");
        assert_eq!(upstream_version("8.2.0-11.el9_4"), "8.2.0");
        assert_eq!(upstream_version("1:8.2.2+ds-0ubuntu1.4"), "8.2.2");
        assert_eq!(upstream_version("1.12.1"), "1.12.1");
        assert_eq!(upstream_version("2:9.0~rc1-1"), "9.0");
    }

    #[test]
    fn no_database_at_all_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        assert_eq!(
            read_installed(&root),
            Probe::absent(Path::new(dpkg::STATUS_PATH))
        );
        assert_eq!(owner_of(&root, &[], Path::new("/usr/bin/x")), None);
    }
}
