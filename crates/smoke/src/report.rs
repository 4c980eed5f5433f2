//! The result of a boot test: `hvguard.smoke/v1`.

use crate::spec::Accel;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// Schema name of [`SmokeReport`] (fields are only ever added within a version).
pub const SMOKE_SCHEMA: &str = "hvguard.smoke/v1";

/// Every boot of one smoke test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmokeReport {
    pub schema: String,
    /// Every run reached the marker.
    pub ok: bool,
    /// The accelerator that actually ran (after an `auto` decision or fallback).
    pub accel: Accel,
    pub hypervisor: HypervisorInfo,
    /// The Kata configuration the settings came from, if any.
    #[serde(default)]
    pub config: Option<PathBuf>,
    /// The marker waited for.
    pub marker: String,
    pub runs: Vec<RunResult>,
    /// Median time to the marker over the successful runs.
    pub median_boot_ms: Option<f64>,
    /// How decisions were taken (accelerator fallback, supervision), one line each.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The VMM's argument vector (without the program), for reproducing a run by hand.
    #[serde(default)]
    pub argv: Vec<String>,
}

/// The VMM that was booted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HypervisorInfo {
    pub path: PathBuf,
    /// From `<path> --version` (`QEMU emulator version 7.2.22 (...)` gives `7.2.22`).
    pub version: Option<String>,
}

/// One boot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The marker appeared.
    pub ok: bool,
    /// Milliseconds from spawning the VMM to the marker.
    pub boot_ms: Option<f64>,
    /// Milliseconds from spawning the VMM to its first console byte.
    pub first_output_ms: Option<f64>,
    /// Peak resident set of the VMM (`VmHWM` in `/proc/<pid>/status`), in KiB.
    pub peak_rss_kib: Option<u64>,
    /// How the VMM ended; `stopped_by_hvguard` when hvguard stopped it (after the marker or on
    /// timeout).
    pub exit: Option<ExitInfo>,
    /// Why the run failed; `None` when it succeeded.
    pub reason: Option<FailureReason>,
    /// The VMM's process id (also its process group), so a caller can check it is gone.
    #[serde(default)]
    pub pid: Option<u32>,
}

/// How a VMM process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// Exit code, when it exited.
    pub code: Option<i32>,
    /// Signal, when a signal ended it.
    pub signal: Option<i32>,
    /// hvguard sent that signal.
    pub stopped_by_hvguard: bool,
}

impl fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}")?,
            (None, Some(sig)) => write!(f, "signal {sig}")?,
            (None, None) => f.write_str("unknown status")?,
        }
        if self.stopped_by_hvguard {
            f.write_str(" (stopped by hvguard)")?;
        }
        Ok(())
    }
}

/// Why a boot did not reach userspace. Serialised with a stable `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FailureReason {
    /// The VMM ended before the guest printed anything.
    VmmExitedEarly { exit: String, stderr_tail: String },
    /// The guest ran and the VMM ended, but the marker never appeared.
    MarkerMissing {
        exit: String,
        console_tail: String,
        stderr_tail: String,
    },
    /// The deadline passed without the marker; hvguard stopped the VMM.
    Timeout {
        after_ms: f64,
        console_bytes: u64,
        console_tail: String,
    },
    /// KVM cannot run the guest on this host.
    KvmUnusable { detail: String },
}

impl FailureReason {
    /// The stable id of the reason (`vmm-exited-early`, `marker-missing`, `timeout`,
    /// `kvm-unusable`).
    pub fn kind(&self) -> &'static str {
        match self {
            FailureReason::VmmExitedEarly { .. } => "vmm-exited-early",
            FailureReason::MarkerMissing { .. } => "marker-missing",
            FailureReason::Timeout { .. } => "timeout",
            FailureReason::KvmUnusable { .. } => "kvm-unusable",
        }
    }
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::VmmExitedEarly { exit, stderr_tail } => {
                write!(f, "VMM exited before the guest reached userspace ({exit})")?;
                match last_line(stderr_tail) {
                    "" => Ok(()),
                    line => write!(f, ": {line}"),
                }
            }
            FailureReason::MarkerMissing {
                exit, console_tail, ..
            } => {
                write!(f, "the guest stopped ({exit}) without printing the marker")?;
                match last_line(console_tail) {
                    "" => Ok(()),
                    line => write!(f, "; last console line: {line}"),
                }
            }
            FailureReason::Timeout {
                after_ms,
                console_bytes,
                ..
            } => write!(
                f,
                "no marker within {:.1} s ({console_bytes} console bytes); the VMM was stopped",
                after_ms / 1000.0
            ),
            FailureReason::KvmUnusable { detail } => write!(f, "KVM unusable: {detail}"),
        }
    }
}

/// Median of `values` (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

impl SmokeReport {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn reasons_serialise_with_a_kind_and_read_well() {
        let r = FailureReason::VmmExitedEarly {
            exit: "exit code 0".into(),
            stderr_tail: "\n".into(),
        };
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["kind"], "vmm-exited-early");
        assert_eq!(
            r.to_string(),
            "VMM exited before the guest reached userspace (exit code 0)"
        );
        let t = FailureReason::Timeout {
            after_ms: 2000.0,
            console_bytes: 0,
            console_tail: String::new(),
        };
        assert_eq!(t.kind(), "timeout");
        assert!(t.to_string().contains("2.0 s"));
    }
}
