//! Kernel command-line switches that turn CPU side-channel mitigations off.

use super::{known, location, paths};
use crate::catalogue::Check;
use crate::emit::Hit;
use crate::{Emitter, Rule, RuleMeta};
use hvguard_core::{Severity, Snapshot};

pub(super) const MITIGATIONS_DISABLED: Rule = Rule {
    meta: RuleMeta {
        id: "host.mitigations-disabled",
        title: "CPU side-channel mitigations are disabled on the kernel command line",
        severity: Severity::High,
        fires_when: "/proc/cmdline has mitigations=off, a mitigations= list with no_guest_host or no_guest_guest, or nospectre_v1, nospectre_v2, spectre_v2=off, nopti, pti=off, l1tf=off, mds=off, tsx_async_abort=off, mmio_stale_data=off, retbleed=off or spec_store_bypass_disable=off (one finding per parameter)",
        remediation: "Remove the parameter from GRUB_CMDLINE_LINUX / GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub (or `grubby --update-kernel=ALL --remove-args=\"<parameter>\"`), keep `mitigations=auto` (or `mitigations=auto,nosmt`), run `update-grub` and reboot",
        references: &[
            "https://docs.kernel.org/admin-guide/hw-vuln/attack_vector_controls.html",
            "https://docs.kernel.org/admin-guide/kernel-parameters.html",
            "https://docs.kernel.org/admin-guide/hw-vuln/spectre.html",
            "https://docs.kernel.org/admin-guide/hw-vuln/l1tf.html",
        ],
    },
    check: Check::Snapshot(mitigations_disabled),
};

/// Flags that switch a mitigation off by their mere presence.
const BARE_SWITCHES: [&str; 3] = ["nospectre_v1", "nospectre_v2", "nopti"];

/// Parameters that switch a mitigation off when set to `off`.
const OFF_SWITCHES: [&str; 8] = [
    "spectre_v2",
    "pti",
    "l1tf",
    "mds",
    "tsx_async_abort",
    "mmio_stale_data",
    "retbleed",
    "spec_store_bypass_disable",
];

/// Attack-vector controls that drop the mitigations protecting the host and other guests.
const GUEST_VECTORS: [&str; 2] = ["no_guest_host", "no_guest_guest"];

/// What a disabled mitigation leaves a Kata host exposed to.
const OPEN: &str = ", leaving guest-to-host and cross-guest side channels open";

/// One command-line parameter that disables a mitigation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Offence<'a> {
    /// The parameter exactly as written.
    pub token: &'a str,
    /// The parameter name, `-` folded to `_` as the kernel does.
    pub name: String,
    pub why: String,
}

/// The parameters in `tokens` that disable a mitigation, in command-line order.
///
/// Tokens after `--` belong to init, not the kernel, and are ignored.
pub(super) fn offences(tokens: &[String]) -> Vec<Offence<'_>> {
    tokens
        .iter()
        .take_while(|t| t.as_str() != "--")
        .filter_map(|token| offence(token))
        .collect()
}

fn offence(token: &str) -> Option<Offence<'_>> {
    let (raw_name, value) = match token.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (token, None),
    };
    // The kernel treats dashes and underscores in parameter names alike.
    let name = raw_name.replace('-', "_");
    let why = match (name.as_str(), value) {
        ("mitigations", Some(list)) => mitigations_list(list)?,
        (flag, None) if BARE_SWITCHES.contains(&flag) => {
            format!("{flag} disables a speculative-execution mitigation{OPEN}")
        }
        (switch, Some("off")) if OFF_SWITCHES.contains(&switch) => {
            format!("{switch}=off disables the {switch} mitigation{OPEN}")
        }
        _ => return None,
    };
    Some(Offence { token, name, why })
}

fn mitigations_list(list: &str) -> Option<String> {
    let options: Vec<&str> = list.split(',').map(str::trim).collect();
    if options.contains(&"off") {
        return Some(format!(
            "mitigations=off disables every optional CPU mitigation{OPEN}"
        ));
    }
    let dropped: Vec<&str> = GUEST_VECTORS
        .iter()
        .copied()
        .filter(|v| options.contains(v))
        .collect();
    if dropped.is_empty() {
        return None;
    }
    Some(format!(
        "the attack-vector control{} {} turn{} off the mitigations that protect the host and other guests from a malicious guest",
        if dropped.len() > 1 { "s" } else { "" },
        dropped.join(" and "),
        if dropped.len() > 1 { "" } else { "s" },
    ))
}

fn mitigations_disabled(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let Some(tokens) = known(&snapshot.host.cmdline, meta, out) else {
        return;
    };
    for offence in offences(tokens) {
        let message = format!(
            "The kernel was booted with `{}`: {}",
            offence.token, offence.why
        );
        let hit = Hit::new(meta.severity, message, offence.token)
            .at(location(paths::CMDLINE, Some(&offence.name)));
        out.finding(meta, hit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(cmdline: &str) -> Vec<String> {
        cmdline.split_whitespace().map(str::to_string).collect()
    }

    fn offending(cmdline: &str) -> Vec<String> {
        let t = tokens(cmdline);
        offences(&t).iter().map(|o| o.token.to_string()).collect()
    }

    #[test]
    fn the_real_capture_disables_guest_vectors() {
        // From the debian12-nested-pvm capture's /proc/cmdline.
        let cmdline = "mitigations=auto,no_guest_host,no_guest_guest console=ttyS0 quiet reboot=k panic=1 nomodule rdinit=/process_api -- --firecracker-init";
        let t = tokens(cmdline);
        let found = offences(&t);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].token,
            "mitigations=auto,no_guest_host,no_guest_guest"
        );
        assert_eq!(found[0].name, "mitigations");
        assert!(found[0].why.contains("no_guest_host and no_guest_guest"));
    }

    #[test]
    fn every_listed_switch_is_caught_once() {
        let cmdline = "mitigations=off nospectre_v1 nospectre_v2 spectre_v2=off nopti pti=off l1tf=off mds=off tsx_async_abort=off mmio_stale_data=off retbleed=off spec_store_bypass_disable=off";
        assert_eq!(offending(cmdline), tokens(cmdline));
    }

    #[test]
    fn safe_settings_are_not_flagged() {
        for cmdline in [
            "mitigations=auto",
            "mitigations=auto,nosmt",
            "mitigations=auto,no_user_user",
            "spectre_v2=on pti=on l1tf=full,force mds=full,nosmt retbleed=auto",
            "mitigations",
            "nospectre_v1=1",
            "pti",
            "quiet splash",
            "root=/dev/mitigations=off",
        ] {
            assert!(offending(cmdline).is_empty(), "{cmdline}");
        }
    }

    #[test]
    fn single_guest_vector_and_dashes() {
        let t = tokens("mitigations=auto,no_guest_guest spec-store-bypass-disable=off");
        let found = offences(&t);
        assert_eq!(found.len(), 2);
        assert!(found[0].why.contains("control no_guest_guest turns"));
        assert_eq!(found[1].name, "spec_store_bypass_disable");
        assert_eq!(found[1].token, "spec-store-bypass-disable=off");
    }

    #[test]
    fn arguments_for_init_are_ignored() {
        assert!(offending("quiet -- nopti mitigations=off").is_empty());
    }
}
