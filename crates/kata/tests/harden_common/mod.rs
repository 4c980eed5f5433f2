//! Shared setup for the `harden_*` tests: a fake host root holding a real Kata configuration.

#![allow(dead_code)]

use hvguard_core::{
    ConfigValue, HardeningPlan, HardeningSetting, HardeningSuggestion, HostRoot, RuleId,
};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Where the static Kata release installs its configs (`/opt/kata/share/defaults/kata-containers`).
pub const KATA_DIR: &str = "opt/kata/share/defaults/kata-containers";

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/harden")
        .join(name)
}

/// A host root with `fixture` installed as `/opt/kata/.../<installed_as>`.
pub struct Host {
    pub dir: tempfile::TempDir,
    pub root: HostRoot,
    /// Host path of the main configuration.
    pub main: PathBuf,
}

impl Host {
    pub fn new(fixture_name: &str, installed_as: &str) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let kata = dir.path().join(KATA_DIR);
        fs::create_dir_all(&kata).unwrap();
        fs::copy(fixture(fixture_name), kata.join(installed_as)).unwrap();
        let root = HostRoot::new(dir.path()).unwrap();
        Host {
            dir,
            root,
            main: Path::new("/").join(KATA_DIR).join(installed_as),
        }
    }

    /// The real path of a host path.
    pub fn real(&self, host: impl AsRef<Path>) -> PathBuf {
        self.dir
            .path()
            .join(host.as_ref().strip_prefix("/").unwrap_or(host.as_ref()))
    }

    pub fn kata_dir(&self) -> PathBuf {
        self.dir.path().join(KATA_DIR)
    }
}

/// Every file under `dir` (relative path -> bytes), symlinks as their target text.
pub fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let rel = path.strip_prefix(base).unwrap().to_path_buf();
        let ft = entry.file_type().unwrap();
        if ft.is_symlink() {
            let target = fs::read_link(&path).unwrap();
            out.insert(rel, format!("-> {}", target.display()).into_bytes());
        } else if ft.is_dir() {
            out.insert(rel.join(""), Vec::new());
            walk(base, &path, out);
        } else {
            out.insert(rel, fs::read(&path).unwrap());
        }
    }
}

pub fn rule(id: &str) -> RuleId {
    RuleId::new(id).unwrap()
}

pub fn set(key: &str, value: ConfigValue, id: &str, reason: &str) -> HardeningSetting {
    HardeningSetting {
        key: key.into(),
        value,
        rule: rule(id),
        reason: reason.into(),
    }
}

/// A plan like the audit would make for a stock QEMU config (built by hand: the planner is
/// written elsewhere).
pub fn qemu_plan(main: &Path) -> HardeningPlan {
    HardeningPlan {
        config: main.to_path_buf(),
        settings: vec![
            set(
                "hypervisor.qemu.seccompsandbox",
                ConfigValue::String("on,obsolete=deny,spawn=deny,resourcecontrol=deny".into()),
                "qemu.seccomp-sandbox-off",
                "QEMU runs without its seccomp sandbox",
            ),
            set(
                "runtime.disable_guest_seccomp",
                ConfigValue::Bool(false),
                "kata.guest-seccomp-disabled",
                "the agent runs containers without seccomp",
            ),
            set(
                "hypervisor.qemu.enable_annotations",
                ConfigValue::Array(vec![ConfigValue::String("enable_iommu".into())]),
                "kata.annotations-dangerous",
                "pod authors can set the guest kernel command line",
            ),
            set(
                "hypervisor.qemu.cpu_features",
                ConfigValue::String("pmu=off".into()),
                "kata.pmu-exposed",
                "guest sees the host PMU",
            ),
        ],
        suggestions: vec![HardeningSuggestion {
            key: "hypervisor.qemu.rootless".into(),
            value: ConfigValue::Bool(true),
            rule: rule("kata.rootless-disabled"),
            reason: "QEMU runs as root; rootless needs a host user with /dev/kvm access".into(),
        }],
    }
}

/// A fixed clock for backup names.
pub fn now() -> jiff::Timestamp {
    "2026-11-27T23:30:00Z".parse().unwrap()
}

/// Parses TOML text with toml_edit (the tests' independent reader).
pub fn parse(text: &str) -> toml_edit::DocumentMut {
    text.parse().unwrap()
}

/// A minimal merge for the tests, independent of the crate's loader (written elsewhere): the
/// main file, then every entry of `config.d/` in name order, later values winning.
pub fn merged(host: &Host) -> hvguard_core::KataConfig {
    use hvguard_core::{KataConfig, KataRuntime, SourcedValue};
    let main_real = host.real(&host.main);
    let mut files = vec![main_real.clone()];
    let dropins = main_real.parent().unwrap().join("config.d");
    if let Ok(rd) = fs::read_dir(&dropins) {
        let mut names: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
        names.sort();
        files.extend(names);
    }
    let mut values = BTreeMap::new();
    for file in &files {
        let doc = parse(&fs::read_to_string(file).unwrap());
        let mut flat = Vec::new();
        flatten(doc.as_table(), "", &mut flat);
        for (key, value) in flat {
            values.insert(
                key,
                SourcedValue {
                    value,
                    path: file.clone(),
                    line: 0,
                    column: 0,
                },
            );
        }
    }
    KataConfig {
        runtime: KataRuntime::Go,
        main: host.main.clone(),
        dropins: files[1..].to_vec(),
        runtime_classes: vec![],
        files: vec![],
        values,
    }
}

fn flatten(table: &dyn toml_edit::TableLike, prefix: &str, out: &mut Vec<(String, ConfigValue)>) {
    for (k, item) in table.iter() {
        let key = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        };
        if let Some(t) = item.as_table_like() {
            flatten(t, &key, out);
        } else if let Some(v) = item.as_value().and_then(convert) {
            out.push((key, v));
        }
    }
}

pub fn convert(v: &toml_edit::Value) -> Option<ConfigValue> {
    Some(match v {
        toml_edit::Value::Boolean(b) => ConfigValue::Bool(*b.value()),
        toml_edit::Value::Integer(i) => ConfigValue::Integer(*i.value()),
        toml_edit::Value::Float(f) => ConfigValue::Float(*f.value()),
        toml_edit::Value::String(s) => ConfigValue::String(s.value().clone()),
        toml_edit::Value::Array(a) => ConfigValue::Array(a.iter().filter_map(convert).collect()),
        _ => return None,
    })
}

/// The value at a dotted key of a parsed document.
pub fn lookup(doc: &toml_edit::DocumentMut, key: &str) -> Option<ConfigValue> {
    let mut item = doc.as_item();
    for seg in key.split('.') {
        item = item.get(seg)?;
    }
    item.as_value().and_then(convert)
}
