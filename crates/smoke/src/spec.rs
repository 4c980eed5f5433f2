//! What to boot and how: [`SmokeSpec`], the choices it is made of, and the overrides (flags,
//! policy) that are laid over a Kata configuration.

use crate::host::HostVirt;
use crate::SmokeError;
use hvguard_core::HypervisorKind;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The marker the test guest prints once its `/init` runs (and the default `--marker`).
pub const DEFAULT_MARKER: &str = "HVGUARD-SMOKE-OK";

/// A console line that means "Kata's agent is running" in Kata's own guest assets.
///
/// The agent logs JSON lines to its stdout, which is the console on QEMU (no `agent.log_vport`
/// there; the systemd unit of the image sets `StandardOutput=tty`). Its first line at the
/// default `info` level is the `announce` message (`src/agent/src/main.rs`, `announce`), so
/// this text appears once the agent, Kata's init, is in userspace.
pub const KATA_AGENT_MARKER: &str = "\"msg\":\"announce\"";

/// Kata's own default QEMU path when the configuration names none (`defaultQemuPath`).
pub const DEFAULT_QEMU_PATH: &str = "/usr/bin/qemu-system-x86_64";

/// Default time one boot may take before it counts as a failure.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest accepted `--timeout` (one hour): a boot test that needs more is not a smoke test.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// Most boots one smoke or bench side may ask for.
pub const MAX_RUNS: u32 = 1000;

/// Longest accepted marker, in bytes.
pub const MAX_MARKER_LEN: usize = 256;

/// The accelerator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccelChoice {
    /// KVM when this host can run a standard guest under it, else TCG (and the report says why).
    #[default]
    Auto,
    /// KVM only; a host whose KVM cannot run the guest fails fast with the reason.
    Kvm,
    /// QEMU's software emulator.
    Tcg,
}

impl FromStr for AccelChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(AccelChoice::Auto),
            "kvm" => Ok(AccelChoice::Kvm),
            "tcg" => Ok(AccelChoice::Tcg),
            other => Err(format!("accelerator {other:?} is not auto, kvm or tcg")),
        }
    }
}

impl fmt::Display for AccelChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccelChoice::Auto => "auto",
            AccelChoice::Kvm => "kvm",
            AccelChoice::Tcg => "tcg",
        })
    }
}

/// The accelerator a boot actually used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The QEMU machine types Kata's Go runtime accepts on x86_64 (`supportedQemuMachines`):
/// q35 and microvm today; `pc` was the default of Kata 2.0 and is still booted for
/// configurations of those releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MachineType {
    Q35,
    Microvm,
    Pc,
}

impl MachineType {
    pub fn as_str(self) -> &'static str {
        match self {
            MachineType::Q35 => "q35",
            MachineType::Microvm => "microvm",
            MachineType::Pc => "pc",
        }
    }
}

impl FromStr for MachineType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" | "q35" => Ok(MachineType::Q35),
            "microvm" => Ok(MachineType::Microvm),
            "pc" => Ok(MachineType::Pc),
            other => Err(format!(
                "machine type {other:?} is not one Kata runs on x86_64 (q35, microvm, pc)"
            )),
        }
    }
}

impl fmt::Display for MachineType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the kernel boots into: Kata's `initrd` or its rootfs `image` (never both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BootAsset {
    Initrd(PathBuf),
    Image(PathBuf),
}

impl BootAsset {
    pub fn path(&self) -> &std::path::Path {
        match self {
            BootAsset::Initrd(p) | BootAsset::Image(p) => p,
        }
    }
}

/// Everything one boot test needs. Build it with [`SmokeSpec::from_kata`] (a Kata
/// configuration plus overrides) or [`SmokeSpec::standalone`] (Kata's defaults plus overrides);
/// every field is public so that a caller such as `bench` can vary one setting.
#[derive(Debug, Clone, PartialEq)]
pub struct SmokeSpec {
    /// Which VMM the configuration is for; only QEMU can be booted today.
    pub kind: HypervisorKind,
    /// The VMM binary.
    pub hypervisor: PathBuf,
    /// `QEMU_MODULE_DIR` for the VMM: a QEMU build outside its install prefix (a candidate
    /// unpacked in a staging folder) loads its accelerator modules from here.
    pub module_dir: Option<PathBuf>,
    /// QEMU data folders (`-L`, firmware and option ROMs) for a build outside its install
    /// prefix; empty for an installed QEMU, which finds its own. Not a Kata setting.
    pub data_dirs: Vec<PathBuf>,
    pub accel: AccelChoice,
    /// The guest kernel.
    pub kernel: PathBuf,
    /// The initrd or rootfs image, if any.
    pub boot: Option<BootAsset>,
    /// Text on the console that means the guest reached userspace.
    pub marker: String,
    /// Per boot.
    pub timeout: Duration,
    /// Boots to make; the report gives the median.
    pub runs: u32,
    /// The configuration's `kernel_params`, appended after Kata's own parameters.
    pub kernel_params: String,
    /// `default_memory` in MiB.
    pub memory_mib: u32,
    /// `default_maxmemory` in MiB; `None` means the host's memory (Kata's default for 0).
    pub max_memory_mib: Option<u64>,
    /// `memory_slots`.
    pub memory_slots: u32,
    /// `default_vcpus` (rounded up, as Kata does).
    pub vcpus: u32,
    /// `default_maxvcpus`; `None` means the host's CPUs (Kata's default for 0).
    pub max_vcpus: Option<u32>,
    pub machine: MachineType,
    /// `machine_accelerators`, appended to `-machine`.
    pub machine_accelerators: String,
    /// `cpu_features`, appended to `-cpu`.
    pub cpu_features: String,
    /// `seccompsandbox`: the `-sandbox` value; `None` when empty (no `-sandbox`).
    pub seccomp_sandbox: Option<String>,
    /// `enable_iommu`: an emulated Intel IOMMU (q35 only) and `kernel_irqchip=split`.
    pub iommu: bool,
    /// `firmware`: `-bios`.
    pub firmware: Option<PathBuf>,
    /// `pflashes`: one `-pflash` each.
    pub pflashes: Vec<PathBuf>,
    /// `use_legacy_serial`: an ISA serial port (`ttyS0`) instead of a virtio console (`hvc0`).
    pub legacy_serial: bool,
    /// `enable_debug`: `debug` instead of `quiet` on the kernel command line.
    pub debug: bool,
    /// `disable_image_nvdimm`: the image as a virtio-blk disk instead of an NVDIMM.
    pub disable_image_nvdimm: bool,
    /// `rootfs_type` of the image (ext4, xfs, erofs).
    pub rootfs_type: String,
    /// `entropy_source` behind the virtio-rng device.
    pub entropy_source: PathBuf,
    /// `default_bridges` (q35 only).
    pub bridges: u32,
    /// `disable_nesting_checks`: when false and the host is itself a VM, Kata makes virtio
    /// devices transitional (`disable-modern=true`).
    pub disable_nesting_checks: bool,
    /// `disable_guest_selinux` (Kata passes `selinux=0` or `selinux=1`).
    pub disable_guest_selinux: bool,
    /// Facts about this host's virtualisation, for `accel=auto` and nesting.
    pub host: HostVirt,
    /// The Kata configuration the spec came from, when it came from one.
    pub config: Option<PathBuf>,
}

/// Settings laid over a configuration: command-line flags, then the policy's `[smoke]` table.
/// `None` leaves the configuration's (or the default) value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmokeOverrides {
    pub hypervisor: Option<PathBuf>,
    pub module_dir: Option<PathBuf>,
    pub data_dirs: Option<Vec<PathBuf>>,
    pub kernel: Option<PathBuf>,
    pub boot: Option<BootAsset>,
    pub marker: Option<String>,
    pub accel: Option<AccelChoice>,
    pub timeout: Option<Duration>,
    pub runs: Option<u32>,
}

impl SmokeOverrides {
    /// `self` where set, else `lower`: `flags.or(policy)` gives flags precedence.
    pub fn or(self, lower: SmokeOverrides) -> SmokeOverrides {
        SmokeOverrides {
            hypervisor: self.hypervisor.or(lower.hypervisor),
            module_dir: self.module_dir.or(lower.module_dir),
            data_dirs: self.data_dirs.or(lower.data_dirs),
            kernel: self.kernel.or(lower.kernel),
            boot: self.boot.or(lower.boot),
            marker: self.marker.or(lower.marker),
            accel: self.accel.or(lower.accel),
            timeout: self.timeout.or(lower.timeout),
            runs: self.runs.or(lower.runs),
        }
    }
}

impl SmokeSpec {
    /// Kata's defaults (what the Go runtime uses for keys a configuration leaves out) with
    /// `overrides` laid over them; a kernel must come from the overrides.
    pub fn standalone(overrides: &SmokeOverrides) -> Result<SmokeSpec, SmokeError> {
        let kernel = overrides
            .kernel
            .clone()
            .ok_or(SmokeError::NoKernel { config: None })?;
        let mut spec = SmokeSpec {
            kind: HypervisorKind::Qemu,
            hypervisor: PathBuf::from(DEFAULT_QEMU_PATH),
            module_dir: None,
            data_dirs: Vec::new(),
            accel: AccelChoice::Auto,
            kernel,
            boot: None,
            marker: DEFAULT_MARKER.to_string(),
            timeout: DEFAULT_TIMEOUT,
            runs: 1,
            kernel_params: String::new(),
            memory_mib: crate::kata::DEFAULT_MEMORY_MIB,
            max_memory_mib: None,
            memory_slots: crate::kata::DEFAULT_MEMORY_SLOTS,
            vcpus: 1,
            max_vcpus: None,
            machine: MachineType::Q35,
            machine_accelerators: String::new(),
            cpu_features: String::new(),
            seccomp_sandbox: None,
            iommu: false,
            firmware: None,
            pflashes: Vec::new(),
            legacy_serial: false,
            debug: false,
            disable_image_nvdimm: false,
            rootfs_type: "ext4".to_string(),
            entropy_source: PathBuf::from("/dev/urandom"),
            bridges: 1,
            disable_nesting_checks: false,
            disable_guest_selinux: true,
            host: HostVirt::default(),
            config: None,
        };
        spec.apply(overrides);
        spec.validate()?;
        Ok(spec)
    }

    /// Lays `overrides` over the spec (used by the constructors; public for callers that
    /// build a spec once and vary it).
    pub fn apply(&mut self, overrides: &SmokeOverrides) {
        let o = overrides.clone();
        if let Some(v) = o.hypervisor {
            self.hypervisor = v;
        }
        if let Some(v) = o.module_dir {
            self.module_dir = Some(v);
        }
        if let Some(v) = o.data_dirs {
            self.data_dirs = v;
        }
        if let Some(v) = o.kernel {
            self.kernel = v;
        }
        if let Some(v) = o.boot {
            self.boot = Some(v);
        }
        if let Some(v) = o.marker {
            self.marker = v;
        }
        if let Some(v) = o.accel {
            self.accel = v;
        }
        if let Some(v) = o.timeout {
            self.timeout = v;
        }
        if let Some(v) = o.runs {
            self.runs = v;
        }
    }

    /// Checks the values that do not need the disk: run count, timeout, marker, machine/IOMMU.
    pub fn validate(&self) -> Result<(), SmokeError> {
        let invalid = |message: String| Err(SmokeError::InvalidSpec { message });
        if self.runs == 0 || self.runs > MAX_RUNS {
            return invalid(format!("runs must be 1 to {MAX_RUNS}, not {}", self.runs));
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return invalid(format!(
                "timeout must be more than 0 and at most {} s, not {} s",
                MAX_TIMEOUT.as_secs(),
                self.timeout.as_secs_f64()
            ));
        }
        if let Some(why) = marker_problem(&self.marker) {
            return invalid(why);
        }
        if self.iommu && self.machine != MachineType::Q35 {
            return invalid(format!(
                "enable_iommu needs the q35 machine type; Kata refuses a vIOMMU on {}",
                self.machine
            ));
        }
        if self.vcpus == 0 || self.memory_mib == 0 {
            return invalid("default_vcpus and default_memory must be more than 0".into());
        }
        Ok(())
    }
}

/// Why `marker` cannot be waited for, if it cannot.
pub fn marker_problem(marker: &str) -> Option<String> {
    if marker.is_empty() {
        Some("the marker is empty: every console would match it".into())
    } else if marker.len() > MAX_MARKER_LEN {
        Some(format!(
            "the marker is {} bytes; at most {MAX_MARKER_LEN}",
            marker.len()
        ))
    } else if marker.contains(['\n', '\r']) {
        Some("the marker spans lines; give one line of console text".into())
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_policy() {
        let flags = SmokeOverrides {
            runs: Some(3),
            ..SmokeOverrides::default()
        };
        let policy = SmokeOverrides {
            runs: Some(9),
            marker: Some("FROM-POLICY".into()),
            ..SmokeOverrides::default()
        };
        let merged = flags.or(policy);
        assert_eq!(merged.runs, Some(3));
        assert_eq!(merged.marker.as_deref(), Some("FROM-POLICY"));
    }

    #[test]
    fn standalone_needs_a_kernel_and_checks_values() {
        assert!(matches!(
            SmokeSpec::standalone(&SmokeOverrides::default()),
            Err(SmokeError::NoKernel { .. })
        ));
        let base = SmokeOverrides {
            kernel: Some("/boot/vmlinuz".into()),
            ..SmokeOverrides::default()
        };
        let spec = SmokeSpec::standalone(&base).unwrap();
        assert_eq!(spec.hypervisor, PathBuf::from(DEFAULT_QEMU_PATH));
        assert_eq!(spec.marker, DEFAULT_MARKER);
        for bad in [
            SmokeOverrides {
                runs: Some(0),
                ..base.clone()
            },
            SmokeOverrides {
                marker: Some(String::new()),
                ..base.clone()
            },
            SmokeOverrides {
                timeout: Some(Duration::ZERO),
                ..base.clone()
            },
        ] {
            assert!(matches!(
                SmokeSpec::standalone(&bad),
                Err(SmokeError::InvalidSpec { .. })
            ));
        }
        let mut microvm = spec.clone();
        microvm.machine = MachineType::Microvm;
        microvm.iommu = true;
        assert!(microvm.validate().is_err());
    }

    #[test]
    fn accel_and_machine_parse() {
        assert_eq!("tcg".parse::<AccelChoice>().unwrap(), AccelChoice::Tcg);
        assert!("xen".parse::<AccelChoice>().is_err());
        assert_eq!("".parse::<MachineType>().unwrap(), MachineType::Q35);
        assert!("virt".parse::<MachineType>().is_err());
    }
}
