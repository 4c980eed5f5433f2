//! The facts a drift compares, flattened into `(kind, subject) -> value` so that two states
//! compare with one ordered merge.

use crate::State;
use hvguard_core::{
    ConfigValue, FactChange, FactKind, FileStat, Hypervisor, Location, Probe, Severity,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fact {
    value: String,
    location: Option<Location>,
}

pub(crate) type Facts = BTreeMap<(FactKind, String), Fact>;

/// Every compared fact of one state. A fact that could not be read is `unknown`, so that a
/// probe failing shows as a change rather than as the fact vanishing.
pub(crate) fn of(state: &State<'_>) -> Facts {
    let mut out = Facts::new();
    let hypervisors: &[Hypervisor] = match (state.snapshot, state.report) {
        (Some(s), _) => &s.hypervisors,
        (None, Some(r)) => &r.hypervisors,
        (None, None) => &[],
    };
    for h in hypervisors {
        let subject = h.path.display().to_string();
        let here = Some(at(&h.path, None, None));
        let version = h.version.clone().unwrap_or_else(|| "unknown".into());
        put(
            &mut out,
            FactKind::HypervisorVersion,
            &subject,
            version,
            here.clone(),
        );
        if let Some(p) = &h.package {
            let package = format!("{} {}", p.name, p.version);
            put(
                &mut out,
                FactKind::HypervisorPackage,
                &subject,
                package,
                here,
            );
        }
    }
    let Some(snapshot) = state.snapshot else {
        return out;
    };
    for b in &snapshot.integrity.binaries {
        let subject = b.path.display().to_string();
        let here = Some(at(&b.path, None, None));
        put(
            &mut out,
            FactKind::HypervisorSha256,
            &subject,
            b.sha256.clone(),
            here,
        );
    }
    if let Some(k) = snapshot.kata_install.value() {
        let here = Some(at(&k.path, None, None));
        put(&mut out, FactKind::KataRelease, "", k.version.clone(), here);
    }
    let host = &snapshot.host;
    let release = probe_text(&host.kernel_release, String::clone);
    put(&mut out, FactKind::KernelRelease, "", release, None);
    let cmdline = probe_text(&host.cmdline, |p| p.join(" "));
    let here = Some(at(Path::new("/proc/cmdline"), None, None));
    put(&mut out, FactKind::KernelCmdline, "", cmdline, here);
    let kvm = probe_text(&host.kvm.device, describe_stat);
    let here = Some(at(Path::new("/dev/kvm"), None, None));
    put(&mut out, FactKind::KvmDevice, "/dev/kvm", kvm, here);
    for config in &snapshot.kata {
        for (key, value) in &config.values {
            let subject = format!("{} {key}", config.main.display());
            let here = Some(at(&value.path, Some(value.line), Some(key)));
            put(
                &mut out,
                FactKind::KataConfig,
                &subject,
                render(&value.value),
                here,
            );
        }
    }
    for runtime in &snapshot.containerd {
        let mut annotations = runtime.pod_annotations.clone();
        annotations.sort();
        let value = format!(
            "runtime_type={} config_path={} pod_annotations=[{}]",
            runtime.runtime_type,
            runtime
                .config_path
                .as_deref()
                .map_or_else(|| "(unset)".into(), |p| p.display().to_string()),
            annotations.join(", ")
        );
        let here = Some(at(&runtime.path, Some(runtime.line), None));
        put(
            &mut out,
            FactKind::ContainerdRuntime,
            &runtime.name,
            value,
            here,
        );
    }
    out
}

fn put(out: &mut Facts, kind: FactKind, subject: &str, value: String, location: Option<Location>) {
    out.insert((kind, subject.to_string()), Fact { value, location });
}

fn at(path: &Path, line: Option<u32>, key: Option<&str>) -> Location {
    Location {
        path: PathBuf::from(path),
        line,
        key: key.map(str::to_string),
    }
}

fn probe_text<T>(probe: &Probe<T>, show: impl Fn(&T) -> String) -> String {
    match probe {
        Probe::Found { value } => show(value),
        Probe::Absent { .. } => "absent".into(),
        _ => "unknown".into(),
    }
}

fn describe_stat(stat: &FileStat) -> String {
    format!(
        "mode {} owner {}:{}",
        stat.mode_string(),
        stat.uid,
        stat.gid
    )
}

/// A configuration value as TOML would spell it.
fn render(value: &ConfigValue) -> String {
    match value {
        ConfigValue::Bool(b) => b.to_string(),
        ConfigValue::Integer(i) => i.to_string(),
        ConfigValue::Float(f) => f.to_string(),
        ConfigValue::String(s) => format!("{s:?}"),
        ConfigValue::Array(items) => {
            let inner: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", inner.join(", "))
        }
    }
}

/// Every fact whose value differs, appeared or vanished, in (kind, subject) order.
pub(crate) fn compare(old: &Facts, new: &Facts) -> Vec<FactChange> {
    let mut keys: Vec<&(FactKind, String)> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        let (o, n) = (old.get(key), new.get(key));
        if o.map(|f| &f.value) == n.map(|f| &f.value) {
            continue;
        }
        let location = n.or(o).and_then(|f| f.location.clone());
        let old_location = o
            .and_then(|f| f.location.clone())
            .filter(|l| n.is_some() && Some(l) != location.as_ref());
        out.push(FactChange {
            what: key.0,
            subject: key.1.clone(),
            old: o.map(|f| f.value.clone()),
            new: n.map(|f| f.value.clone()),
            location,
            old_location,
            severity: severity(key, old, new),
        });
    }
    out
}

/// How much a fact change matters. A binary whose hash changed while its version did not is
/// the change that no update explains; settings that widen what a guest or a pod author can
/// reach are `medium`; updates themselves are `low`.
fn severity(key: &(FactKind, String), old: &Facts, new: &Facts) -> Severity {
    match key.0 {
        FactKind::HypervisorSha256 => {
            let version = (FactKind::HypervisorVersion, key.1.clone());
            let (was, is) = (old.get(&version), new.get(&version));
            let updated = was.is_none() || was.map(|v| &v.value) != is.map(|v| &v.value);
            let hash_changed = old.contains_key(key) && new.contains_key(key);
            if hash_changed && !updated {
                Severity::High
            } else {
                Severity::Low
            }
        }
        FactKind::HypervisorVersion
        | FactKind::HypervisorPackage
        | FactKind::KataRelease
        | FactKind::KernelRelease => Severity::Low,
        FactKind::KernelCmdline
        | FactKind::KvmDevice
        | FactKind::KataConfig
        | FactKind::ContainerdRuntime => Severity::Medium,
    }
}
