//! UEFI Secure Boot: the chain that keeps an unsigned kernel or module off the host.

use super::{known, location, paths};
use crate::catalogue::Check;
use crate::emit::Hit;
use crate::{Emitter, Rule, RuleMeta};
use hvguard_core::{BootMode, Severity, Snapshot};

pub(super) const SECURE_BOOT_DISABLED: Rule = Rule {
    meta: RuleMeta {
        id: "host.secure-boot-disabled",
        title: "Secure Boot is not enforced",
        severity: Severity::Medium,
        fires_when: "the host booted via UEFI with the SecureBoot variable's value byte 0 (medium), or booted via legacy BIOS with no /sys/firmware/efi (low)",
        remediation: "Enable Secure Boot in the UEFI firmware setup with a signed shim/bootloader and kernel (Debian/Ubuntu: `apt install shim-signed grub-efi-amd64-signed`; RHEL ships signed ones), then check with `mokutil --sb-state`; a legacy-BIOS host must first be converted to UEFI boot",
        references: &[
            "https://wiki.debian.org/SecureBoot",
            "https://uefi.org/specifications",
            "https://man7.org/linux/man-pages/man7/kernel_lockdown.7.html",
        ],
    },
    check: Check::Snapshot(secure_boot_disabled),
};

fn secure_boot_disabled(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let firmware = &snapshot.host.firmware;
    let Some(mode) = known(&firmware.boot_mode, meta, out) else {
        return;
    };
    match mode {
        BootMode::LegacyBios => {
            let hit = Hit::new(
                Severity::Low,
                "The host booted via legacy BIOS (no /sys/firmware/efi): Secure Boot cannot protect the boot chain, so a tampered bootloader, kernel or module loads unchecked",
                "no /sys/firmware/efi",
            )
            .at(location(paths::EFI, None));
            out.finding(meta, hit);
        }
        BootMode::Uefi => {
            let Some(&enabled) = known(&firmware.secure_boot, meta, out) else {
                return;
            };
            if enabled {
                return;
            }
            let hit = Hit::new(
                meta.severity,
                "The host booted via UEFI with Secure Boot off: an attacker who gains root once can persist a tampered bootloader, kernel or KVM module that every guest then trusts",
                "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c = 0",
            )
            .at(location(paths::SECURE_BOOT_VAR, None));
            out.finding(meta, hit);
        }
    }
}
