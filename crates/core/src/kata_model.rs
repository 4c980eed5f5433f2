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
