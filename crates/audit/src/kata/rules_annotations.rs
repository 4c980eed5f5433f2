//! `enable_annotations` and the `valid_*_paths` allow-lists: what a pod author may change
//! through `io.katacontainers.config.hypervisor.*` annotations.

use super::annotations::{AnnotationList, EntryVerdict};
use super::offence::{hypervisors, is_remote, Fix, Offence};
use super::view::ConfigView;
use super::DOC_ANNOTATIONS;
use crate::RuleMeta;
use hvguard_core::glob::{Dialect, Pattern};
use hvguard_core::{ConfigValue, KataRuntime, Severity};

pub(crate) const ANNOTATIONS_DANGEROUS: RuleMeta = RuleMeta {
    id: "kata.annotations-dangerous",
    title: "Pod annotations may choose host binaries or guest boot assets",
    severity: Severity::Critical,
    fires_when: "an enable_annotations entry, as the unanchored regular expression Kata uses, matches path, jailer_path, ctlpath, virtio_fs_daemon, vhost_user_store_path or everything (critical), or kernel, image, initrd, firmware, kernel_params, virtio_fs_extra_args, guest_hook_path, entropy_source, file_mem_backend (high)",
    remediation: "Keep only anchored, harmless entries in enable_annotations, e.g. enable_annotations = [\"^enable_iommu$\", \"^default_vcpus$\", \"^default_memory$\"].",
    references: &[
        DOC_ANNOTATIONS,
        "https://github.com/kata-containers/kata-containers/pull/902",
        "https://nvd.nist.gov/vuln/detail/CVE-2020-27151",
    ],
};

pub(crate) const PATH_ALLOWLIST_WEAK: RuleMeta = RuleMeta {
    id: "kata.path-allowlist-weak",
    title: "A binary's annotation allow-list does not pin it to one file",
    severity: Severity::High,
    fires_when: "for path, jailer_path, ctlpath or virtio_fs_daemon, the matching valid_*_paths list is missing, empty, holds a glob wider than one file, or does not match the configured path (high when annotations can set that path, medium otherwise; not for Dragonball)",
    remediation: "Set the list to exactly the configured binary, e.g. valid_hypervisor_paths = [\"/opt/kata/bin/qemu-system-x86_64\"].",
    references: &[DOC_ANNOTATIONS, "https://github.com/kata-containers/kata-containers/pull/902"],
};

/// The external binaries and the allow-list that restricts each one's annotation.
const BINARIES: [(&str, &str); 4] = [
    ("path", "valid_hypervisor_paths"),
    ("jailer_path", "valid_jailer_paths"),
    ("ctlpath", "valid_ctlpaths"),
    ("virtio_fs_daemon", "valid_virtio_fs_daemon_paths"),
];

pub(crate) fn annotation_list(view: &ConfigView<'_>, section: &str) -> AnnotationList {
    let entries = view
        .get(section, "enable_annotations")
        .and_then(|f| f.strings())
        .unwrap_or_default();
    AnnotationList::new(&entries, view.runtime())
}

pub(crate) fn annotations_dangerous(view: &ConfigView<'_>) -> Vec<Offence> {
    let mut out = Vec::new();
    for (name, s) in hypervisors(view) {
        let Some(f) = s.get("enable_annotations") else {
            continue;
        };
        let list = annotation_list(view, &s.section);
        // runtime-rs builds one RegexSet from the list; one bad entry disables them all.
        if list.disabled_by_invalid_entry() {
            continue;
        }
        let mut severity = None;
        let mut notes = Vec::new();
        let mut kept = Vec::new();
        for (entry, verdict) in list.verdicts() {
            match verdict {
                EntryVerdict::CatchAll => {
                    severity = Some(Severity::Critical);
                    notes.push(format!("{entry:?} matches every hypervisor annotation"));
                }
                EntryVerdict::Opens { binaries, guest }
                    if !binaries.is_empty() || !guest.is_empty() =>
                {
                    let this = if binaries.is_empty() {
                        Severity::High
                    } else {
                        Severity::Critical
                    };
                    severity = severity.max(Some(this));
                    let opened: Vec<&str> = binaries.iter().chain(guest.iter()).copied().collect();
                    notes.push(format!("{entry:?} opens {}", opened.join(", ")));
                }
                EntryVerdict::Opens { .. } => kept.push(entry.to_string()),
                EntryVerdict::Invalid(error) => {
                    severity = severity.max(Some(Severity::High));
                    notes.push(format!(
                        "{entry:?} is not a valid regular expression ({error}); the Go runtime skips it, so the list does not say what it enables"
                    ));
                }
            }
        }
        let Some(severity) = severity else { continue };
        let kept = ConfigValue::Array(kept.into_iter().map(ConfigValue::String).collect());
        out.push(s.found(
            "enable_annotations",
            &f,
            severity,
            format!(
                "{name}: a pod author's annotations are honoured for: {}",
                notes.join("; ")
            ),
            |key| {
                Some(Fix::apply(
                    key,
                    kept,
                    "only harmless annotations; binary paths and guest assets stay as configured",
                ))
            },
        ));
    }
    out
}

fn dialect(runtime: KataRuntime) -> Dialect {
    match runtime {
        KataRuntime::Go => Dialect::Go,
        KataRuntime::Rs => Dialect::GlobCrate,
    }
}

/// Why an allow-list does not pin `configured`; empty when it does.
fn weaknesses(list: Option<&[&str]>, configured: &str, dialect: Dialect) -> Vec<String> {
    let Some(list) = list else {
        return vec!["the list is not set".into()];
    };
    if list.is_empty() {
        return vec!["the list is empty".into()];
    }
    let mut out = Vec::new();
    let mut matched = false;
    for entry in list {
        match Pattern::parse(entry, dialect) {
            Err(e) => out.push(format!(
                "{entry:?} is not a valid pattern ({e}) and matches nothing"
            )),
            Ok(glob) => {
                if !glob.is_single_path() {
                    out.push(format!("{entry:?} matches more than one file"));
                }
                matched |= glob.matches(configured);
            }
        }
    }
    if !matched {
        out.push(format!("no entry matches the configured {configured}"));
    }
    out
}

pub(crate) fn path_allowlist_weak(view: &ConfigView<'_>) -> Vec<Offence> {
    let mut out = Vec::new();
    for (name, s) in hypervisors(view) {
        // Dragonball is built into the shim and the remote hypervisor runs elsewhere: there is
        // no local binary to pin.
        if name == "dragonball" || is_remote(name) {
            continue;
        }
        let annotations = annotation_list(view, &s.section);
        for (binary, list_key) in BINARIES {
            let Some(configured) = s.get(binary).and_then(|f| f.as_str().map(str::trim)) else {
                continue;
            };
            if configured.is_empty() {
                continue;
            }
            let list_found = s.get(list_key);
            let list = list_found.as_ref().and_then(|f| f.strings());
            let reasons = weaknesses(list.as_deref(), configured, dialect(view.runtime()));
            if reasons.is_empty() {
                continue;
            }
            let annotatable = annotations.opens(binary);
            let severity = if annotatable {
                Severity::High
            } else {
                Severity::Medium
            };
            let message = format!(
                "{name}: {list_key} does not pin {binary} to {configured}: {}{}",
                reasons.join("; "),
                if annotatable {
                    format!(", and enable_annotations lets pods set {binary}")
                } else {
                    String::new()
                }
            );
            let pinned = ConfigValue::Array(vec![ConfigValue::String(configured.to_string())]);
            let reason = format!("only {configured} may be chosen for {binary}");
            out.push(match list_found {
                Some(f) => s.found(list_key, &f, severity, message, |k| {
                    Some(Fix::apply(k, pinned, reason))
                }),
                None => s.missing(list_key, "[]", severity, message, |k| {
                    Some(Fix::apply(k, pinned, reason))
                }),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_weaknesses() {
        let q = "/opt/kata/bin/qemu";
        assert!(weaknesses(Some(&[q]), q, Dialect::Go).is_empty());
        assert_eq!(
            weaknesses(None, q, Dialect::Go),
            vec!["the list is not set"]
        );
        assert_eq!(
            weaknesses(Some(&[]), q, Dialect::Go),
            vec!["the list is empty"]
        );
        assert_eq!(
            weaknesses(Some(&["/opt/kata/bin/*"]), q, Dialect::Go).len(),
            1
        );
        assert_eq!(
            weaknesses(Some(&["/usr/bin/qemu"]), q, Dialect::Go).len(),
            1
        );
        // `/opt/*` stops at `/` in Go, so it neither pins nor matches; runtime-rs crosses it.
        assert_eq!(weaknesses(Some(&["/opt/*"]), q, Dialect::Go).len(), 2);
        assert_eq!(
            weaknesses(Some(&["/opt/*"]), q, Dialect::GlobCrate).len(),
            1
        );
    }
}
