//! Accepted risks: a TOML policy file listing advisories the operator has decided to live
//! with, each with a reason and an expiry date, like `cargo deny`'s ignore list.
//!
//! ```toml
//! [[accept]]
//! id = "CVE-2021-3929"
//! reason = "NVMe is never attached by our Kata configs"
//! expires = "2027-01-31"
//! binary = "/usr/bin/qemu-system-x86_64"   # optional: only this binary
//! ```
//!
//! An accepted advisory is reported as `info` with the reason until the expiry date has
//! passed; from then on it is back at full severity with a note that the acceptance expired.
//!
//! The same file's `[update]` table says how `hvguard update` may change the host (see
//! [`update`]).
//!
//! The same file says when a node is fit for Kata pods, for the Node Feature Discovery labels
//! of `hvguard scan --nfd-file`:
//!
//! ```toml
//! [nfd]
//! threshold = "high"      # hvguard-kata-ready=false when a finding is at or above this
//! expiry_minutes = 60     # the labels vanish this long after the scan that wrote them
//! ```
//!
//! The same file says how long scan history is kept:
//!
//! ```toml
//! [history]
//! keep_days = 90   # records older than this are removed when a new one is recorded
//! ```

pub mod update;

use std::path::{Path, PathBuf};

use hvguard_core::policy_file::{self, line_of, PolicyFileError};
use hvguard_core::Severity;
use jiff::civil::Date;
use serde::Deserialize;

use crate::Advisory;
pub use update::{MaintenanceWindow, SlaDays, UpdatePolicy};

pub use hvguard_core::policy_file::{DEFAULT_POLICY_PATH, POLICY_READ_LIMIT};

/// Why a policy file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be opened or read.
    #[error("{}: {cause}", .path.display())]
    Io {
        /// The policy file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// The file exceeds [`POLICY_READ_LIMIT`].
    #[error("{}: larger than the {limit}-byte limit for a policy file", .path.display())]
    TooLarge {
        /// The policy file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// Malformed TOML, or a field of the wrong type or value.
    #[error("{}:{line}: {message}", .path.display())]
    Syntax {
        /// The policy file.
        path: PathBuf,
        /// 1-based line (0 when the parser could not tell).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl From<PolicyFileError> for PolicyError {
    fn from(e: PolicyFileError) -> PolicyError {
        match e {
            PolicyFileError::Io { path, cause } => PolicyError::Io { path, cause },
            PolicyFileError::TooLarge { path, limit } => PolicyError::TooLarge { path, limit },
            PolicyFileError::NotText { path, message } => PolicyError::Syntax {
                path,
                line: 0,
                message: format!("not UTF-8 text: {message}"),
            },
        }
    }
}

/// One accepted advisory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acceptance {
    /// The advisory id or any of its aliases (`CVE-2021-3929`, `GHSA-...`).
    pub id: String,
    /// Why the risk is accepted; shown in the finding.
    pub reason: String,
    /// The last day the acceptance holds.
    pub expires: Date,
    /// Limits the acceptance to one binary path, when set.
    pub binary: Option<PathBuf>,
    /// 1-based line of the entry's `id` in the policy file.
    pub line: usize,
}

/// The accepted risks of one policy file (empty when there is none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// The file the policy came from; `None` for the empty policy.
    pub path: Option<PathBuf>,
    /// The acceptances, in file order.
    pub accept: Vec<Acceptance>,
    /// The `[history]` table.
    pub history: HistoryPolicy,
    /// The `[update]` table (defaults when the file has none).
    pub update: UpdatePolicy,
    /// The `[nfd]` section: when the node is fit for Kata pods.
    pub nfd: NfdPolicy,
}

/// When `hvguard-kata-ready` is `true`, and how long the labels outlive their scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NfdPolicy {
    /// A finding at or above this severity makes the node not ready.
    pub threshold: Severity,
    /// Minutes after the scan at which Node Feature Discovery drops the labels, unless a newer
    /// scan rewrote them.
    pub expiry_minutes: u32,
}

impl NfdPolicy {
    /// Longest label lifetime accepted: a week.
    pub const MAX_EXPIRY_MINUTES: u32 = 7 * 24 * 60;
}

impl Default for NfdPolicy {
    /// `high`, like `--fail-on`; an hour, four times the scan timer's period.
    fn default() -> Self {
        NfdPolicy {
            threshold: Severity::High,
            expiry_minutes: 60,
        }
    }
}

/// How long `scan --record` keeps history (`[history]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryPolicy {
    /// `keep_days`, when set: 1 to 36 500.
    pub keep_days: Option<u32>,
}

/// The longest retention `keep_days` accepts (a century).
pub const MAX_KEEP_DAYS: i64 = 36_500;

/// What the policy says about one (advisory, binary) on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Accepted and not expired: report as `info`.
    Accepted(&'a Acceptance),
    /// Accepted once, but the expiry date has passed: report at full severity, with a note.
    Expired(&'a Acceptance),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    accept: Vec<RawAccept>,
    #[serde(default)]
    update: Option<toml::Spanned<update::RawUpdate>>,
    nfd: Option<RawNfd>,
    history: Option<RawHistory>,
    /// Boot-test defaults: parsed by `hvguard-smoke` from the same file.
    #[serde(default)]
    #[allow(dead_code)]
    smoke: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNfd {
    #[serde(default)]
    threshold: Option<toml::Spanned<String>>,
    #[serde(default)]
    expiry_minutes: Option<toml::Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHistory {
    #[serde(default)]
    keep_days: Option<toml::Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccept {
    id: toml::Spanned<String>,
    reason: toml::Spanned<String>,
    expires: toml::Spanned<String>,
    #[serde(default)]
    binary: Option<PathBuf>,
}

fn parse_nfd(
    raw: RawNfd,
    text: &str,
    syntax: &dyn Fn(usize, String) -> PolicyError,
) -> Result<NfdPolicy, PolicyError> {
    let mut nfd = NfdPolicy::default();
    if let Some(threshold) = raw.threshold {
        let line = line_of(text, threshold.span().start);
        nfd.threshold = threshold
            .get_ref()
            .parse::<Severity>()
            .map_err(|e| syntax(line, format!("[nfd] threshold: {e}")))?;
    }
    if let Some(minutes) = raw.expiry_minutes {
        let line = line_of(text, minutes.span().start);
        nfd.expiry_minutes = u32::try_from(*minutes.get_ref())
            .ok()
            .filter(|m| (1..=NfdPolicy::MAX_EXPIRY_MINUTES).contains(m))
            .ok_or_else(|| {
                syntax(
                    line,
                    format!(
                        "[nfd] expiry_minutes = {} is not between 1 and {}",
                        minutes.get_ref(),
                        NfdPolicy::MAX_EXPIRY_MINUTES
                    ),
                )
            })?;
    }
    Ok(nfd)
}

impl Policy {
    /// Parses policy text; `path` is only used in error messages.
    pub fn parse(path: &Path, text: &str) -> Result<Policy, PolicyError> {
        let syntax = |line: usize, message: String| PolicyError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        };
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            syntax(line, e.message().trim().to_owned())
        })?;
        let mut accept = Vec::with_capacity(raw.accept.len());
        for entry in raw.accept {
            let line = line_of(text, entry.id.span().start);
            let id = entry.id.into_inner().trim().to_owned();
            if id.is_empty() {
                return Err(syntax(line, "`id` is empty".into()));
            }
            let reason_line = line_of(text, entry.reason.span().start);
            let reason = entry.reason.into_inner().trim().to_owned();
            if reason.is_empty() {
                return Err(syntax(
                    reason_line,
                    format!("acceptance of {id} gives no `reason`"),
                ));
            }
            let expires_line = line_of(text, entry.expires.span().start);
            let expires = entry
                .expires
                .get_ref()
                .trim()
                .parse::<Date>()
                .map_err(|e| {
                    syntax(
                        expires_line,
                        format!(
                            "`expires` {:?} is not a YYYY-MM-DD date: {e}",
                            entry.expires.get_ref()
                        ),
                    )
                })?;
            accept.push(Acceptance {
                id,
                reason,
                expires,
                binary: entry.binary,
                line,
            });
        }
        let update = match raw.update {
            Some(table) => {
                let table_line = line_of(text, table.span().start);
                table
                    .into_inner()
                    .validate(text, table_line)
                    .map_err(|(line, message)| syntax(line, message))?
            }
            None => UpdatePolicy::default(),
        };
        let nfd = match raw.nfd {
            Some(raw) => parse_nfd(raw, text, &syntax)?,
            None => NfdPolicy::default(),
        };
        let mut history = HistoryPolicy::default();
        if let Some(keep) = raw.history.and_then(|h| h.keep_days) {
            let line = line_of(text, keep.span().start);
            let days = *keep.get_ref();
            if !(1..=MAX_KEEP_DAYS).contains(&days) {
                return Err(syntax(
                    line,
                    format!("[history] keep_days = {days} is out of range (1 to {MAX_KEEP_DAYS})"),
                ));
            }
            history.keep_days = u32::try_from(days).ok();
        }
        Ok(Policy {
            path: Some(path.to_path_buf()),
            accept,
            update,
            nfd,
            history,
        })
    }

    /// Loads a policy named explicitly (`--policy FILE`): a missing file is an error.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = policy_file::read_policy_text(path).map_err(PolicyError::from)?;
        Policy::parse(path, &text)
    }

    /// Loads the policy at a default location: no file there means no acceptances.
    pub fn load_default_at(path: &Path) -> Result<Policy, PolicyError> {
        match Policy::load(path) {
            Err(PolicyError::Io { cause, .. }) if cause.kind() == std::io::ErrorKind::NotFound => {
                Ok(Policy::default())
            }
            other => other,
        }
    }

    /// `Policy::load(explicit)` when given, else [`DEFAULT_POLICY_PATH`] if it exists.
    pub fn resolve(explicit: Option<&Path>) -> Result<Policy, PolicyError> {
        match explicit {
            Some(p) => Policy::load(p),
            None => Policy::load_default_at(Path::new(DEFAULT_POLICY_PATH)),
        }
    }

    /// What the policy says about `advisory` on `binary` on day `today`. An entry limited to
    /// another binary does not apply; a current acceptance wins over an expired one.
    pub fn verdict(&self, advisory: &Advisory, binary: &Path, today: Date) -> Option<Verdict<'_>> {
        let mut expired = None;
        for entry in self.accept.iter().filter(|a| {
            advisory.is_known_as(&a.id) && a.binary.as_deref().is_none_or(|b| b == binary)
        }) {
            if today <= entry.expires {
                return Some(Verdict::Accepted(entry));
            }
            expired.get_or_insert(entry);
        }
        expired.map(Verdict::Expired)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    const GOOD: &str = r#"
# accepted risks
[[accept]]
id = "CVE-2021-3929"
reason = "NVMe is never attached"
expires = "2027-01-31"

[[accept]]
id = "CVE-2020-14364"
reason = "only on the lab host"
expires = "2026-01-01"
binary = "/opt/kata/bin/qemu-system-x86_64"
"#;

    #[test]
    fn parses_entries_with_lines() {
        let p = Policy::parse(Path::new("/etc/hvguard/policy.toml"), GOOD).unwrap();
        assert_eq!(p.accept.len(), 2);
        assert_eq!(p.accept[0].id, "CVE-2021-3929");
        assert_eq!(p.accept[0].line, 4);
        assert_eq!(p.accept[0].expires, day("2027-01-31"));
        assert_eq!(p.accept[1].line, 9);
        assert_eq!(
            p.accept[1].binary.as_deref(),
            Some(Path::new("/opt/kata/bin/qemu-system-x86_64"))
        );
    }

    #[test]
    fn verdicts_follow_the_date_and_binary() {
        let p = Policy::parse(Path::new("p.toml"), GOOD).unwrap();
        let adv = Advisory::new("CVE-2021-3929");
        let bin = Path::new("/usr/bin/qemu-system-x86_64");
        assert!(matches!(
            p.verdict(&adv, bin, day("2027-01-31")),
            Some(Verdict::Accepted(_))
        ));
        assert!(matches!(
            p.verdict(&adv, bin, day("2027-02-01")),
            Some(Verdict::Expired(_))
        ));
        let scoped = Advisory::new("CVE-2020-14364");
        assert_eq!(p.verdict(&scoped, bin, day("2025-01-01")), None);
        assert!(matches!(
            p.verdict(
                &scoped,
                Path::new("/opt/kata/bin/qemu-system-x86_64"),
                day("2025-01-01")
            ),
            Some(Verdict::Accepted(_))
        ));
        let mut aliased = Advisory::new("GHSA-xxxx");
        aliased.aliases = vec!["CVE-2021-3929".into()];
        assert!(p.verdict(&aliased, bin, day("2026-01-01")).is_some());
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let path = Path::new("/etc/hvguard/policy.toml");
        let bad_date = "[[accept]]\nid = \"CVE-1\"\nreason = \"r\"\nexpires = \"31/01/2027\"\n";
        let e = Policy::parse(path, bad_date).unwrap_err().to_string();
        assert!(e.starts_with("/etc/hvguard/policy.toml:4:"), "{e}");
        let missing = "[[accept]]\nid = \"CVE-1\"\nexpires = \"2027-01-31\"\n";
        let e = Policy::parse(path, missing).unwrap_err().to_string();
        assert!(e.contains("reason"), "{e}");
        let broken = "[[accept]]\nid = \"CVE-1\nreason = \"r\"\n";
        let e = Policy::parse(path, broken).unwrap_err().to_string();
        assert!(e.starts_with("/etc/hvguard/policy.toml:2:"), "{e}");
        let unknown =
            "[[accept]]\nid = \"CVE-1\"\nreason = \"r\"\nexpires = \"2027-01-31\"\nuntil = 3\n";
        let e = Policy::parse(path, unknown).unwrap_err().to_string();
        assert!(e.contains("until"), "{e}");
        let empty_reason = "[[accept]]\nid = \"CVE-1\"\nreason = \" \"\nexpires = \"2027-01-31\"\n";
        let e = Policy::parse(path, empty_reason).unwrap_err().to_string();
        assert!(e.starts_with("/etc/hvguard/policy.toml:3:"), "{e}");
    }

    #[test]
    fn nfd_section_sets_threshold_and_expiry() {
        let path = Path::new("/etc/hvguard/policy.toml");
        let p = Policy::parse(path, GOOD).unwrap();
        assert_eq!(p.nfd, NfdPolicy::default());
        assert_eq!(p.nfd.threshold, Severity::High);
        let set = "[nfd]\nthreshold = \"Critical\"\nexpiry_minutes = 30\n";
        let p = Policy::parse(path, set).unwrap();
        assert_eq!(p.nfd.threshold, Severity::Critical);
        assert_eq!(p.nfd.expiry_minutes, 30);
        let partial = "[nfd]\nexpiry_minutes = 90\n";
        let p = Policy::parse(path, partial).unwrap();
        assert_eq!(p.nfd.threshold, Severity::High);
        assert_eq!(p.nfd.expiry_minutes, 90);
    }

    #[test]
    fn nfd_errors_name_the_line() {
        let path = Path::new("/etc/hvguard/policy.toml");
        let bad_severity = "[nfd]\n\nthreshold = \"severe\"\n";
        let e = Policy::parse(path, bad_severity).unwrap_err().to_string();
        assert!(
            e.starts_with("/etc/hvguard/policy.toml:3: [nfd] threshold"),
            "{e}"
        );
        for minutes in ["0", "-5", "10081", "99999999999"] {
            let text = format!("[nfd]\nexpiry_minutes = {minutes}\n");
            let e = Policy::parse(path, &text).unwrap_err().to_string();
            assert!(
                e.starts_with("/etc/hvguard/policy.toml:2: [nfd] expiry_minutes"),
                "{e}"
            );
        }
        let unknown = "[nfd]\nthreshhold = \"high\"\n";
        let e = Policy::parse(path, unknown).unwrap_err().to_string();
        assert!(e.contains("threshhold"), "{e}");
        let wrong_type = "[nfd]\nexpiry_minutes = \"60\"\n";
        assert!(Policy::parse(path, wrong_type).is_err());
    }

    #[test]
    fn history_retention_is_read_with_its_line() {
        let path = Path::new("/etc/hvguard/policy.toml");
        let text = format!("{GOOD}\n[history]\nkeep_days = 30\n");
        let p = Policy::parse(path, &text).unwrap();
        assert_eq!(p.history.keep_days, Some(30));
        assert_eq!(p.accept.len(), 2);
        assert_eq!(Policy::parse(path, GOOD).unwrap().history.keep_days, None);
        let e = Policy::parse(path, "\n[history]\nkeep_days = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/etc/hvguard/policy.toml:3:"), "{e}");
        let e = Policy::parse(path, "[history]\nkeep_days = \"30d\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/etc/hvguard/policy.toml:2:"), "{e}");
        let e = Policy::parse(path, "[history]\nkeep = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("keep"), "{e}");
    }

    #[test]
    fn other_tables_of_the_policy_file_are_left_to_their_parsers() {
        let path = Path::new("/etc/hvguard/policy.toml");
        let with_smoke = format!("{GOOD}\n[smoke]\nkernel = \"/boot/vmlinuz\"\nruns = 3\n");
        assert_eq!(Policy::parse(path, &with_smoke).unwrap().accept.len(), 2);
        let typo = "[smok]\nruns = 3\n";
        let e = Policy::parse(path, typo).unwrap_err().to_string();
        assert!(e.starts_with("/etc/hvguard/policy.toml:1:"), "{e}");
        assert!(e.contains("smok"), "{e}");
    }

    #[test]
    fn missing_default_is_empty_but_missing_explicit_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("policy.toml");
        assert_eq!(
            Policy::load_default_at(&missing).unwrap(),
            Policy::default()
        );
        let e = Policy::resolve(Some(&missing)).unwrap_err();
        assert!(matches!(e, PolicyError::Io { .. }));
        assert!(e.to_string().contains("policy.toml"), "{e}");
        std::fs::write(&missing, GOOD).unwrap();
        assert_eq!(Policy::load(&missing).unwrap().accept.len(), 2);
        std::fs::write(&missing, vec![b'#'; (POLICY_READ_LIMIT + 1) as usize]).unwrap();
        assert!(matches!(
            Policy::load_default_at(&missing),
            Err(PolicyError::TooLarge { .. })
        ));
    }
}
