//! Rules on one hypervisor section at a time: VMM seccomp, rootless, jailer, resource caps,
//! machine type, PMU, and debugging hooks that expose the VMM or the guest.

use super::offence::{hypervisors, is_clh, is_remote, Fix, Offence};
use super::view::ConfigView;
use crate::RuleMeta;
use hvguard_core::{ConfigValue, Severity};

/// QEMU's own syscall filter, as Kata documents it. `elevateprivileges=deny` is left out: it
/// stops QEMU from dropping to the rootless user after start-up.
pub(crate) const SECURE_SECCOMP_SANDBOX: &str = hvguard_core::hardening::QEMU_SECCOMP_SANDBOX;

const QEMU_SANDBOX_DOC: &str = "https://www.qemu.org/docs/master/system/invocation.html";
const CONFIG_DOC: &str =
    "https://github.com/kata-containers/kata-containers/blob/main/src/runtime/README.md#configuration";

pub(crate) const QEMU_SECCOMP: RuleMeta = RuleMeta {
    id: "qemu.seccomp-sandbox-off",
    title: "QEMU runs without its seccomp sandbox",
    severity: Severity::High,
    fires_when: "a QEMU section's seccompsandbox / seccomp_sandbox is missing, empty or off",
    remediation: "Set seccompsandbox = \"on,obsolete=deny,spawn=deny,resourcecontrol=deny\" (runtime-rs: seccomp_sandbox) in [hypervisor.qemu].",
    references: &[QEMU_SANDBOX_DOC, CONFIG_DOC],
};

pub(crate) const VMM_SECCOMP: RuleMeta = RuleMeta {
    id: "kata.vmm-seccomp-disabled",
    title: "The VMM's seccomp filter is disabled",
    severity: Severity::Critical,
    fires_when: "disable_seccomp = true in a hypervisor section",
    remediation: "Set disable_seccomp = false in the hypervisor section.",
    references: &[
        "https://github.com/firecracker-microvm/firecracker/blob/main/docs/seccomp.md",
        CONFIG_DOC,
    ],
};

pub(crate) const ROOTLESS: RuleMeta = RuleMeta {
    id: "kata.rootless-disabled",
    title: "The VMM runs as root",
    severity: Severity::Low,
    fires_when: "a QEMU or Cloud Hypervisor section has rootless = false or no rootless",
    remediation: "Set rootless = true in [hypervisor.qemu] (or [hypervisor.clh]) after checking the limitations in Kata's rootless VMM guide.",
    references: &[
        "https://github.com/kata-containers/kata-containers/blob/main/docs/how-to/how-to-run-rootless-vmm.md",
    ],
};

pub(crate) const JAILER: RuleMeta = RuleMeta {
    id: "firecracker.jailer-missing",
    title: "Firecracker runs outside its jailer",
    severity: Severity::High,
    fires_when: "a Firecracker section has no or an empty jailer_path",
    remediation: "Set jailer_path = \"/opt/kata/bin/jailer\" (the jailer shipped with Kata) and valid_jailer_paths = [\"/opt/kata/bin/jailer\"] in [hypervisor.firecracker].",
    references: &[
        "https://github.com/firecracker-microvm/firecracker/blob/main/docs/jailer.md",
        "https://github.com/kata-containers/kata-containers/blob/main/docs/how-to/how-to-use-kata-containers-with-firecracker.md",
    ],
};

pub(crate) const LIMITS: RuleMeta = RuleMeta {
    id: "kata.resource-limits-unbounded",
    title: "A sandbox may grow to the whole host",
    severity: Severity::Low,
    fires_when: "default_maxvcpus = 0 or default_maxmemory = 0 in a hypervisor section (0 means the whole host)",
    remediation: "Set default_maxvcpus and default_maxmemory (MiB) to the largest sandbox you intend to run.",
    references: &[CONFIG_DOC],
};

pub(crate) const MACHINE: RuleMeta = RuleMeta {
    id: "qemu.legacy-machine-type",
    title: "QEMU emulates the legacy i440FX PC",
    severity: Severity::Medium,
    fires_when: "a QEMU section's machine_type is pc or starts with pc-i440fx",
    remediation: "Set machine_type = \"q35\" in [hypervisor.qemu].",
    references: &[
        "https://www.qemu.org/docs/master/system/i386/pc.html",
        CONFIG_DOC,
    ],
};

pub(crate) const PMU: RuleMeta = RuleMeta {
    id: "kata.pmu-exposed",
    title: "Guests see the host's performance monitoring unit",
    severity: Severity::Low,
    fires_when: "a QEMU section's cpu_features lacks pmu=off",
    remediation: "Add pmu=off to cpu_features in [hypervisor.qemu] (cpu_features = \"pmu=off\").",
    references: &[CONFIG_DOC],
};

pub(crate) const MONITOR: RuleMeta = RuleMeta {
    id: "kata.extra-monitor-socket",
    title: "An extra QEMU monitor socket is exposed",
    severity: Severity::High,
    fires_when: "extra_monitor_socket is non-empty",
    remediation: "Set extra_monitor_socket = \"\" in the hypervisor section.",
    references: &[CONFIG_DOC],
};

pub(crate) const DUMP: RuleMeta = RuleMeta {
    id: "kata.memory-dump-path-set",
    title: "Guest memory is dumped to the host on panic",
    severity: Severity::Medium,
    fires_when: "guest_memory_dump_path is non-empty",
    remediation: "Set guest_memory_dump_path = \"\" in the hypervisor section.",
    references: &[CONFIG_DOC],
};

pub(crate) const HOOK: RuleMeta = RuleMeta {
    id: "kata.guest-hook-path-set",
    title: "OCI hooks run inside the guest from guest_hook_path",
    severity: Severity::Medium,
    fires_when: "guest_hook_path is non-empty",
    remediation:
        "Set guest_hook_path = \"\" unless the guest image's hooks are required and reviewed.",
    references: &[CONFIG_DOC],
};

pub(crate) fn qemu_seccomp_sandbox_off(view: &ConfigView<'_>) -> Vec<Offence> {
    let fix = |key: &str| {
        Some(Fix::apply(
            key,
            ConfigValue::String(SECURE_SECCOMP_SANDBOX.into()),
            "QEMU's syscall filter limits what a compromised VMM can do on the host",
        ))
    };
    hypervisors(view)
        .into_iter()
        .filter(|(name, _)| *name == "qemu")
        .filter_map(|(_, s)| match s.get("seccompsandbox") {
            None => Some(s.missing(
                "seccompsandbox",
                "QEMU runs without -sandbox",
                Severity::High,
                "QEMU is started without -sandbox: a guest that escapes into QEMU can use every host system call".into(),
                fix,
            )),
            Some(f) => {
                let value = f.as_str().unwrap_or("").trim().to_string();
                let off = value.is_empty() || value == "off" || value.starts_with("off,");
                off.then(|| {
                    s.found(
                        "seccompsandbox",
                        &f,
                        Severity::High,
                        format!("QEMU's -sandbox is {}: a guest that escapes into QEMU can use every host system call", if value.is_empty() { "empty (not passed)" } else { "off" }),
                        fix,
                    )
                })
            }
        })
        .collect()
}

pub(crate) fn vmm_seccomp_disabled(view: &ConfigView<'_>) -> Vec<Offence> {
    hypervisors(view)
        .into_iter()
        .filter_map(|(name, s)| {
            let f = s.get("disable_seccomp")?;
            (f.as_bool() == Some(true)).then(|| {
                s.found(
                    "disable_seccomp",
                    &f,
                    Severity::Critical,
                    format!("the {name} VMM runs without its seccomp filter"),
                    |key| {
                        Some(Fix::apply(
                            key,
                            ConfigValue::Bool(false),
                            "keep the VMM's seccomp filter on",
                        ))
                    },
                )
            })
        })
        .collect()
}

pub(crate) fn rootless_disabled(view: &ConfigView<'_>) -> Vec<Offence> {
    let fix = |key: &str| {
        Some(Fix::suggest(
            key,
            ConfigValue::Bool(true),
            "run the VMM as an unprivileged user; check Kata's rootless limitations (no vhost-net, hugepages) first",
        ))
    };
    hypervisors(view)
        .into_iter()
        .filter(|(name, _)| *name == "qemu" || is_clh(name))
        .filter_map(|(name, s)| match s.get("rootless") {
            None => Some(s.missing(
                "rootless",
                "false",
                Severity::Low,
                format!("the {name} VMM runs as root: an escape from the guest lands in a root process"),
                fix,
            )),
            Some(f) => (f.as_bool() == Some(false)).then(|| {
                s.found(
                    "rootless",
                    &f,
                    Severity::Low,
                    format!("the {name} VMM runs as root: an escape from the guest lands in a root process"),
                    fix,
                )
            }),
        })
        .collect()
}

pub(crate) fn firecracker_jailer_missing(view: &ConfigView<'_>) -> Vec<Offence> {
    let fix = |key: &str| {
        Some(Fix::suggest(
            key,
            ConfigValue::String("/opt/kata/bin/jailer".into()),
            "start Firecracker inside its jailer (chroot, namespaces, cgroups, dropped privileges); use the jailer your install ships",
        ))
    };
    let message = "Firecracker is started directly, without the jailer's chroot, namespaces and privilege drop";
    hypervisors(view)
        .into_iter()
        .filter(|(name, _)| *name == "firecracker")
        .filter_map(|(_, s)| match s.get("jailer_path") {
            None => Some(s.missing(
                "jailer_path",
                "no jailer",
                Severity::High,
                message.into(),
                fix,
            )),
            Some(f) => f
                .as_str()
                .is_some_and(|p| p.trim().is_empty())
                .then(|| s.found("jailer_path", &f, Severity::High, message.into(), fix)),
        })
        .collect()
}

pub(crate) fn resource_limits_unbounded(view: &ConfigView<'_>) -> Vec<Offence> {
    let mut out = Vec::new();
    for (name, s) in hypervisors(view) {
        for (key, base, floor, what) in [
            ("default_maxvcpus", "default_vcpus", 4, "vCPUs"),
            ("default_maxmemory", "default_memory", 8192, "MiB of memory"),
        ] {
            let Some(f) = s.get(key) else { continue };
            if f.as_integer() != Some(0) {
                continue;
            }
            let base = s.get(base).and_then(|b| b.as_integer()).unwrap_or(0);
            let cap = (base.saturating_mul(4)).max(floor);
            out.push(s.found(
                key,
                &f,
                Severity::Low,
                format!("{name}: {key} = 0 lets one sandbox use as many {what} as the host has"),
                |k| {
                    Some(Fix::suggest(
                        k,
                        ConfigValue::Integer(cap),
                        "cap each sandbox (here 4x the default size); size it to your largest pod",
                    ))
                },
            ));
        }
    }
    out
}

pub(crate) fn qemu_legacy_machine_type(view: &ConfigView<'_>) -> Vec<Offence> {
    hypervisors(view)
        .into_iter()
        .filter(|(name, _)| *name == "qemu")
        .filter_map(|(_, s)| {
            let f = s.get("machine_type")?;
            let value = f.as_str()?.trim();
            (value == "pc" || value.starts_with("pc-i440fx")).then(|| {
                s.found(
                    "machine_type",
                    &f,
                    Severity::Medium,
                    format!("machine_type {value} emulates the legacy i440FX chipset with more legacy devices for a guest to attack"),
                    |key| Some(Fix::suggest(key, ConfigValue::String("q35".into()), "q35 is the machine type Kata ships; check guest kernel and VFIO needs first")),
                )
            })
        })
        .collect()
}

/// `cpu_features` with `pmu=off`, replacing any other `pmu=` entry.
pub(crate) fn with_pmu_off(features: &str) -> String {
    let mut parts: Vec<&str> = features
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty() && !p.starts_with("pmu="))
        .collect();
    parts.push("pmu=off");
    parts.join(",")
}

fn has_pmu_off(features: &str) -> bool {
    features.split(',').map(str::trim).any(|p| p == "pmu=off")
}

pub(crate) fn pmu_exposed(view: &ConfigView<'_>) -> Vec<Offence> {
    let message = "the guest sees the host's performance counters, a side channel across sandboxes";
    hypervisors(view)
        .into_iter()
        .filter(|(name, _)| *name == "qemu")
        .filter_map(|(_, s)| match s.get("cpu_features") {
            None => Some(s.missing(
                "cpu_features",
                "pmu exposed",
                Severity::Low,
                message.into(),
                |key| {
                    Some(Fix::apply(
                        key,
                        ConfigValue::String(with_pmu_off("")),
                        "hide the PMU from guests",
                    ))
                },
            )),
            Some(f) => {
                let features = f.as_str().unwrap_or("").to_string();
                (!has_pmu_off(&features)).then(|| {
                    s.found("cpu_features", &f, Severity::Low, message.into(), |key| {
                        Some(Fix::apply(
                            key,
                            ConfigValue::String(with_pmu_off(&features)),
                            "hide the PMU from guests",
                        ))
                    })
                })
            }
        })
        .collect()
}

/// A string key that must stay empty.
fn non_empty(
    view: &ConfigView<'_>,
    name: &str,
    severity: Severity,
    message: &str,
    reason: &str,
) -> Vec<Offence> {
    hypervisors(view)
        .into_iter()
        .filter(|(section, _)| !is_remote(section))
        .filter_map(|(section, s)| {
            let f = s.get(name)?;
            let value = f.as_str()?.trim();
            (!value.is_empty()).then(|| {
                s.found(name, &f, severity, format!("{section}: {message}"), |key| {
                    Some(Fix::apply(key, ConfigValue::String(String::new()), reason))
                })
            })
        })
        .collect()
}

pub(crate) fn extra_monitor_socket(view: &ConfigView<'_>) -> Vec<Offence> {
    non_empty(
        view,
        "extra_monitor_socket",
        Severity::High,
        "an extra QEMU monitor socket is opened; whoever reaches it controls the VM and can read its memory",
        "no extra monitor socket: it gives full control of QEMU",
    )
}

pub(crate) fn memory_dump_path_set(view: &ConfigView<'_>) -> Vec<Offence> {
    non_empty(
        view,
        "guest_memory_dump_path",
        Severity::Medium,
        "guest memory (secrets included) is written to the host when a guest panics, and a guest can panic at will",
        "do not dump guest memory (and its secrets) to the host",
    )
}

pub(crate) fn guest_hook_path_set(view: &ConfigView<'_>) -> Vec<Offence> {
    non_empty(
        view,
        "guest_hook_path",
        Severity::Medium,
        "OCI hooks found in the guest image under guest_hook_path run in the guest for every container",
        "run no guest-side OCI hooks unless they are reviewed",
    )
}
