//! Kata and containerd configuration as collected: merged values that remember their origin.

use crate::FileStat;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KataRuntime {
    /// The Go shim (`containerd-shim-kata-v2`).
    Go,
    /// runtime-rs (`containerd-shim-kata-v2` built from `src/runtime-rs`).
    Rs,
}

/// A TOML value without the table case: tables are flattened into dotted keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(String),
    Array(Vec<ConfigValue>),
}

impl ConfigValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ConfigValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ConfigValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_integer(&self) -> Option<i64> {
        match self {
            ConfigValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[ConfigValue]> {
        match self {
            ConfigValue::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// A value and where it was set (after drop-ins: the file that won).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourcedValue {
    pub value: ConfigValue,
    pub path: PathBuf,
    #[serde(default)]
    pub line: u32,
    #[serde(default)]
    pub column: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KataConfig {
    pub runtime: KataRuntime,
    /// The main configuration file.
    pub main: PathBuf,
    /// Drop-ins applied on top, in the order applied.
    #[serde(default)]
    pub dropins: Vec<PathBuf>,
    /// containerd runtime classes / handlers that load this file.
    #[serde(default)]
    pub runtime_classes: Vec<String>,
    /// Mode and owner of the main file and every drop-in.
    #[serde(default)]
    pub files: Vec<FileStat>,
    /// Dotted key (`hypervisor.qemu.seccompsandbox`) -> merged value.
    #[serde(default)]
    pub values: BTreeMap<String, SourcedValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerdRuntime {
    /// The runtime handler name (`kata`, `kata-qemu`, ...).
    pub name: String,
    pub runtime_type: String,
    #[serde(default)]
    pub pod_annotations: Vec<String>,
    /// `options.ConfigPath`, when set.
    #[serde(default)]
    pub config_path: Option<PathBuf>,
    /// The containerd file and line where the runtime entry is defined.
    pub path: PathBuf,
    #[serde(default)]
    pub line: u32,
    /// The line of `pod_annotations`, when the entry sets it.
    #[serde(default)]
    pub pod_annotations_line: Option<u32>,
    /// The file that set `pod_annotations`, when it is not `path` (containerd 2.x merges an
    /// imported file's keys into the entry another file defined).
    #[serde(default)]
    pub pod_annotations_path: Option<PathBuf>,
    /// The containerd release families that read the configuration into this entry, sorted;
    /// empty in snapshots written before hvguard told them apart (every family).
    #[serde(default)]
    pub readings: Vec<crate::ContainerdSemantics>,
}

impl ContainerdRuntime {
    /// The file to edit for `pod_annotations`.
    pub fn pod_annotations_file(&self) -> &std::path::Path {
        self.pod_annotations_path.as_deref().unwrap_or(&self.path)
    }

    /// True when containerd reads the entry like this under at least one of `in_play`.
    pub fn seen_by(
        &self,
        in_play: &std::collections::BTreeSet<crate::ContainerdSemantics>,
    ) -> bool {
        self.readings.is_empty() || self.readings.iter().any(|r| in_play.contains(r))
    }
}

/// A Kata setting spelt differently by the two runtimes, or accepting an alias. This is the
/// one table of spellings: the loader maps runtime-rs spellings onto the canonical (Go) key,
/// and the rules look every spelling up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpelling {
    /// The dotted prefix of the sections holding the key (`hypervisor.`).
    pub section: &'static str,
    /// The Go runtime's spelling, under which merged values are stored.
    pub canonical: &'static str,
    /// runtime-rs's spelling; equal to `canonical` when both runtimes agree.
    pub runtime_rs: &'static str,
    /// Further spellings runtime-rs accepts as serde aliases. They are not mapped by the
    /// loader: runtime-rs refuses a table holding both an alias and its field, so a fix must
    /// edit the spelling the file uses.
    pub aliases: &'static [&'static str],
}

/// Verified against the rendered runtime-rs configurations of Kata 3.20.0 and main and
/// `src/libs/kata-types/src/config/hypervisor/mod.rs` (`SecurityInfo::seccomp_sandbox`,
/// `DebugInfo::extra_monitor_socket` with its `dbg_monitor_socket` alias). Pairs whose units
/// differ (`dial_timeout` seconds vs `dial_timeout_ms`) are deliberately absent: a rule
/// comparing numbers must know which unit it reads.
pub const KEY_SPELLINGS: &[KeySpelling] = &[
    KeySpelling {
        section: "hypervisor.",
        canonical: "seccompsandbox",
        runtime_rs: "seccomp_sandbox",
        aliases: &[],
    },
    KeySpelling {
        section: "hypervisor.",
        canonical: "extra_monitor_socket",
        runtime_rs: "extra_monitor_socket",
        aliases: &["dbg_monitor_socket"],
    },
];

/// Whether the hypervisor option `option` (the leaf of `hypervisor.<name>.<option>`) set to
/// `value` enables VFIO device passthrough. The one definition every rule and the advisory
/// relevance model use: `hot_plug_vfio` / `cold_plug_vfio` naming a port type other than
/// `no-port` (compared without case or surrounding blanks, as Kata's parser does; an empty
/// string is the unset default), or the legacy boolean `hotplug_vfio_on_root_bus = true`.
pub fn enables_vfio(option: &str, value: &ConfigValue) -> bool {
    match option {
        "hot_plug_vfio" | "cold_plug_vfio" => value.as_str().is_some_and(|v| {
            let v = v.trim();
            !v.is_empty() && !v.eq_ignore_ascii_case("no-port")
        }),
        "hotplug_vfio_on_root_bus" => value.as_bool() == Some(true),
        _ => false,
    }
}

/// The hypervisor a `[hypervisor.<section>]` table configures. runtime-rs names Cloud
/// Hypervisor's table `cloud-hypervisor` where the Go runtime says `clh`; `remote` (peer
/// pods) runs no local VMM and maps to nothing.
pub fn hypervisor_of_section(section: &str) -> Option<crate::HypervisorKind> {
    use crate::HypervisorKind;
    Some(match section {
        "qemu" => HypervisorKind::Qemu,
        "firecracker" => HypervisorKind::Firecracker,
        "clh" | "cloud-hypervisor" => HypervisorKind::CloudHypervisor,
        "dragonball" => HypervisorKind::Dragonball,
        "stratovirt" => HypervisorKind::StratoVirt,
        _ => return None,
    })
}

#[cfg(test)]
mod shared_knowledge_tests {
    use super::*;
    use crate::HypervisorKind;

    #[test]
    fn vfio_is_enabled_by_port_types_in_any_case() {
        let s = |v: &str| ConfigValue::String(v.into());
        assert!(enables_vfio("cold_plug_vfio", &s("root-port")));
        assert!(enables_vfio("hot_plug_vfio", &s(" bridge-port ")));
        assert!(!enables_vfio("hot_plug_vfio", &s("no-port")));
        assert!(!enables_vfio("hot_plug_vfio", &s("No-Port")));
        assert!(!enables_vfio("cold_plug_vfio", &s("  ")));
        assert!(enables_vfio(
            "hotplug_vfio_on_root_bus",
            &ConfigValue::Bool(true)
        ));
        assert!(!enables_vfio(
            "hotplug_vfio_on_root_bus",
            &ConfigValue::Bool(false)
        ));
        assert!(!enables_vfio("enable_iommu", &ConfigValue::Bool(true)));
    }

    #[test]
    fn both_cloud_hypervisor_section_names() {
        assert_eq!(
            hypervisor_of_section("clh"),
            Some(HypervisorKind::CloudHypervisor)
        );
        assert_eq!(
            hypervisor_of_section("cloud-hypervisor"),
            Some(HypervisorKind::CloudHypervisor)
        );
        assert_eq!(hypervisor_of_section("remote"), None);
    }
}
