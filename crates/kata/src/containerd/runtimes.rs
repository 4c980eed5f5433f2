//! The Kata runtime handlers of a merged runtimes table.

use super::notes::Notes;
use super::tree::{Node, Table};
use super::{FoundRuntime, Handler, KATA_RUNTIME_TYPE_PREFIX};
use crate::runtime::path_says_runtime_rs;
use hvguard_core::{ConfigValue, ContainerdRuntime, ContainerdSemantics, KataRuntime};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every handler of `runtimes` whose `runtime_type` names a Kata shim, as `semantics` sees it.
///
/// The entry is placed where its `runtime_type` was written (the table header in that file);
/// `pod_annotations` keeps its own file and line, which differ when a 2.x import set it.
pub fn kata_runtimes(runtimes: &Table, semantics: ContainerdSemantics) -> Vec<FoundRuntime> {
    let mut out = Vec::new();
    for (name, node) in &runtimes.entries {
        let Node::Table(entry) = node else {
            continue;
        };
        let Some((runtime_type, type_origin)) = entry.string("runtime_type") else {
            continue;
        };
        if !runtime_type.starts_with(KATA_RUNTIME_TYPE_PREFIX) {
            continue;
        }
        let path = type_origin.file.to_path_buf();
        let line = entry.line_in(&path).unwrap_or(type_origin.line);
        let (pod_annotations, pod_origin) = match entry.array("pod_annotations") {
            Some((list, origin)) => (
                list.iter()
                    .filter_map(ConfigValue::as_str)
                    .map(String::from)
                    .collect(),
                Some(origin),
            ),
            None => (Vec::new(), None),
        };
        let config_path = entry
            .table("options")
            .and_then(|o| o.string("ConfigPath"))
            .map(|(p, _)| p)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        let runtime_path = entry.string("runtime_path").map(|(p, _)| p.to_string());
        let runtime = runtime_of(
            name,
            runtime_type,
            runtime_path.as_deref(),
            config_path.as_deref(),
        );
        out.push(FoundRuntime {
            entry: ContainerdRuntime {
                name: name.clone(),
                runtime_type: runtime_type.to_string(),
                pod_annotations,
                config_path,
                pod_annotations_line: pod_origin.map(|o| o.line),
                pod_annotations_path: pod_origin
                    .map(|o| o.file.to_path_buf())
                    .filter(|p| *p != path),
                path,
                line,
                readings: vec![semantics],
            },
            runtime_path,
            runtime,
        });
    }
    out
}

/// Every handler of `runtimes`, by name (entries that are not tables are skipped, as
/// containerd cannot decode them either).
pub fn handlers(runtimes: &Table) -> BTreeMap<String, Handler> {
    runtimes
        .entries
        .iter()
        .filter_map(|(name, node)| {
            let Node::Table(entry) = node else {
                return None;
            };
            Some((
                name.clone(),
                Handler {
                    runtime_type: entry
                        .string("runtime_type")
                        .map(|(t, _)| t.to_string())
                        .unwrap_or_default(),
                    pod_annotations: entry
                        .array("pod_annotations")
                        .map(|(list, _)| {
                            list.iter()
                                .filter_map(ConfigValue::as_str)
                                .map(String::from)
                                .collect()
                        })
                        .unwrap_or_default(),
                    config_path: entry
                        .table("options")
                        .and_then(|o| o.string("ConfigPath"))
                        .map(|(p, _)| p.to_string()),
                },
            ))
        })
        .collect()
}

/// Notes the handlers left without a `runtime_type` (a 1.x import that set only some keys
/// of a handler replaced the table that named its shim).
pub fn untyped(runtimes: &Table, semantics: ContainerdSemantics, notes: &mut Notes) {
    for (name, node) in &runtimes.entries {
        let Node::Table(entry) = node else {
            continue;
        };
        if entry
            .string("runtime_type")
            .is_some_and(|(t, _)| !t.is_empty())
        {
            continue;
        }
        let files: Vec<String> = entry
            .origins
            .iter()
            .map(|o| o.file.display().to_string())
            .collect();
        notes.add(
            semantics,
            format!(
                "runtime {name} ({}) has no runtime_type once the files are merged, so it names no shim",
                files.join(", ")
            ),
        );
    }
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
