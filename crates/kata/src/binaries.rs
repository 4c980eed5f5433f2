//! Host binaries a configuration makes Kata execute, for the hypervisor inventory.

use hvguard_core::{HypervisorKind, KataConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Keys, in a `[hypervisor.*]` section, that name a binary Kata starts on the host.
pub const BINARY_KEYS: &[&str] = &["path", "jailer_path", "ctlpath", "virtio_fs_daemon"];

/// Every binary path the configurations name, sorted, without duplicates or empty values.
pub fn kata_binary_paths(configs: &[KataConfig]) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    for config in configs {
        for (key, value) in &config.values {
            let Some(rest) = key.strip_prefix("hypervisor.") else {
                continue;
            };
            let Some((_, leaf)) = rest.rsplit_once('.') else {
                continue;
            };
            if !BINARY_KEYS.contains(&leaf) {
                continue;
            }
            if let Some(s) = value.value.as_str().filter(|s| !s.trim().is_empty()) {
                out.insert(PathBuf::from(s));
            }
        }
    }
    out.into_iter().collect()
}

/// The kind of each binary the configurations name, from the key that names it: a
/// `jailer_path` is a jailer and a `virtio_fs_daemon` a virtiofsd whatever the file is called,
/// and a section's `path` (or `ctlpath`) is that section's hypervisor. Lets the inventory
/// record (and `kata.binary-writable` judge) a configured binary whose name and contents say
/// nothing, such as a wrapper script. A path named under two kinds keeps the first.
pub fn kata_binary_kinds(configs: &[KataConfig]) -> BTreeMap<PathBuf, HypervisorKind> {
    let mut out = BTreeMap::new();
    for config in configs {
        for (key, value) in &config.values {
            let Some(rest) = key.strip_prefix("hypervisor.") else {
                continue;
            };
            let Some((section, leaf)) = rest.rsplit_once('.') else {
                continue;
            };
            let kind = match leaf {
                "jailer_path" => Some(HypervisorKind::Jailer),
                "virtio_fs_daemon" => Some(HypervisorKind::Virtiofsd),
                "path" | "ctlpath" => section_kind(section),
                _ => None,
            };
            let path = value.value.as_str().filter(|s| !s.trim().is_empty());
            if let (Some(kind), Some(path)) = (kind, path) {
                out.entry(PathBuf::from(path)).or_insert(kind);
            }
        }
    }
    out
}

/// The hypervisor a `[hypervisor.<section>]` table configures (both runtimes' names).
fn section_kind(section: &str) -> Option<HypervisorKind> {
    Some(match section {
        "qemu" => HypervisorKind::Qemu,
        "firecracker" | "fc" => HypervisorKind::Firecracker,
        "clh" | "cloud-hypervisor" | "cloud_hypervisor" => HypervisorKind::CloudHypervisor,
        "dragonball" => HypervisorKind::Dragonball,
        "stratovirt" => HypervisorKind::StratoVirt,
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::load::parse_config_str;
    use hvguard_core::{KataConfig, KataRuntime};
    use std::path::Path;

    fn config(text: &str) -> KataConfig {
        let p = Path::new("/c.toml");
        KataConfig {
            runtime: KataRuntime::Go,
            main: p.to_path_buf(),
            dropins: Vec::new(),
            runtime_classes: Vec::new(),
            files: Vec::new(),
            values: parse_config_str(p, text).unwrap().values,
        }
    }

    #[test]
    fn only_hypervisor_binary_keys_that_are_set() {
        let a = config(
            "[hypervisor.firecracker]\npath = \"/b/fc\"\njailer_path = \"\"\nkernel = \"/k\"\n\
             [hypervisor.clh]\nvirtio_fs_daemon = \"/b/virtiofsd\"\n[runtime]\npath = \"/not/me\"\n",
        );
        let b = config(
            "[hypervisor.qemu]\nctlpath = \"/b/ctl\"\nvirtio_fs_daemon = \"/b/virtiofsd\"\n",
        );
        assert_eq!(
            kata_binary_paths(&[a.clone(), b.clone()]),
            ["/b/ctl", "/b/fc", "/b/virtiofsd"].map(PathBuf::from)
        );
        let kinds = kata_binary_kinds(&[a, b]);
        assert_eq!(kinds[Path::new("/b/fc")], HypervisorKind::Firecracker);
        assert_eq!(kinds[Path::new("/b/virtiofsd")], HypervisorKind::Virtiofsd);
        assert_eq!(kinds[Path::new("/b/ctl")], HypervisorKind::Qemu);
        assert_eq!(kinds.len(), 3);
    }
}
