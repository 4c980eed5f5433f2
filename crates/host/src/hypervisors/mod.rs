//! Hypervisor binaries: where they are, what they are, and which version, found without
//! running them.

pub mod elf;
pub mod kata_versions;
pub mod kind;
pub mod qom;
pub mod scan;

use crate::packages;
use hvguard_core::{
    FileKind, FileStat, HostRoot, Hypervisor, HypervisorKind, KataInstall, Package, Probe,
    VersionSource,
};
use kata_versions::{KataVersions, KATA_PREFIX};
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The folders installers put hypervisors in, searched in this order.
pub const SEARCH_DIRS: &[&str] = &[
    "/usr/bin",
    "/usr/local/bin",
    "/usr/libexec",
    // Debian's qemu-system-common: qemu-bridge-helper and the C virtiofsd.
    "/usr/lib/qemu",
    "/opt/kata/bin",
    "/opt/kata/libexec",
    // Kata 2.x: the C virtiofsd built with the bundled QEMU.
    "/opt/kata/libexec/kata-qemu",
];

/// Everything discovery learnt.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    pub hypervisors: Vec<Hypervisor>,
    pub kata_install: Probe<KataInstall>,
    /// Binaries that could not be looked at, and why.
    pub warnings: Vec<String>,
}

/// Finds the hypervisor binaries under `root`: the standard folders, then `extra_paths`
/// (binaries named by Kata configurations). A path resolving to a binary already listed is
/// not listed again; the first path found is kept.
pub fn discover(
    root: &HostRoot,
    packages: &Probe<Vec<Package>>,
    extra_paths: &[PathBuf],
) -> Inventory {
    let kata_install = kata_versions::read_install(root);
    let mut warnings = Vec::new();
    let table = match KataVersions::bundled() {
        Ok(t) => Some(t),
        Err(e) => {
            warnings.push(e.to_string());
            None
        }
    };
    let ctx = Context {
        root,
        packages: packages.value().map_or(&[][..], Vec::as_slice),
        kata_release: kata_install.value().map(|k| k.version.as_str()),
        table: table.as_ref(),
    };
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut hypervisors = Vec::new();
    for (path, kind) in candidates(root, extra_paths, &mut warnings) {
        let real = match root.resolve(&path) {
            Ok(real) => real,
            Err(e) => {
                warnings.push(e.to_string());
                continue;
            }
        };
        // Where the file really lives, as the host sees it: a /usr/local/bin symlink into
        // /opt/kata is still a Kata binary.
        let real_host = Path::new("/").join(real.strip_prefix(root.base()).unwrap_or(&real));
        if !seen.insert(real) {
            continue;
        }
        if let Some(h) = ctx.describe(&path, &real_host, kind, &mut warnings) {
            hypervisors.push(h);
        }
    }
    Inventory {
        hypervisors,
        kata_install,
        warnings,
    }
}

/// Paths to look at, in discovery order, with the kind their name implies.
fn candidates(
    root: &HostRoot,
    extra_paths: &[PathBuf],
    warnings: &mut Vec<String>,
) -> Vec<(PathBuf, Option<HypervisorKind>)> {
    let mut out = Vec::new();
    for dir in SEARCH_DIRS {
        let names = match root.read_dir_names(dir) {
            Ok(names) => names,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                warnings.push(e.to_string());
                continue;
            }
        };
        for name in names {
            if let Some(kind) = kind::kind_from_file_name(&name) {
                out.push((Path::new(dir).join(name), Some(kind)));
            }
        }
    }
    for path in extra_paths {
        let kind = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(kind::kind_from_file_name);
        out.push((path.clone(), kind));
    }
    out
}

struct Context<'a> {
    root: &'a HostRoot,
    packages: &'a [Package],
    kata_release: Option<&'a str>,
    table: Option<&'a KataVersions>,
}

impl Context<'_> {
    /// The full record for one binary; `None` (with a warning) when it is not a readable
    /// regular file or, for a configured path of unknown name, carries no known banner.
    fn describe(
        &self,
        path: &Path,
        real_host: &Path,
        name_kind: Option<HypervisorKind>,
        warnings: &mut Vec<String>,
    ) -> Option<Hypervisor> {
        let meta = match self.root.metadata(path) {
            Ok(m) => m,
            Err(e) => {
                warnings.push(e.to_string());
                return None;
            }
        };
        if !meta.is_file() {
            warnings.push(format!("{}: not a regular file", path.display()));
            return None;
        }
        if self.is_script(path) {
            // Debian's /usr/bin/qemu-system-i386 is a shell wrapper that execs the real
            // binary in /usr/libexec, which is listed on its own; judging the wrapper by its
            // package version would duplicate (and blur) every advisory verdict.
            return None;
        }
        let stat = FileStat {
            path: path.to_path_buf(),
            kind: FileKind::Regular,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
        };
        let found = self.scan(path, name_kind, warnings);
        let kind = match (name_kind, &found) {
            // Only the banner tells QEMU's C virtiofsd from the Rust one.
            (Some(HypervisorKind::Virtiofsd), Some(m))
                if m.kind == HypervisorKind::QemuVirtiofsd =>
            {
                HypervisorKind::QemuVirtiofsd
            }
            (Some(k), _) => k,
            (None, Some(m)) => m.kind,
            (None, None) => {
                warnings.push(format!(
                    "{}: not a known hypervisor binary (no recognised name or version banner)",
                    path.display()
                ));
                return None;
            }
        };
        let package = packages::owner_of(self.root, self.packages, path);
        let under_kata = path.starts_with(KATA_PREFIX) || real_host.starts_with(KATA_PREFIX);
        let kata_release = self.kata_release.filter(|_| under_kata).map(str::to_string);
        let (version, version_source, version_evidence) = if let Some(m) = found {
            (
                Some(m.version),
                Some(VersionSource::BinaryString),
                Some(m.evidence),
            )
        } else if let Some(p) = &package {
            (
                Some(packages::upstream_version(&p.version).to_string()),
                Some(VersionSource::Package),
                Some(format!(
                    "{} package {} {}",
                    manager_name(p),
                    p.name,
                    p.version
                )),
            )
        } else if let Some((release, v)) = kata_release
            .as_deref()
            .and_then(|r| Some((r, self.table?.bundled_version(r, kind)?)))
        {
            (
                Some(v.to_string()),
                Some(VersionSource::KataVersions),
                Some(format!(
                    "Kata Containers {release} ({KATA_PREFIX}/VERSION) bundles {} {v}",
                    kind.as_str()
                )),
            )
        } else {
            (None, None, None)
        };
        let devices = (kind == HypervisorKind::Qemu).then(|| self.devices(path, warnings));
        Some(Hypervisor {
            kind,
            path: path.to_path_buf(),
            version,
            version_source,
            version_evidence,
            package,
            kata_release,
            stat: Some(stat),
            used_by: Vec::new(),
            devices: devices.flatten(),
        })
    }

    /// True for an interpreter script (`#!`): a wrapper, not a hypervisor.
    fn is_script(&self, path: &Path) -> bool {
        let Ok((file, _)) = self.root.open_file(path) else {
            return false;
        };
        let mut head = [0u8; 2];
        matches!(std::io::Read::read_exact(&mut &file, &mut head), Ok(()) if &head == b"#!")
    }

    /// The QOM type names of a QEMU system emulator; `None` (with a warning) when the file
    /// cannot be read.
    fn devices(
        &self,
        path: &Path,
        warnings: &mut Vec<String>,
    ) -> Option<hvguard_core::DeviceInventory> {
        let (mut file, meta) = match self.root.open_file(path) {
            Ok(f) => f,
            Err(e) => {
                warnings.push(e.to_string());
                return None;
            }
        };
        match qom::inventory(&mut file, meta.len(), path) {
            Ok(inventory) => Some(inventory),
            Err(e) => {
                warnings.push(format!(
                    "{}: reading device type names: {e}",
                    path.display()
                ));
                None
            }
        }
    }

    fn scan(
        &self,
        path: &Path,
        name_kind: Option<HypervisorKind>,
        warnings: &mut Vec<String>,
    ) -> Option<scan::VersionMatch> {
        let banners = match name_kind {
            Some(k) => kind::banners_for(k),
            None => kind::BANNERS.to_vec(),
        };
        let (mut file, meta) = match self.root.open_file(path) {
            Ok(f) => f,
            Err(e) => {
                warnings.push(e.to_string());
                return None;
            }
        };
        match scan::find_in_file(&mut file, meta.len(), &banners) {
            Ok(found) => found,
            Err(e) => {
                warnings.push(format!("{}: {e}", path.display()));
                None
            }
        }
    }
}

fn manager_name(p: &hvguard_core::PackageRef) -> &'static str {
    match p.manager {
        hvguard_core::PackageManager::Dpkg => "dpkg",
        hvguard_core::PackageManager::Rpm => "rpm",
    }
}
