//! The smoke gate: boots a real guest with the build under test, the way Kata would, through
//! hvguard-smoke, and measures the time until the guest reached userspace.
//!
//! The settings come from three places, highest precedence first:
//! 1. the target: the binary under test, its own module folder and data folders (a staged
//!    candidate lives outside its install prefix), and for a static Kata release its own
//!    guest kernel and initrd or image;
//! 2. the policy's `[smoke]` table (guest, marker, accelerator, timeout, runs);
//! 3. the Kata configuration in use on the host (machine type, vCPUs, memory, seccomp
//!    sandbox, IOMMU, kernel parameters, firmware, and its guest), else Kata's defaults.
//!
//! The accelerator is decided from the host's facts ([`HostVirt`]), so `auto` on a host whose
//! KVM cannot run a standard guest (`kvm_pvm`, no vmx/svm) goes to TCG at once instead of
//! spending a trial boot on KVM.

use std::path::Path;

use hvguard_core::KataConfig;
use hvguard_smoke::{
    run_smoke, BootAsset, HostVirt, SmokeError, SmokeOverrides, SmokeReport, SmokeSpec,
    KATA_AGENT_MARKER,
};

use super::{BootGate, BootMeasurement, BootTarget};

/// Boots per measurement when `[smoke] runs` says nothing: a median needs more than one, and
/// the regression check compares two medians.
pub const DEFAULT_GATE_RUNS: u32 = 3;

/// Boots the configured guest with each target and reports the median time to the marker.
#[derive(Debug, Clone)]
pub struct SmokeGate {
    /// The Kata configuration whose hypervisor settings the boots use, if the host has one.
    config: Option<KataConfig>,
    /// The policy's `[smoke]` table.
    policy: SmokeOverrides,
    /// This host's virtualisation facts, for `accel = auto`.
    host: HostVirt,
}

impl SmokeGate {
    pub fn new(config: Option<KataConfig>, policy: SmokeOverrides, host: HostVirt) -> SmokeGate {
        SmokeGate {
            config,
            policy,
            host,
        }
    }

    /// The Kata configuration the boots take their settings from.
    pub fn config(&self) -> Option<&KataConfig> {
        self.config.as_ref()
    }

    /// The spec for the host's own guest and hypervisor, without a target: an `Err` says why
    /// no guest is configured (no `[smoke] kernel` and no Kata configuration naming one) or
    /// why the configuration cannot be booted. Callers check it before a transaction starts.
    pub fn configured_guest(&self) -> Result<SmokeSpec, SmokeError> {
        self.spec(&SmokeOverrides::default(), false)
    }

    /// The spec one boot of `target` runs with.
    pub fn spec_for(&self, target: &BootTarget) -> Result<SmokeSpec, SmokeError> {
        let boot = match (&target.initrd, &target.image) {
            (Some(i), _) => Some(BootAsset::Initrd(i.clone())),
            (None, Some(i)) => Some(BootAsset::Image(i.clone())),
            (None, None) => None,
        };
        let own = SmokeOverrides {
            hypervisor: Some(target.binary.clone()),
            module_dir: target.module_dir.clone(),
            data_dirs: (!target.data_dirs.is_empty()).then(|| target.data_dirs.clone()),
            kernel: target.kernel.clone(),
            boot,
            ..SmokeOverrides::default()
        };
        self.spec(&own, target.kernel.is_some())
    }

    fn spec(&self, own: &SmokeOverrides, own_guest: bool) -> Result<SmokeSpec, SmokeError> {
        let mut lower = self.policy.clone();
        if own_guest {
            // A release's own guest replaces the policy's as a whole: its kernel with the
            // policy's initrd would be neither.
            lower.kernel = None;
            lower.boot = None;
        }
        let overrides = own.clone().or(lower);
        let mut spec = match &self.config {
            Some(config) => SmokeSpec::from_kata(config, &overrides)?,
            None => SmokeSpec::standalone(&overrides)?,
        };
        if own_guest && self.policy.marker.is_none() {
            // A Kata release's guest runs Kata's agent, not the test guest's marker.
            spec.marker = KATA_AGENT_MARKER.to_owned();
        }
        if self.policy.runs.is_none() {
            spec.runs = DEFAULT_GATE_RUNS;
        }
        spec.host = self.host.clone();
        spec.validate()?;
        Ok(spec)
    }
}

impl BootGate for SmokeGate {
    fn name(&self) -> &str {
        "smoke"
    }

    fn boot(&self, target: &BootTarget) -> Result<BootMeasurement, String> {
        let spec = self.spec_for(target).map_err(|e| e.to_string())?;
        let report = run_smoke(&spec).map_err(|e| e.to_string())?;
        measurement(&report, &spec.kernel)
    }
}

/// The gate's reading of a smoke report (of a boot of the guest `kernel`): the median boot, or
/// why it did not boot.
pub fn measurement(report: &SmokeReport, kernel: &Path) -> Result<BootMeasurement, String> {
    let runs = report.runs.len();
    let accel = report.accel.as_str();
    if !report.ok {
        let (index, reason) = report
            .runs
            .iter()
            .enumerate()
            .find(|(_, r)| !r.ok)
            .map(|(i, r)| {
                (
                    i + 1,
                    r.reason
                        .as_ref()
                        .map_or_else(|| "failed".to_owned(), ToString::to_string),
                )
            })
            .unwrap_or((0, "no boot was made".to_owned()));
        return Err(format!("boot {index} of {runs} with {accel}: {reason}"));
    }
    let Some(median) = report.median_boot_ms.filter(|m| m.is_finite() && *m >= 0.0) else {
        return Err("the guest booted but no boot time was measured".to_owned());
    };
    let version = report.hypervisor.version.clone();
    let mut detail = format!(
        "{runs} boot(s) of {} with the guest {} to the marker {:?} with {accel}, QEMU {}",
        report.hypervisor.path.display(),
        kernel.display(),
        report.marker,
        version.as_deref().unwrap_or("version unknown")
    );
    for note in &report.notes {
        detail.push_str("; ");
        detail.push_str(note);
    }
    Ok(BootMeasurement {
        median_ms: median.round() as u64,
        detail,
        accel: Some(accel.to_owned()),
        version,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use hvguard_smoke::{Accel, AccelChoice, FailureReason, HypervisorInfo, RunResult};
    use std::path::PathBuf;
    use std::time::Duration;

    fn policy_guest() -> SmokeOverrides {
        SmokeOverrides {
            kernel: Some("/guest/vmlinuz".into()),
            boot: Some(BootAsset::Initrd("/guest/initramfs.cpio.gz".into())),
            accel: Some(AccelChoice::Tcg),
            timeout: Some(Duration::from_secs(30)),
            ..SmokeOverrides::default()
        }
    }

    fn pvm_host() -> HostVirt {
        HostVirt {
            kvm_device: Some(true),
            kvm_modules: Some(["kvm".to_owned(), "kvm_pvm".to_owned()].into()),
            cpu_flags: Some(["hypervisor".to_owned()].into()),
        }
    }

    #[test]
    fn the_target_binary_and_folders_win_over_the_policy() {
        let mut policy = policy_guest();
        policy.hypervisor = Some("/usr/bin/qemu-system-x86_64".into());
        let gate = SmokeGate::new(None, policy, pvm_host());
        let mut target = BootTarget::new("candidate", "/staging/root/usr/bin/qemu-system-x86_64");
        target.module_dir = Some("/staging/root/usr/lib/x86_64-linux-gnu/qemu".into());
        target.data_dirs = vec![
            "/staging/root/usr/share/qemu".into(),
            "/usr/share/seabios".into(),
        ];
        let spec = gate.spec_for(&target).unwrap();
        assert_eq!(spec.hypervisor, target.binary);
        assert_eq!(spec.module_dir, target.module_dir);
        assert_eq!(spec.data_dirs, target.data_dirs);
        assert_eq!(spec.kernel, PathBuf::from("/guest/vmlinuz"));
        assert_eq!(spec.marker, hvguard_smoke::DEFAULT_MARKER);
        assert_eq!(spec.runs, DEFAULT_GATE_RUNS);
        assert_eq!(spec.timeout, Duration::from_secs(30));
        assert_eq!(spec.host, pvm_host());
    }

    #[test]
    fn a_release_boots_its_own_guest_and_waits_for_kata_s_agent() {
        let gate = SmokeGate::new(None, policy_guest(), HostVirt::default());
        let mut target = BootTarget::new("Kata 3.21.0", "/opt/kata-releases/3.21.0/bin/qemu");
        target.kernel =
            Some("/opt/kata-releases/3.21.0/share/kata-containers/vmlinux.container".into());
        target.image =
            Some("/opt/kata-releases/3.21.0/share/kata-containers/kata-containers.img".into());
        let spec = gate.spec_for(&target).unwrap();
        assert_eq!(spec.kernel, target.kernel.clone().unwrap());
        assert_eq!(
            spec.boot,
            Some(BootAsset::Image(target.image.clone().unwrap()))
        );
        assert_eq!(spec.marker, KATA_AGENT_MARKER);
        // ... unless the policy names the marker its guests print.
        let mut policy = policy_guest();
        policy.marker = Some("HVGUARD-SMOKE-OK".into());
        policy.runs = Some(1);
        let spec = SmokeGate::new(None, policy, HostVirt::default())
            .spec_for(&target)
            .unwrap();
        assert_eq!(spec.marker, "HVGUARD-SMOKE-OK");
        assert_eq!(spec.runs, 1);
    }

    #[test]
    fn no_guest_is_named_before_anything_runs() {
        let gate = SmokeGate::new(None, SmokeOverrides::default(), HostVirt::default());
        assert!(matches!(
            gate.configured_guest(),
            Err(SmokeError::NoKernel { .. })
        ));
        assert!(SmokeGate::new(None, policy_guest(), HostVirt::default())
            .configured_guest()
            .is_ok());
    }

    fn report(runs: Vec<RunResult>, median: Option<f64>) -> SmokeReport {
        SmokeReport {
            schema: hvguard_smoke::SMOKE_SCHEMA.into(),
            ok: runs.iter().all(|r| r.ok),
            accel: Accel::Tcg,
            hypervisor: HypervisorInfo {
                path: Path::new("/usr/bin/qemu-system-x86_64").into(),
                version: Some("7.2.22".into()),
            },
            config: None,
            marker: "HVGUARD-SMOKE-OK".into(),
            runs,
            median_boot_ms: median,
            notes: vec!["booted with TCG instead".into()],
            argv: Vec::new(),
        }
    }

    fn run(ok: bool, boot_ms: f64) -> RunResult {
        RunResult {
            ok,
            boot_ms: ok.then_some(boot_ms),
            first_output_ms: Some(10.0),
            peak_rss_kib: None,
            exit: None,
            reason: (!ok).then(|| FailureReason::Timeout {
                after_ms: 5000.0,
                console_bytes: 0,
                console_tail: String::new(),
            }),
            pid: None,
        }
    }

    #[test]
    fn reports_become_measurements_or_reasons() {
        let kernel = Path::new("/guest/vmlinuz");
        let m = measurement(
            &report(vec![run(true, 1499.6), run(true, 1600.0)], Some(1549.8)),
            kernel,
        )
        .unwrap();
        assert_eq!(m.median_ms, 1550);
        assert_eq!(m.accel.as_deref(), Some("tcg"));
        assert_eq!(m.version.as_deref(), Some("7.2.22"));
        assert!(
            m.detail.contains("2 boot(s)") && m.detail.contains("TCG instead"),
            "{}",
            m.detail
        );
        assert!(m.detail.contains("guest /guest/vmlinuz"), "{}", m.detail);
        let e = measurement(
            &report(vec![run(true, 1.0), run(false, 0.0)], Some(1.0)),
            kernel,
        )
        .unwrap_err();
        assert!(
            e.starts_with("boot 2 of 2 with tcg: no marker within 5.0 s"),
            "{e}"
        );
        let e = measurement(&report(vec![run(true, 1.0)], None), kernel).unwrap_err();
        assert!(e.contains("no boot time"), "{e}");
    }
}
