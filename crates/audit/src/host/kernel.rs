//! Kernel settings that widen what a guest or a local user can reach: KSM, unprivileged BPF,
//! the absence of a mandatory access control LSM, and swap.

use super::{known, location, paths};
use crate::catalogue::Check;
use crate::emit::Hit;
use crate::{Emitter, Rule, RuleMeta};
use hvguard_core::{Severity, Snapshot};

pub(super) const KSM_ENABLED: Rule = Rule {
    meta: RuleMeta {
        id: "host.ksm-enabled",
        title: "Kernel same-page merging is running",
        severity: Severity::Medium,
        fires_when: "/sys/kernel/mm/ksm/run is 1",
        remediation: "Stop KSM and unmerge shared pages with `echo 2 > /sys/kernel/mm/ksm/run`; make it persistent by disabling the service that starts it (`systemctl disable --now ksm ksmtuned`) or a tmpfiles.d entry `w /sys/kernel/mm/ksm/run - - - - 0`",
        references: &[
            "https://docs.kernel.org/admin-guide/mm/ksm.html",
            "https://www.usenix.org/conference/usenixsecurity16/technical-sessions/presentation/razavi",
        ],
    },
    check: Check::Snapshot(ksm_enabled),
};

pub(super) const UNPRIVILEGED_BPF: Rule = Rule {
    meta: RuleMeta {
        id: "host.unprivileged-bpf",
        title: "Unprivileged users may load BPF programs",
        severity: Severity::Medium,
        fires_when: "/proc/sys/kernel/unprivileged_bpf_disabled is 0",
        remediation: "`sysctl -w kernel.unprivileged_bpf_disabled=2` now and `echo kernel.unprivileged_bpf_disabled=2 > /etc/sysctl.d/90-hvguard-bpf.conf` to keep it (1 also works but cannot be undone until reboot)",
        references: &[
            "https://docs.kernel.org/admin-guide/sysctl/kernel.html#unprivileged-bpf-disabled",
            "https://www.cve.org/CVERecord?id=CVE-2021-3490",
            "https://www.cve.org/CVERecord?id=CVE-2022-23222",
        ],
    },
    check: Check::Snapshot(unprivileged_bpf),
};

pub(super) const NO_MANDATORY_ACCESS_CONTROL: Rule = Rule {
    meta: RuleMeta {
        id: "host.no-mandatory-access-control",
        title: "No mandatory access control LSM is active",
        severity: Severity::Medium,
        fires_when: "/sys/kernel/security/lsm lists neither apparmor nor selinux",
        remediation: "Enable AppArmor (Debian/Ubuntu: `apt install apparmor apparmor-utils`, kernel parameter `apparmor=1 security=apparmor` or `lsm=...,apparmor`) or SELinux (RHEL/Fedora: `SELINUX=enforcing` in /etc/selinux/config, kernel parameter `selinux=1`), then reboot",
        references: &[
            "https://docs.kernel.org/admin-guide/LSM/index.html",
            "https://docs.kernel.org/admin-guide/LSM/apparmor.html",
            "https://docs.kernel.org/admin-guide/LSM/SELinux.html",
        ],
    },
    check: Check::Snapshot(no_mandatory_access_control),
};

pub(super) const SWAP_ENABLED: Rule = Rule {
    meta: RuleMeta {
        id: "host.swap-enabled",
        title: "Swap is enabled on the host",
        severity: Severity::Low,
        fires_when: "/proc/swaps lists at least one swap area",
        remediation: "Turn swap off with `swapoff -a`, remove or comment the swap lines in /etc/fstab (and `systemctl mask` any `*.swap` units or zram generator); if swap must stay, encrypt it (e.g. `cryptsetup` with a random key in /etc/crypttab)",
        references: &[
            "https://man7.org/linux/man-pages/man2/swapon.2.html",
            "https://kubernetes.io/docs/concepts/cluster-administration/swap-memory-management/",
        ],
    },
    check: Check::Snapshot(swap_enabled),
};

fn ksm_enabled(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let Some(run) = known(&snapshot.host.ksm_run, meta, out) else {
        return;
    };
    if run.trim() != "1" {
        return;
    }
    let hit = Hit::new(
        meta.severity,
        "KSM is merging identical pages across processes, including the memory of different guests: a guest can time copy-on-write faults to learn what other guests or the host hold in memory, and shared pages make Rowhammer-style cross-VM attacks easier",
        "ksm/run = 1",
    )
    .at(location(paths::KSM_RUN, None));
    out.finding(meta, hit);
}

fn unprivileged_bpf(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let Some(value) = known(&snapshot.host.unprivileged_bpf_disabled, meta, out) else {
        return;
    };
    if value.trim() != "0" {
        return;
    }
    let hit = Hit::new(
        meta.severity,
        "Any local user may load BPF programs: verifier bugs have repeatedly turned this into kernel code execution, and unprivileged BPF is a Spectre gadget source; a process escaping a VMM sandbox gets an easy path to root on the host",
        "kernel.unprivileged_bpf_disabled = 0",
    )
    .at(location(paths::UNPRIVILEGED_BPF, None));
    out.finding(meta, hit);
}

fn no_mandatory_access_control(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let Some(lsms) = known(&snapshot.host.lsm, meta, out) else {
        return;
    };
    if lsms
        .iter()
        .any(|l| matches!(l.trim(), "apparmor" | "selinux"))
    {
        return;
    }
    let listed = lsms.join(",");
    let hit = Hit::new(
        meta.severity,
        "Neither AppArmor nor SELinux is active: nothing confines a compromised VMM (QEMU, Cloud Hypervisor, Firecracker, virtiofsd) beyond its Unix user and seccomp filter, so a VM escape lands with that process's full access to the host",
        format!("lsm = {listed}"),
    )
    .at(location(paths::LSM, None));
    out.finding(meta, hit);
}

fn swap_enabled(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let Some(areas) = known(&snapshot.host.swaps, meta, out) else {
        return;
    };
    if areas.is_empty() {
        return;
    }
    let message = format!(
        "{} swap area{} active: guest memory (and its secrets) can be written to disk unencrypted and outlive the VM, and memory limits of sandboxes become soft",
        areas.len(),
        if areas.len() == 1 { " is" } else { "s are" }
    );
    let hit = Hit::new(
        meta.severity,
        message,
        format!("swap areas: {}", areas.join(", ")),
    )
    .at(location(paths::SWAPS, None));
    out.finding(meta, hit);
}
