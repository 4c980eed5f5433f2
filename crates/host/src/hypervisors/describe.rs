//! The record for one hypervisor binary: what it is, its mode and owner, its version.

use super::budget::{Budget, Budgeted};
use super::kata_versions::{KataVersions, KATA_PREFIX};
use super::{kind, qom, scan};
use crate::binfacts::{BinaryFactsCache, Fact, FactQuery};
use crate::packages;
use crate::stat::stat_from_metadata;
use hvguard_core::os_name::display_path;
use hvguard_core::{
    FileStat, HostRoot, Hypervisor, HypervisorKind, Package, PackageManager, PackageRef,
    VersionSource,
};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One path to look at.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    /// The path as the host sees it (bytes: need not be UTF-8).
    pub path: PathBuf,
    /// The kind the file name implies.
    pub name_kind: Option<HypervisorKind>,
    /// The kind the configuration key naming it implies (configured paths only).
    pub configured_kind: Option<HypervisorKind>,
    /// True when a Kata configuration names this path: it is inventoried for its mode and
    /// owner whatever it contains.
    pub configured: bool,
}

pub(super) struct Context<'a> {
    pub root: &'a HostRoot,
    pub packages: &'a [Package],
    pub kata_release: Option<&'a str>,
    pub table: Option<&'a KataVersions>,
}

/// How far reading the binary went.
enum Content {
    /// A version banner, or none in the whole (capped) file.
    Scanned(Option<scan::VersionMatch>),
    /// Not read, or not to the end; the note says why.
    Unread(String),
}

impl Context<'_> {
    /// The full record for one binary; `None` (with a warning) when it is not a hypervisor.
    ///
    /// A file that cannot be read, a non-regular file at a configured path, an interpreter
    /// script at a configured path and a binary whose search the budget cut are all still
    /// recorded, with an unknown version and a note saying why: a binary that disappears
    /// from the inventory takes its advisories (and `kata.binary-writable`) with it.
    pub fn describe(
        &self,
        c: &Candidate,
        real_host: &Path,
        budget: &mut Budget,
        facts: &mut BinaryFactsCache,
        warnings: &mut Vec<String>,
    ) -> Option<Hypervisor> {
        let shown = display_path(&c.path);
        let meta = match self.root.metadata(&c.path) {
            Ok(m) => m,
            Err(e) => {
                warnings.push(e.to_string());
                return None;
            }
        };
        let stat = stat_from_metadata(&shown, &meta);
        let content = if !meta.is_file() {
            if !c.configured {
                warnings.push(format!("{}: not a regular file", shown.display()));
                return None;
            }
            Content::Unread("not a regular file".to_string())
        } else if let Some(Fact::Version(found)) = facts.lookup(&meta, version_query(c)) {
            // Cached only for a file read whole as a binary (not a script), unchanged since.
            Content::Scanned(found)
        } else {
            match self.head(&c.path) {
                Err(e) => Content::Unread(format!("cannot be read: {e}")),
                Ok(head) if head.starts_with(b"#!") => {
                    if !c.configured {
                        // Debian's /usr/bin/qemu-system-i386 is a shell wrapper that execs the
                        // real binary in /usr/libexec, which is listed on its own; judging the
                        // wrapper too would duplicate (and blur) every advisory verdict.
                        return None;
                    }
                    Content::Unread(
                        "an interpreter script (#!): the version of what it runs is unknown"
                            .to_string(),
                    )
                }
                Ok(_) => self.scan(c, &shown, budget, facts, warnings),
            }
        };
        let found = match &content {
            Content::Scanned(found) => found.clone(),
            Content::Unread(_) => None,
        };
        let kind = match (c.name_kind, c.configured_kind, &found) {
            // Only the banner tells QEMU's C virtiofsd from the Rust one.
            (Some(HypervisorKind::Virtiofsd), _, Some(m))
            | (None, Some(HypervisorKind::Virtiofsd), Some(m))
                if m.kind == HypervisorKind::QemuVirtiofsd =>
            {
                HypervisorKind::QemuVirtiofsd
            }
            (Some(k), _, _) | (None, Some(k), _) => k,
            (None, None, Some(m)) => m.kind,
            (None, None, None) => {
                warnings.push(format!(
                    "{}: not a known hypervisor binary (no recognised name or version banner)",
                    shown.display()
                ));
                return None;
            }
        };
        let package = packages::owner_of(self.root, self.packages, &c.path);
        let under_kata = c.path.starts_with(KATA_PREFIX) || real_host.starts_with(KATA_PREFIX);
        let kata_release = self.kata_release.filter(|_| under_kata).map(str::to_string);
        let (version, version_source, version_evidence) =
            self.version(kind, found, package.as_ref(), kata_release.as_deref());
        // A QEMU system emulator's device inventory, from a file that was read as a binary.
        let devices = match (&content, kind) {
            (Content::Scanned(_), HypervisorKind::Qemu) => {
                self.devices(&c.path, &shown, &meta, budget, facts, warnings)
            }
            _ => None,
        };
        let version_note = match content {
            Content::Unread(note) => {
                warnings.push(format!("{}: {note}", shown.display()));
                Some(note)
            }
            Content::Scanned(_) => None,
        };
        Some(Hypervisor {
            kind,
            path: shown,
            version,
            version_source,
            version_evidence,
            package,
            kata_release,
            stat: Some(stat),
            used_by: Vec::new(),
            parent_dirs: if c.configured {
                self.parent_dirs(&c.path, real_host)
            } else {
                Vec::new()
            },
            version_note,
            devices,
        })
    }

    /// The QOM type names of a QEMU system emulator, read under the run's budget; `None`
    /// (with a warning) when the file cannot be read or the budget ran out first: a
    /// partly read `.rodata` must never make a device look absent.
    fn devices(
        &self,
        path: &Path,
        shown: &Path,
        meta: &std::fs::Metadata,
        budget: &mut Budget,
        facts: &mut BinaryFactsCache,
        warnings: &mut Vec<String>,
    ) -> Option<hvguard_core::DeviceInventory> {
        if let Some(Fact::TypeNames(names)) = facts.lookup(meta, FactQuery::TypeNames) {
            return Some(qom::inventory_from(&names, shown));
        }
        let (file, opened) = match self.root.open_file(path) {
            Ok(f) => f,
            Err(e) => {
                warnings.push(e.to_string());
                return None;
            }
        };
        let limits = budget.limits;
        let mut reader = Budgeted::new(&file, budget);
        let read = qom::read_type_names(&mut reader, opened.len());
        if reader.cut {
            warnings.push(format!(
                "{}: device type names not read: the binary scan budget ({}) ran out",
                shown.display(),
                limits.describe()
            ));
            return None;
        }
        match read {
            Ok(names) => {
                let inventory = qom::inventory_from(&names, shown);
                facts.record(&file, &opened, FactQuery::TypeNames, Fact::TypeNames(names));
                Some(inventory)
            }
            Err(e) => {
                warnings.push(format!(
                    "{}: reading device type names: {e}",
                    shown.display()
                ));
                None
            }
        }
    }

    /// The first two bytes (fewer for a tiny file).
    fn head(&self, path: &Path) -> Result<Vec<u8>, String> {
        let (file, _) = self.root.open_file(path).map_err(|e| reason(&e))?;
        let mut head = Vec::with_capacity(2);
        file.take(2)
            .read_to_end(&mut head)
            .map_err(|e| e.to_string())?;
        Ok(head)
    }

    fn scan(
        &self,
        c: &Candidate,
        shown: &Path,
        budget: &mut Budget,
        facts: &mut BinaryFactsCache,
        warnings: &mut Vec<String>,
    ) -> Content {
        let banners = match c.name_kind.or(c.configured_kind) {
            Some(k) => kind::banners_for(k),
            None => kind::BANNERS.to_vec(),
        };
        let (file, meta) = match self.root.open_file(&c.path) {
            Ok(f) => f,
            Err(e) => return Content::Unread(format!("cannot be read: {}", reason(&e))),
        };
        let limits = budget.limits;
        let mut reader = Budgeted::new(&file, budget);
        let found = scan::find_in_file(&mut reader, meta.len(), &banners);
        let cut = reader.cut;
        match found {
            Ok(Some(found)) => {
                let fact = Fact::Version(Some(found.clone()));
                facts.record(&file, &meta, version_query(c), fact);
                Content::Scanned(Some(found))
            }
            Ok(None) if cut => Content::Unread(format!(
                "search cut short: the binary scan budget ({}) ran out before a version banner was found",
                limits.describe()
            )),
            Ok(None) => {
                facts.record(&file, &meta, version_query(c), Fact::Version(None));
                Content::Scanned(None)
            }
            Err(e) => {
                warnings.push(format!("{}: {e}", shown.display()));
                Content::Unread(format!("reading it failed: {e}"))
            }
        }
    }

    fn version(
        &self,
        kind: HypervisorKind,
        found: Option<scan::VersionMatch>,
        package: Option<&PackageRef>,
        kata_release: Option<&str>,
    ) -> (Option<String>, Option<VersionSource>, Option<String>) {
        if let Some(m) = found {
            return (
                Some(m.version),
                Some(VersionSource::BinaryString),
                Some(m.evidence),
            );
        }
        if let Some(p) = package {
            return (
                Some(packages::upstream_version(&p.version).to_string()),
                Some(VersionSource::Package),
                Some(format!(
                    "{} package {} {}",
                    manager_name(p),
                    p.name,
                    p.version
                )),
            );
        }
        if let Some((release, v)) =
            kata_release.and_then(|r| Some((r, self.table?.bundled_version(r, kind)?)))
        {
            return (
                Some(v.to_string()),
                Some(VersionSource::KataVersions),
                Some(format!(
                    "Kata Containers {release} ({KATA_PREFIX}/VERSION) bundles {} {v}",
                    kind.as_str()
                )),
            );
        }
        (None, None, None)
    }

    /// Mode and owner of every directory above `path` and above where it really is.
    fn parent_dirs(&self, path: &Path, real_host: &Path) -> Vec<FileStat> {
        let mut dirs: Vec<&Path> = path.ancestors().skip(1).collect();
        for d in real_host.ancestors().skip(1) {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        dirs.into_iter()
            .filter(|d| !d.as_os_str().is_empty())
            .filter_map(|d| {
                let meta = self.root.metadata(d).ok()?;
                Some(stat_from_metadata(&display_path(d), &meta))
            })
            .collect()
    }
}

/// The banner search a candidate gets: its name's or configuration's kind, else every banner.
fn version_query(c: &Candidate) -> FactQuery {
    FactQuery::Version(c.name_kind.or(c.configured_kind))
}

/// A root error's cause without the path the message starts with (the record names it).
fn reason(e: &hvguard_core::RootError) -> String {
    let text = e.to_string();
    let path = e.path().display().to_string();
    text.strip_prefix(&path)
        .and_then(|t| t.strip_prefix(": "))
        .map_or(text.clone(), str::to_string)
}

fn manager_name(p: &PackageRef) -> &'static str {
    match p.manager {
        PackageManager::Dpkg => "dpkg",
        PackageManager::Rpm => "rpm",
    }
}
