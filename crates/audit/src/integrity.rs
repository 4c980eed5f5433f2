//! `hypervisor.binary-modified`: hypervisor files whose bytes no package or approved update put
//! there. Judges the integrity facts in the Snapshot; reads nothing itself.

use crate::emit::Hit;
use crate::{Emitter, Rule, RuleMeta};
use hvguard_core::{BinaryDigest, IntegrityBaseline, Location, Probe, Severity, Snapshot};

pub(crate) static RULES: &[Rule] = &[BINARY_MODIFIED];

pub(crate) const BINARY_MODIFIED: Rule = Rule {
    meta: RuleMeta {
        id: "hypervisor.binary-modified",
        title: "A hypervisor file differs from what its package or the baseline recorded",
        severity: Severity::Critical,
        fires_when: "a packaged hypervisor binary, module or firmware file differs from the digest its package recorded, or a static Kata binary's hash changed from the baseline without a recorded update",
        remediation: "Treat the host as compromised until shown otherwise: find who changed the file (audit logs, `ls -l --time=ctime`), reinstall the package (`apt-get install --reinstall PACKAGE`) or the Kata release, restart the sandboxes that run the old bytes, then re-approve with `hvguard baseline set` only after the change is explained",
        references: &[
            "https://manpages.debian.org/bookworm/dpkg/dpkg.1.en.html#verify",
            "https://attack.mitre.org/techniques/T1554/",
            "https://github.com/kata-containers/kata-containers/blob/main/docs/install/README.md",
        ],
    },
    check: crate::catalogue::Check::Snapshot(binary_modified),
};

fn binary_modified(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    packaged_files(meta, &snapshot.integrity.packages, out);
    static_binaries(meta, snapshot, out);
}

fn packaged_files(
    meta: &RuleMeta,
    packages: &Probe<Vec<hvguard_core::PackageIntegrity>>,
    out: &mut Emitter,
) {
    let list = match packages {
        Probe::Found { value } => value,
        other => {
            if let Some(reason) = other.unknown_reason() {
                out.unknown(meta, reason);
            }
            return;
        }
    };
    for package in list {
        if let Some(reason) = &package.unknown {
            out.unknown(meta, format!("package {}: {reason}", package.package));
            continue;
        }
        for file in &package.modified {
            let message = format!(
                "{} differs from what package {} {} installed: the bytes on disk are not the \
                 package's",
                file.path.display(),
                package.package,
                package.version
            );
            let evidence = format!(
                "{} {} on disk, {} recorded in {}:{}",
                package.algorithm,
                file.actual,
                file.expected,
                package.digests_path.display(),
                file.line
            );
            out.finding(
                meta,
                Hit::new(Severity::Critical, message, evidence).at(at(&file.path)),
            );
        }
        for file in &package.unreadable {
            out.unknown(
                meta,
                format!("package {}: {}", package.package, file.reason),
            );
        }
    }
}

fn static_binaries(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    // "No package owns it" is only known when the package database was read; a binary of a
    // Kata release is static either way.
    let ownership_known = snapshot.packages.value().is_some();
    let statics: Vec<&BinaryDigest> = snapshot
        .integrity
        .binaries
        .iter()
        .filter(|b| !b.packaged && (ownership_known || b.kata_release.is_some()))
        .collect();
    if statics.is_empty() {
        return;
    }
    let Some(baseline) = &snapshot.integrity.baseline else {
        let paths: Vec<String> = statics
            .iter()
            .map(|b| b.path.display().to_string())
            .collect();
        out.unknown(
            meta,
            format!(
                "no approved baseline to compare the static binaries with ({}): approve the \
                 current state with `hvguard scan --record` then `hvguard baseline set`",
                paths.join(", ")
            ),
        );
        return;
    };
    for now in statics {
        let Some(then) = baseline.binaries.iter().find(|b| b.path == now.path) else {
            // New since the baseline: drift reports it; there is nothing to compare with.
            continue;
        };
        if then.sha256 == now.sha256 || updated(then, now) {
            continue;
        }
        out.finding(meta, static_hit(baseline, then, now));
    }
}

/// A different Kata release than at approval time is a recorded update: the bytes were
/// expected to change.
fn updated(then: &BinaryDigest, now: &BinaryDigest) -> bool {
    then.kata_release != now.kata_release
}

fn static_hit(baseline: &IntegrityBaseline, then: &BinaryDigest, now: &BinaryDigest) -> Hit {
    let release = now
        .kata_release
        .as_deref()
        .map_or_else(|| "no Kata release".to_string(), |r| format!("Kata {r}"));
    let message = format!(
        "{} changed since the baseline approved on {} (record {}) while the installed release \
         stayed the same ({release}): no update explains the new bytes",
        now.path.display(),
        baseline.approved_at,
        baseline.record
    );
    let evidence = format!("sha256 {} now, {} in the baseline", now.sha256, then.sha256);
    Hit::new(Severity::Critical, message, evidence).at(at(&now.path))
}

fn at(path: &std::path::Path) -> Location {
    Location {
        path: path.to_path_buf(),
        line: None,
        key: None,
    }
}
