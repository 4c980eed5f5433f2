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

use crate::catalogue::Check;
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
pub(crate) fn emit_config_offences(
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

/// The offences of every per-configuration rule for one configuration, with the rule's metadata.
/// In registration order, which decides which rule a plan names when two set one key.
pub(crate) fn config_offences(config: &KataConfig) -> Vec<(&'static RuleMeta, Offence)> {
    let view = ConfigView::new(config);
    RULES
        .iter()
        .filter_map(|rule| match rule.check {
            Check::PerConfig(offences) => Some((&rule.meta, offences)),
            Check::Snapshot(_) => None,
        })
        .flat_map(|(meta, offences)| offences(&view).into_iter().map(move |o| (meta, o)))
        .collect()
}

/// Every configuration rule, registered once: the catalogue, the audit and the hardening
/// plan (per-configuration rules only, in this order) all read this list.
pub(crate) static RULES: &[Rule] = &[
    Rule::per_config(
        rules_annotations::ANNOTATIONS_DANGEROUS,
        rules_annotations::annotations_dangerous,
    ),
    Rule::per_config(
        rules_annotations::PATH_ALLOWLIST_WEAK,
        rules_annotations::path_allowlist_weak,
    ),
    Rule::snapshot(
        rules_files::BINARY_WRITABLE,
        rules_files::check_binary_writable,
    ),
    Rule::snapshot(
        rules_files::CONFIG_WRITABLE,
        rules_files::check_config_writable,
    ),
    Rule::per_config(
        rules_hypervisor::QEMU_SECCOMP,
        rules_hypervisor::qemu_seccomp_sandbox_off,
    ),
    Rule::per_config(
        rules_hypervisor::VMM_SECCOMP,
        rules_hypervisor::vmm_seccomp_disabled,
    ),
    Rule::per_config(
        rules_hypervisor::ROOTLESS,
        rules_hypervisor::rootless_disabled,
    ),
    Rule::per_config(
        rules_hypervisor::JAILER,
        rules_hypervisor::firecracker_jailer_missing,
    ),
    Rule::per_config(
        rules_hypervisor::LIMITS,
        rules_hypervisor::resource_limits_unbounded,
    ),
    Rule::per_config(
        rules_hypervisor::MACHINE,
        rules_hypervisor::qemu_legacy_machine_type,
    ),
    Rule::per_config(rules_hypervisor::PMU, rules_hypervisor::pmu_exposed),
    Rule::per_config(
        rules_hypervisor::MONITOR,
        rules_hypervisor::extra_monitor_socket,
    ),
    Rule::per_config(
        rules_hypervisor::DUMP,
        rules_hypervisor::memory_dump_path_set,
    ),
    Rule::per_config(
        rules_hypervisor::HOOK,
        rules_hypervisor::guest_hook_path_set,
    ),
    Rule::per_config(rules_devices::SHARED_FS_9P, rules_devices::shared_fs_9p),
    Rule::per_config(
        rules_devices::VIRTIOFSD,
        rules_devices::virtiofsd_sandbox_weak,
    ),
    Rule::per_config(
        rules_devices::BLOCK,
        rules_devices::block_device_use_enabled,
    ),
    Rule::per_config(rules_devices::VFIO, rules_devices::vfio_without_iommu),
    Rule::per_config(
        rules_runtime::GUEST_SECCOMP,
        rules_runtime::guest_seccomp_disabled,
    ),
    Rule::per_config(rules_runtime::CONSOLE, rules_runtime::debug_console_enabled),
    Rule::per_config(rules_runtime::DEBUG, rules_runtime::debug_enabled),
    Rule::per_config(
        rules_runtime::CGROUP,
        rules_runtime::sandbox_cgroup_only_disabled,
    ),
    Rule::per_config(rules_runtime::TEMPLATE, rules_runtime::vm_template_enabled),
    Rule::per_config(rules_runtime::NETNS, rules_runtime::new_netns_disabled),
    Rule::snapshot(
        rules_containerd::PASSTHROUGH,
        rules_containerd::check_passthrough,
    ),
];
