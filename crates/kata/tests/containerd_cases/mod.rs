//! The containerd merge fixture sets in `tests/data/containerd-merge/<case>/`: a host tree
//! (`root/`) and what each containerd family makes of it (`expect.toml`). See the README there.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use hvguard_core::ContainerdSemantics;
use hvguard_kata::Handler;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item};

/// containerd's main file in every case.
pub const MAIN: &str = "/etc/containerd/config.toml";

/// The token fixture files write for the host root in absolute imports.
pub const ROOT_TOKEN: &str = "{root}";

/// What one group of families makes of a case.
#[derive(Debug, Clone)]
pub struct Expected {
    pub families: Vec<ContainerdSemantics>,
    /// containerd starts with the files.
    pub starts: bool,
    /// No file gives the runtimes table the family reads (the built-in `runc` applies).
    pub builtin: bool,
    /// Every runtime handler, by name.
    pub runtimes: BTreeMap<String, Handler>,
}

#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub expected: Vec<Expected>,
}

impl Case {
    /// The expectation covering `family` (every family is covered exactly once).
    pub fn expected_for(&self, family: ContainerdSemantics) -> &Expected {
        let hits: Vec<&Expected> = self
            .expected
            .iter()
            .filter(|e| e.families.contains(&family))
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "{}: family {} must appear in exactly one [[reading]]",
            self.name,
            family.id()
        );
        hits[0]
    }

    /// Copies the case's host tree into `dest`, writing `root_text` for `{root}`.
    pub fn materialise(&self, dest: &Path, root_text: &str) {
        copy_tree(&self.dir.join("root"), dest, root_text);
    }
}

fn copy_tree(src: &Path, dest: &Path, root_text: &str) {
    std::fs::create_dir_all(dest).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dest.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to, root_text);
        } else {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            std::fs::write(&to, text.replace(ROOT_TOKEN, root_text)).unwrap();
        }
    }
}

/// Every case, sorted by name.
pub fn cases() -> Vec<Case> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/containerd-merge");
    let mut cases: Vec<Case> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(dir.join("expect.toml")).unwrap();
            let expected = parse_expect(&name, &text);
            Case {
                name,
                dir,
                expected,
            }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        cases.len() >= 15,
        "fixture sets missing under {}",
        base.display()
    );
    cases
}

fn parse_expect(case: &str, text: &str) -> Vec<Expected> {
    let doc: DocumentMut = text.parse().unwrap_or_else(|e| panic!("{case}: {e}"));
    let readings = doc["reading"]
        .as_array_of_tables()
        .unwrap_or_else(|| panic!("{case}: no [[reading]]"));
    readings
        .iter()
        .map(|r| {
            let families = r["families"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    let id = f.as_str().unwrap();
                    ContainerdSemantics::from_id(id)
                        .unwrap_or_else(|| panic!("{case}: unknown family {id}"))
                })
                .collect();
            let flag =
                |key: &str, default: bool| r.get(key).and_then(Item::as_bool).unwrap_or(default);
            let mut runtimes = BTreeMap::new();
            if let Some(table) = r.get("runtimes").and_then(Item::as_table) {
                for (name, item) in table.iter() {
                    runtimes.insert(name.to_string(), handler_of(item));
                }
            }
            Expected {
                families,
                starts: flag("starts", true),
                builtin: flag("builtin_runtimes", false),
                runtimes,
            }
        })
        .collect()
}

/// A runtime table (from `expect.toml` or `containerd config dump`) as a [`Handler`].
pub fn handler_of(item: &Item) -> Handler {
    Handler {
        runtime_type: item
            .get("runtime_type")
            .and_then(Item::as_str)
            .unwrap_or_default()
            .to_string(),
        pod_annotations: item
            .get("pod_annotations")
            .and_then(Item::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        config_path: item
            .get("config_path")
            .or_else(|| item.get("options").and_then(|o| o.get("ConfigPath")))
            .and_then(Item::as_str)
            .map(String::from),
    }
}
