//! Boot a hypervisor the way Kata would, watch the guest console, measure.
//!
//! `hvguard smoke` and `hvguard bench` are thin layers over this crate; `hvguard update` calls
//! it to boot-test a candidate build before it installs it. Nothing here parses command-line
//! arguments or prints.
//!
//! # The API
//!
//! ```text
//! SmokeSpec                       what to boot: hypervisor path, module dir (QEMU_MODULE_DIR),
//!                                 data dirs (-L), accel auto|kvm|tcg, kernel, initrd or image,
//!                                 marker, timeout, runs, kernel params, memory, vCPUs, machine
//!                                 type, seccomp sandbox value, IOMMU, firmware, host facts
//!   ::from_kata(&KataConfig, &SmokeOverrides)   a Kata configuration's hypervisor settings,
//!                                 read as the Go runtime reads them, with overrides on top
//!   ::standalone(&SmokeOverrides)               Kata's defaults with overrides on top
//! SmokeOverrides                  flags / policy values; `flags.or(policy)` layers them
//! SmokePolicy::resolve(Option<&Path>)           the `[smoke]` table of /etc/hvguard/policy.toml
//!                                 (or --policy FILE), errors as `path:line: message`
//! HostVirt::from_facts(&KvmFacts, &Probe<CpuInfo>)   set `spec.host` from hvguard-host's probes
//!                                 so `accel=auto` decides from facts (kvm_pvm, vmx/svm)
//! run_smoke(&SmokeSpec) -> Result<SmokeReport, SmokeError>
//!                                 Err: could not try (bad input, untrusted or missing files,
//!                                 unsupported VMM kind). Ok: the report, ok or not.
//! SmokeReport { ok, accel, hypervisor: {path, version}, runs: [RunResult { ok, boot_ms,
//!               first_output_ms, peak_rss_kib, exit, reason, pid }], median_boot_ms, notes }
//!                                 serialises as `hvguard.smoke/v1`
//! run_bench(&SmokeSpec, &SmokeSpec, runs, BenchKind) -> Result<BenchReport, SmokeError>
//!                                 alternating A/B boots, `hvguard.bench/v1`
//! Feature::{Sandbox, Iommu, Machine}.variants(&SmokeSpec)   the A (without) / B (with) specs
//! Baseline::load(&Path)?.check(&BenchReport)   the Kata CI metrics gate (`[[metric]]`)
//! ```
//!
//! A typical caller (the update gate booting a staged candidate):
//!
//! ```no_run
//! use hvguard_smoke::{run_smoke, HostVirt, SmokeOverrides, SmokePolicy, SmokeSpec};
//! # fn demo(kata: &hvguard_core::KataConfig, kvm: &hvguard_core::KvmFacts,
//! #         cpu: &hvguard_core::Probe<hvguard_core::CpuInfo>) -> Result<(), Box<dyn std::error::Error>> {
//! let policy = SmokePolicy::resolve(None)?;
//! let candidate = SmokeOverrides {
//!     hypervisor: Some("/var/lib/hvguard/staging/usr/bin/qemu-system-x86_64".into()),
//!     module_dir: Some("/var/lib/hvguard/staging/usr/lib/x86_64-linux-gnu/qemu".into()),
//!     data_dirs: Some(vec!["/var/lib/hvguard/staging/usr/share/qemu".into(),
//!                          "/usr/share/seabios".into()]),
//!     ..SmokeOverrides::default()
//! };
//! let mut spec = SmokeSpec::from_kata(kata, &candidate.or(policy.overrides))?;
//! spec.host = HostVirt::from_facts(kvm, cpu);
//! let report = run_smoke(&spec)?;
//! if !report.ok { /* refuse the update; report.runs.last().reason says why */ }
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//!
//! - Only QEMU is booted. A Firecracker, Cloud Hypervisor, Dragonball or StratoVirt
//!   configuration is [`SmokeError::Unsupported`], never a pass.
//! - The hypervisor binary, its module folder and every folder above them must be writable by
//!   no one but root or the caller ([`trust`]); the program executed is the canonical path.
//! - No process outlives a run: the VMM runs in its own process group, killed on success,
//!   timeout, error or panic, and under `setpriv --pdeathsig KILL` so the kernel kills it if
//!   hvguard dies ([`launch`]). The report carries each VMM's pid so callers can check.
//! - Console and stderr are read into bounded buffers ([`console`]).
//! - Every failure is named: [`FailureReason`] `vmm-exited-early` (with the stderr tail),
//!   `marker-missing`, `timeout`, `kvm-unusable`.

#![forbid(unsafe_code)]

pub mod baseline;
pub mod bench;
pub mod console;
pub mod error;
pub mod host;
pub mod kata;
pub mod launch;
pub mod policy;
pub mod qemu_args;
pub mod report;
pub mod run;
pub mod spec;
pub mod trust;

pub use baseline::{Baseline, BaselineError, CheckType, GateResult, MetricCheck};
pub use bench::{run_bench, BenchKind, BenchReport, BenchSide, Feature, BENCH_SCHEMA};
pub use error::SmokeError;
pub use host::{HostVirt, KvmVerdict};
pub use policy::{SmokePolicy, SmokePolicyError};
pub use report::{ExitInfo, FailureReason, HypervisorInfo, RunResult, SmokeReport, SMOKE_SCHEMA};
pub use run::{run_smoke, Prepared};
pub use spec::{
    Accel, AccelChoice, BootAsset, MachineType, SmokeOverrides, SmokeSpec, DEFAULT_MARKER,
    KATA_AGENT_MARKER,
};
