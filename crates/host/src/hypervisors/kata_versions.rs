//! The static Kata install (`/opt/kata/VERSION`) and which hypervisor versions each Kata
//! release bundles (`data/kata-versions.csv`, from the releases' `versions.yaml`).

use hvguard_core::{HostRoot, HypervisorKind, KataInstall, Probe};
use std::collections::BTreeMap;

/// Where kata-deploy and the static tarball put Kata.
pub const KATA_PREFIX: &str = "/opt/kata";
const VERSION_FILE: &str = "/opt/kata/VERSION";
const VERSIONS_YAML: &str = "/opt/kata/versions.yaml";

const TABLE: &str = include_str!("../../data/kata-versions.csv");

/// A malformed release table.
#[derive(Debug, thiserror::Error)]
#[error("kata-versions.csv: line {line}: {reason}")]
pub struct TableError {
    pub line: usize,
    pub reason: String,
}

/// What one Kata release bundles; `None` where it bundles nothing of that kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KataBundle {
    pub qemu: Option<String>,
    pub firecracker: Option<String>,
    pub cloud_hypervisor: Option<String>,
    pub stratovirt: Option<String>,
    pub guest_kernel: Option<String>,
    pub date: String,
}

impl KataBundle {
    /// The bundled version of a hypervisor kind, as written in `versions.yaml` (`v10.0.3`).
    ///
    /// The jailer ships in the Firecracker release archive, so it shares its version. Kata
    /// builds virtiofsd from its own pin, not recorded in this table.
    pub fn version_of(&self, kind: HypervisorKind) -> Option<&str> {
        match kind {
            HypervisorKind::Qemu => self.qemu.as_deref(),
            HypervisorKind::Firecracker | HypervisorKind::Jailer => self.firecracker.as_deref(),
            HypervisorKind::CloudHypervisor => self.cloud_hypervisor.as_deref(),
            HypervisorKind::StratoVirt => self.stratovirt.as_deref(),
            // Kata 2.x shipped QEMU's C virtiofsd, built from the bundled QEMU.
            HypervisorKind::QemuVirtiofsd => self.qemu.as_deref(),
            HypervisorKind::Dragonball
            | HypervisorKind::Virtiofsd
            | HypervisorKind::QemuImg
            | HypervisorKind::QemuNbd
            | HypervisorKind::QemuStorageDaemon
            | HypervisorKind::QemuGuestAgent
            | HypervisorKind::QemuBridgeHelper => None,
        }
    }
}

/// Kata release -> bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KataVersions {
    pub releases: BTreeMap<String, KataBundle>,
}

impl KataVersions {
    /// The table compiled into hvguard.
    pub fn bundled() -> Result<Self, TableError> {
        Self::parse(TABLE)
    }

    /// Parses the CSV: a `kata,qemu,firecracker,cloud_hypervisor,stratovirt,guest_kernel,date`
    /// header, one release per line, `#` comment lines.
    pub fn parse(text: &str) -> Result<Self, TableError> {
        const HEADER: [&str; 7] = [
            "kata",
            "qemu",
            "firecracker",
            "cloud_hypervisor",
            "stratovirt",
            "guest_kernel",
            "date",
        ];
        let mut releases = BTreeMap::new();
        let mut header_seen = false;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: String| TableError {
                line: i + 1,
                reason,
            };
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            if !header_seen {
                if cells != HEADER {
                    return Err(err(format!("expected header {}", HEADER.join(","))));
                }
                header_seen = true;
                continue;
            }
            let [kata, qemu, fc, clh, sv, kernel, date] = cells[..] else {
                return Err(err(format!("expected 7 cells, found {}", cells.len())));
            };
            if !looks_like_version(kata) {
                return Err(err(format!("{kata:?} is not a Kata release")));
            }
            let cell = |s: &str| (!s.is_empty()).then(|| s.to_string());
            let bundle = KataBundle {
                qemu: cell(qemu),
                firecracker: cell(fc),
                cloud_hypervisor: cell(clh),
                stratovirt: cell(sv),
                guest_kernel: cell(kernel),
                date: date.to_string(),
            };
            if releases.insert(kata.to_string(), bundle).is_some() {
                return Err(err(format!("release {kata} listed twice")));
            }
        }
        if !header_seen {
            return Err(TableError {
                line: 1,
                reason: "empty table".into(),
            });
        }
        Ok(KataVersions { releases })
    }

    /// The upstream version of `kind` that `release` bundles (`v10.0.3` => `10.0.3`), when the
    /// table has one and it is a release number (early releases pinned Cloud Hypervisor to a
    /// commit, which names no version).
    pub fn bundled_version(&self, release: &str, kind: HypervisorKind) -> Option<&str> {
        let raw = self.releases.get(release)?.version_of(kind)?;
        let v = raw.strip_prefix('v').unwrap_or(raw);
        looks_like_version(v).then_some(v)
    }
}

fn looks_like_version(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && s.contains('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'~'))
}

/// The static Kata install under `root`: the release in `/opt/kata/VERSION`.
pub fn read_install(root: &HostRoot) -> Probe<KataInstall> {
    match root.read_small(VERSION_FILE) {
        Ok(text) => {
            let version = text.lines().next().unwrap_or("").trim();
            let version = version.strip_prefix('v').unwrap_or(version);
            if looks_like_version(version) {
                Probe::found(KataInstall {
                    version: version.to_string(),
                    path: VERSION_FILE.into(),
                })
            } else {
                Probe::unsupported(format!(
                    "{VERSION_FILE}: {:?} is not a Kata release number",
                    text.chars().take(40).collect::<String>()
                ))
            }
        }
        Err(e) if e.is_not_found() && root.exists(VERSIONS_YAML) => Probe::unsupported(format!(
            "{VERSIONS_YAML} exists but {VERSION_FILE} does not: the Kata release is unknown"
        )),
        Err(e) => crate::packages::dpkg::probe_from_root_error(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn bundled_table_parses_and_knows_3_20() {
        let t = KataVersions::bundled().unwrap();
        assert!(t.releases.len() >= 60);
        assert_eq!(
            t.bundled_version("3.20.0", HypervisorKind::Qemu),
            Some("10.0.3")
        );
        assert_eq!(
            t.bundled_version("3.20.0", HypervisorKind::Jailer),
            Some("1.12.1")
        );
        assert_eq!(
            t.bundled_version("3.20.0", HypervisorKind::CloudHypervisor),
            Some("47.0")
        );
        assert_eq!(t.bundled_version("3.20.0", HypervisorKind::Virtiofsd), None);
        assert_eq!(
            t.bundled_version("2.0.0", HypervisorKind::CloudHypervisor),
            None
        );
        assert_eq!(t.bundled_version("3.2.0", HypervisorKind::StratoVirt), None);
        assert_eq!(t.bundled_version("9.9.9", HypervisorKind::Qemu), None);
    }

    #[test]
    fn malformed_tables_name_the_line() {
        let e = KataVersions::parse("kata,qemu\n").unwrap_err();
        assert_eq!(e.line, 1);
        let head = "kata,qemu,firecracker,cloud_hypervisor,stratovirt,guest_kernel,date\n";
        let e = KataVersions::parse(&format!("{head}3.0.0,v1,v2\n")).unwrap_err();
        assert_eq!(e.line, 2);
        let e = KataVersions::parse(&format!("{head}x,,,,,,\n")).unwrap_err();
        assert!(e.to_string().contains("not a Kata release"), "{e}");
        let e = KataVersions::parse(&format!("{head}1.0,,,,,,\n1.0,,,,,,\n")).unwrap_err();
        assert_eq!(e.line, 3);
    }

    #[test]
    fn install_probe() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        assert!(read_install(&root).is_absent());
        std::fs::create_dir_all(dir.path().join("opt/kata")).unwrap();
        std::fs::write(dir.path().join("opt/kata/versions.yaml"), "---\n").unwrap();
        assert!(read_install(&root)
            .unknown_reason()
            .unwrap()
            .contains("VERSION does not"));
        std::fs::write(dir.path().join("opt/kata/VERSION"), "garbage!\n").unwrap();
        assert!(read_install(&root)
            .unknown_reason()
            .unwrap()
            .contains("garbage"));
        std::fs::write(dir.path().join("opt/kata/VERSION"), "3.20.0\n").unwrap();
        assert_eq!(read_install(&root).value().unwrap().version, "3.20.0");
    }
}
