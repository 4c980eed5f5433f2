//! RPM: the installed-package list from `rpm -qa` on the live host.
//!
//! The rpmdb (SQLite, Berkeley DB or NDB depending on the distribution) is not read directly;
//! on the live root the system's own `/usr/bin/rpm` answers, and under `--root` nothing under
//! the root is ever executed, so packages are reported as unsupported there.

use super::exec::{run_bounded, ExecError};
use super::PackageError;
use hvguard_core::{HostRoot, Package, PackageManager, PackageRef, Probe};
use std::path::Path;
use std::time::Duration;

/// Where RPM keeps its database, as the host sees it.
pub const DB_DIR: &str = "/var/lib/rpm";

/// The system's rpm tool: an absolute path so that `PATH` cannot substitute another program.
const RPM: &str = "/usr/bin/rpm";

/// The exact query format [`parse_rpm_qa`] reads: one package per line, tab-separated
/// `NAME`, `EPOCHNUM:VERSION-RELEASE` (`EPOCHNUM` is 0 when the package has no epoch),
/// `ARCH` and `SOURCERPM` (the source package file name, `(none)` for pseudo-packages such as
/// `gpg-pubkey`).
pub const QA_QUERY_FORMAT: &str =
    "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n";

/// `rpm -qa` lists every package in well under a second; anything slower is stuck.
const QA_TIMEOUT: Duration = Duration::from_secs(5);
const QF_TIMEOUT: Duration = Duration::from_secs(3);
/// A large RHEL host has ~3000 packages of ~100 bytes each.
const QA_OUTPUT_LIMIT: u64 = 16 << 20;

/// The installed packages of an RPM host.
pub fn read_installed(root: &HostRoot) -> Probe<Vec<Package>> {
    if !root.is_live() {
        return Probe::unsupported("rpm database under --root is not read yet");
    }
    // rpm expands the `\t` and `\n` escapes of a query format itself.
    let args = ["-qa", "--qf", QA_QUERY_FORMAT];
    match run_bounded(Path::new(RPM), &args, QA_TIMEOUT, QA_OUTPUT_LIMIT) {
        Ok(out) => match parse_rpm_qa(&out) {
            Ok(packages) => Probe::found(packages),
            Err(e) => Probe::unsupported(e.to_string()),
        },
        Err(ExecError::Spawn { cause, .. }) if cause.kind() == std::io::ErrorKind::NotFound => {
            Probe::unsupported(format!("{DB_DIR} exists but {RPM} is not installed"))
        }
        Err(e) => Probe::unsupported(e.to_string()),
    }
}

/// Parses output of `rpm -qa --qf` with [`QA_QUERY_FORMAT`]. Returns the packages, sorted.
///
/// The package version keeps a non-zero epoch (`2:8.2.0-11.el9_4`) and drops a zero one, as
/// `rpm -q` prints it. The source name and version come from the source RPM's file name
/// (`qemu-kvm-8.2.0-11.el9_4.src.rpm` => `qemu-kvm`, `8.2.0-11.el9_4`), with the binary's epoch,
/// which a source package always shares.
pub fn parse_rpm_qa(text: &str) -> Result<Vec<Package>, PackageError> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let err = |reason: String| PackageError::Parse {
            path: "rpm -qa output".into(),
            line: index + 1,
            reason,
        };
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, evr, arch, source_rpm] = fields[..] else {
            return Err(err(format!(
                "expected 4 tab-separated fields, found {}",
                fields.len()
            )));
        };
        let (epoch, vr) = evr
            .split_once(':')
            .ok_or_else(|| err(format!("version {evr:?} lacks the EPOCHNUM: prefix")))?;
        if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(format!("epoch {epoch:?} is not a number")));
        }
        if name.is_empty() || vr.is_empty() {
            return Err(err("empty name or version".into()));
        }
        let with_epoch = |v: &str| {
            if epoch == "0" {
                v.to_string()
            } else {
                format!("{epoch}:{v}")
            }
        };
        let version = with_epoch(vr);
        let (source_name, source_version) = match split_source_rpm(source_rpm) {
            Some((n, v)) => (n.to_string(), with_epoch(v)),
            None => (name.to_string(), version.clone()),
        };
        out.push(Package {
            manager: PackageManager::Rpm,
            name: name.to_string(),
            version,
            source_name,
            source_version,
            arch: arch.to_string(),
        });
    }
    out.sort();
    Ok(out)
}

/// `qemu-kvm-8.2.0-11.el9_4.src.rpm` => (`qemu-kvm`, `8.2.0-11.el9_4`): the last two dashes
/// separate version and release (neither may contain a dash), the rest is the name.
pub fn split_source_rpm(file: &str) -> Option<(&str, &str)> {
    let stem = file
        .strip_suffix(".src.rpm")
        .or_else(|| file.strip_suffix(".nosrc.rpm"))?;
    let release_dash = stem.rfind('-')?;
    let version_dash = stem[..release_dash].rfind('-')?;
    let name = &stem[..version_dash];
    let vr = &stem[version_dash + 1..];
    (!name.is_empty() && release_dash > version_dash + 1 && release_dash + 1 < stem.len())
        .then_some((name, vr))
}

/// The package owning `binary`, asked of the live host's rpm; `None` elsewhere.
pub fn owner_of(root: &HostRoot, packages: &[Package], binary: &Path) -> Option<PackageRef> {
    if !root.is_live() {
        return None;
    }
    let path = binary.to_str()?;
    let out = run_bounded(
        Path::new(RPM),
        &["-qf", "--qf", "%{NAME}\\n", "--", path],
        QF_TIMEOUT,
        1 << 16,
    )
    .ok()?;
    let name = out.lines().next()?.trim();
    packages
        .iter()
        .find(|p| p.manager == PackageManager::Rpm && p.name == name)
        .map(PackageRef::from)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn source_rpm_names() {
        assert_eq!(
            split_source_rpm("qemu-kvm-8.2.0-11.el9_4.src.rpm"),
            Some(("qemu-kvm", "8.2.0-11.el9_4"))
        );
        assert_eq!(split_source_rpm("(none)"), None);
        assert_eq!(split_source_rpm("a-1.src.rpm"), None);
        assert_eq!(split_source_rpm("-1-2.src.rpm"), None);
    }

    #[test]
    fn non_live_root_is_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        let probe = read_installed(&root);
        assert_eq!(
            probe.unknown_reason().unwrap(),
            "rpm database under --root is not read yet"
        );
        assert_eq!(
            owner_of(&root, &[], Path::new("/usr/libexec/qemu-kvm")),
            None
        );
    }
}
