//! `Probe<T>`: the outcome of reading one fact. An unreadable fact is *unknown*, never a pass.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Probe<T> {
    /// The fact was read.
    Found { value: T },
    /// The file or interface that would hold the fact does not exist.
    Absent { path: PathBuf },
    /// The fact exists but we may not read it.
    Denied { path: PathBuf },
    /// The fact could not be established: malformed content, not a file, not applicable here.
    Unsupported { reason: String },
}

/// What a snapshot written before a fact existed says about it: nothing, so it is unknown.
/// (Serde fills missing fields with this; see `Snapshot`.)
impl<T> Default for Probe<T> {
    fn default() -> Self {
        Probe::unsupported("not recorded in this snapshot (written by an older hvguard)")
    }
}

impl<T> Probe<T> {
    pub fn found(value: T) -> Self {
        Probe::Found { value }
    }

    pub fn absent(path: impl Into<PathBuf>) -> Self {
        Probe::Absent { path: path.into() }
    }

    pub fn denied(path: impl Into<PathBuf>) -> Self {
        Probe::Denied { path: path.into() }
    }

    pub fn unsupported(reason: impl Into<String>) -> Self {
        Probe::Unsupported {
            reason: reason.into(),
        }
    }

    pub fn value(&self) -> Option<&T> {
        match self {
            Probe::Found { value } => Some(value),
            _ => None,
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Probe::Absent { .. })
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Probe<U> {
        match self {
            Probe::Found { value } => Probe::Found { value: f(value) },
            Probe::Absent { path } => Probe::Absent { path },
            Probe::Denied { path } => Probe::Denied { path },
            Probe::Unsupported { reason } => Probe::Unsupported { reason },
        }
    }

    pub fn and_then<U>(self, f: impl FnOnce(T) -> Probe<U>) -> Probe<U> {
        match self {
            Probe::Found { value } => f(value),
            Probe::Absent { path } => Probe::Absent { path },
            Probe::Denied { path } => Probe::Denied { path },
            Probe::Unsupported { reason } => Probe::Unsupported { reason },
        }
    }

    pub fn as_ref(&self) -> Probe<&T> {
        match self {
            Probe::Found { value } => Probe::Found { value },
            Probe::Absent { path } => Probe::Absent { path: path.clone() },
            Probe::Denied { path } => Probe::Denied { path: path.clone() },
            Probe::Unsupported { reason } => Probe::Unsupported {
                reason: reason.clone(),
            },
        }
    }

    /// Why this fact is unknown, phrased for the report's `unknown` list; `None` when found.
    pub fn unknown_reason(&self) -> Option<String> {
        match self {
            Probe::Found { .. } => None,
            Probe::Absent { path } => Some(format!("{} does not exist", show(path))),
            Probe::Denied { path } => Some(format!("permission denied reading {}", show(path))),
            Probe::Unsupported { reason } => Some(reason.clone()),
        }
    }
}

fn show(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_reasons_name_the_path() {
        let p: Probe<u8> = Probe::absent("/dev/kvm");
        assert_eq!(p.unknown_reason().unwrap(), "/dev/kvm does not exist");
        let d: Probe<u8> = Probe::denied("/proc/x");
        assert!(d.unknown_reason().unwrap().contains("/proc/x"));
        assert_eq!(Probe::found(3u8).unknown_reason(), None);
        assert_eq!(Probe::found(2u8).map(|v| v * 2).value(), Some(&4));
    }

    #[test]
    fn serialises_with_a_status_tag() {
        let json = serde_json::to_string(&Probe::found(1u8)).unwrap();
        assert_eq!(json, r#"{"status":"found","value":1}"#);
        let back: Probe<u8> = serde_json::from_str(r#"{"status":"absent","path":"/x"}"#).unwrap();
        assert!(back.is_absent());
    }
}
