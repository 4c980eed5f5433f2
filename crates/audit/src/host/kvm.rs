//! `/dev/kvm`: is hardware virtualisation usable, and by whom.

use super::{known, location, paths};
use crate::catalogue::Check;
use crate::emit::Hit;
use crate::{Emitter, Rule, RuleMeta};
use hvguard_core::{FileKind, FileStat, Probe, Severity, Snapshot};

/// The only API version Linux has reported since 2.6.22; VMMs refuse any other.
const KVM_API_VERSION: i32 = 12;

pub(super) const KVM_UNAVAILABLE: Rule = Rule {
    meta: RuleMeta {
        id: "host.kvm-unavailable",
        title: "KVM is not available",
        severity: Severity::High,
        fires_when: "/dev/kvm is absent or not a character device, or (on the live root) it cannot be opened or KVM_GET_API_VERSION fails; permission denied is unknown, not a finding",
        remediation: "Enable VT-x/AMD-V in the firmware, load the KVM module for the CPU (`modprobe kvm_intel` or `modprobe kvm_amd`, persist it in /etc/modules-load.d/kvm.conf), and check that `ls -l /dev/kvm` shows a character device",
        references: &[
            "https://docs.kernel.org/virt/kvm/api.html",
            "https://github.com/kata-containers/kata-containers#hardware-requirements",
        ],
    },
    check: Check::Snapshot(kvm_unavailable),
};

pub(super) const KVM_DEVICE_PERMISSIONS: Rule = Rule {
    meta: RuleMeta {
        id: "host.kvm-device-permissions",
        title: "/dev/kvm is accessible to every user",
        severity: Severity::High,
        fires_when: "/dev/kvm grants read or write permission to others (mode & 0o006)",
        remediation: "Restrict /dev/kvm to root and the kvm group: `chown root:kvm /dev/kvm && chmod 0660 /dev/kvm`, and make it persistent with a udev rule such as `KERNEL==\"kvm\", GROUP=\"kvm\", MODE=\"0660\"` in /etc/udev/rules.d/65-kvm.rules",
        references: &[
            "https://docs.kernel.org/virt/kvm/api.html",
            "https://www.freedesktop.org/software/systemd/man/latest/udev.html",
        ],
    },
    check: Check::Snapshot(kvm_device_permissions),
};

fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Regular => "regular file",
        FileKind::Directory => "directory",
        FileKind::CharDevice => "character device",
        FileKind::BlockDevice => "block device",
        FileKind::Symlink => "symbolic link",
        FileKind::Other => "special file",
    }
}

fn stat_evidence(stat: &FileStat) -> String {
    format!(
        "type={} mode={} owner={}:{}",
        kind_name(stat.kind),
        stat.mode_string(),
        stat.uid,
        stat.gid
    )
}

fn kvm_unavailable(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let at = || location(paths::DEV_KVM, None);
    let stat = match &snapshot.host.kvm.device {
        Probe::Absent { .. } => {
            let hit = Hit::new(
                meta.severity,
                "/dev/kvm does not exist: Kata Containers cannot start hardware-isolated VMs on this host",
                "/dev/kvm absent",
            );
            out.finding(meta, hit.at(at()));
            return;
        }
        probe => match known(probe, meta, out) {
            Some(stat) => stat,
            None => return,
        },
    };
    // Under --root the tree is an image or a fixture: device nodes are rarely kept there (git,
    // tarballs and most image builders drop them), so only a missing node is evidence. On the
    // running host a regular file at /dev/kvm really is a broken device.
    if snapshot.live && stat.kind != FileKind::CharDevice {
        let message = format!(
            "/dev/kvm is a {}, not the KVM character device: no VMM can use it",
            kind_name(stat.kind)
        );
        out.finding(
            meta,
            Hit::new(meta.severity, message, stat_evidence(stat)).at(at()),
        );
        return;
    }
    if !snapshot.live {
        // Opening the device only means something on the running host.
        return;
    }
    match &snapshot.host.kvm.api_version {
        Probe::Found { value } if *value == KVM_API_VERSION => {}
        Probe::Found { value } => {
            let message = format!(
                "KVM_GET_API_VERSION on /dev/kvm returned {value}, not {KVM_API_VERSION}: VMMs refuse to use this KVM"
            );
            let evidence = format!("KVM_GET_API_VERSION = {value}");
            out.finding(meta, Hit::new(meta.severity, message, evidence).at(at()));
        }
        // Refused to this user is not "KVM is broken": root may well use it. Unknown, and the
        // reason says who asked.
        Probe::Denied { path } => {
            let who = match snapshot.collector_uid {
                Some(uid) if uid != 0 => format!(
                    "; the scan ran unprivileged (uid {uid}): run hvguard as root to check KVM"
                ),
                _ => String::new(),
            };
            out.unknown(
                meta,
                format!("permission denied opening {}{who}", path.display()),
            );
        }
        probe => {
            let why = probe
                .unknown_reason()
                .unwrap_or_else(|| "no answer".to_string());
            let message = format!(
                "/dev/kvm exists but KVM could not be used on the running host ({why}): Kata Containers cannot start VMs as this user"
            );
            let evidence = format!("KVM_GET_API_VERSION failed: {why}");
            out.finding(meta, Hit::new(meta.severity, message, evidence).at(at()));
        }
    }
}

fn kvm_device_permissions(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let Some(stat) = known(&snapshot.host.kvm.device, meta, out) else {
        return;
    };
    if !stat.accessible_by_others() {
        return;
    }
    let access = match (stat.mode & 0o004 != 0, stat.mode & 0o002 != 0) {
        (true, true) => "read and write",
        (false, true) => "write",
        _ => "read",
    };
    let message = format!(
        "/dev/kvm (mode {}) grants {access} access to every local user: any process, including one escaped from an unrelated container, can reach the KVM ioctl interface (VM creation, guest memory, in-kernel device emulation), a large kernel attack surface meant only for root and the kvm group",
        stat.mode_string()
    );
    let evidence = format!(
        "mode={} owner={}:{}",
        stat.mode_string(),
        stat.uid,
        stat.gid
    );
    let hit = Hit::new(meta.severity, message, evidence).at(location(paths::DEV_KVM, None));
    out.finding(meta, hit);
}
