//! Rule identifiers: `<area>.<kebab-slug>`, stable forever.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The areas a rule id may start with (DESIGN.md §4, plus `hypervisor` for the process and
/// binary-integrity rules of RULES.md).
pub const AREAS: [&str; 10] = [
    "host",
    "kata",
    "qemu",
    "firecracker",
    "clh",
    "dragonball",
    "containerd",
    "advisory",
    "update",
    "hypervisor",
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RuleId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleIdError {
    #[error("rule id `{0}` is not of the form <area>.<kebab-slug>")]
    Shape(String),
    #[error("rule id `{0}` has an unknown area (expected one of host, kata, qemu, firecracker, clh, dragonball, containerd, advisory, update, hypervisor)")]
    Area(String),
}

impl RuleId {
    pub fn new(id: &str) -> Result<Self, RuleIdError> {
        let (area, slug) = id
            .split_once('.')
            .ok_or_else(|| RuleIdError::Shape(id.to_string()))?;
        if !AREAS.contains(&area) {
            return Err(RuleIdError::Area(id.to_string()));
        }
        let kebab = !slug.is_empty()
            && !slug.starts_with('-')
            && !slug.ends_with('-')
            && !slug.contains("--")
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !kebab {
            return Err(RuleIdError::Shape(id.to_string()));
        }
        Ok(RuleId(id.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn area(&self) -> &str {
        self.0.split_once('.').map(|(a, _)| a).unwrap_or("")
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RuleId {
    type Err = RuleIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RuleId::new(s)
    }
}

impl TryFrom<String> for RuleId {
    type Error = RuleIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RuleId::new(&s)
    }
}

impl From<RuleId> for String {
    fn from(id: RuleId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_catalogue_shapes() {
        for ok in [
            "host.kvm-unavailable",
            "qemu.seccomp-sandbox-off",
            "advisory.vulnerable",
            "hypervisor.stale-process",
        ] {
            let id = RuleId::new(ok).unwrap();
            assert_eq!(id.as_str(), ok);
        }
        assert_eq!(RuleId::new("kata.debug-enabled").unwrap().area(), "kata");
    }

    #[test]
    fn rejects_bad_shapes() {
        for bad in [
            "",
            "host",
            "host.",
            "host.Kvm",
            "host.kvm_x",
            "nope.x",
            "host.-a",
            "host.a--b",
        ] {
            assert!(RuleId::new(bad).is_err(), "{bad}");
        }
    }
}
