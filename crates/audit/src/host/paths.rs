//! Host paths of the facts the rules cite in their locations.
//!
//! Findings name the path an operator would inspect on the host itself, whatever `--root` the
//! snapshot was collected under.

pub(super) const DEV_KVM: &str = "/dev/kvm";
pub(super) const CPUINFO: &str = "/proc/cpuinfo";
pub(super) const CMDLINE: &str = "/proc/cmdline";
pub(super) const IOMMU_GROUPS: &str = "/sys/kernel/iommu_groups";
pub(super) const EFI: &str = "/sys/firmware/efi";
pub(super) const SECURE_BOOT_VAR: &str =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";
pub(super) const SMT_CONTROL: &str = "/sys/devices/system/cpu/smt/control";
pub(super) const VULNERABILITIES: &str = "/sys/devices/system/cpu/vulnerabilities";
pub(super) const KSM_RUN: &str = "/sys/kernel/mm/ksm/run";
pub(super) const UNPRIVILEGED_BPF: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";
pub(super) const LSM: &str = "/sys/kernel/security/lsm";
pub(super) const SWAPS: &str = "/proc/swaps";

/// `/sys/module/<module>/parameters/<param>`.
pub(super) fn module_param(module: &str, param: &str) -> String {
    format!("/sys/module/{module}/parameters/{param}")
}
