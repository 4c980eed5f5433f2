//! containerd runtime entries that forward Kata's own annotations from pod specs.
//!
//! containerd copies a pod annotation into the OCI spec when its key matches a `pod_annotations`
//! pattern (Go `filepath.Match`). Kata gates `io.katacontainers.config.hypervisor.*` with
//! `enable_annotations`, but runtime and agent annotations, and before Kata 4.0.0
//! `io.katacontainers.config_path`, are honoured without any gate. So a pattern matters when it
//! lets one of those ungated keys through; a pattern limited to the hypervisor prefix is left to
//! `kata.annotations-dangerous`.

use super::glob::{Dialect, Glob};
use super::toml_text::string_to_toml;
use crate::emit::Hit;
use crate::{Emitter, RuleMeta};
use hvguard_core::version::UpstreamVersion;
use hvguard_core::{
    describe_readings, readings_in_play, ContainerdSemantics, Location, Probe, Severity, Snapshot,
};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) const PASSTHROUGH: RuleMeta = RuleMeta {
    id: "containerd.kata-annotations-passthrough",
    title: "containerd forwards Kata's own annotations from pod specs",
    severity: Severity::High,
    fires_when: "a containerd runtime whose runtime_type starts with io.containerd.kata has pod_annotations letting io.katacontainers.* (or *) through; critical when the Kata release is older than 4.0.0",
    remediation: "List only the annotations pods need in pod_annotations, e.g. pod_annotations = [\"io.katacontainers.config.hypervisor.default_vcpus\", \"io.katacontainers.config.hypervisor.default_memory\"], never io.katacontainers.* or *.",
    references: &[
        "https://github.com/containerd/containerd/blob/main/docs/cri/config.md",
        "https://github.com/kata-containers/kata-containers/blob/main/docs/how-to/how-to-set-sandbox-config-kata.md",
        "https://github.com/kata-containers/kata-containers/pull/13857",
    ],
};

/// The ungated annotation that picks the whole configuration file (honoured before 4.0.0).
const CONFIG_PATH: &str = "io.katacontainers.config_path";

/// Ungated annotations a pod author should never control.
const UNGATED: [&str; 6] = [
    CONFIG_PATH,
    "io.katacontainers.config.runtime.disable_guest_seccomp",
    "io.katacontainers.config.runtime.disable_new_netns",
    "io.katacontainers.config.runtime.sandbox_cgroup_only",
    "io.katacontainers.config.runtime.experimental",
    "io.katacontainers.config.agent.kernel_modules",
];

/// The Kata release: `Some(true)` when older than 4.0.0, `None` when unknown.
fn older_than_4(install: &Probe<hvguard_core::KataInstall>) -> Option<bool> {
    let version = UpstreamVersion::parse(&install.value()?.version).ok()?;
    let four = UpstreamVersion::parse("4.0.0").ok()?;
    Some(version < four)
}

/// The ungated keys a pattern lets through, by containerd's matching.
fn passed_by(pattern: &str) -> Vec<&'static str> {
    // containerd skips a malformed pattern (filepath.Match returns an error).
    let Ok(glob) = Glob::parse(pattern) else {
        return Vec::new();
    };
    UNGATED
        .iter()
        .copied()
        .filter(|k| glob.matches(k, Dialect::Go))
        .collect()
}

/// One finding in the making; runtime entries that give the same one (the same handler read
/// alike by several containerd families) are reported once.
struct Passthrough {
    severity: Severity,
    message: String,
    readings: BTreeSet<ContainerdSemantics>,
}

pub(crate) fn check_passthrough(meta: &RuleMeta, snapshot: &Snapshot, emitter: &mut Emitter) {
    let old = older_than_4(&snapshot.kata_install);
    let in_play = readings_in_play(&snapshot.containerd_binaries);
    let mut hits: BTreeMap<(Location, String), Passthrough> = BTreeMap::new();
    for runtime in &snapshot.containerd {
        if !runtime.runtime_type.starts_with("io.containerd.kata") || !runtime.seen_by(&in_play) {
            continue;
        }
        let mut passed: Vec<&str> = Vec::new();
        let mut offending: Vec<&str> = Vec::new();
        for pattern in &runtime.pod_annotations {
            let keys = passed_by(pattern);
            if !keys.is_empty() {
                offending.push(pattern);
                passed.extend(keys);
            }
        }
        if offending.is_empty() {
            continue;
        }
        passed.sort_unstable();
        passed.dedup();
        let config_path = passed.contains(&CONFIG_PATH);
        let (severity, why) = match (old, config_path) {
            (Some(true), true) => (
                Severity::Critical,
                "this Kata release is older than 4.0.0 and honours io.katacontainers.config_path, so a pod can pick any configuration file on the host".to_string(),
            ),
            (None, true) => (
                Severity::High,
                format!(
                    "runtime and agent annotations bypass enable_annotations; the Kata release is unknown ({}), and releases older than 4.0.0 also honour io.katacontainers.config_path (critical)",
                    snapshot.kata_install.unknown_reason().unwrap_or_default()
                ),
            ),
            _ => (
                Severity::High,
                "runtime and agent annotations are applied without the enable_annotations gate".to_string(),
            ),
        };
        let list: Vec<String> = runtime
            .pod_annotations
            .iter()
            .map(|p| string_to_toml(p))
            .collect();
        let location = Location {
            path: runtime.pod_annotations_file().to_path_buf(),
            line: Some(runtime.pod_annotations_line.unwrap_or(runtime.line)),
            key: Some(format!("runtimes.{}.pod_annotations", runtime.name)),
        };
        let evidence = format!("pod_annotations = [{}]", list.join(", "));
        let message = format!(
            "runtime {:?} ({}) forwards {} from pod specs through {}: {why}",
            runtime.name,
            runtime.runtime_type,
            passed.join(", "),
            offending.join(", "),
        );
        let readings: BTreeSet<ContainerdSemantics> = if runtime.readings.is_empty() {
            in_play.clone()
        } else {
            runtime
                .readings
                .iter()
                .filter(|r| in_play.contains(r))
                .copied()
                .collect()
        };
        let hit = hits
            .entry((location, evidence))
            .or_insert_with(|| Passthrough {
                severity,
                message,
                readings: BTreeSet::new(),
            });
        hit.readings.extend(readings);
    }
    for ((location, evidence), hit) in hits {
        let mut message = hit.message;
        if hit.readings != in_play {
            let versions = if in_play.len() == ContainerdSemantics::ALL.len() {
                "the containerd version is unknown, so every release's reading is checked"
            } else {
                "the containerd binaries found read it differently"
            };
            message.push_str(&format!(
                " (as {} reads the configuration; {versions})",
                describe_readings(&hit.readings)
            ));
        }
        emitter.finding(meta, Hit::new(hit.severity, message, evidence).at(location));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hvguard_core::KataInstall;

    fn install(v: &str) -> Probe<KataInstall> {
        Probe::found(KataInstall {
            version: v.into(),
            path: "/opt/kata/VERSION".into(),
        })
    }

    #[test]
    fn patterns_that_reach_ungated_keys() {
        assert_eq!(passed_by("io.katacontainers.*").len(), UNGATED.len());
        assert_eq!(passed_by("*").len(), UNGATED.len());
        assert!(!passed_by("io.katacontainers.config.*").contains(&CONFIG_PATH));
        assert!(!passed_by("io.katacontainers.config.*").is_empty());
        assert!(passed_by("io.katacontainers.config.hypervisor.*").is_empty());
        assert!(passed_by("io.katacontainers.config.hypervisor.default_vcpus").is_empty());
        assert!(passed_by("[").is_empty());
    }

    #[test]
    fn release_comparison() {
        assert_eq!(older_than_4(&install("3.20.0")), Some(true));
        assert_eq!(older_than_4(&install("4.0.0-rc1")), Some(true));
        assert_eq!(older_than_4(&install("4.0.0")), Some(false));
        assert_eq!(older_than_4(&install("v4.1.0")), Some(false));
        assert_eq!(older_than_4(&install("garbage")), None);
        assert_eq!(older_than_4(&Probe::absent("/opt/kata/VERSION")), None);
    }
}
