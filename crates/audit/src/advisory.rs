//! `advisory.vulnerable`: listed here so that `hvguard rules`, `explain`, SARIF and the
//! docs test see it like every other rule. Its findings come from the advisory matcher
//! (`hvguard-advisory`), which needs the advisory store and a policy: the catalogue check
//! itself has nothing to read in a Snapshot, so it emits nothing.

use crate::catalogue::Check;
use crate::{Emitter, Rule, RuleMeta};
use hvguard_core::{Severity, Snapshot};

pub(crate) static RULES: &[Rule] = &[Rule {
    meta: RuleMeta {
        id: "advisory.vulnerable",
        title: "An installed hypervisor is affected by a published vulnerability",
        severity: Severity::High,
        fires_when: "an installed hypervisor is in an advisory's affected range and no fix (upstream or distro backport) applies; severity from CVSS, raised for CISA KEV, lowered when the component is not reachable from the configured guest",
        remediation: "Upgrade the package (apt/dnf) or the static Kata release to a version carrying the fix named in the finding; if that cannot happen now, record a time-limited acceptance in /etc/hvguard/policy.toml",
        references: &[
            "https://osv.dev/",
            "https://nvd.nist.gov/developers/vulnerabilities",
            "https://security-tracker.debian.org/tracker/",
            "https://www.cisa.gov/known-exploited-vulnerabilities-catalog",
        ],
    },
    check: Check::Snapshot(matched_elsewhere),
}];

fn matched_elsewhere(_: &RuleMeta, _: &Snapshot, _: &mut Emitter) {}
