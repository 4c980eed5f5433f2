//! The test before install: boot a hypervisor build and judge its boot time against the
//! policy. The boot itself is behind [`BootGate`] so that the update stages do not care
//! who boots: the [`smoke`] gate (a real guest booted the way Kata would, through
//! hvguard-smoke; the default) or the QEMU start probe of [`qemu_start`] (no guest). With no
//! gate at all, `apply` refuses unless told to skip it.

pub mod qemu_start;
pub mod smoke;

use std::path::PathBuf;

use hvguard_advisory::policy::UpdatePolicy;
use serde::Serialize;

/// What to boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootTarget {
    /// For messages: `candidate 1:7.2+dfsg-7+deb12u18+b3`, `installed ...`.
    pub label: String,
    /// The hypervisor binary.
    pub binary: PathBuf,
    /// `QEMU_MODULE_DIR` for that build (a staged copy needs its own modules).
    pub module_dir: Option<PathBuf>,
    /// QEMU data folders (`-L`: option ROMs, firmware) for a build outside its install
    /// prefix; empty for an installed build, which finds its own.
    pub data_dirs: Vec<PathBuf>,
    /// The guest kernel to boot instead of the configured one (a Kata release's own).
    pub kernel: Option<PathBuf>,
    /// The guest initrd instead of the configured one.
    pub initrd: Option<PathBuf>,
    /// The guest image instead of the configured one.
    pub image: Option<PathBuf>,
}

impl BootTarget {
    pub fn new(label: impl Into<String>, binary: impl Into<PathBuf>) -> Self {
        BootTarget {
            label: label.into(),
            binary: binary.into(),
            module_dir: None,
            data_dirs: Vec::new(),
            kernel: None,
            initrd: None,
            image: None,
        }
    }
}

/// A boot that worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootMeasurement {
    /// Median over the runs, in milliseconds.
    pub median_ms: u64,
    /// What the gate did (runs, accelerator, version the binary reported).
    pub detail: String,
    /// The accelerator the boots ran with (`kvm`, `tcg`), when known.
    pub accel: Option<String>,
    /// The version the binary reported, when it did.
    pub version: Option<String>,
}

/// Boots a hypervisor build and measures it; an `Err` is the failure reason.
pub trait BootGate {
    /// `smoke`, `qemu-start`: named in the stage details so that a reader knows how strong
    /// the test was.
    fn name(&self) -> &str;
    /// Boots `target`; `Err(reason)` when it did not come up.
    fn boot(&self, target: &BootTarget) -> Result<BootMeasurement, String>;
}

/// The verdict of the gate for one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateVerdict {
    pub ok: bool,
    pub detail: String,
}

/// Boots the candidate (and, when the policy bounds the regression, the installed build)
/// and judges the candidate against `max_boot_ms` and `max_boot_regression_percent`.
pub fn judge(
    gate: &dyn BootGate,
    candidate: &BootTarget,
    installed: Option<&BootTarget>,
    policy: &UpdatePolicy,
) -> GateVerdict {
    let fail = |detail: String| GateVerdict { ok: false, detail };
    let cand = match gate.boot(candidate) {
        Ok(m) => m,
        Err(reason) => {
            return fail(format!(
                "{} gate: {} did not boot: {reason}",
                gate.name(),
                candidate.label
            ))
        }
    };
    let mut detail = format!(
        "{} gate: {} median {} ms ({})",
        gate.name(),
        candidate.label,
        cand.median_ms,
        cand.detail
    );
    if let Some(max) = policy.max_boot_ms {
        if cand.median_ms > max {
            return fail(format!("{detail}; above max_boot_ms = {max}"));
        }
        detail.push_str(&format!("; within max_boot_ms = {max}"));
    }
    if let (Some(percent), Some(installed)) = (policy.max_boot_regression_percent, installed) {
        let base = match gate.boot(installed) {
            Ok(m) => m,
            Err(reason) => {
                // The installed build not booting says nothing against the candidate.
                detail.push_str(&format!(
                    "; no regression check: {} did not boot ({reason})",
                    installed.label
                ));
                return GateVerdict { ok: true, detail };
            }
        };
        let allowed = base.median_ms + base.median_ms * u64::from(percent) / 100;
        detail.push_str(&format!(
            "; {} median {} ms",
            installed.label, base.median_ms
        ));
        if cand.median_ms > allowed.max(1) {
            return fail(format!(
                "{detail}: the candidate is more than {percent}% slower (limit {allowed} ms)"
            ));
        }
        detail.push_str(&format!(", within {percent}% (limit {allowed} ms)"));
    }
    GateVerdict { ok: true, detail }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A gate answering from a table: tests of the judging arithmetic only.
    struct Table(BTreeMap<String, Result<u64, String>>);

    impl BootGate for Table {
        fn name(&self) -> &str {
            "table"
        }
        fn boot(&self, target: &BootTarget) -> Result<BootMeasurement, String> {
            self.0[&target.label]
                .clone()
                .map(|median_ms| BootMeasurement {
                    median_ms,
                    detail: "table".into(),
                    accel: None,
                    version: None,
                })
        }
    }

    fn gate(cand: Result<u64, String>, inst: Result<u64, String>) -> Table {
        Table(BTreeMap::from([("c".into(), cand), ("i".into(), inst)]))
    }

    #[test]
    fn bounds_and_regressions() {
        let c = BootTarget::new("c", "/x");
        let i = BootTarget::new("i", "/y");
        let mut p = UpdatePolicy::default();
        assert!(judge(&gate(Ok(100), Ok(100)), &c, Some(&i), &p).ok);
        p.max_boot_ms = Some(1);
        let v = judge(&gate(Ok(100), Ok(100)), &c, Some(&i), &p);
        assert!(
            !v.ok && v.detail.contains("max_boot_ms = 1"),
            "{}",
            v.detail
        );
        p.max_boot_ms = None;
        p.max_boot_regression_percent = Some(20);
        assert!(judge(&gate(Ok(120), Ok(100)), &c, Some(&i), &p).ok);
        let v = judge(&gate(Ok(121), Ok(100)), &c, Some(&i), &p);
        assert!(!v.ok && v.detail.contains("20% slower"), "{}", v.detail);
        let v = judge(&gate(Err("VMM exited".into()), Ok(1)), &c, Some(&i), &p);
        assert!(!v.ok && v.detail.contains("VMM exited"), "{}", v.detail);
        let v = judge(&gate(Ok(5), Err("no".into())), &c, Some(&i), &p);
        assert!(
            v.ok && v.detail.contains("no regression check"),
            "{}",
            v.detail
        );
    }
}
