//! Assembles [`HostFacts`] from every host probe.

use crate::{cpu, firmware, iommu, kernel, kvm};
use hvguard_core::{HostFacts, HostRoot};

/// Collects every host fact under `root`. Never fails: what cannot be read is recorded as an
/// unknown [`hvguard_core::Probe`].
///
/// Cheap by design (a few dozen small sysfs/procfs reads, no directory walks beyond the
/// vulnerability and module lists), so a scan of the live host stays in the millisecond range.
pub fn host_facts(root: &HostRoot) -> HostFacts {
    let cmdline = kernel::probe_cmdline(root);
    HostFacts {
        hostname: kernel::probe_hostname(root),
        os: kernel::probe_os_release(root),
        kernel_release: kernel::probe_kernel_release(root),
        cpu: cpu::probe_cpu(root),
        kvm: kvm::probe_kvm(root),
        iommu: iommu::probe_iommu(root, &cmdline),
        firmware: firmware::probe_firmware(root),
        smt_control: kernel::probe_smt_control(root),
        cpu_vulnerabilities: kernel::probe_vulnerabilities(root),
        cmdline,
        ksm_run: kernel::probe_ksm_run(root),
        swaps: kernel::probe_swaps(root),
        unprivileged_bpf_disabled: kernel::probe_unprivileged_bpf(root),
        lsm: kernel::probe_lsm(root),
    }
}
