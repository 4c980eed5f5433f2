//! Staging: the candidate packages downloaded (`apt-get download`) and unpacked
//! (`dpkg-deb -x`) into a private folder, never installed. From there the candidate's
//! changelog is read and its binary smoke-booted with its own modules.

use std::path::{Path, PathBuf};

use hvguard_advisory::{Version, VersionScheme};
use hvguard_core::{ChangelogEntry, HostRoot};
use hvguard_host::packages::changelog::{changelog_path, read_changelog};

use crate::apt::{Apt, DebFile};
use crate::state::private_dir;
use crate::UpdateError;

/// Candidate packages unpacked under `root`.
#[derive(Debug, Clone)]
pub struct Staged {
    /// `staging/<name>/`; removed by [`Staged::remove`].
    pub dir: PathBuf,
    /// The unpacked tree (`dir/root`), laid out like `/`.
    pub root: PathBuf,
    pub debs: Vec<DebFile>,
}

/// Downloads and unpacks `pins` into `staging_root/name`.
pub fn stage(
    apt: &Apt,
    staging_root: &Path,
    name: &str,
    pins: &[(String, String)],
) -> Result<Staged, UpdateError> {
    let dir = staging_root.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| UpdateError::io(&dir, "clearing an old staging folder", e))?;
    }
    let debs_dir = dir.join("debs");
    let root = dir.join("root");
    private_dir(&debs_dir)?;
    private_dir(&root)?;
    let debs = apt.download(&debs_dir, pins)?;
    for deb in &debs {
        apt.extract(&deb.path, &root)?;
    }
    Ok(Staged { dir, root, debs })
}

impl Staged {
    /// The staged copy of a binary installed at `host_path` (`/usr/bin/qemu-system-x86_64`).
    pub fn binary(&self, host_path: &Path) -> Option<PathBuf> {
        let rel = host_path.strip_prefix("/").unwrap_or(host_path);
        let p = self.root.join(rel);
        p.is_file().then_some(p)
    }

    /// The QEMU module folder of the staged build, if it ships one.
    pub fn module_dir(&self) -> Option<PathBuf> {
        module_dir_under(&self.root)
    }

    /// The data folders (`-L`) of the staged build: for each folder of Debian's firmware path,
    /// the staged copy when the update changes the package that ships it, else the installed
    /// one (the SeaBIOS and iPXE packages are not part of a QEMU update). A copy outside
    /// `/usr/bin` looks for these relative to itself and finds nothing there otherwise.
    pub fn data_dirs(&self) -> Vec<PathBuf> {
        data_dirs_for(&self.root, Path::new("/"))
    }

    /// The CVE-naming entries of the staged packages' changelog, with the package whose
    /// changelog was read. Binary packages of one source share a changelog: the first
    /// readable one is used.
    pub fn changelog(&self, warnings: &mut Vec<String>) -> Option<(DebFile, Vec<ChangelogEntry>)> {
        let root = HostRoot::new(&self.root).ok()?;
        for deb in &self.debs {
            let path = changelog_path(&deb.package);
            match read_changelog(&root, &path) {
                Ok(entries) => return Some((deb.clone(), entries)),
                Err(hvguard_host::packages::changelog::ChangelogError::Root(r))
                    if r.is_not_found() => {}
                Err(e) => warnings.push(format!("staged {}: {e}", deb.package)),
            }
        }
        None
    }

    /// The version banner of the staged copy of `host_path`, read without running it.
    pub fn banner(
        &self,
        host_path: &Path,
        kind: hvguard_core::HypervisorKind,
    ) -> Option<(String, String)> {
        let binary = self.binary(host_path)?;
        let mut file = std::fs::File::open(&binary).ok()?;
        let len = file.metadata().ok()?.len();
        let found = hvguard_host::hypervisors::scan::find_in_file(
            &mut file,
            len,
            &hvguard_host::hypervisors::kind::banners_for(kind),
        )
        .ok()??;
        Some((found.version, found.evidence))
    }

    /// Removes the staging folder.
    pub fn remove(&self) {
        // Best effort: a leftover is cleared by the next staging of the same name.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The entries of `entries` newer than `installed` in dpkg's ordering.
pub fn newer_than(entries: &[ChangelogEntry], installed: &str) -> Vec<ChangelogEntry> {
    let Ok(installed) = Version::parse(VersionScheme::Dpkg, installed) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter(|entry| {
            Version::parse(VersionScheme::Dpkg, &entry.version)
                .ok()
                .and_then(|v| v.compare(&installed))
                == Some(std::cmp::Ordering::Greater)
        })
        .cloned()
        .collect()
}

/// Debian's QEMU firmware path (`qemu-system-x86_64 -L help` on Debian 12), relative to `/`.
pub const DEBIAN_FIRMWARE_PATH: [&str; 3] =
    ["usr/share/qemu", "usr/share/seabios", "usr/lib/ipxe/qemu"];

/// For each folder of [`DEBIAN_FIRMWARE_PATH`], the one under `staged` if it exists, else the
/// one under `installed` if that exists.
pub fn data_dirs_for(staged: &Path, installed: &Path) -> Vec<PathBuf> {
    DEBIAN_FIRMWARE_PATH
        .iter()
        .filter_map(|rel| {
            [staged.join(rel), installed.join(rel)]
                .into_iter()
                .find(|d| d.is_dir())
        })
        .collect()
}

/// Where a QEMU build under `root` keeps its modules: Debian's multiarch folder or the
/// upstream default, whichever holds `*.so` files.
pub fn module_dir_under(root: &Path) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    for lib in ["usr/lib", "lib", "usr/lib64", "lib64"] {
        let base = root.join(lib);
        candidates.push(base.join("qemu"));
        if let Ok(entries) = std::fs::read_dir(&base) {
            let mut triplets: Vec<PathBuf> =
                entries.flatten().map(|e| e.path().join("qemu")).collect();
            triplets.sort();
            candidates.extend(triplets);
        }
    }
    candidates.into_iter().find(|dir| {
        std::fs::read_dir(dir).is_ok_and(|mut entries| {
            entries.any(|e| {
                e.ok()
                    .is_some_and(|e| e.file_name().to_string_lossy().ends_with(".so"))
            })
        })
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn module_dirs_are_found_where_debian_and_upstream_put_them() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(module_dir_under(dir.path()), None);
        let deb = dir.path().join("usr/lib/x86_64-linux-gnu/qemu");
        std::fs::create_dir_all(&deb).unwrap();
        assert_eq!(module_dir_under(dir.path()), None);
        std::fs::write(deb.join("accel-tcg-x86_64.so"), b"").unwrap();
        assert_eq!(module_dir_under(dir.path()), Some(deb));
    }

    #[test]
    fn data_dirs_prefer_the_staged_copy_and_fill_in_from_the_host() {
        let staged = tempfile::tempdir().unwrap();
        let host = tempfile::tempdir().unwrap();
        assert!(data_dirs_for(staged.path(), host.path()).is_empty());
        for rel in ["usr/share/qemu", "usr/share/seabios"] {
            std::fs::create_dir_all(host.path().join(rel)).unwrap();
        }
        std::fs::create_dir_all(staged.path().join("usr/share/qemu")).unwrap();
        assert_eq!(
            data_dirs_for(staged.path(), host.path()),
            [
                staged.path().join("usr/share/qemu"),
                host.path().join("usr/share/seabios")
            ]
        );
    }
}
