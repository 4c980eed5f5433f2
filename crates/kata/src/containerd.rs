//! containerd's Kata runtime entries, following `imports`.
//!
//! Runtime handlers live under one of three tables, depending on the config `version`:
//!
//! | version | table |
//! |---|---|
//! | 3 (containerd 2.x) | `plugins."io.containerd.cri.v1.runtime".containerd.runtimes.<name>` |
//! | 2 (containerd 1.x) | `plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<name>` |
//! | 1 (legacy) | `plugins.cri.containerd.runtimes.<name>` |
//!
//! Every file is searched for all three, because imported snippets (kata-deploy's
//! `/opt/kata/containerd/config.d/kata-deploy.toml`) often omit `version`. `imports` are
//! followed depth-first after the importing file's own entries, globs expanded in sorted
//! order and relative paths resolved against the importing file's folder; an entry defined
//! again by a later file replaces the earlier one, as containerd's merge does for a runtime
//! handler. A file reached twice is read once; an import leading back to a file still
//! being read is an import-cycle error.

use crate::error::KataError;
use crate::files::real_host_path;
use crate::glob::{expand, has_magic};
use crate::load::{parse_document, MAX_CONFIG_BYTES};
use crate::position::LineIndex;
use crate::runtime::path_says_runtime_rs;
use hvguard_core::os_name::display_path;
use hvguard_core::{ContainerdRuntime, HostRoot, KataRuntime};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use toml_edit::{Item, TableLike};

/// containerd's main configuration file.
pub const CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";

/// Imports nested deeper than this are refused (real setups use one or two levels).
pub const MAX_IMPORT_DEPTH: usize = 16;

/// Where runtime handlers live, newest layout first.
const LAYOUTS: &[&[&str]] = &[
    &[
        "plugins",
        "io.containerd.cri.v1.runtime",
        "containerd",
        "runtimes",
    ],
    &[
        "plugins",
        "io.containerd.grpc.v1.cri",
        "containerd",
        "runtimes",
    ],
    &["plugins", "cri", "containerd", "runtimes"],
];

/// `runtime_type` prefix of every Kata shim (`io.containerd.kata.v2`, `io.containerd.kata-qemu.v2`).
pub const KATA_RUNTIME_TYPE_PREFIX: &str = "io.containerd.kata";

/// A Kata runtime handler and which Kata runtime it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRuntime {
    /// The entry as the snapshot records it.
    pub entry: ContainerdRuntime,
    /// containerd's `runtime_path`, the shim binary, when set.
    pub runtime_path: Option<String>,
    /// Go or runtime-rs, from the shim path, the `ConfigPath` or the handler's name.
    pub runtime: KataRuntime,
}

/// Everything read from containerd's configuration.
#[derive(Debug, Default)]
pub struct ContainerdScan {
    /// Kata runtime handlers, sorted by name.
    pub runtimes: Vec<FoundRuntime>,
    /// Files read, in reading order.
    pub files: Vec<PathBuf>,
    /// Imports that matched nothing, and similar non-fatal problems.
    pub warnings: Vec<String>,
    /// Files that could not be read or parsed, and import cycles.
    pub errors: Vec<KataError>,
}

/// Reads `main` (normally [`CONTAINERD_CONFIG`]) and its imports under `root`.
pub fn load_containerd(root: &HostRoot, main: &Path) -> ContainerdScan {
    let mut walker = Walker {
        root,
        stack: Vec::new(),
        visited: BTreeSet::new(),
        by_name: BTreeMap::new(),
        scan: ContainerdScan::default(),
    };
    walker.visit(main);
    let mut scan = walker.scan;
    scan.runtimes = walker.by_name.into_values().collect();
    scan
}

struct Walker<'r> {
    root: &'r HostRoot,
    stack: Vec<PathBuf>,
    visited: BTreeSet<PathBuf>,
    by_name: BTreeMap<String, FoundRuntime>,
    scan: ContainerdScan,
}

impl Walker<'_> {
    fn visit(&mut self, path: &Path) {
        let real = real_host_path(self.root, path).unwrap_or_else(|_| path.to_path_buf());
        if let Some(pos) = self.stack.iter().position(|p| *p == real) {
            let mut chain: Vec<String> = self.stack[pos..]
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            chain.push(real.display().to_string());
            self.scan.errors.push(KataError::ImportCycle {
                path: self.stack.last().cloned().unwrap_or(real),
                chain: chain.join(" -> "),
            });
            return;
        }
        if !self.visited.insert(real.clone()) {
            return;
        }
        if self.stack.len() >= MAX_IMPORT_DEPTH {
            self.scan.warnings.push(format!(
                "{}: skipped: imports nested deeper than {MAX_IMPORT_DEPTH} levels",
                path.display()
            ));
            return;
        }
        self.stack.push(real);
        if let Err(e) = self.read(path) {
            self.scan.errors.push(e);
        }
        self.stack.pop();
    }

    fn read(&mut self, path: &Path) -> Result<(), KataError> {
        let text = self.root.read_text(path, MAX_CONFIG_BYTES)?;
        // A glob import can reach a file whose name is not UTF-8: it is read by its real
        // name and recorded by an escaped one.
        let label = display_path(path);
        let index = LineIndex::new(&text);
        let doc = parse_document(&label, &text, &index)?;
        self.scan.files.push(label.clone());
        let top = doc.as_item();
        for layout in LAYOUTS {
            if let Some(runtimes) = lookup(top, layout).and_then(Item::as_table_like) {
                self.runtimes(&label, &index, runtimes);
            }
        }
        let imports = imports(&label, &index, top)?;
        for import in imports {
            let target = if import.is_absolute() {
                import
            } else {
                path.parent().unwrap_or_else(|| Path::new("/")).join(import)
            };
            let text = target.to_string_lossy();
            if has_magic(&text) {
                for hit in expand(self.root, &target) {
                    self.visit(&hit);
                }
            } else if self.root.exists(&target) {
                self.visit(&target);
            } else {
                self.scan.warnings.push(format!(
                    "{}: import {} does not exist",
                    path.display(),
                    target.display()
                ));
            }
        }
        Ok(())
    }

    fn runtimes(&mut self, path: &Path, index: &LineIndex<'_>, runtimes: &dyn TableLike) {
        for (name, item) in runtimes.iter() {
            let Some(entry) = item.as_table_like() else {
                continue;
            };
            let runtime_type = str_of(entry.get("runtime_type"));
            if !runtime_type.starts_with(KATA_RUNTIME_TYPE_PREFIX) {
                continue;
            }
            let span = runtimes
                .get_key_value(name)
                .and_then(|(k, _)| k.span())
                .or_else(|| item.span());
            let line = span.map_or(0, |s| index.locate(s.start).0);
            let pod_annotations_line = entry
                .get_key_value("pod_annotations")
                .and_then(|(k, _)| k.span())
                .map(|s| index.locate(s.start).0);
            let pod_annotations = entry
                .get("pod_annotations")
                .and_then(Item::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let config_path = entry
                .get("options")
                .and_then(|o| o.get("ConfigPath"))
                .and_then(Item::as_str)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from);
            let runtime_path = entry
                .get("runtime_path")
                .and_then(Item::as_str)
                .map(String::from);
            let runtime = runtime_of(
                name,
                &runtime_type,
                runtime_path.as_deref(),
                config_path.as_deref(),
            );
            self.by_name.insert(
                name.to_string(),
                FoundRuntime {
                    entry: ContainerdRuntime {
                        name: name.to_string(),
                        runtime_type,
                        pod_annotations,
                        config_path,
                        path: path.to_path_buf(),
                        line,
                        pod_annotations_line,
                    },
                    runtime_path,
                    runtime,
                },
            );
        }
    }
}

fn lookup<'d>(top: &'d Item, keys: &[&str]) -> Option<&'d Item> {
    keys.iter().try_fold(top, |item, k| item.get(k))
}

fn str_of(item: Option<&Item>) -> String {
    item.and_then(Item::as_str).unwrap_or_default().to_string()
}

fn imports(path: &Path, index: &LineIndex<'_>, top: &Item) -> Result<Vec<PathBuf>, KataError> {
    let Some(item) = top.get("imports") else {
        return Ok(Vec::new());
    };
    let invalid = |span: Option<std::ops::Range<usize>>| {
        let (line, column) = index.locate(span.map_or(0, |s| s.start));
        KataError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message: "`imports` must be an array of path strings".to_string(),
        }
    };
    let array = item.as_array().ok_or_else(|| invalid(item.span()))?;
    array
        .iter()
        .map(|v| {
            v.as_str()
                .map(PathBuf::from)
                .ok_or_else(|| invalid(v.span()))
        })
        .collect()
}

/// runtime-rs is installed as its own shim (kata-deploy: `/opt/kata/runtime-rs/bin/`) and
/// reads configs from `runtime-rs/` folders; Dragonball exists only in runtime-rs.
fn runtime_of(
    name: &str,
    runtime_type: &str,
    runtime_path: Option<&str>,
    config_path: Option<&Path>,
) -> KataRuntime {
    let rs = runtime_path.is_some_and(|p| p.contains("runtime-rs"))
        || config_path.is_some_and(path_says_runtime_rs)
        || [name, runtime_type]
            .iter()
            .any(|s| s.contains("dragonball") || s.contains("runtime-rs"));
    if rs {
        KataRuntime::Rs
    } else {
        KataRuntime::Go
    }
}
