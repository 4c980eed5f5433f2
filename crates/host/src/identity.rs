//! Which host a root is: its machine-id (`/etc/machine-id`, else D-Bus's copy), else its
//! host name. `advisories --new` and `--notify` key what they remember by it, so that
//! several hosts can share one advisory store and each sees its own new advisories.

use std::fmt;

use hvguard_core::{HostRoot, Probe};

use crate::probe_io::parse_text;

/// systemd's machine-id, and the D-Bus copy older or minimal systems keep instead.
pub const MACHINE_ID_PATHS: [&str; 2] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];

/// A machine-id file is 33 bytes; anything much longer is not one.
const MACHINE_ID_LIMIT: u64 = 4096;

/// A machine-id: 128 bits as 32 lowercase hexadecimal characters (machine-id(5)).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MachineId(String);

impl MachineId {
    /// The 32 hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MachineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a machine-id file does not name a machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MachineIdError {
    /// Empty, or `uninitialized`: an image prepared for first boot (machine-id(5)).
    #[error("not initialised (empty or `uninitialized`): an image before its first boot")]
    NotInitialised,
    /// Anything else that is not 32 hex characters on one line.
    #[error("not 32 hexadecimal characters on one line")]
    Malformed,
    /// All zeros, which systemd never generates.
    #[error("all zeros")]
    Null,
}

/// Parses the contents of a machine-id file: one line of 32 hex characters (either case;
/// kept lowercase), surrounding white space allowed.
pub fn parse_machine_id(text: &str) -> Result<MachineId, MachineIdError> {
    let id = text.trim();
    if id.is_empty() || id == "uninitialized" {
        return Err(MachineIdError::NotInitialised);
    }
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(MachineIdError::Malformed);
    }
    if id.bytes().all(|b| b == b'0') {
        return Err(MachineIdError::Null);
    }
    Ok(MachineId(id.to_ascii_lowercase()))
}

/// The machine-id under `root`: the first of [`MACHINE_ID_PATHS`] that exists decides.
pub fn probe_machine_id(root: &HostRoot) -> Probe<MachineId> {
    let mut first = None;
    for path in MACHINE_ID_PATHS {
        match parse_text(root, path, MACHINE_ID_LIMIT, parse_machine_id) {
            Probe::Absent { .. } if first.is_none() => {
                first = Some(Probe::absent(path));
            }
            Probe::Absent { .. } => {}
            other => return other,
        }
    }
    first.unwrap_or_else(|| Probe::absent(MACHINE_ID_PATHS[0]))
}

/// Who a host is, for state kept across runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum HostIdentity {
    /// From the machine-id.
    MachineId(MachineId),
    /// No usable machine-id: the host name.
    Hostname(String),
    /// Neither could be read.
    Unknown,
}

impl HostIdentity {
    /// The machine-id under `root` when it has a valid one, else `hostname` (as the
    /// Snapshot read it) when known and not empty, else unknown.
    pub fn of(root: &HostRoot, hostname: &Probe<String>) -> HostIdentity {
        if let Probe::Found { value } = probe_machine_id(root) {
            return HostIdentity::MachineId(value);
        }
        match hostname.value().map(|h| h.trim()) {
            Some(name) if !name.is_empty() => HostIdentity::Hostname(name.to_owned()),
            _ => HostIdentity::Unknown,
        }
    }
}

impl fmt::Display for HostIdentity {
    /// `machine-id:<id>`, `hostname:<name>` or `unknown`: the key stored in the state table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostIdentity::MachineId(id) => write!(f, "machine-id:{id}"),
            HostIdentity::Hostname(name) => write!(f, "hostname:{name}"),
            HostIdentity::Unknown => f.write_str("unknown"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn machine_ids_as_systemd_writes_them() {
        let id = parse_machine_id("4F2C5A0E9D8B4C7A9E1F0B2D3C4A5E6F\n").unwrap();
        assert_eq!(id.as_str(), "4f2c5a0e9d8b4c7a9e1f0b2d3c4a5e6f");
        assert_eq!(parse_machine_id(""), Err(MachineIdError::NotInitialised));
        assert_eq!(
            parse_machine_id("uninitialized\n"),
            Err(MachineIdError::NotInitialised)
        );
        assert_eq!(
            parse_machine_id("00000000000000000000000000000000"),
            Err(MachineIdError::Null)
        );
        for bad in [
            "4f2c5a0e9d8b4c7a9e1f0b2d3c4a5e6",
            "4f2c5a0e9d8b4c7a9e1f0b2d3c4a5e6fa",
            "4f2c5a0e-9d8b-4c7a-9e1f-0b2d3c4a5e6f",
            "4f2c5a0e9d8b4c7a\n9e1f0b2d3c4a5e6f",
            "4f2c5a0e9d8b4c7a9e1f0b2d3c4a5e6g",
            "ｆ２c5a0e9d8b4c7a9e1f0b2d3c4a5e6f",
        ] {
            assert_eq!(
                parse_machine_id(bad),
                Err(MachineIdError::Malformed),
                "{bad:?}"
            );
        }
    }

    fn root_with(files: &[(&str, &str)]) -> (tempfile::TempDir, HostRoot) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let file = dir.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        let root = HostRoot::new(dir.path()).unwrap();
        (dir, root)
    }

    #[test]
    fn identity_prefers_the_machine_id_then_the_host_name() {
        let name = Probe::found("node-1".to_string());
        let (_d, root) = root_with(&[("etc/machine-id", "4f2c5a0e9d8b4c7a9e1f0b2d3c4a5e6f\n")]);
        assert_eq!(
            HostIdentity::of(&root, &name).to_string(),
            "machine-id:4f2c5a0e9d8b4c7a9e1f0b2d3c4a5e6f"
        );
        // The D-Bus copy stands in when systemd's file is absent.
        let (_d, root) = root_with(&[(
            "var/lib/dbus/machine-id",
            "0123456789abcdef0123456789abcdef\n",
        )]);
        assert_eq!(
            HostIdentity::of(&root, &name).to_string(),
            "machine-id:0123456789abcdef0123456789abcdef"
        );
        // An image before first boot has an empty machine-id: the host name decides.
        let (_d, root) = root_with(&[("etc/machine-id", "")]);
        assert_eq!(
            HostIdentity::of(&root, &name).to_string(),
            "hostname:node-1"
        );
        let (_d, root) = root_with(&[]);
        assert_eq!(
            HostIdentity::of(&root, &Probe::absent("/proc/sys/kernel/hostname")).to_string(),
            "unknown"
        );
    }
}
