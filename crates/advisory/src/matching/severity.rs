//! The severity of an `advisory.vulnerable` finding (RULES.md): the CVSS band, one level up
//! for CISA KEV, one level down when the component cannot be reached from the configured
//! guest; an accepted risk is `info` until its acceptance expires.

use hvguard_core::Severity;

use crate::policy::Verdict;
use crate::relevance::{Reach, Relevance};
use crate::Advisory;

/// A severity and the notes that explain how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// The final severity.
    pub severity: Severity,
    /// One note per step that changed or set it, in order.
    pub notes: Vec<String>,
}

/// The CVSS band: >= 9 critical, >= 7 high, >= 4 medium, else low.
pub fn band(score: f64) -> Severity {
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// Rates one vulnerable (advisory, binary).
pub fn rate(advisory: &Advisory, relevance: &Relevance, policy: Option<Verdict<'_>>) -> Rating {
    let mut notes = Vec::new();
    let mut severity = match advisory.cvss.score() {
        Some(score) => {
            let s = band(score);
            notes.push(format!("CVSS {score:.1}: {s}"));
            s
        }
        None => {
            notes.push("no CVSS score known: rated medium".into());
            Severity::Medium
        }
    };
    if advisory.kev.is_some() {
        severity = severity.raised();
        notes.push(format!(
            "in CISA KEV (known exploited): raised to {severity}"
        ));
    }
    if relevance.reach == Reach::NotReachable {
        severity = severity.lowered();
        notes.push(format!(
            "not reachable from the configured guest: lowered to {severity}"
        ));
    }
    match policy {
        Some(Verdict::Accepted(a)) => {
            notes.push(format!(
                "accepted until {} ({}): {}; reported as info instead of {severity}",
                a.expires,
                acceptance_place(a),
                a.reason
            ));
            severity = Severity::Info;
        }
        Some(Verdict::Expired(a)) => notes.push(format!(
            "the acceptance expired on {} ({}: {}): back at full severity",
            a.expires,
            acceptance_place(a),
            a.reason
        )),
        None => {}
    }
    Rating { severity, notes }
}

fn acceptance_place(a: &crate::policy::Acceptance) -> String {
    format!("policy line {}", a.line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CvssScore, KevEntry};

    fn relevance(reach: Reach) -> Relevance {
        Relevance {
            reach,
            reason: "r".into(),
            vm_escape_path: false,
        }
    }

    #[test]
    fn bands_and_steps() {
        assert_eq!(band(9.0), Severity::Critical);
        assert_eq!(band(8.9), Severity::High);
        assert_eq!(band(7.0), Severity::High);
        assert_eq!(band(4.0), Severity::Medium);
        assert_eq!(band(3.9), Severity::Low);
        let mut a = Advisory::new("CVE-2015-3456");
        let r = rate(&a, &relevance(Reach::Unknown), None);
        assert_eq!(r.severity, Severity::Medium);
        assert!(r.notes[0].contains("no CVSS"));
        a.cvss.v3 = Some(CvssScore::v3(
            "CVSS:3.1/AV:A/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H",
            None,
        ));
        assert_eq!(
            rate(&a, &relevance(Reach::Reachable), None).severity,
            Severity::Medium
        );
        a.kev = Some(KevEntry {
            cve: "CVE-2015-3456".into(),
            date_added: None,
            ransomware: None,
        });
        assert_eq!(
            rate(&a, &relevance(Reach::Reachable), None).severity,
            Severity::High
        );
        assert_eq!(
            rate(&a, &relevance(Reach::NotReachable), None).severity,
            Severity::Medium
        );
    }
}
