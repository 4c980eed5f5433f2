//! The configuration rules on Kata's real shipped defaults: which default of which release
//! fires what. The files are flattened here with the `toml` crate (no line numbers: positions
//! are the loader's job and are tested with it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kata_rules_support;

use hvguard_core::{ConfigValue, KataConfig, KataRuntime, Severity, SourcedValue};
use kata_rules_support::{of_config, stat};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/kata_rules_fixtures")
        .join(name)
}

fn scalar(value: &toml::Value) -> Option<ConfigValue> {
    Some(match value {
        toml::Value::String(s) => ConfigValue::String(s.clone()),
        toml::Value::Integer(i) => ConfigValue::Integer(*i),
        toml::Value::Float(f) => ConfigValue::Float(*f),
        toml::Value::Boolean(b) => ConfigValue::Bool(*b),
        toml::Value::Datetime(d) => ConfigValue::String(d.to_string()),
        toml::Value::Array(items) => ConfigValue::Array(items.iter().filter_map(scalar).collect()),
        toml::Value::Table(_) => return None,
    })
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    path: &Path,
    out: &mut BTreeMap<String, SourcedValue>,
) {
    for (key, value) in table {
        let dotted = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&dotted, inner, path, out),
            // Arrays of tables (guest_extension_images) hold nothing these rules read.
            toml::Value::Array(items) if items.iter().any(|v| v.is_table()) => {}
            other => {
                if let Some(v) = scalar(other) {
                    out.insert(
                        dotted,
                        SourcedValue {
                            value: v,
                            path: path.to_path_buf(),
                            line: 0,
                            column: 0,
                        },
                    );
                }
            }
        }
    }
}

fn load(name: &str, runtime: KataRuntime) -> KataConfig {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let table: toml::Table = text.parse().unwrap();
    let mut values = BTreeMap::new();
    flatten("", &table, &path, &mut values);
    KataConfig {
        runtime,
        main: path.clone(),
        dropins: vec![],
        runtime_classes: vec![],
        files: vec![stat(&path.to_string_lossy(), 0o644, 0)],
        values,
    }
}

/// (rule, key) of every finding, and the severity of each rule.
fn fired(
    name: &str,
    runtime: KataRuntime,
) -> (BTreeSet<(String, String)>, BTreeMap<String, Severity>) {
    let found = of_config(load(name, runtime));
    let pairs = found
        .iter()
        .map(|f| {
            let key = f
                .location
                .as_ref()
                .and_then(|l| l.key.clone())
                .unwrap_or_default();
            (f.rule.to_string(), key)
        })
        .collect();
    let severities = found
        .iter()
        .map(|f| (f.rule.to_string(), f.severity))
        .collect();
    (pairs, severities)
}

/// What every shipped default below has in common.
const COMMON: [(&str, &str); 3] = [
    (
        "kata.guest-seccomp-disabled",
        "runtime.disable_guest_seccomp",
    ),
    (
        "kata.resource-limits-unbounded",
        "hypervisor.{}.default_maxvcpus",
    ),
    (
        "kata.annotations-dangerous",
        "hypervisor.{}.enable_annotations",
    ),
];

fn expect(name: &str, runtime: KataRuntime, section: &str, common: usize, extra: &[(&str, &str)]) {
    let mut expected: Vec<(String, String)> = COMMON[..common]
        .iter()
        .map(|(r, k)| (r.to_string(), k.replace("{}", section)))
        .collect();
    expected.extend(extra.iter().map(|(r, k)| (r.to_string(), k.to_string())));
    let (found, _) = fired(name, runtime);
    assert_eq!(
        found,
        expected.into_iter().collect::<BTreeSet<_>>(),
        "{name}"
    );
}

#[test]
fn main_go_qemu_defaults() {
    expect(
        "main-go-configuration-qemu.toml",
        KataRuntime::Go,
        "qemu",
        3,
        &[
            (
                "kata.resource-limits-unbounded",
                "hypervisor.qemu.default_maxmemory",
            ),
            ("kata.rootless-disabled", "hypervisor.qemu.rootless"),
            (
                "kata.sandbox-cgroup-only-disabled",
                "runtime.sandbox_cgroup_only",
            ),
            ("qemu.seccomp-sandbox-off", "hypervisor.qemu.seccompsandbox"),
        ],
    );
    let (_, severities) = fired("main-go-configuration-qemu.toml", KataRuntime::Go);
    assert_eq!(severities["qemu.seccomp-sandbox-off"], Severity::High);
    // `kernel_params` is annotatable in the shipped default: a guest-boot annotation, high.
    assert_eq!(severities["kata.annotations-dangerous"], Severity::High);
}

#[test]
fn main_runtime_rs_qemu_defaults() {
    expect(
        "main-rs-configuration-qemu-runtime-rs.toml",
        KataRuntime::Rs,
        "qemu",
        3,
        &[
            (
                "kata.block-device-use-enabled",
                "hypervisor.qemu.disable_block_device_use",
            ),
            (
                "kata.resource-limits-unbounded",
                "hypervisor.qemu.default_maxmemory",
            ),
            ("kata.rootless-disabled", "hypervisor.qemu.rootless"),
            (
                "qemu.seccomp-sandbox-off",
                "hypervisor.qemu.seccomp_sandbox",
            ),
        ],
    );
}

#[test]
fn main_dragonball_defaults_have_no_allow_list_finding() {
    expect(
        "main-rs-configuration-dragonball.toml",
        KataRuntime::Rs,
        "dragonball",
        3,
        &[
            (
                "kata.block-device-use-enabled",
                "hypervisor.dragonball.disable_block_device_use",
            ),
            (
                "kata.resource-limits-unbounded",
                "hypervisor.dragonball.default_maxmemory",
            ),
        ],
    );
}

#[test]
fn release_3_20_firecracker_defaults() {
    expect(
        "3.20.0-go-configuration-fc.toml",
        KataRuntime::Go,
        "firecracker",
        3,
        &[
            (
                "kata.block-device-use-enabled",
                "hypervisor.firecracker.disable_block_device_use",
            ),
            (
                "kata.resource-limits-unbounded",
                "hypervisor.firecracker.default_maxmemory",
            ),
            (
                "kata.sandbox-cgroup-only-disabled",
                "runtime.sandbox_cgroup_only",
            ),
        ],
    );
    let (_, severities) = fired("3.20.0-go-configuration-fc.toml", KataRuntime::Go);
    assert_eq!(severities["kata.annotations-dangerous"], Severity::High);
}

#[test]
fn main_go_clh_defaults() {
    expect(
        "main-go-configuration-clh.toml",
        KataRuntime::Go,
        "clh",
        3,
        &[
            (
                "kata.resource-limits-unbounded",
                "hypervisor.clh.default_maxmemory",
            ),
            ("kata.rootless-disabled", "hypervisor.clh.rootless"),
            (
                "kata.sandbox-cgroup-only-disabled",
                "runtime.sandbox_cgroup_only",
            ),
        ],
    );
}

#[test]
fn release_2_0_qemu_defaults() {
    // 2.0.0 enables no annotation, boots the i440FX `pc` machine and has no seccompsandbox key.
    expect(
        "2.0.0-go-configuration-qemu.toml",
        KataRuntime::Go,
        "qemu",
        2,
        &[
            (
                "kata.block-device-use-enabled",
                "hypervisor.qemu.disable_block_device_use",
            ),
            ("kata.rootless-disabled", "hypervisor.qemu.rootless"),
            (
                "kata.sandbox-cgroup-only-disabled",
                "runtime.sandbox_cgroup_only",
            ),
            ("qemu.legacy-machine-type", "hypervisor.qemu.machine_type"),
            ("qemu.seccomp-sandbox-off", "hypervisor.qemu.seccompsandbox"),
        ],
    );
}

#[test]
fn hardening_real_defaults_leaves_only_suggestions() {
    for (name, runtime) in [
        ("main-go-configuration-qemu.toml", KataRuntime::Go),
        (
            "main-rs-configuration-qemu-runtime-rs.toml",
            KataRuntime::Rs,
        ),
        ("main-rs-configuration-dragonball.toml", KataRuntime::Rs),
        ("3.20.0-go-configuration-fc.toml", KataRuntime::Go),
        ("2.0.0-go-configuration-qemu.toml", KataRuntime::Go),
    ] {
        let mut config = load(name, runtime);
        let plan = hvguard_audit::hardening::plan(&config);
        for setting in &plan.settings {
            config.values.insert(
                setting.key.clone(),
                SourcedValue {
                    value: setting.value.clone(),
                    path: PathBuf::from("80-hvguard.toml"),
                    line: 1,
                    column: 1,
                },
            );
        }
        let left: BTreeSet<String> = of_config(config)
            .iter()
            .map(|f| f.rule.to_string())
            .collect();
        let suggested: BTreeSet<String> = plan
            .suggestions
            .iter()
            .map(|s| s.rule.to_string())
            .collect();
        assert_eq!(left, suggested, "{name}");
    }
}
