//! `hvguard bench`: the same boot test on two sides, alternating, to measure what an update or
//! a security feature costs. `hvguard.bench/v1`.
//!
//! Runs alternate A, B, A, B, ... after one unrecorded warm-up boot of each side, so that a
//! slow drift of the host (page cache, frequency, a neighbour) spreads over both sides instead
//! of landing on one. Both sides use the same accelerator, decided once.

use crate::baseline::GateResult;
use crate::report::{median, RunResult};
use crate::run::{AccelDecision, Prepared};
use crate::spec::{Accel, MachineType, SmokeSpec};
use crate::SmokeError;
use hvguard_core::hardening::QEMU_SECCOMP_SANDBOX;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Schema name of [`BenchReport`].
pub const BENCH_SCHEMA: &str = "hvguard.bench/v1";

/// A security feature whose boot cost `bench --feature` measures: side A without, B with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// QEMU's seccomp filter, with the value hvguard's hardening sets
    /// ([`QEMU_SECCOMP_SANDBOX`], Kata's `seccompsandbox`).
    Sandbox,
    /// An emulated Intel IOMMU (Kata's `enable_iommu`: `intel-iommu`, a split irqchip and
    /// `intel_iommu=on iommu=pt`), q35 only.
    Iommu,
    /// The machine type: `q35` (A) against the smaller `microvm` (B).
    Machine,
}

impl Feature {
    pub const ALL: [Feature; 3] = [Feature::Sandbox, Feature::Iommu, Feature::Machine];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Sandbox => "sandbox",
            Feature::Iommu => "iommu",
            Feature::Machine => "machine",
        }
    }

    /// The A (without) and B (with) specs, both derived from `base`.
    pub fn variants(self, base: &SmokeSpec) -> Result<(SmokeSpec, SmokeSpec), SmokeError> {
        let mut a = base.clone();
        let mut b = base.clone();
        match self {
            Feature::Sandbox => {
                a.seccomp_sandbox = None;
                b.seccomp_sandbox = Some(QEMU_SECCOMP_SANDBOX.to_string());
            }
            Feature::Iommu => {
                if base.machine != MachineType::Q35 {
                    return Err(SmokeError::InvalidSpec {
                        message: format!(
                            "the iommu feature needs the q35 machine type, not {}",
                            base.machine
                        ),
                    });
                }
                a.iommu = false;
                b.iommu = true;
            }
            Feature::Machine => {
                // microvm has no vIOMMU: compare the machines without one.
                a.iommu = false;
                b.iommu = false;
                a.machine = MachineType::Q35;
                b.machine = MachineType::Microvm;
            }
        }
        Ok((a, b))
    }

    /// What side A and side B are, for the report.
    pub fn labels(self) -> (String, String) {
        match self {
            Feature::Sandbox => (
                "without -sandbox".into(),
                format!("-sandbox {QEMU_SECCOMP_SANDBOX}"),
            ),
            Feature::Iommu => ("without vIOMMU".into(), "intel-iommu (enable_iommu)".into()),
            Feature::Machine => ("machine q35".into(), "machine microvm".into()),
        }
    }
}

impl FromStr for Feature {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Feature::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("feature {s:?} is not one of sandbox, iommu, machine"))
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchKind {
    /// Two hypervisor builds.
    Compare,
    /// One build without and with a feature.
    Feature(Feature),
}

/// One side of a benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchSide {
    /// What this side is (`without -sandbox`, a path, ...).
    pub label: String,
    /// The hypervisor.
    pub path: PathBuf,
    pub version: Option<String>,
    /// Median, fastest and slowest time to the marker over the recorded runs.
    pub median_ms: Option<f64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Median peak resident set of the VMM, KiB.
    pub median_peak_rss_kib: Option<f64>,
    pub runs: Vec<RunResult>,
}

/// `hvguard.bench/v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub schema: String,
    /// Every boot reached the marker (and, with a baseline, every metric is within bounds).
    pub ok: bool,
    /// `compare` or `feature`.
    pub mode: String,
    pub feature: Option<Feature>,
    /// The accelerator both sides ran with.
    pub accel: Accel,
    pub a: BenchSide,
    pub b: BenchSide,
    /// `b.median_ms / a.median_ms`.
    pub ratio: Option<f64>,
    #[serde(default)]
    pub notes: Vec<String>,
    /// The baseline gate, when one was given.
    #[serde(default)]
    pub gate: Option<GateResult>,
}

impl BenchReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The recorded values of a per-run metric of one side.
    pub fn side_values(side: &BenchSide, metric: impl Fn(&RunResult) -> Option<f64>) -> Vec<f64> {
        side.runs.iter().filter_map(metric).collect()
    }
}

fn side(label: String, prepared: &Prepared, runs: Vec<RunResult>) -> BenchSide {
    let boots: Vec<f64> = runs.iter().filter_map(|r| r.boot_ms).collect();
    let rss: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.peak_rss_kib.map(|k| k as f64))
        .collect();
    BenchSide {
        label,
        path: prepared.spec.hypervisor.clone(),
        version: prepared.version.clone(),
        median_ms: median(&boots),
        min_ms: boots.iter().copied().reduce(f64::min),
        max_ms: boots.iter().copied().reduce(f64::max),
        median_peak_rss_kib: median(&rss),
        runs,
    }
}

/// Boots `a` and `b` alternately, `runs` recorded boots each, after one warm-up boot each.
/// Stops at the first failed boot (the report is then not `ok`).
pub fn run_bench(
    a: &SmokeSpec,
    b: &SmokeSpec,
    runs: u32,
    kind: BenchKind,
) -> Result<BenchReport, SmokeError> {
    if runs == 0 || runs > crate::spec::MAX_RUNS {
        return Err(SmokeError::InvalidSpec {
            message: format!("runs must be 1 to {}, not {runs}", crate::spec::MAX_RUNS),
        });
    }
    let pa = Prepared::new(a)?;
    let pb = Prepared::new(b)?;
    let AccelDecision {
        accel,
        mut notes,
        refused,
        ..
    } = pa.resolve_accel()?;
    notes.extend(pa.notes());
    notes.push(format!(
        "{runs} recorded boots per side, alternating A and B, after one warm-up boot of each"
    ));
    let (label_a, label_b) = match kind {
        BenchKind::Compare => (
            a.hypervisor.display().to_string(),
            b.hypervisor.display().to_string(),
        ),
        BenchKind::Feature(f) => f.labels(),
    };
    let mut runs_a = Vec::new();
    let mut runs_b = Vec::new();
    let mut ok = true;
    if let Some(refused) = refused {
        runs_a.push(refused);
        ok = false;
    } else {
        'bench: for round in 0..=runs {
            for (prepared, out) in [(&pa, &mut runs_a), (&pb, &mut runs_b)] {
                let run = prepared.boot(accel, prepared.spec.timeout)?;
                let failed = !run.ok;
                // Round 0 is the warm-up: kept only when it fails, to say why.
                if round > 0 || failed {
                    out.push(run);
                }
                if failed {
                    ok = false;
                    break 'bench;
                }
            }
        }
    }
    let a_side = side(label_a, &pa, runs_a);
    let b_side = side(label_b, &pb, runs_b);
    let ratio = match (a_side.median_ms, b_side.median_ms) {
        (Some(x), Some(y)) if x > 0.0 => Some(y / x),
        _ => None,
    };
    Ok(BenchReport {
        schema: BENCH_SCHEMA.to_string(),
        ok,
        mode: match kind {
            BenchKind::Compare => "compare".into(),
            BenchKind::Feature(_) => "feature".into(),
        },
        feature: match kind {
            BenchKind::Feature(f) => Some(f),
            BenchKind::Compare => None,
        },
        accel,
        a: a_side,
        b: b_side,
        ratio,
        notes,
        gate: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::spec::SmokeOverrides;

    fn base() -> SmokeSpec {
        SmokeSpec::standalone(&SmokeOverrides {
            kernel: Some("/k".into()),
            ..SmokeOverrides::default()
        })
        .unwrap()
    }

    #[test]
    fn features_differ_in_exactly_their_setting() {
        let (a, b) = Feature::Sandbox.variants(&base()).unwrap();
        assert_eq!(a.seccomp_sandbox, None);
        assert_eq!(b.seccomp_sandbox.as_deref(), Some(QEMU_SECCOMP_SANDBOX));
        assert_eq!(
            SmokeSpec {
                seccomp_sandbox: None,
                ..b
            },
            a
        );
        let (a, b) = Feature::Iommu.variants(&base()).unwrap();
        assert!(!a.iommu && b.iommu);
        let (a, b) = Feature::Machine.variants(&base()).unwrap();
        assert_eq!(
            (a.machine, b.machine),
            (MachineType::Q35, MachineType::Microvm)
        );
        let mut micro = base();
        micro.machine = MachineType::Microvm;
        assert!(Feature::Iommu.variants(&micro).is_err());
        assert_eq!("iommu".parse::<Feature>().unwrap(), Feature::Iommu);
        assert!("nx".parse::<Feature>().is_err());
    }

    #[test]
    fn zero_runs_is_refused() {
        assert!(matches!(
            run_bench(&base(), &base(), 0, BenchKind::Compare),
            Err(SmokeError::InvalidSpec { .. })
        ));
    }
}
