//! Guest integrity of one configuration, as facts with what enabling each would take here:
//! the guest firmware, measured boot through a confidential guest, and a verified root
//! filesystem (dm-verity) where the installed Kata release supports it.

use std::cmp::Ordering;

use hvguard_core::{ConfigValue, KataConfig, Snapshot};

use crate::facts::{parse_release, CompareKind, Facts, Support};
use crate::host::{describe, setting};
use crate::model::{GuestIntegrity, HostCapability, IntegrityItem};

/// The host facts integrity advice depends on.
#[derive(Debug, Clone, Copy)]
pub struct HostContext<'a> {
    /// The static Kata install's release.
    pub kata_release: Option<&'a str>,
    /// SEV-SNP on this host.
    pub sev_snp: &'a HostCapability,
    /// TDX on this host.
    pub tdx: &'a HostCapability,
}

impl<'a> HostContext<'a> {
    /// The Kata release from the Snapshot.
    pub fn kata_release(snapshot: &'a Snapshot) -> Option<&'a str> {
        snapshot.kata_install.value().map(|k| k.version.as_str())
    }
}

/// The three integrity facts of `config`.
pub fn guest_integrity(
    facts: &Facts,
    config: &KataConfig,
    kind: CompareKind,
    section: &str,
    host: HostContext<'_>,
) -> GuestIntegrity {
    GuestIntegrity {
        firmware: firmware(facts, config, kind, section),
        measured_boot: measured_boot(facts, config, kind, section, host),
        verified_rootfs: verified_rootfs(facts, config, kind, section, host),
    }
}

fn name_of(facts: &Facts, kind: CompareKind) -> String {
    facts
        .hypervisor(kind)
        .map_or_else(|| kind.to_string(), |h| h.name.clone())
}

fn firmware(facts: &Facts, config: &KataConfig, kind: CompareKind, section: &str) -> IntegrityItem {
    let name = name_of(facts, kind);
    match setting(config, section, "firmware") {
        Some(v) if v.value.as_str().is_some_and(|s| !s.trim().is_empty()) => IntegrityItem {
            state: "on",
            observed: format!(
                "{}; whether that build can do UEFI Secure Boot is not known to hvguard's facts",
                describe(section, "firmware", v)
            ),
            to_enable: None,
        },
        found => {
            let observed = match found {
                Some(v) => describe(section, "firmware", v),
                None => format!("hypervisor.{section}.firmware is not set"),
            };
            let to_enable = match kind {
                CompareKind::Qemu => "set `firmware` to a UEFI (OVMF) image; Kata's confidential configurations use its own OVMF builds (AMDSEV.fd, OVMF.inteltdx.fd). Which builds enforce Secure Boot is not in hvguard's facts".to_owned(),
                CompareKind::CloudHypervisor => "set `firmware` to Cloud Hypervisor's EDK II build (CLOUDHV.fd) for UEFI boot; Secure Boot support of that build is not in hvguard's facts".to_owned(),
                CompareKind::Remote => "the remote infrastructure chooses the firmware".to_owned(),
                _ => format!("not offered: Kata's {name} configuration boots the kernel directly"),
            };
            IntegrityItem {
                state: match kind {
                    CompareKind::Qemu | CompareKind::CloudHypervisor => "off",
                    CompareKind::Remote => "unknown",
                    _ => "unsupported",
                },
                observed: format!(
                    "{observed}: {}",
                    match kind {
                        CompareKind::Qemu => "QEMU's built-in firmware",
                        CompareKind::Remote => "the remote VM's firmware",
                        _ => "direct kernel boot, no guest firmware",
                    }
                ),
                to_enable: Some(to_enable),
            }
        }
    }
}

fn flag(config: &KataConfig, section: &str, name: &str) -> bool {
    setting(config, section, name).is_some_and(|v| matches!(v.value, ConfigValue::Bool(true)))
}

fn measured_boot(
    facts: &Facts,
    config: &KataConfig,
    kind: CompareKind,
    section: &str,
    host: HostContext<'_>,
) -> IntegrityItem {
    let name = name_of(facts, kind);
    if flag(config, section, "confidential_guest") {
        let snp = flag(config, section, "sev_snp_guest");
        let (technology, capability) = if snp {
            ("SEV-SNP", host.sev_snp)
        } else {
            ("a confidential guest (TDX or SEV)", host.tdx)
        };
        let observed = format!(
            "confidential_guest = true{}: the launch is measured by {technology}; host: {} ({})",
            if snp { ", sev_snp_guest = true" } else { "" },
            capability.state,
            capability.evidence
        );
        return IntegrityItem {
            state: "on",
            observed,
            to_enable: (capability.state != "enabled")
                .then(|| capability.to_enable.clone())
                .flatten(),
        };
    }
    let supports = facts
        .hypervisor(kind)
        .map(|h| (h.features.sev_snp.supported(), h.features.tdx.supported()))
        .unwrap_or((Support::Unknown, Support::Unknown));
    let observed = "confidential_guest is not set: no launch measurement".to_owned();
    let to_enable = match supports {
        (Support::Yes, _) | (_, Support::Yes) => {
            let mut steps = Vec::new();
            for (label, capability) in [("SEV-SNP", host.sev_snp), ("TDX", host.tdx)] {
                steps.push(match capability.state {
                    "enabled" => format!(
                        "{label}: this host is ready ({}); use Kata's {label} configuration",
                        capability.evidence
                    ),
                    _ => format!(
                        "{label}: {} ({}){}",
                        capability.state,
                        capability.evidence,
                        capability
                            .to_enable
                            .as_ref()
                            .map(|t| format!("; {t}"))
                            .unwrap_or_default()
                    ),
                });
            }
            steps.join(". ")
        }
        (Support::Unknown, _) | (_, Support::Unknown) if kind == CompareKind::Remote => {
            "depends on the remote infrastructure's instance types".to_owned()
        }
        _ => format!("not offered for {name}: Kata's SEV-SNP and TDX configurations run QEMU"),
    };
    IntegrityItem {
        state: if kind == CompareKind::Remote {
            "unknown"
        } else if matches!(supports, (Support::No, Support::No)) {
            "unsupported"
        } else {
            "off"
        },
        observed,
        to_enable: Some(to_enable),
    }
}

fn verified_rootfs(
    facts: &Facts,
    config: &KataConfig,
    kind: CompareKind,
    section: &str,
    host: HostContext<'_>,
) -> IntegrityItem {
    let rules = &facts.verified_rootfs;
    if kind == CompareKind::Remote {
        return IntegrityItem {
            state: "unsupported",
            observed: "kernel parameters are not passed to remote VMs (Kata's remote configuration says so)".to_owned(),
            to_enable: Some("the remote infrastructure's image decides".to_owned()),
        };
    }
    if let Some(v) = setting(config, section, "kernel_verity_params") {
        if v.value.as_str().is_some_and(|s| !s.trim().is_empty()) {
            return IntegrityItem {
                state: "on",
                observed: describe(section, "kernel_verity_params", v),
                to_enable: None,
            };
        }
    }
    if let Some(v) = setting(config, section, "kernel_params") {
        if v.value
            .as_str()
            .is_some_and(|s| s.contains(&rules.kernel_params_marker))
        {
            return IntegrityItem {
                state: "on",
                observed: format!(
                    "kernel_params carries `{}` ({}:{})",
                    rules.kernel_params_marker,
                    v.path.display(),
                    v.line
                ),
                to_enable: None,
            };
        }
    }
    let observed = match setting(config, section, "kernel_verity_params") {
        Some(v) => describe(section, "kernel_verity_params", v),
        None => format!(
            "neither kernel_verity_params nor `{}` in kernel_params",
            rules.kernel_params_marker
        ),
    };
    let release = host.kata_release;
    let at_least = |min: &str| -> Option<bool> {
        let have = parse_release(release?).ok()?;
        let want = parse_release(min).ok()?;
        Some(have.compare(&want)? != Ordering::Less)
    };
    let verity = &rules.kernel_verity_params_since;
    let legacy = &rules.kernel_params_since;
    let to_enable = match (at_least(verity), at_least(legacy)) {
        (Some(true), _) => format!(
            "set kernel_verity_params (root_hash, salt, data_blocks, data_block_size, hash_block_size) to the values of a guest image built with dm-verity (MEASURED_ROOTFS=yes); Kata {} supports it",
            release.unwrap_or_default()
        ),
        (Some(false), Some(true)) => format!(
            "Kata {} predates kernel_verity_params ({verity}): use a guest image built with MEASURED_ROOTFS=yes and put `{} rootfs_verity.hash=<root hash>` in kernel_params, or upgrade to {verity} or later",
            release.unwrap_or_default(),
            rules.kernel_params_marker
        ),
        (Some(false), _) => format!(
            "Kata {} has no verified root filesystem: upgrade to {verity} or later and set kernel_verity_params",
            release.unwrap_or_default()
        ),
        (None, _) => format!(
            "the Kata release is not known (no /opt/kata/VERSION): kernel_verity_params needs {verity} or later; {legacy} to {verity} use kernel_params with a MEASURED_ROOTFS=yes image"
        ),
    };
    IntegrityItem {
        state: "off",
        observed,
        to_enable: Some(to_enable),
    }
}
