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

use hvguard_core::operator_file::read_regular;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use serde::Deserialize;

use crate::Advisory;

/// Where hvguard looks for a policy when `--policy` is not given.
pub const DEFAULT_POLICY_PATH: &str = "/etc/hvguard/policy.toml";

/// A policy file larger than this is not a hand-written list of acceptances.
pub const POLICY_READ_LIMIT: u64 = 1 << 20;

/// Why a policy file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be opened or read.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The policy file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
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
}

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

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
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
        Ok(Policy {
            path: Some(path.to_path_buf()),
            accept,
        })
    }

    /// Loads a policy named explicitly (`--policy FILE`): a missing file is an error.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let io = |source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        };
        // Regular files only: a FIFO named by --policy would hang the scan.
        let bytes = match read_regular(path, POLICY_READ_LIMIT) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                return Err(PolicyError::TooLarge {
                    path: path.to_path_buf(),
                    limit: POLICY_READ_LIMIT,
                })
            }
            Err(e) => return Err(io(e)),
        };
        let text = String::from_utf8(bytes).map_err(|e| PolicyError::Syntax {
            path: path.to_path_buf(),
            line: 0,
            message: format!("not UTF-8 text: {e}"),
        })?;
        Policy::parse(path, &text)
    }

    /// Loads the policy at a default location: no file there means no acceptances.
    pub fn load_default_at(path: &Path) -> Result<Policy, PolicyError> {
        match Policy::load(path) {
            Err(PolicyError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
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
