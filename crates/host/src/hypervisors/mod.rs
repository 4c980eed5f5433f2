//! Hypervisor binaries: where they are, what they are, and which version, found without
//! running them.

pub mod budget;
mod describe;
pub mod elf;
pub mod kata_versions;
pub mod kind;
pub mod qom;
pub mod scan;

pub use budget::{ScanLimits, DEFAULT_SCAN_BYTES, DEFAULT_SCAN_TIME};

use crate::binfacts::BinaryFactsCache;
use budget::Budget;
use describe::{Candidate, Context};
use hvguard_core::{HostRoot, Hypervisor, HypervisorKind, KataInstall, Package, Probe};
use kata_versions::KataVersions;
use std::collections::{BTreeMap, BTreeSet};
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
    discover_with(
        root,
        packages,
        extra_paths,
        &BTreeMap::new(),
        ScanLimits::default(),
    )
}

/// [`discover_cached`] without a cache of binary facts: every binary is read.
pub fn discover_with(
    root: &HostRoot,
    packages: &Probe<Vec<Package>>,
    extra_paths: &[PathBuf],
    extra_kinds: &BTreeMap<PathBuf, HypervisorKind>,
    limits: ScanLimits,
) -> Inventory {
    discover_cached(
        root,
        packages,
        extra_paths,
        extra_kinds,
        limits,
        &mut BinaryFactsCache::default(),
    )
}

/// [`discover`] with what the configurations say each extra path is (`jailer_path` names a
/// jailer whatever the file is called) and the binary-search budget for the run.
///
/// Every extra path is a binary Kata runs, so it is inventoried for its mode and owner (and
/// the directories above it) whatever it holds: a script, a file that cannot be read, a
/// binary whose search the budget cut.
///
/// What is read out of a binary (version banner, QOM type names) comes from `facts` when the
/// file is unchanged since it was read; what is read now is added to it. A cached fact costs
/// nothing of the budget.
pub fn discover_cached(
    root: &HostRoot,
    packages: &Probe<Vec<Package>>,
    extra_paths: &[PathBuf],
    extra_kinds: &BTreeMap<PathBuf, HypervisorKind>,
    limits: ScanLimits,
    facts: &mut BinaryFactsCache,
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
    let mut budget = Budget::new(limits);
    // Where each candidate really lives, as the host sees it: a /usr/local/bin symlink into
    // /opt/kata is still a Kata binary, and two names for one file are one binary.
    let resolved: Vec<_> = candidates(root, extra_paths, extra_kinds, &mut warnings)
        .into_iter()
        .map(|c| {
            let real = root.canonical(&c.path);
            (c, real)
        })
        .collect();
    // A binary a configuration names is inventoried as configured under whichever name
    // finds it first.
    let configured: BTreeMap<PathBuf, Option<HypervisorKind>> = resolved
        .iter()
        .filter(|(c, _)| c.configured)
        .filter_map(|(c, real)| Some((real.as_ref().ok()?.clone(), c.configured_kind)))
        .collect();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut hypervisors = Vec::new();
    for (mut candidate, real_host) in resolved {
        let real_host = match real_host {
            Ok(real) => real,
            Err(e) => {
                warnings.push(e.to_string());
                continue;
            }
        };
        if !seen.insert(real_host.clone()) {
            continue;
        }
        if let Some(kind) = configured.get(&real_host) {
            candidate.configured = true;
            candidate.configured_kind = candidate.configured_kind.or(*kind);
        }
        if let Some(h) = ctx.describe(&candidate, &real_host, &mut budget, facts, &mut warnings) {
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
    extra_kinds: &BTreeMap<PathBuf, HypervisorKind>,
    warnings: &mut Vec<String>,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    for dir in SEARCH_DIRS {
        let names = match root.read_dir_os(dir) {
            Ok(names) => names,
            Err(e) if e.is_not_found() => continue,
            Err(e) => {
                warnings.push(e.to_string());
                continue;
            }
        };
        for name in names {
            // Kata runs a binary whatever bytes its name holds: the name's text only decides
            // whether it looks like a hypervisor.
            if let Some(kind) = kind::kind_from_file_name(&name.to_string_lossy()) {
                out.push(Candidate {
                    path: Path::new(dir).join(name),
                    name_kind: Some(kind),
                    configured_kind: None,
                    configured: false,
                });
            }
        }
    }
    for path in extra_paths {
        let name_kind = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .and_then(|n| kind::kind_from_file_name(&n));
        out.push(Candidate {
            path: path.clone(),
            name_kind,
            configured_kind: extra_kinds.get(path).copied(),
            configured: true,
        });
    }
    out
}
