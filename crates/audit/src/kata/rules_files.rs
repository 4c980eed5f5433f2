//! Mode and owner of the files Kata trusts: the binaries it runs and the configuration it reads.

use super::offence::{hypervisors, SectionKeys};
use super::view::{evidence, ConfigView};
use crate::emit::Hit;
use crate::{Emitter, RuleMeta};
use hvguard_core::{FileStat, Location, Severity, Snapshot};
use std::path::Path;

pub(crate) const BINARY_WRITABLE: RuleMeta = RuleMeta {
    id: "kata.binary-writable",
    title: "A binary Kata runs can be replaced by a non-root user",
    severity: Severity::Critical,
    fires_when: "a configured hypervisor, jailer or virtiofsd binary is writable by group or others, or not owned by root; or a directory above it is writable by group or others (without the sticky bit) or not owned by root",
    remediation: "chown root:root the binary and every directory above it, and chmod go-w them (0755).",
    references: &["https://github.com/kata-containers/kata-containers/blob/main/docs/install/README.md"],
};

pub(crate) const CONFIG_WRITABLE: RuleMeta = RuleMeta {
    id: "kata.config-writable",
    title: "A Kata configuration file can be changed by a non-root user",
    severity: Severity::Critical,
    fires_when: "a loaded config file or drop-in is writable by group or others, or not owned by root",
    remediation: "chown root:root the file and chmod 0644 it (chmod go-w).",
    references: &["https://github.com/kata-containers/kata-containers/blob/main/src/runtime/README.md#configuration"],
};

/// The configured binaries Kata executes.
const BINARY_KEYS: [&str; 4] = ["path", "jailer_path", "ctlpath", "virtio_fs_daemon"];

/// What is wrong with a file's mode or owner, if anything.
fn weakness(stat: &FileStat) -> Option<String> {
    let mut why = Vec::new();
    if stat.writable_by_group_or_others() {
        why.push(format!(
            "mode {} is writable by group or others",
            stat.mode_string()
        ));
    }
    if stat.uid != 0 {
        why.push(format!("owned by uid {}, not root", stat.uid));
    }
    (!why.is_empty()).then(|| why.join(" and "))
}

pub(crate) fn check_config_writable(meta: &RuleMeta, snapshot: &Snapshot, emitter: &mut Emitter) {
    for config in &snapshot.kata {
        if config.files.is_empty() {
            emitter.unknown(
                meta,
                format!(
                    "no mode or owner was collected for {}",
                    config.main.display()
                ),
            );
            continue;
        }
        for stat in &config.files {
            if let Some(why) = weakness(stat) {
                let hit = Hit::new(
                    Severity::Critical,
                    format!("{}: {why}; whoever can write it chooses the VMM, the guest kernel and every setting", stat.path.display()),
                    format!("mode {} uid {} gid {}", stat.mode_string(), stat.uid, stat.gid),
                )
                .at(Location { path: stat.path.clone(), line: None, key: None });
                emitter.finding(meta, hit);
            }
        }
    }
}

/// What is wrong with a directory above a binary: whoever may write it may rename the
/// binary away and put another in its place. The sticky bit (`/tmp`) forbids that to
/// everyone but an entry's owner, so a sticky directory writable by others is not a way in.
fn dir_weakness(dir: &FileStat) -> Option<String> {
    let mut why = Vec::new();
    if dir.writable_by_group_or_others() && dir.mode & 0o1000 == 0 {
        why.push(format!(
            "mode {} is writable by group or others",
            dir.mode_string()
        ));
    }
    if dir.uid != 0 {
        why.push(format!("owned by uid {}, not root", dir.uid));
    }
    (!why.is_empty()).then(|| format!("directory {}: {}", dir.path.display(), why.join(" and ")))
}

fn binary_of<'s>(snapshot: &'s Snapshot, binary: &Path) -> Option<(&'s FileStat, &'s [FileStat])> {
    snapshot
        .hypervisors
        .iter()
        .filter(|h| h.path == binary)
        .find_map(|h| Some((h.stat.as_ref()?, h.parent_dirs.as_slice())))
}

pub(crate) fn check_binary_writable(meta: &RuleMeta, snapshot: &Snapshot, emitter: &mut Emitter) {
    for config in &snapshot.kata {
        let view = ConfigView::new(config);
        for (_, s) in hypervisors(&view) {
            for name in BINARY_KEYS {
                check_one(meta, snapshot, emitter, &s, name);
            }
        }
    }
}

fn check_one(
    meta: &RuleMeta,
    snapshot: &Snapshot,
    emitter: &mut Emitter,
    s: &SectionKeys<'_, '_>,
    name: &str,
) {
    let Some(found) = s.get(name) else { return };
    let Some(binary) = found.as_str().map(str::trim).filter(|p| !p.is_empty()) else {
        return;
    };
    let key = s.view.written_key(&s.section, name, &found);
    let Some((stat, dirs)) = binary_of(snapshot, Path::new(binary)) else {
        emitter.unknown(
            meta,
            format!("{key} = {binary}: the mode and owner of this binary were not collected"),
        );
        return;
    };
    let weak_dirs: Vec<&FileStat> = dirs.iter().filter(|d| dir_weakness(d).is_some()).collect();
    let mut why: Vec<String> = weakness(stat).into_iter().collect();
    why.extend(weak_dirs.iter().filter_map(|d| dir_weakness(d)));
    if why.is_empty() {
        return;
    }
    let mut proof = evidence(&key, &found.value.value);
    for d in weak_dirs {
        proof.push_str(&format!(
            "; directory {} mode {} uid {} gid {}",
            d.path.display(),
            d.mode_string(),
            d.uid,
            d.gid
        ));
    }
    let hit = Hit::new(
        Severity::Critical,
        format!(
            "{binary} ({key}): {}; whoever can replace it runs code as the Kata runtime for every sandbox",
            why.join("; ")
        ),
        proof,
    )
    .at(s.view.location(&key, &found));
    emitter.finding(meta, hit);
}
