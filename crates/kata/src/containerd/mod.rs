//! containerd's Kata runtime handlers, read the way each containerd release reads them.
//!
//! containerd merges `imports` differently across releases (`docs/containerd.md`): 1.x lets
//! an imported file replace every plugin table it names, 2.x merges tables deeply and moves
//! version 2 tables to their version 3 names. The files are therefore read once and merged
//! under every [`ContainerdSemantics`]; each handler found is tagged with the families that
//! see it exactly so (identical readings collapse into one entry). Which family applies is
//! decided later, from the containerd binary's version ([`narrow_runtimes`],
//! [`notes_for`]).
//!
//! Runtime handlers live under one of three tables:
//!
//! | version | table |
//! |---|---|
//! | 3 (containerd 2.x) | `plugins."io.containerd.cri.v1.runtime".containerd.runtimes.<name>` |
//! | 2 (containerd 1.x; moved by 2.x) | `plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<name>` |
//! | 1 (legacy) | `plugins.cri.containerd.runtimes.<name>` |

pub mod notes;
pub(crate) mod paths;
mod reading;
mod runtimes;
pub(crate) mod source;
pub(crate) mod tree;

use crate::error::KataError;
use hvguard_core::{ContainerdRuntime, ContainerdSemantics, HostRoot, KataRuntime};
pub use notes::ContainerdNote;
use notes::Notes;
pub use reading::{CRI_RUNTIME, CRI_SHORT, GRPC_CRI};
use source::{load_order, Reader};
pub use source::{MAX_FILES, MAX_IMPORT_DEPTH};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// containerd's main configuration file.
pub const CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";

/// `runtime_type` prefix of every Kata shim (`io.containerd.kata.v2`, `io.containerd.kata-qemu.v2`).
pub const KATA_RUNTIME_TYPE_PREFIX: &str = "io.containerd.kata";

/// A Kata runtime handler and which Kata runtime it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRuntime {
    /// The entry as the snapshot records it (with the families that read it so).
    pub entry: ContainerdRuntime,
    /// containerd's `runtime_path`, the shim binary, when set.
    pub runtime_path: Option<String>,
    /// Go or runtime-rs, from the shim path, the `ConfigPath` or the handler's name.
    pub runtime: KataRuntime,
}

/// One runtime handler (Kata or not) as a family sees it: what `containerd config dump`
/// shows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handler {
    /// `runtime_type`, empty when unset.
    pub runtime_type: String,
    pub pod_annotations: Vec<String>,
    /// `options.ConfigPath`, when set.
    pub config_path: Option<String>,
}

/// Everything read from containerd's configuration.
#[derive(Debug, Default)]
pub struct ContainerdScan {
    /// Kata runtime handlers, sorted by name, then by the families that read them.
    pub runtimes: Vec<FoundRuntime>,
    /// Files read, in first-read order.
    pub files: Vec<PathBuf>,
    /// For each family, the path strings it loads, in merge order (a file reached under two
    /// spellings is loaded twice, as containerd does).
    pub load_order: BTreeMap<ContainerdSemantics, Vec<String>>,
    /// Problems that do not stop the reading: missing imports, tables a family ignores,
    /// tables an import replaces, settings with which containerd does not start.
    pub notes: Vec<ContainerdNote>,
    /// Files that could not be read or parsed.
    pub errors: Vec<KataError>,
    /// For each family, every runtime handler it uses, by name; `None` when no file gives
    /// the table the family reads (containerd's built-in `runc` applies).
    pub handlers: BTreeMap<ContainerdSemantics, Option<BTreeMap<String, Handler>>>,
}

impl ContainerdScan {
    /// Every note, rendered (prefixed with the releases it concerns, when not all).
    pub fn warnings(&self) -> Vec<String> {
        self.notes.iter().map(ContainerdNote::render).collect()
    }

    /// True unless every release of `semantics` refuses to start with these files.
    pub fn starts(&self, semantics: ContainerdSemantics) -> bool {
        !self
            .notes
            .iter()
            .any(|n| n.fatal && n.readings.contains(&semantics))
    }

    /// The Kata handlers containerd `semantics` uses.
    pub fn runtimes_for(&self, semantics: ContainerdSemantics) -> Vec<&FoundRuntime> {
        self.runtimes
            .iter()
            .filter(|r| r.entry.readings.contains(&semantics))
            .collect()
    }
}

/// Reads `main` (normally [`CONTAINERD_CONFIG`]) and its imports under `root`, as every
/// containerd family would.
pub fn load_containerd(root: &HostRoot, main: &Path) -> ContainerdScan {
    let mut reader = Reader::new(root);
    let mut notes = Notes::default();
    let main_name = main.to_string_lossy();
    let mut found: Vec<FoundRuntime> = Vec::new();
    let mut orders = BTreeMap::new();
    let mut handlers = BTreeMap::new();
    for semantics in ContainerdSemantics::ALL {
        let order = load_order(&mut reader, &main_name, semantics, &mut notes);
        orders.insert(semantics, order.iter().map(|l| l.name.clone()).collect());
        let table = reading::runtimes_table(&order, semantics, &mut notes);
        if let Some(table) = &table {
            runtimes::untyped(table, semantics, &mut notes);
        }
        handlers.insert(semantics, table.as_ref().map(runtimes::handlers));
        for runtime in table
            .iter()
            .flat_map(|t| runtimes::kata_runtimes(t, semantics))
        {
            add_reading(&mut found, runtime);
        }
    }
    found.sort_by(|a, b| {
        (&a.entry.name, &a.entry.readings).cmp(&(&b.entry.name, &b.entry.readings))
    });
    ContainerdScan {
        runtimes: found,
        files: reader.files,
        load_order: orders,
        notes: notes.into_vec(),
        errors: reader.errors,
        handlers,
    }
}

/// Adds `runtime` (read by one family) to the entry it equals, or as a new entry.
fn add_reading(found: &mut Vec<FoundRuntime>, mut runtime: FoundRuntime) {
    let readings = std::mem::take(&mut runtime.entry.readings);
    let same = found.iter_mut().find(|f| {
        let mut other = f.entry.clone();
        other.readings = Vec::new();
        other == runtime.entry && f.runtime_path == runtime.runtime_path
    });
    match same {
        Some(f) => f.entry.readings.extend(readings),
        None => {
            runtime.entry.readings = readings;
            found.push(runtime);
        }
    }
}

/// The entries some family in `in_play` reads, each keeping only those families.
pub fn narrow_runtimes(
    runtimes: Vec<ContainerdRuntime>,
    in_play: &BTreeSet<ContainerdSemantics>,
) -> Vec<ContainerdRuntime> {
    runtimes
        .into_iter()
        .filter(|r| r.seen_by(in_play))
        .map(|mut r| {
            if !r.readings.is_empty() {
                r.readings.retain(|s| in_play.contains(s));
            }
            r
        })
        .collect()
}

/// The notes that hold for some family in `in_play`. A note that holds for every family is
/// given as is; another is prefixed with the families of `in_play` it holds for.
pub fn notes_for(notes: &[ContainerdNote], in_play: &BTreeSet<ContainerdSemantics>) -> Vec<String> {
    notes
        .iter()
        .filter_map(|n| {
            if n.readings.len() == ContainerdSemantics::ALL.len() {
                return Some(n.message.clone());
            }
            let readings: BTreeSet<_> = n.readings.intersection(in_play).copied().collect();
            (!readings.is_empty()).then(|| {
                ContainerdNote {
                    readings,
                    message: n.message.clone(),
                    fatal: n.fatal,
                }
                .render()
            })
        })
        .collect()
}
