//! seccomp and the jailer as one configuration sets them (Kata's defaults are in the facts).
//!
//! - QEMU: `-sandbox` is on when `seccompsandbox` is non-empty.
//! - Cloud Hypervisor, Firecracker, Dragonball: the VMM's filters are on unless
//!   `disable_seccomp = true`.
//! - StratoVirt: always off (the Go runtime passes `-disable-seccomp`).
//! - Firecracker's jailer: on when `jailer_path` is non-empty.

use hvguard_core::{ConfigValue, KataConfig};

use crate::facts::CompareKind;
use crate::host::{describe, setting};
use crate::model::{ConfiguredIsolation, Setting};

/// The isolation one configuration of `kind` (section `section`) sets.
pub fn configured(config: &KataConfig, kind: CompareKind, section: &str) -> ConfiguredIsolation {
    ConfiguredIsolation {
        seccomp: seccomp(config, kind, section),
        jailer: jailer(config, kind, section),
    }
}

fn seccomp(config: &KataConfig, kind: CompareKind, section: &str) -> Setting {
    match kind {
        CompareKind::Qemu => match setting(config, section, "seccompsandbox") {
            Some(v) if v.value.as_str().is_some_and(|s| !s.trim().is_empty()) => Setting {
                state: "on",
                evidence: describe(section, "seccompsandbox", v),
            },
            Some(v) => Setting {
                state: "off",
                evidence: describe(section, "seccompsandbox", v),
            },
            None => Setting {
                state: "off",
                evidence: format!("hypervisor.{section}.seccompsandbox is not set"),
            },
        },
        CompareKind::CloudHypervisor | CompareKind::Firecracker | CompareKind::Dragonball => {
            match setting(config, section, "disable_seccomp") {
                Some(v) if matches!(v.value, ConfigValue::Bool(true)) => Setting {
                    state: "off",
                    evidence: describe(section, "disable_seccomp", v),
                },
                Some(v) => Setting {
                    state: "on",
                    evidence: describe(section, "disable_seccomp", v),
                },
                None => Setting {
                    state: "on",
                    evidence: format!(
                        "hypervisor.{section}.disable_seccomp is not set (filters on by default)"
                    ),
                },
            }
        }
        CompareKind::StratoVirt => Setting {
            state: "off",
            evidence: "the Go runtime always starts StratoVirt with -disable-seccomp".to_owned(),
        },
        CompareKind::Remote => Setting {
            state: "not-applicable",
            evidence: "no VMM runs on this host".to_owned(),
        },
    }
}

fn jailer(config: &KataConfig, kind: CompareKind, section: &str) -> Setting {
    if kind != CompareKind::Firecracker {
        return Setting {
            state: "not-applicable",
            evidence: "the jailer is Firecracker's".to_owned(),
        };
    }
    match setting(config, section, "jailer_path") {
        Some(v) if v.value.as_str().is_some_and(|s| !s.trim().is_empty()) => Setting {
            state: "on",
            evidence: describe(section, "jailer_path", v),
        },
        Some(v) => Setting {
            state: "off",
            evidence: describe(section, "jailer_path", v),
        },
        None => Setting {
            state: "off",
            evidence: format!("hypervisor.{section}.jailer_path is not set"),
        },
    }
}
