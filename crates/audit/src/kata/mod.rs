//! `kata.*`, `qemu.*`, `firecracker.*` and `containerd.*` rules: the configuration audit.
//!
//! Most rules look at one merged Kata configuration at a time and are written as an
//! "offences" function over a [`ConfigView`]; each offence carries the fix that would clear it,
//! which is what the hardening plan is built from. The few rules that need the rest of the
//! Snapshot (binaries' modes, containerd, the Kata release) have their own check.

mod annotations;
mod glob;
mod offence;
mod rules_annotations;
mod rules_containerd;
mod rules_devices;
mod rules_files;
mod rules_hypervisor;
mod rules_runtime;
mod toml_text;
mod view;

use crate::emit::Hit;
use crate::{Emitter, Rule, RuleMeta};
use hvguard_core::{KataConfig, Snapshot};
pub(crate) use offence::{FixKind, Offence};
pub(crate) use view::ConfigView;

/// Kata's documentation of per-pod annotations and how the configuration restricts them.
pub(crate) const DOC_ANNOTATIONS: &str =
    "https://github.com/kata-containers/kata-containers/blob/main/docs/how-to/how-to-set-sandbox-config-kata.md";

/// A rule that reads one configuration at a time.
pub(crate) type Offences = fn(&ConfigView<'_>) -> Vec<Offence>;

/// Runs `offences` over every configuration in the Snapshot.
fn emit_config_offences(
    meta: &RuleMeta,
    snapshot: &Snapshot,
    emitter: &mut Emitter,
    offences: Offences,
) {
    for config in &snapshot.kata {
        for offence in offences(&ConfigView::new(config)) {
            emitter.finding(meta, hit(offence));
        }
    }
}

fn hit(offence: Offence) -> Hit {
    Hit::new(offence.severity, offence.message, offence.evidence).at(offence.location)
}

/// Declares the catalogue check of a per-configuration rule.
macro_rules! config_check {
    ($check:ident, $offences:path) => {
        fn $check(meta: &RuleMeta, snapshot: &Snapshot, emitter: &mut Emitter) {
            emit_config_offences(meta, snapshot, emitter, $offences)
        }
    };
}

config_check!(check_annotations, rules_annotations::annotations_dangerous);
config_check!(check_allowlist, rules_annotations::path_allowlist_weak);
config_check!(
    check_qemu_seccomp,
    rules_hypervisor::qemu_seccomp_sandbox_off
);
config_check!(check_vmm_seccomp, rules_hypervisor::vmm_seccomp_disabled);
config_check!(check_rootless, rules_hypervisor::rootless_disabled);
config_check!(check_jailer, rules_hypervisor::firecracker_jailer_missing);
config_check!(check_limits, rules_hypervisor::resource_limits_unbounded);
config_check!(check_machine, rules_hypervisor::qemu_legacy_machine_type);
config_check!(check_pmu, rules_hypervisor::pmu_exposed);
config_check!(check_monitor, rules_hypervisor::extra_monitor_socket);
config_check!(check_dump, rules_hypervisor::memory_dump_path_set);
config_check!(check_hook, rules_hypervisor::guest_hook_path_set);
config_check!(check_9p, rules_devices::shared_fs_9p);
config_check!(check_virtiofsd, rules_devices::virtiofsd_sandbox_weak);
config_check!(check_block, rules_devices::block_device_use_enabled);
config_check!(check_vfio, rules_devices::vfio_without_iommu);
config_check!(check_guest_seccomp, rules_runtime::guest_seccomp_disabled);
config_check!(check_console, rules_runtime::debug_console_enabled);
config_check!(check_debug, rules_runtime::debug_enabled);
config_check!(check_cgroup, rules_runtime::sandbox_cgroup_only_disabled);
config_check!(check_template, rules_runtime::vm_template_enabled);
config_check!(check_netns, rules_runtime::new_netns_disabled);

/// Every per-configuration rule with its offences function: what the hardening plan runs.
pub(crate) static CONFIG_RULES: &[(RuleMeta, Offences)] = &[
    (
        rules_annotations::ANNOTATIONS_DANGEROUS,
        rules_annotations::annotations_dangerous,
    ),
    (
        rules_annotations::PATH_ALLOWLIST_WEAK,
        rules_annotations::path_allowlist_weak,
    ),
    (
        rules_hypervisor::QEMU_SECCOMP,
        rules_hypervisor::qemu_seccomp_sandbox_off,
    ),
    (
        rules_hypervisor::VMM_SECCOMP,
        rules_hypervisor::vmm_seccomp_disabled,
    ),
    (
        rules_hypervisor::ROOTLESS,
        rules_hypervisor::rootless_disabled,
    ),
    (
        rules_hypervisor::JAILER,
        rules_hypervisor::firecracker_jailer_missing,
    ),
    (
        rules_hypervisor::LIMITS,
        rules_hypervisor::resource_limits_unbounded,
    ),
    (
        rules_hypervisor::MACHINE,
        rules_hypervisor::qemu_legacy_machine_type,
    ),
    (rules_hypervisor::PMU, rules_hypervisor::pmu_exposed),
    (
        rules_hypervisor::MONITOR,
        rules_hypervisor::extra_monitor_socket,
    ),
    (
        rules_hypervisor::DUMP,
        rules_hypervisor::memory_dump_path_set,
    ),
    (
        rules_hypervisor::HOOK,
        rules_hypervisor::guest_hook_path_set,
    ),
    (rules_devices::SHARED_FS_9P, rules_devices::shared_fs_9p),
    (
        rules_devices::VIRTIOFSD,
        rules_devices::virtiofsd_sandbox_weak,
    ),
    (
        rules_devices::BLOCK,
        rules_devices::block_device_use_enabled,
    ),
    (rules_devices::VFIO, rules_devices::vfio_without_iommu),
    (
        rules_runtime::GUEST_SECCOMP,
        rules_runtime::guest_seccomp_disabled,
    ),
    (rules_runtime::CONSOLE, rules_runtime::debug_console_enabled),
    (rules_runtime::DEBUG, rules_runtime::debug_enabled),
    (
        rules_runtime::CGROUP,
        rules_runtime::sandbox_cgroup_only_disabled,
    ),
    (rules_runtime::TEMPLATE, rules_runtime::vm_template_enabled),
    (rules_runtime::NETNS, rules_runtime::new_netns_disabled),
];

/// The offences of every per-configuration rule for one configuration, with the rule's metadata.
pub(crate) fn config_offences(config: &KataConfig) -> Vec<(&'static RuleMeta, Offence)> {
    let view = ConfigView::new(config);
    CONFIG_RULES
        .iter()
        .flat_map(|(meta, offences)| offences(&view).into_iter().map(move |o| (meta, o)))
        .collect()
}

pub(crate) static RULES: &[Rule] = &[
    Rule {
        meta: rules_annotations::ANNOTATIONS_DANGEROUS,
        check: check_annotations,
    },
    Rule {
        meta: rules_annotations::PATH_ALLOWLIST_WEAK,
        check: check_allowlist,
    },
    Rule {
        meta: rules_files::BINARY_WRITABLE,
        check: rules_files::check_binary_writable,
    },
    Rule {
        meta: rules_files::CONFIG_WRITABLE,
        check: rules_files::check_config_writable,
    },
    Rule {
        meta: rules_hypervisor::QEMU_SECCOMP,
        check: check_qemu_seccomp,
    },
    Rule {
        meta: rules_hypervisor::VMM_SECCOMP,
        check: check_vmm_seccomp,
    },
    Rule {
        meta: rules_hypervisor::ROOTLESS,
        check: check_rootless,
    },
    Rule {
        meta: rules_hypervisor::JAILER,
        check: check_jailer,
    },
    Rule {
        meta: rules_hypervisor::LIMITS,
        check: check_limits,
    },
    Rule {
        meta: rules_hypervisor::MACHINE,
        check: check_machine,
    },
    Rule {
        meta: rules_hypervisor::PMU,
        check: check_pmu,
    },
    Rule {
        meta: rules_hypervisor::MONITOR,
        check: check_monitor,
    },
    Rule {
        meta: rules_hypervisor::DUMP,
        check: check_dump,
    },
    Rule {
        meta: rules_hypervisor::HOOK,
        check: check_hook,
    },
    Rule {
        meta: rules_devices::SHARED_FS_9P,
        check: check_9p,
    },
    Rule {
        meta: rules_devices::VIRTIOFSD,
        check: check_virtiofsd,
    },
    Rule {
        meta: rules_devices::BLOCK,
        check: check_block,
    },
    Rule {
        meta: rules_devices::VFIO,
        check: check_vfio,
    },
    Rule {
        meta: rules_runtime::GUEST_SECCOMP,
        check: check_guest_seccomp,
    },
    Rule {
        meta: rules_runtime::CONSOLE,
        check: check_console,
    },
    Rule {
        meta: rules_runtime::DEBUG,
        check: check_debug,
    },
    Rule {
        meta: rules_runtime::CGROUP,
        check: check_cgroup,
    },
    Rule {
        meta: rules_runtime::TEMPLATE,
        check: check_template,
    },
    Rule {
        meta: rules_runtime::NETNS,
        check: check_netns,
    },
    Rule {
        meta: rules_containerd::PASSTHROUGH,
        check: rules_containerd::check_passthrough,
    },
];
