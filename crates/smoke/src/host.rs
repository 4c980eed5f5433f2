//! This host's virtualisation, as far as a boot test needs it: can KVM run a standard guest,
//! is the host itself a VM (Kata then makes virtio devices transitional), how many CPUs and
//! how much memory Kata's "0 means the host's" defaults resolve to.
//!
//! The facts come from the collectors (`hvguard-host` fills [`KvmFacts`] and [`CpuInfo`]);
//! this module only decides. A KVM that opens but cannot run a standard guest is the case to
//! catch: a host that is itself a VM with KVM from the paravirtual `kvm_pvm` module (and no
//! `vmx`/`svm` flag) accepts `accel=kvm`, then QEMU either aborts setting MSRs or a guest
//! kernel spins at 100 % until killed.

use crate::spec::{Accel, AccelChoice};
use hvguard_core::{CpuInfo, FileKind, KvmFacts, Probe};
use std::collections::BTreeSet;
use std::io::Read;

/// The paravirtual KVM module of PVM hosts: it runs PVM-enabled guest kernels only.
pub const PARAVIRT_KVM_MODULE: &str = "kvm_pvm";

/// Facts about this host's virtualisation. `None` fields are unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostVirt {
    /// `/dev/kvm` is a character device (`Some(false)`: it does not exist).
    pub kvm_device: Option<bool>,
    /// Loaded KVM modules (`kvm`, `kvm_intel`, `kvm_amd`, `kvm_pvm`, ...).
    pub kvm_modules: Option<BTreeSet<String>>,
    /// CPU flags of `/proc/cpuinfo`.
    pub cpu_flags: Option<BTreeSet<String>>,
}

/// What the facts say about booting a standard guest under KVM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvmVerdict {
    /// Hardware virtualisation and `/dev/kvm` are there.
    Usable,
    /// It cannot work here; the reason names the fact.
    Unusable(String),
    /// The facts do not tell (not collected, or unreadable).
    Unknown,
}

/// How a run picks its accelerator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccelPlan {
    /// Use this one; `note` says why when it is not what was asked for.
    Use { accel: Accel, note: Option<String> },
    /// KVM was asked for and cannot work: fail fast with the reason.
    Refuse { reason: String },
    /// `auto` without facts: try KVM with a short deadline, then fall back to TCG.
    TryKvmThenTcg,
}

impl HostVirt {
    /// From the collected facts (`hvguard_host::kvm::probe_kvm`, `hvguard_host::cpu::probe_cpu`).
    pub fn from_facts(kvm: &KvmFacts, cpu: &Probe<CpuInfo>) -> HostVirt {
        let kvm_device = match &kvm.device {
            Probe::Found { value } => Some(value.kind == FileKind::CharDevice),
            Probe::Absent { .. } => Some(false),
            _ => None,
        };
        HostVirt {
            kvm_device,
            kvm_modules: kvm.modules.value().map(|m| m.keys().cloned().collect()),
            cpu_flags: cpu.value().map(|c| c.flags.clone()),
        }
    }

    /// True when the CPU says the host is itself a virtual machine (`hypervisor` flag).
    pub fn is_virtual_machine(&self) -> bool {
        self.cpu_flags
            .as_ref()
            .is_some_and(|f| f.contains("hypervisor"))
    }

    /// Whether KVM can boot a standard guest here, from the facts alone.
    pub fn kvm_verdict(&self) -> KvmVerdict {
        if self.kvm_device == Some(false) {
            return KvmVerdict::Unusable("/dev/kvm does not exist".into());
        }
        if self
            .kvm_modules
            .as_ref()
            .is_some_and(|m| m.contains(PARAVIRT_KVM_MODULE))
        {
            return KvmVerdict::Unusable(format!(
                "KVM on this host comes from the paravirtual {PARAVIRT_KVM_MODULE} module \
                 (/sys/module/{PARAVIRT_KVM_MODULE}), which runs only PVM-enabled guest kernels"
            ));
        }
        match &self.cpu_flags {
            Some(flags) if !flags.contains("vmx") && !flags.contains("svm") => {
                KvmVerdict::Unusable("the CPU has neither the vmx nor the svm flag".into())
            }
            Some(_) if self.kvm_device == Some(true) => KvmVerdict::Usable,
            _ => KvmVerdict::Unknown,
        }
    }

    /// The plan for `choice`.
    pub fn plan(&self, choice: AccelChoice) -> AccelPlan {
        match (choice, self.kvm_verdict()) {
            (AccelChoice::Tcg, _) => AccelPlan::Use {
                accel: Accel::Tcg,
                note: None,
            },
            (AccelChoice::Kvm, KvmVerdict::Unusable(why)) => AccelPlan::Refuse { reason: why },
            (AccelChoice::Kvm, _) => AccelPlan::Use {
                accel: Accel::Kvm,
                note: None,
            },
            (AccelChoice::Auto, KvmVerdict::Usable) => AccelPlan::Use {
                accel: Accel::Kvm,
                note: None,
            },
            (AccelChoice::Auto, KvmVerdict::Unusable(why)) => AccelPlan::Use {
                accel: Accel::Tcg,
                note: Some(tcg_fallback_note(&why)),
            },
            (AccelChoice::Auto, KvmVerdict::Unknown) => AccelPlan::TryKvmThenTcg,
        }
    }
}

/// The report line for an `auto` run that fell back to TCG.
pub fn tcg_fallback_note(why: &str) -> String {
    format!("KVM cannot run a standard guest here: {why}; booted with TCG instead")
}

/// The host's CPUs, as Kata counts them for "0 means all".
pub fn host_cpus() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1)
}

/// The host's memory in MiB (Kata's `default_maxmemory = 0`).
pub fn host_memory_mib() -> u64 {
    let info = rustix::system::sysinfo();
    info.totalram
        .saturating_mul(u64::from(info.mem_unit).max(1))
        >> 20
}

/// `cpu MHz` of the first processor in `/proc/cpuinfo`, in kHz: QEMU's TCG hands the guest
/// the host's TSC, so this is the frequency a guest must be told when it cannot measure it.
pub(crate) fn host_tsc_khz() -> Option<u64> {
    let file = std::fs::File::open("/proc/cpuinfo").ok()?;
    let mut text = String::new();
    // The first processor's block is at the start; 64 KiB holds it many times over.
    file.take(64 << 10).read_to_string(&mut text).ok()?;
    parse_cpu_mhz_khz(&text)
}

fn parse_cpu_mhz_khz(cpuinfo: &str) -> Option<u64> {
    let line = cpuinfo
        .lines()
        .find(|l| l.split(':').next().is_some_and(|k| k.trim() == "cpu MHz"))?;
    let mhz: f64 = line.split_once(':')?.1.trim().parse().ok()?;
    (mhz.is_finite() && mhz > 0.0).then(|| (mhz * 1000.0).round() as u64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn virt(device: Option<bool>, modules: Option<&[&str]>, flags: Option<&[&str]>) -> HostVirt {
        let set = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        HostVirt {
            kvm_device: device,
            kvm_modules: modules.map(set),
            cpu_flags: flags.map(set),
        }
    }

    #[test]
    fn pvm_host_falls_back_to_tcg_and_refuses_kvm() {
        // This project's own CI host: kvm + kvm_pvm loaded, no vmx/svm, /dev/kvm present.
        let pvm = virt(
            Some(true),
            Some(&["kvm", "kvm_pvm"]),
            Some(&["fpu", "hypervisor"]),
        );
        match pvm.plan(AccelChoice::Auto) {
            AccelPlan::Use { accel, note } => {
                assert_eq!(accel, Accel::Tcg);
                assert!(note.unwrap().contains("kvm_pvm"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            pvm.plan(AccelChoice::Kvm),
            AccelPlan::Refuse { reason } if reason.contains("kvm_pvm")
        ));
        assert!(pvm.is_virtual_machine());
    }

    #[test]
    fn hardware_virtualisation_uses_kvm() {
        let vmx = virt(Some(true), Some(&["kvm", "kvm_intel"]), Some(&["vmx"]));
        assert_eq!(
            vmx.plan(AccelChoice::Auto),
            AccelPlan::Use {
                accel: Accel::Kvm,
                note: None
            }
        );
        let no_flag = virt(Some(true), Some(&["kvm"]), Some(&["fpu"]));
        assert!(matches!(
            no_flag.plan(AccelChoice::Auto),
            AccelPlan::Use {
                accel: Accel::Tcg,
                ..
            }
        ));
        let no_dev = virt(Some(false), None, None);
        assert!(matches!(
            no_dev.plan(AccelChoice::Kvm),
            AccelPlan::Refuse { .. }
        ));
        assert_eq!(
            HostVirt::default().plan(AccelChoice::Auto),
            AccelPlan::TryKvmThenTcg
        );
        assert_eq!(
            HostVirt::default().plan(AccelChoice::Tcg),
            AccelPlan::Use {
                accel: Accel::Tcg,
                note: None
            }
        );
    }

    #[test]
    fn cpu_mhz_becomes_khz() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 2596.124\n";
        assert_eq!(parse_cpu_mhz_khz(text), Some(2_596_124));
        assert_eq!(parse_cpu_mhz_khz("processor : 0\n"), None);
        assert_eq!(parse_cpu_mhz_khz("cpu MHz : nan\n"), None);
        assert!(host_memory_mib() > 0);
        assert!(host_cpus() >= 1);
    }
}
